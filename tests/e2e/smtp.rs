//! SMTP against the real binary with clients nobody here wrote: Python's
//! smtplib (and imaplib to read back), swaks; plus crash safety under load.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{Client, Server, TestConfig, surel, workspace};

const PASSWORD: &str = "Hujan-Sore-77";

fn cli(dir: &Path, args: &[&str], stdin: &str) {
    let mut full = vec!["--config", "surel.toml"];
    full.extend_from_slice(args);
    let out = surel(dir, &full, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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
