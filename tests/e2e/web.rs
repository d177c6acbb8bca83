//! The web listener against the real binary with curl: HTTPS only, the
//! self-service password change (CSRF, rules, lockout shared with IMAP),
//! Thunderbird autoconfig and Outlook Autodiscover.

#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use support::accounts::{CHOSEN, ISSUED, cli, imap_login, issue, issued_server as server, state};
use support::{Server, TestConfig};

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

/// One curl request over TLS to the web port; `jar` keeps cookies.
fn curl(server: &Server, jar: &Path, path: &str, extra: &[&str]) -> Reply {
    let url = format!("https://127.0.0.1:{}{path}", server.ports().web);
    let head = jar.with_extension("head");
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "-b"])
        .arg(jar)
        .arg("-c")
        .arg(jar)
        .arg("-D")
        .arg(&head)
        .args(["-w", "\n%{http_code}"])
        .args(extra)
        .arg(&url)
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {url} failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    Reply {
        status: status.trim().parse().unwrap(),
        headers: std::fs::read_to_string(&head).unwrap().to_ascii_lowercase(),
        body: body.to_string(),
    }
}

fn csrf_field(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    body[at..at + body[at..].find('"').unwrap()].to_string()
}

fn change(server: &Server, jar: &Path, login: &str, current: &str, new: &str) -> Reply {
    change_confirmed(server, jar, login, current, new, new)
}

/// Fetches the form (for its CSRF token) and posts it, in English.
fn change_confirmed(
    server: &Server,
    jar: &Path,
    login: &str,
    current: &str,
    new: &str,
    confirm: &str,
) -> Reply {
    let form = curl(server, jar, "/password?lang=en", &[]);
    assert_eq!(form.status, 200);
    let token = csrf_field(&form.body);
    curl(
        server,
        jar,
        "/password",
        &[
            "--data-urlencode",
            &format!("login={login}"),
            "--data-urlencode",
            &format!("current={current}"),
            "--data-urlencode",
            &format!("new={new}"),
            "--data-urlencode",
            &format!("confirm={confirm}"),
            "--data-urlencode",
            &format!("csrf={token}"),
            "-d",
            "lang=en",
        ],
    )
}

#[test]
fn plain_http_is_refused_and_https_carries_the_security_headers() {
    let server = server();
    let plain = Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{}/", server.ports().web))
        .output()
        .unwrap();
    assert!(
        !plain.status.success(),
        "plain HTTP got an answer: {plain:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar");
    let home = curl(&server, &jar, "/", &[]);
    assert_eq!(home.status, 200);
    // The test config says `language = "en"`; `?lang=id` switches.
    assert!(home.body.contains("lang=\"en\""), "{}", home.body);
    let id = curl(&server, &jar, "/password?lang=id", &[]);
    assert!(id.body.contains("lang=\"id\"") && id.body.contains("Ganti kata sandi"));
    for header in [
        "strict-transport-security: max-age=",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
        "content-security-policy: default-src 'self'",
    ] {
        assert!(home.headers.contains(header), "{header}: {}", home.headers);
    }
    assert!(curl(&server, &jar, "/healthz", &[]).body.starts_with("ok"));
    let script = curl(&server, &jar, "/password.js", &[]);
    assert_eq!(script.status, 200);
    assert!(script.headers.contains("content-type: text/javascript"));
    let style = curl(&server, &jar, "/style.css", &[]);
    assert_eq!(style.status, 200);
    assert!(style.headers.contains("content-type: text/css"));
    assert_eq!(curl(&server, &jar, "/no-such-page", &[]).status, 404);
}

