//! SMTP against the real binary with clients nobody here wrote: Python's
//! smtplib (and imaplib to read back), swaks; plus crash safety under load.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::accounts::cli;
use support::{Client, Server, TestConfig, surel, workspace};

const PASSWORD: &str = "Hujan-Sore-77";

fn active(dir: &Path, user: &str, extra: &[&str]) {
    let address = format!("{user}@kemenkeu.go.id");
    let mut args = vec!["user", "add", address.as_str(), "--password-stdin"];
    args.extend_from_slice(extra);
    cli(dir, &args, "Issued-Pass-1\n");
    cli(
        dir,
        &["user", "change-password", &address],
        &format!("Issued-Pass-1\n{PASSWORD}\n"),
    );
}

/// A server with budi, siti, tono (active), kiki (64K quota), ani
/// (must_change), siti.lama (disabled) and the aliases humas@ → budi,
/// info@ → budi + siti, and a loop putar1@ ↔ putar2@.
fn server(config: TestConfig) -> Server {
    let config = config.with_smtp("max_message_size = \"2M\"");
    config.write();
    let dir = config.dir.path().to_path_buf();
    cli(
        &dir,
        &["domain", "add", "kemenkeu.go.id", "--netbios", "kemenkeu"],
        "",
    );
    cli(
        &dir,
        &[
            "domain",
            "add",
            "mail.kemenkeu.go.id",
            "--alias-of",
            "kemenkeu.go.id",
        ],
        "",
    );
    for user in ["budi", "siti", "tono", "siti.lama"] {
        active(&dir, user, &[]);
    }
    active(&dir, "kiki", &["--quota", "64K"]);
    cli(&dir, &["user", "disable", "siti.lama@kemenkeu.go.id"], "");
    cli(
        &dir,
        &["user", "add", "ani@kemenkeu.go.id", "--password-stdin"],
        "Issued-Pass-1\n",
    );
    cli(
        &dir,
        &[
            "alias",
            "add",
            "humas@kemenkeu.go.id",
            "budi@kemenkeu.go.id",
        ],
        "",
    );
    cli(
        &dir,
        &[
            "alias",
            "add",
            "info@kemenkeu.go.id",
            "budi@kemenkeu.go.id",
            "siti@kemenkeu.go.id",
        ],
        "",
    );
    cli(
        &dir,
        &[
            "alias",
            "add",
            "putar1@kemenkeu.go.id",
            "putar2@kemenkeu.go.id",
        ],
        "",
    );
    cli(
        &dir,
        &[
            "alias",
            "add",
            "putar2@kemenkeu.go.id",
            "putar1@kemenkeu.go.id",
        ],
        "",
    );
    Server::start(config)
}

fn python(server: &Server, script: &str, args: &[&str]) -> String {
    let p = server.ports();
    let out = Command::new("python3")
        .arg(workspace().join("tests/interop").join(script))
        .args(args)
        .env("SUREL_SMTP_PORT", p.smtp.to_string())
        .env("SUREL_SUBMISSION_PORT", p.submission.to_string())
        .env("SUREL_SUBMISSIONS_PORT", p.submissions.to_string())
        .env("SUREL_IMAPS_PORT", p.imaps.to_string())
        .env("SUREL_CA", server.dir().join("certs/surel.crt"))
        .output()
        .expect("python3 must be installed (.ci/run installs it)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{report}\n--- server log ---\n{}",
        server.log()
    );
    report
}

#[test]
fn smtplib_covers_submission_mx_aliases_limits_and_idle() {
    let server = server(TestConfig::new());
    python(&server, "smtp_test.py", &[]);
    let log = server.log();
    assert!(!log.contains(PASSWORD), "a password reached the log");
    let message_events = log
        .lines()
        .filter(|l| l.contains(" message ") || l.contains("message queue_id"))
        .count();
    assert!(
        message_events > 100,
        "one audit event per message: {message_events}"
    );
    // The over-quota recipient of a partly delivered message waits in the queue.
    std::thread::sleep(Duration::from_millis(1500));
    let out = surel(
        server.dir(),
        &["--config", "surel.toml", "queue", "list"],
        "",
    );
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("kiki@kemenkeu.go.id") && list.contains("4.2.2 mailbox full"),
        "{list}"
    );
}

