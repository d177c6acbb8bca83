//! Hostile clients against the real binary (tests/security/hostile.py):
//! over-long lines and literals, literals never sent, bad and climbing
//! folder names, commands in the wrong state, 1,000 connections from one
//! address, slow clients, TLS garbage, an AUTH flood and a mail bomb,
//! while a normal client from another address is timed.

#[path = "../support/mod.rs"]
mod support;

use std::process::Command;

use support::accounts::{CHOSEN, ISSUED, cli};
use support::{Server, TestConfig, workspace};

#[test]
fn hostile_clients_get_their_replies_and_a_normal_client_is_still_served() {
    // Limits lowered so each attack meets them within seconds.
    let config = TestConfig::new().with(
        "[limits]\nmax_connections_per_ip = 100\nhandshake_timeout = \"3 s\"\n\
         idle_timeout = \"3 s\"\nidle_timeout_authenticated = \"4 s\"\n\
         [auth]\nip_slowdown_after = 25\nip_refuse_after = 30",
    );
    config.write();
    let dir = config.dir.path();
    cli(dir, &["domain", "add", "kemenkeu.go.id"], "");
    let user = "budi@kemenkeu.go.id";
    cli(
        dir,
        &["user", "add", user, "--password-stdin"],
        &format!("{ISSUED}\n"),
    );
    cli(
        dir,
        &["user", "change-password", user],
        &format!("{ISSUED}\n{CHOSEN}\n"),
    );
    let server = Server::start(config);
    let ports = server.ports();
    let out = Command::new("python3")
        .arg(workspace().join("tests/security/hostile.py"))
        .env("SUREL_IMAP_PORT", ports.imap.to_string())
        .env("SUREL_IMAPS_PORT", ports.imaps.to_string())
        .env("SUREL_SMTP_PORT", ports.smtp.to_string())
        .env("SUREL_SUBMISSIONS_PORT", ports.submissions.to_string())
        .env("SUREL_WEB_PORT", ports.web.to_string())
        .env("SUREL_PID", server.pid().to_string())
        .env("SUREL_DIR", server.dir())
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
    println!("{report}");
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