#[test]
fn an_issued_password_is_changed_on_the_web_and_then_works_in_imap() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar");
    assert_eq!(state(&server, "ani@kemenkeu.go.id"), "must_change");

    // The form carries the cookie, refuses caching, names the rules.
    let form = curl(&server, &jar, "/password", &[]);
    assert_eq!(form.status, 200);
    assert!(form.headers.contains("cache-control: no-store"));
    assert!(form.headers.contains("set-cookie: surel_csrf="));
    assert!(form.headers.contains("httponly") && form.headers.contains("samesite=strict"));
    assert!(form.body.contains("Change your password"), "{}", form.body);

    // A weak password is refused with the rule it broke; what was typed
    // is kept except the passwords.
    let weak = change(&server, &jar, "KEMENKEU\\ani", ISSUED, "short");
    assert_eq!(weak.status, 422, "{}", weak.body);
    assert!(weak.body.contains("role=\"alert\""));
    assert!(
        weak.body.contains("value=\"KEMENKEU\\ani\""),
        "{}",
        weak.body
    );
    assert!(!weak.body.contains(ISSUED), "a password was echoed back");
    assert_eq!(state(&server, "ani@kemenkeu.go.id"), "must_change");

    // The issued password does not open the mailbox yet.
    let before = imap_login(&server, "ani@kemenkeu.go.id", ISSUED);
    assert!(
        before.contains("a NO") && !before.contains("a OK"),
        "{before}"
    );

    let done = change(&server, &jar, "ani@kemenkeu.go.id", ISSUED, CHOSEN);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("id=\"done\""), "{}", done.body);
    assert!(done.body.contains("993") || done.body.contains("IMAP"));
    assert_eq!(state(&server, "ani@kemenkeu.go.id"), "active");

    let after = imap_login(&server, "ani@kemenkeu.go.id", CHOSEN);
    assert!(after.contains("a OK"), "{after}");
}

