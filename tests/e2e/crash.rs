//! Crash safety (tests/security/crash.py): the real binary is killed with
//! SIGKILL at random moments under mixed SMTP and IMAP load, restarted,
//! and checked: acknowledged mail present exactly once, index and files
//! agreeing, no UID reused, UIDVALIDITY unchanged.

#[path = "../support/mod.rs"]
mod support;

use support::accounts::{active, cli};
use support::{BIN, TestConfig, security_suite};

#[test]
fn kill_9_under_load_loses_and_duplicates_nothing() {
    let config = TestConfig::new();
    config.write();
    let dir = config.dir.path();
    cli(dir, &["domain", "add", "kemenkeu.go.id"], "");
    active(dir, "budi@kemenkeu.go.id");
    // The script starts (and kills) the server itself; the first start
    // makes the self-signed certificate it trusts.
    let log = || std::fs::read_to_string(dir.join("crash-server.log")).unwrap_or_default();
    security_suite(
        "crash.py",
        &[
            ("SUREL_BIN", BIN.to_string()),
            ("SUREL_CONFIG", config.path().display().to_string()),
            ("SUREL_DIR", dir.display().to_string()),
            ("SUREL_IMAPS_PORT", config.ports.imaps.to_string()),
            ("SUREL_SMTP_PORT", config.ports.smtp.to_string()),
            (
                "SUREL_CA",
                dir.join("certs/surel.crt").display().to_string(),
            ),
            (
                "ROUNDS",
                std::env::var("CRASH_ROUNDS").unwrap_or_else(|_| "20".into()),
            ),
        ],
        log,
    );
    assert!(!log().contains("panicked"), "{}", log());
}
