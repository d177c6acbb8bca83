//! The outbound queue against the real binary: a Python SMTP sink stands in
//! for the remote MX (static route), messages go in through smtplib, and the
//! queue CLI is read like a sysadmin would.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use support::accounts::cli;
use support::{Server, TestConfig, free_port, surel, workspace};

const PASSWORD: &str = "Hujan-Sore-77";

/// A port for a sink that may start later: outside the kernel's ephemeral
/// range (where `free_port` and every client connection take theirs), so
/// nothing else running beside the test grabs it meanwhile.
fn sink_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 500) as u16 * 20;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 20;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

struct Sink {
    child: Child,
    dir: PathBuf,
}

impl Sink {
    fn start(port: u16, dir: &Path, mode: &str) -> Sink {
        let child = Command::new("python3")
            .arg(workspace().join("tests/interop/smtp_sink.py"))
            .args([&port.to_string(), dir.to_str().unwrap(), mode])
            .spawn()
            .unwrap();
        // Wait until it listens.
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sink did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sink {
            child,
            dir: dir.to_path_buf(),
        }
    }

    fn messages(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map(|d| {
                d.map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names.iter().map(|p| fs::read(p).unwrap()).collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server whose mail for remote.test goes to 127.0.0.1:`sink_port`.
fn server(sink_port: u16) -> Server {
    let config = TestConfig::new().with(&format!(
        "[queue]\nretry_after = [\"1 s\"]\ntimeout = \"5 s\"\nroutes = {{ \"remote.test\" = \"127.0.0.1:{sink_port}\" }}"
    ));
    config.write();
    let dir = config.dir.path().to_path_buf();
    cli(&dir, &["domain", "add", "kemenkeu.go.id"], "");
    cli(
        &dir,
        &["user", "add", "budi@kemenkeu.go.id", "--password-stdin"],
        "Issued-Pass-1\n",
    );
    cli(
        &dir,
        &["user", "change-password", "budi@kemenkeu.go.id"],
        &format!("Issued-Pass-1\n{PASSWORD}\n"),
    );
    Server::start(config)
}

fn submit(server: &Server, to: &str, subject: &str) -> Vec<u8> {
    submit_with(server, to, subject, "")
}

/// Submits with DSN options for the recipient (e.g. "NOTIFY=NEVER").
fn submit_with(server: &Server, to: &str, subject: &str, rcpt_options: &str) -> Vec<u8> {
    let message = format!(
        "From: budi@kemenkeu.go.id\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@kemenkeu.go.id>\r\n\r\nIsi {subject}.\r\n"
    );
    let script = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2]); ctx.check_hostname = False
with smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx) as s:
    s.login("budi@kemenkeu.go.id", sys.argv[3])
    s.sendmail("budi@kemenkeu.go.id", [sys.argv[4]], sys.stdin.buffer.read(), rcpt_options=sys.argv[5:])
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(server.ports().submissions.to_string())
        .arg(server.dir().join("certs/surel.crt"))
        .args([PASSWORD, to])
        .args(rcpt_options.split_whitespace())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "submission failed:\n{}",
        server.log()
    );
    message.into_bytes()
}