#[test]
fn swaks_submits_and_delivers() {
    let server = server(TestConfig::new());
    let p = server.ports();
    let swaks = |args: &[&str]| {
        let out = Command::new("swaks")
            .args([
                "--server",
                "127.0.0.1",
                "--from",
                "budi@kemenkeu.go.id",
                "--to",
                "siti@kemenkeu.go.id",
            ])
            .args([
                "--header",
                "Subject: lewat swaks",
                "--h-From",
                "budi@kemenkeu.go.id",
            ])
            .args(args)
            .output()
            .expect("swaks must be installed (.ci/run installs it)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "swaks {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let out = swaks(&[
        "--port",
        &p.submission.to_string(),
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        "budi@kemenkeu.go.id",
        "--auth-password",
        PASSWORD,
    ]);
    assert!(out.contains("<~  250 2.0.0 OK: queued as"), "{out}");
    assert!(out.contains("334 VXNlcm5hbWU6"), "{out}");
    let out = swaks(&[
        "--port",
        &p.submissions.to_string(),
        "--tlsc",
        "--auth",
        "PLAIN",
        "--auth-user",
        "budi@kemenkeu.go.id",
        "--auth-password",
        PASSWORD,
    ]);
    assert!(out.contains("250 2.0.0"), "{out}");
    let out = swaks(&["--port", &p.smtp.to_string()]);
    assert!(out.contains("250 2.0.0"), "{out}");
    let dir = server.dir().join("data/mail/kemenkeu.go.id/siti/new");
    assert_eq!(fs::read_dir(dir).unwrap().count(), 3);
}

#[test]
fn early_talkers_are_refused_on_mx() {
    let server = server(TestConfig::new().with_smtp("greet_pause = \"1 s\""));
    let mut c = Client::connect(server.ports().smtp);
    c.send("EHLO impatient\r\n");
    assert!(c.line().starts_with("554 5.5.0"));
    let mut polite = Client::connect(server.ports().smtp);
    assert!(
        polite.line().starts_with("220 "),
        "a client that waits is served"
    );
}

#[test]
fn the_sending_rate_limit_is_temporary() {
    let server = server(TestConfig::new().with_smtp("rate_limit_per_hour = 2"));
    let out = python(&server, "smtp_load.py", &["ratelimit"]);
    assert!(out.contains("450 4.7.1"), "{out}");
}

#[test]
fn kill_9_during_load_loses_and_duplicates_nothing_acknowledged() {
    let mut server = server(TestConfig::new());
    let acked = server.dir().join("acked.txt");
    let mut load = Command::new("python3")
        .arg(workspace().join("tests/interop/smtp_load.py"))
        .args(["load", acked.to_str().unwrap()])
        .env("SUREL_SMTP_PORT", server.ports().smtp.to_string())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(5));
    let _ = load.wait();
    let acked_count = fs::read_to_string(&acked).unwrap().lines().count();
    assert!(acked_count > 10, "the load ran: {acked_count}");
    server.restart();
    let report = python(&server, "smtp_load.py", &["check", acked.to_str().unwrap()]);
    assert!(report.contains("exactly once"), "{report}");
}

/// A DNS server answering TXT records from `records` (JSON), or failing.
struct Dns(std::process::Child);

impl Dns {
    fn start(dir: &Path, records: &str, mode: &str) -> (Dns, u16) {
        let port = support::free_port();
        let file = dir.join("records.json");
        fs::write(&file, records).unwrap();
        let child = Command::new("python3")
            .arg(workspace().join("tests/interop/dns_server.py"))
            .args([&port.to_string(), file.to_str().unwrap(), mode])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        (Dns(child), port)
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mx_send(server: &Server, from: &str, subject: &str) -> String {
    let script = r#"
import smtplib, sys
try:
    with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
        s.ehlo("mx.sender.example")
        s.sendmail(sys.argv[2], ["siti@kemenkeu.go.id"], f"From: {sys.argv[2]}\r\nTo: siti@kemenkeu.go.id\r\nSubject: {sys.argv[3]}\r\n\r\nisi\r\n".encode())
    print("250")
except smtplib.SMTPDataError as e:
    print(e.smtp_code, e.smtp_error.decode())
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(server.ports().smtp.to_string())
        .args([from, subject])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn siti_folder(server: &Server, folder: &str) -> Vec<String> {
    let dir = server
        .dir()
        .join("data/mail/kemenkeu.go.id/siti")
        .join(folder)
        .join("new");
    fs::read_dir(dir)
        .map(|d| {
            d.map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

const RECORDS: &str = r#"{
  "ok.example.": ["v=spf1 ip4:127.0.0.1 -all"],
  "bad.example.": ["v=spf1 -all"],
  "_dmarc.bad.example.": ["v=DMARC1; p=reject"]
}"#;

#[test]
fn spf_and_dmarc_are_checked_on_the_mx() {
    let dir = tempfile::tempdir().unwrap();
    let (_dns, port) = Dns::start(dir.path(), RECORDS, "ok");
    let server = server(TestConfig::new().with_smtp(&format!(
        "inbound_checks = true\ndns_server = \"127.0.0.1:{port}\""
    )));
    assert_eq!(mx_send(&server, "a@ok.example", "spf lulus"), "250");
    let inbox = siti_folder(&server, "");
    let msg = inbox
        .iter()
        .find(|m| m.contains("spf lulus"))
        .expect("delivered");
    assert!(
        msg.starts_with("Authentication-Results: mail.example.go.id;"),
        "{msg}"
    );
    assert!(msg.contains("spf=pass"), "{msg}");
    let refused = mx_send(&server, "a@bad.example", "palsu");
    assert!(refused.starts_with("550 5.7.1"), "{refused}");
    assert!(!siti_folder(&server, "").iter().any(|m| m.contains("palsu")));
}

#[test]
fn dmarc_reject_can_be_turned_into_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let (_dns, port) = Dns::start(dir.path(), RECORDS, "ok");
    let server = server(TestConfig::new().with_smtp(&format!(
        "inbound_checks = true\ndns_server = \"127.0.0.1:{port}\"\ndmarc_reject = \"quarantine\""
    )));
    assert_eq!(mx_send(&server, "a@bad.example", "ke junk"), "250");
    let junk = siti_folder(&server, ".Junk");
    assert!(
        junk.iter()
            .any(|m| m.contains("ke junk") && m.contains("dmarc=fail")),
        "{junk:?} inbox: {:?} config: {}",
        siti_folder(&server, ""),
        server.log()
    );
    assert!(
        !siti_folder(&server, "")
            .iter()
            .any(|m| m.contains("ke junk"))
    );
}

#[test]
fn a_dns_failure_is_a_temporary_refusal_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (_dns, port) = Dns::start(dir.path(), RECORDS, "servfail");
    let server = server(TestConfig::new().with_smtp(&format!(
        "inbound_checks = true\ndns_server = \"127.0.0.1:{port}\""
    )));
    let reply = mx_send(&server, "a@ok.example", "dns rusak");
    assert!(reply.starts_with("451 4.7.0"), "{reply}");
}

#[test]
fn recipient_and_error_limits_and_smtputf8() {
    let server = server(TestConfig::new().with_smtp("max_recipients = 3\nmax_errors = 4"));
    let mut c = Client::connect(server.ports().smtp);
    c.line();
    c.send("EHLO limits.example\r\n");
    let ehlo = c.until("250 ");
    assert!(ehlo.iter().any(|l| l.contains("SMTPUTF8")), "{ehlo:?}");
    c.send("MAIL FROM:<pengirim@contoh.example> SMTPUTF8 BODY=8BITMIME\r\n");
    assert!(c.line().starts_with("250 2.1.0"));
    for _ in 0..3 {
        c.send("RCPT TO:<siti@kemenkeu.go.id>\r\n");
        assert!(c.line().starts_with("250 2.1.5"));
    }
    c.send("RCPT TO:<siti@kemenkeu.go.id>\r\n");
    assert!(
        c.line().starts_with("452 4.5.3"),
        "the fourth recipient is one too many"
    );
    c.send("DATA\r\n");
    assert!(c.line().starts_with("354"));
    c.send("Subject: =?UTF-8?Q?Surat_=C3=BCber?=\r\n\r\nIsi \u{e9}\r\n.\r\n");
    assert!(c.line().starts_with("250 2.0.0"));
    // Errors: the 452 above was one; three more and the connection closes.
    for _ in 0..3 {
        c.send("FROBNICATE\r\n");
        assert!(c.line().starts_with("500 5.5.2"));
    }
    c.send("NOOP\r\n");
    assert!(c.line().starts_with("421 4.7.0"), "too many errors");
    assert!(c.closed());
}