#[test]
fn an_expired_password_is_changed_on_the_web_with_the_old_one() {
    // Imported from the old server: password set 15 days ago, valid 10.
    let config = TestConfig::new().with("[policy]\nmax_age = \"10 days\"");
    issue(&config, "ani@kemenkeu.go.id");
    let changed = jiff::Zoned::now().date() - jiff::Span::new().days(15);
    let csv = config.dir.path().join("old.csv");
    std::fs::write(
        &csv,
        format!("address,name,password,password_changed_at\nbudi@kemenkeu.go.id,Budi,Lama-Pass-11,{changed}\n"),
    )
    .unwrap();
    cli(
        config.dir.path(),
        &["user", "import", csv.to_str().unwrap()],
        "",
    );
    let server = Server::start(config);
    assert_eq!(state(&server, "budi@kemenkeu.go.id"), "expired");
    let refused = imap_login(&server, "budi@kemenkeu.go.id", "Lama-Pass-11");
    assert!(
        refused.contains("[EXPIRED]") && refused.contains("expired"),
        "{refused}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let done = change(
        &server,
        &tmp.path().join("jar"),
        "KEMENKEU\\budi",
        "Lama-Pass-11",
        CHOSEN,
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(state(&server, "budi@kemenkeu.go.id"), "active");
    assert!(imap_login(&server, "budi@kemenkeu.go.id", CHOSEN).contains("a OK"));
}

#[test]
fn a_post_without_the_matching_cookie_is_refused() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar");
    let reply = curl(
        &server,
        &jar,
        "/password",
        &[
            "-d",
            "login=ani@kemenkeu.go.id",
            "-d",
            &format!("current={ISSUED}"),
            "-d",
            &format!("new={CHOSEN}"),
            "-d",
            &format!("confirm={CHOSEN}"),
            "-d",
            "csrf=forged",
        ],
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(state(&server, "ani@kemenkeu.go.id"), "must_change");
}

/// The text of the form's error box.
fn alert(body: &str) -> String {
    let at = body.find("role=\"alert\"").expect("an error box");
    body[at..at + body[at..].find("</div>").unwrap()].to_string()
}

#[test]
fn every_refusal_of_the_form_says_why_and_keeps_the_login() {
    let config = TestConfig::new().with(
        "[auth]\nip_slowdown_after = 2\nip_refuse_after = 3\n[policy]\nlockout_threshold = 10",
    );
    issue(&config, "ani@kemenkeu.go.id");
    let dir = config.dir.path();
    cli(
        dir,
        &["user", "add", "siti@kemenkeu.go.id", "--password-stdin"],
        &format!("{ISSUED}\n"),
    );
    cli(dir, &["user", "disable", "siti@kemenkeu.go.id"], "");
    let server = Server::start(config);
    let tmp = tempfile::tempdir().unwrap();
    let jar = tmp.path().join("jar");
    let ani = "ani@kemenkeu.go.id";

    let empty = change(&server, &jar, ani, "", CHOSEN);
    assert_eq!(empty.status, 400, "{}", empty.body);
    assert!(alert(&empty.body).contains("fill in every field"));
    assert!(empty.body.contains(&format!("value=\"{ani}\"")));

    let differ = change_confirmed(&server, &jar, ani, ISSUED, CHOSEN, "Hujan-Sore-78");
    assert_eq!(differ.status, 400, "{}", differ.body);
    assert!(alert(&differ.body).contains("repetition differ"));
    assert!(!differ.body.contains(CHOSEN), "a password was echoed back");

    // Disabled: the right password is told to call the service desk.
    let disabled = change(&server, &jar, "siti@kemenkeu.go.id", ISSUED, CHOSEN);
    assert_eq!(disabled.status, 422, "{}", disabled.body);
    assert!(alert(&disabled.body).contains("Contact the service desk"));

    // Wrong passwords from one address: slowed, then refused for a while,
    // even with the right one.
    for n in 0..3 {
        let wrong = change(&server, &jar, ani, &format!("Salah-{n}"), CHOSEN);
        assert!(alert(&wrong.body).contains("Wrong user name or password"));
    }
    let throttled = change(&server, &jar, ani, ISSUED, CHOSEN);
    assert_eq!(throttled.status, 422, "{}", throttled.body);
    assert!(alert(&throttled.body).contains("Too many login attempts"));
    assert_eq!(state(&server, ani), "must_change");
}

#[test]
fn wrong_passwords_on_the_web_lock_the_account_for_imap_too() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar");
    // Three different wrong passwords (the same one retried, as a phone
    // with a stale password does, counts once).
    for n in 0..3 {
        let guess = format!("Not-The-Pass-{n}");
        let wrong = change(&server, &jar, "ani@kemenkeu.go.id", &guess, CHOSEN);
        assert_eq!(wrong.status, 422, "{}", wrong.body);
    }
    // Now even the right password is refused, on the web and in IMAP,
    // with the same reply an unknown user gets (no oracle).
    let locked = change(&server, &jar, "ani@kemenkeu.go.id", ISSUED, CHOSEN);
    assert_eq!(locked.status, 422, "{}", locked.body);
    assert_eq!(state(&server, "ani@kemenkeu.go.id"), "locked");
    let unknown = change(&server, &jar, "nobody@kemenkeu.go.id", ISSUED, CHOSEN);
    assert_eq!(alert(&locked.body), alert(&unknown.body));
    let imap = imap_login(&server, "ani@kemenkeu.go.id", ISSUED);
    assert!(!imap.contains("a OK"), "{imap}");
}

#[test]
fn thunderbird_and_outlook_find_the_settings() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("jar");
    let p = server.ports();

    for path in [
        "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ani%40kemenkeu.go.id",
        "/mail/config-v1.1.xml?emailaddress=ani%40kemenkeu.go.id",
    ] {
        let tb = curl(&server, &jar, path, &[]);
        assert_eq!(tb.status, 200);
        assert!(
            tb.headers.contains("content-type: application/xml") || tb.headers.contains("text/xml")
        );
        assert!(tb.body.contains("<clientConfig"), "{}", tb.body);
        assert!(tb.body.contains(&format!("<port>{}</port>", p.imaps)));
        assert!(tb.body.contains(&format!("<port>{}</port>", p.submissions)));
        assert!(tb.body.contains("<hostname>mail.example.go.id</hostname>"));
    }

    let request = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\