/// One sample from `/metrics` (on the HTTPS port, from loopback), e.g.
/// `surel_messages_bounced_total`.
fn metric(server: &Server, sample: &str) -> f64 {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10"])
        .arg(format!("https://127.0.0.1:{}/metrics", server.ports().web))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{sample} missing:\n{text}"))
        .parse()
        .unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn mail_for_another_domain_is_delivered_through_the_queue() {
    let port = sink_port();
    let server = server(port);
    let sink_dir = server.dir().join("sink");
    let sink = Sink::start(port, &sink_dir, "accept");
    let sent = submit(&server, "pak.lurah@remote.test", "keluar");
    wait_for("delivery to the sink", || sink.messages().len() == 1);
    let got = &sink.messages()[0];
    assert!(got.ends_with(&sent), "the message arrives whole");
    assert!(got.starts_with(b"Received: from "), "with our trace header");
    wait_for("the queue to empty", || {
        cli(server.dir(), &["queue", "list"], "").contains("the queue is empty")
    });
}

#[test]
fn a_temporary_failure_is_retried_and_shown_in_words() {
    let port = sink_port();
    let server = server(port);
    submit(&server, "pak.lurah@remote.test", "tertunda");
    // Nothing listens yet: the message waits with a readable reason.
    wait_for("a deferral", || {
        let list = cli(server.dir(), &["queue", "list"], "");
        list.contains("pak.lurah@remote.test") && list.contains("connection failed")
    });
    let json: serde_json::Value =
        serde_json::from_str(&cli(server.dir(), &["queue", "list", "--json"], "")).unwrap();
    assert!(json[0]["attempts"].as_u64().unwrap() >= 1);
    let sink = Sink::start(port, &server.dir().join("sink"), "accept");
    cli(server.dir(), &["queue", "retry", "--all"], "");
    wait_for("delivery after the sink came back", || {
        sink.messages().len() == 1
    });
    assert!(metric(&server, "surel_messages_deferred_total") >= 1.0);
    wait_for("the delivery in the metrics", || {
        metric(&server, "surel_messages_delivered_total{via=\"remote\"}") == 1.0
    });
    assert_eq!(metric(&server, "surel_messages_bounced_total"), 0.0);
    assert_eq!(
        metric(&server, "surel_delivery_seconds_count{via=\"remote\"}"),
        1.0
    );
}

#[test]
fn a_permanent_failure_bounces_to_the_sender() {
    let port = sink_port();
    let server = server(port);
    let _sink = Sink::start(port, &server.dir().join("sink"), "reject");
    submit(&server, "tidakada@remote.test", "ditolak");
    let inbox = server.dir().join("data/mail/kemenkeu.go.id/budi/new");
    wait_for("the bounce in the sender's INBOX", || {
        fs::read_dir(&inbox).map(|d| d.count()).unwrap_or(0) == 1
    });
    let bounce = fs::read(
        fs::read_dir(&inbox)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    let text = String::from_utf8_lossy(&bounce);
    assert!(
        text.contains("multipart/report; report-type=delivery-status"),
        "{text}"
    );
    assert!(
        text.contains("Final-Recipient: rfc822; tidakada@remote.test"),
        "{text}"
    );
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(
        text.contains("Subject: ditolak"),
        "the original is attached: {text}"
    );
    assert!(cli(server.dir(), &["queue", "list"], "").contains("the queue is empty"));
    assert_eq!(metric(&server, "surel_messages_bounced_total"), 1.0);
    assert_eq!(metric(&server, "surel_queue_messages"), 0.0);
}

#[test]
fn the_queue_survives_kill_9_and_delivers_after_restart() {
    let port = sink_port();
    let mut server = server(port);
    let sent = submit(&server, "pak.lurah@remote.test", "selamat");
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(5));
    assert!(cli(server.dir(), &["queue", "list"], "").contains("pak.lurah@remote.test"));
    let sink = Sink::start(port, &server.dir().join("sink"), "accept");
    server.restart();
    wait_for("delivery after the restart", || sink.messages().len() == 1);
    assert!(sink.messages()[0].ends_with(&sent));
}

#[test]
fn queued_messages_can_be_dropped() {
    let port = sink_port();
    let server = server(port);
    submit(&server, "pak.lurah@remote.test", "dibuang");
    let json: serde_json::Value =
        serde_json::from_str(&cli(server.dir(), &["queue", "list", "--json"], "")).unwrap();
    let id = json[0]["id"].as_str().unwrap().to_string();
    cli(server.dir(), &["queue", "drop", &id], "");
    assert!(cli(server.dir(), &["queue", "list"], "").contains("the queue is empty"));
    let out = surel(
        server.dir(),
        &["--config", "surel.toml", "queue", "drop", &id],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn mail_to_other_domains_is_dkim_signed_and_verifies_with_dkimpy() {
    let port = sink_port();
    let server = server(port);
    let records = cli(
        server.dir(),
        &[
            "domain",
            "dkim",
            "generate",
            "kemenkeu.go.id",
            "--selector",
            "s2026",
        ],
        "",
    );
    assert!(
        records
            .contains("s2026-ed25519._domainkey.kemenkeu.go.id. IN TXT \"v=DKIM1; k=ed25519; p="),
        "{records}"
    );
    assert!(
        records.contains("s2026-rsa._domainkey.kemenkeu.go.id. IN TXT \"v=DKIM1; k=rsa; p="),
        "{records}"
    );
    let key = server.dir().join("data/dkim/kemenkeu.go.id/s2026-rsa.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let records_file = server.dir().join("records.txt");
    fs::write(&records_file, &records).unwrap();
    let sink = Sink::start(port, &server.dir().join("sink"), "accept");
    submit(&server, "pak.lurah@remote.test", "bertanda");
    wait_for("delivery to the sink", || sink.messages().len() == 1);
    let message_file = server.dir().join("signed.eml");
    fs::write(&message_file, &sink.messages()[0]).unwrap();
    let out = Command::new("python3")
        .arg(workspace().join("tests/interop/dkim_verify.py"))
        .args([&message_file, &records_file])
        .output()
        .expect("python3 with dkimpy (.ci/run installs it)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("s2026-ed25519 pass") && report.contains("s2026-rsa pass"),
        "{report}"
    );
}

#[test]
fn notify_never_suppresses_the_bounce() {
    let port = sink_port();
    let server = server(port);
    let _sink = Sink::start(port, &server.dir().join("sink"), "reject");
    submit_with(&server, "tidakada@remote.test", "diam", "NOTIFY=NEVER");
    wait_for("the queue to empty", || {
        cli(server.dir(), &["queue", "list"], "").contains("the queue is empty")
    });
    let inbox = server.dir().join("data/mail/kemenkeu.go.id/budi/new");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        fs::read_dir(&inbox).map(|d| d.count()).unwrap_or(0),
        0,
        "no bounce was asked for"
    );
}

#[test]
fn without_a_route_mail_follows_the_domains_mx_record() {
    // The MX is looked up in a DNS server of the test's own (dnslib), and
    // points to a sink listening on 127.0.0.1:25 as a real MX would.
    assert!(
        std::net::TcpListener::bind("127.0.0.1:25").is_ok(),
        "this test needs 127.0.0.1:25 free (it runs as root in CI)"
    );
    let dns_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let records = r#"{"remote.test.": {"MX": ["10 mx.remote.test."]}, "mx.remote.test.": {"A": ["127.0.0.1"]}}"#;
    fs::write(dir.path().join("records.json"), records).unwrap();
    let mut dns = Command::new("python3")
        .arg(workspace().join("tests/interop/dns_server.py"))
        .args([
            &dns_port.to_string(),
            dir.path().join("records.json").to_str().unwrap(),
            "ok",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let config = TestConfig::new()
        .with("[queue]\nretry_after = [\"1 s\"]\ntimeout = \"5 s\"")
        .with_smtp(&format!("dns_server = \"127.0.0.1:{dns_port}\""));
    config.write();
    let dir2 = config.dir.path().to_path_buf();
    cli(&dir2, &["domain", "add", "kemenkeu.go.id"], "");
    cli(
        &dir2,
        &["user", "add", "budi@kemenkeu.go.id", "--password-stdin"],
        "Issued-Pass-1\n",
    );
    cli(
        &dir2,
        &["user", "change-password", "budi@kemenkeu.go.id"],
        &format!("Issued-Pass-1\n{PASSWORD}\n"),
    );
    let server = Server::start(config);
    let sink = Sink::start(25, &server.dir().join("sink"), "accept");
    let sent = submit(&server, "pak.lurah@remote.test", "lewat-mx");
    wait_for("delivery to the MX", || sink.messages().len() == 1);
    assert!(sink.messages()[0].ends_with(&sent));
    let _ = dns.kill();
    let _ = dns.wait();
}
