//! The password page in a real browser: headless Chromium driven over
//! WebDriver (chromedriver) by fantoccini. A user with an issued password
//! is refused over IMAP, changes it on the page (in Indonesian, the
//! default language of the offices), sees the success page, then logs in
//! over IMAP. Each page state is saved as a PNG under
//! `target/tmp/screenshots/` for people to look at.

#[path = "../support/mod.rs"]
mod support;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use support::accounts::{CHOSEN, ISSUED, imap_login, issued_server, state};

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = support::free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run chromedriver (Debian package chromium-driver; .ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    // The test server has a self-signed certificate, as a fresh install does.
    caps.insert("acceptInsecureCerts".into(), true.into());
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=900,1000", "--lang=id-ID"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("start a Chromium session")
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    let path = screenshots().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    println!("saved {}", path.display());
}

async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.find(Locator::Id(id)).await.expect(id);
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// The rules the checklist shows as met, by `data-rule`.
async fn met_rules(client: &Client) -> Vec<String> {
    let mut met = Vec::new();
    for li in client
        .find_all(Locator::Css("ul.rules li.met"))
        .await
        .unwrap()
    {
        met.push(li.attr("data-rule").await.unwrap().unwrap_or_default());
    }
    met
}

async fn submit(client: &Client) {
    client
        .find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[test]
fn a_user_changes_the_issued_password_in_chromium_then_reads_mail() {
    let server = issued_server();
    let refused = imap_login(&server, "ani@kemenkeu.go.id", ISSUED);
    assert!(
        refused.contains("[EXPIRED]") && refused.contains("/password"),
        "{refused}"
    );

    let driver = Driver::start();
    let web = format!("https://127.0.0.1:{}", server.ports().web);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = browser(&driver).await;
        client
            .goto(&format!("{web}/password?lang=id"))
            .await
            .unwrap();
        let title = client.find(Locator::Css("h1")).await.unwrap();
        assert_eq!(title.text().await.unwrap(), "Ganti kata sandi");
        shot(&client, "1-form").await;

        // The checklist follows what is typed.
        fill(&client, "login", "KEMENKEU\\ani").await;
        fill(&client, "current", ISSUED).await;
        fill(&client, "new", "ani").await;
        fill(&client, "confirm", "ani").await;
        assert_eq!(met_rules(&client).await, ["confirm"]);
        shot(&client, "2-weak-checklist").await;

        // Sent anyway: the server refuses it, keeps the login, names the rule.
        submit(&client).await;
        let error = client
            .wait()
            .for_element(Locator::Id("form-error"))
            .await
            .unwrap();
        let message = error.text().await.unwrap();
        assert!(message.contains("karakter"), "{message}");
        let login = client.find(Locator::Id("login")).await.unwrap();
        assert_eq!(login.prop("value").await.unwrap().unwrap(), "KEMENKEU\\ani");
        let current = client.find(Locator::Id("current")).await.unwrap();
        assert_eq!(current.prop("value").await.unwrap().unwrap(), "");
        shot(&client, "3-refused").await;

        fill(&client, "current", ISSUED).await;
        fill(&client, "new", CHOSEN).await;
        fill(&client, "confirm", CHOSEN).await;
        assert_eq!(
            met_rules(&client).await,
            ["length", "classes", "username", "confirm"]
        );
        shot(&client, "4-strong-checklist").await;

        submit(&client).await;
        let done = client
            .wait()
            .for_element(Locator::Id("done"))
            .await
            .unwrap();
        let done_text = done.text().await.unwrap();
        assert!(done_text.contains("Berlaku sampai"), "{done_text}");
        let h1 = client.find(Locator::Css("h1")).await.unwrap();
        assert_eq!(h1.text().await.unwrap(), "Kata sandi sudah diganti");
        let page = client.source().await.unwrap();
        assert!(page.contains(&server.ports().imaps.to_string()), "{page}");
        shot(&client, "5-success").await;
        client.close().await.unwrap();
    });

    assert_eq!(state(&server, "ani@kemenkeu.go.id"), "active");
    let after = imap_login(&server, "ani@kemenkeu.go.id", CHOSEN);
    assert!(after.contains("a OK"), "{after}");
}