<Request><EMailAddress>ani@kemenkeu.go.id</EMailAddress>\
<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\
</Request></Autodiscover>";
    let ol = curl(
        &server,
        &jar,
        "/autodiscover/autodiscover.xml",
        &["-H", "Content-Type: text/xml", "--data-binary", request],
    );
    assert_eq!(ol.status, 200, "{}", ol.body);
    assert!(ol.body.contains("<Type>IMAP</Type>"), "{}", ol.body);
    assert!(ol.body.contains(&format!("<Port>{}</Port>", p.imaps)));
    assert!(ol.body.contains(&format!("<Port>{}</Port>", p.submissions)));
    // Staff know `DOMAIN\user` from Exchange; this domain has a NetBIOS name.
    assert!(
        ol.body.contains("<LoginName>KEMENKEU\\ani</LoginName>"),
        "{}",
        ol.body
    );

    let json = curl(
        &server,
        &jar,
        "/autodiscover/autodiscover.json?Email=ani%40kemenkeu.go.id&Protocol=autodiscoverv1",
        &[],
    );
    assert_eq!(json.status, 200, "{}", json.body);
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["Protocol"], "AutodiscoverV1");
    assert!(
        v["Url"]
            .as_str()
            .unwrap()
            .ends_with("/autodiscover/autodiscover.xml")
    );
    let bad = curl(
        &server,
        &jar,
        "/autodiscover/autodiscover.json?Email=ani%40kemenkeu.go.id&Protocol=ActiveSync",
        &[],
    );
    assert_ne!(bad.status, 200);
}

/// curl's own IMAP client over implicit TLS.
fn curl_imap(server: &Server, user: &str, password: &str, path: &str, extra: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "-u"])
        .arg(format!("{user}:{password}"))
        .args(extra)
        .arg(format!("imaps://127.0.0.1:{}/{path}", server.ports().imaps))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl imaps {path}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_password_near_expiry_gets_one_notice_mail_in_the_inbox() {
    // Three working days of validity: a password set today is inside the
    // 5-working-day mark at once.
    let config = TestConfig::new().with("[policy]\nmax_age = \"3 working days\"");
    issue(&config, "budi@kemenkeu.go.id");
    cli(
        config.dir.path(),
        &["user", "change-password", "budi@kemenkeu.go.id"],
        &format!("{ISSUED}\n{CHOSEN}\n"),
    );
    let mut server = Server::start(config);
    server.wait_for_log(
        "expiry notice delivered",
        std::time::Duration::from_secs(10),
    );

    let message = curl_imap(&server, "budi@kemenkeu.go.id", CHOSEN, "INBOX;UID=1", &[]);
    assert!(
        message.contains("Subject: Your mail password expires in"),
        "{message}"
    );
    assert!(message.contains("Auto-Submitted: auto-generated"));
    assert!(
        message.contains("https://mail.example.go.id/password"),
        "{message}"
    );
    let show: serde_json::Value =
        serde_json::from_str(&cli(server.dir(), &["user", "show", "budi", "--json"], "")).unwrap();
    let last = show["last_valid_day"].as_str().unwrap();
    assert!(
        message.contains(&format!("valid until {last}")),
        "{message}"
    );

    // Each mark once: a restart sends nothing new.
    server.signal("TERM");
    server.wait_exit(std::time::Duration::from_secs(10));
    server.restart();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let all = curl_imap(
        &server,
        "budi@kemenkeu.go.id",
        CHOSEN,
        "INBOX",
        &["-X", "SEARCH ALL"],
    );
    assert_eq!(all.trim(), "* SEARCH 1", "{all}");
}
