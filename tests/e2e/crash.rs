//! Crash safety (tests/security/crash.py): the real binary is killed with
//! SIGKILL at random moments under mixed SMTP and IMAP load, restarted,
//! and checked: acknowledged mail present exactly once, index and files
//! agreeing, no UID reused, UIDVALIDITY unchanged.

#[path = "../support/mod.rs"]
mod support;

use std::process::Command;

use support::accounts::{CHOSEN, ISSUED, cli};
use support::{BIN, TestConfig, workspace};

#[test]
fn kill_9_under_load_loses_and_duplicates_nothing() {
    let config = TestConfig::new();
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
    // The script starts (and kills) the server itself; the first start
    // makes the self-signed certificate it trusts.
    let rounds = std::env::var("CRASH_ROUNDS").unwrap_or_else(|_| "20".into());
    let out = Command::new("python3")
        .arg(workspace().join("tests/security/crash.py"))
        .env("SUREL_BIN", BIN)
        .env("SUREL_CONFIG", config.path())
        .env("SUREL_DIR", dir)
        .env("SUREL_IMAPS_PORT", config.ports.imaps.to_string())
        .env("SUREL_SMTP_PORT", config.ports.smtp.to_string())
        .env("SUREL_CA", dir.join("certs/surel.crt"))
        .env("ROUNDS", rounds)
        .output()
        .expect("python3 must be installed (.ci/run installs it)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(dir.join("crash-server.log")).unwrap_or_default();
    assert!(out.status.success(), "{report}\n--- server log ---\n{log}");
    println!("{report}");
    assert!(!log.contains("panicked"), "{log}");
}
