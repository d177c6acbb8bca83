//! Brute force across IMAP, SMTP and the web page together
//! (tests/security/bruteforce.py): the account lockout and the per-address
//! throttle hold across all three, and unknown users cannot be told from
//! wrong passwords by reply or by timing.

#[path = "../support/mod.rs"]
mod support;

use std::process::Command;

use support::accounts::{CHOSEN, ISSUED, cli};
use support::{BIN, Server, TestConfig, workspace};

#[test]
fn lockout_and_throttle_hold_across_protocols_and_unknown_users_look_alike() {
    let config = TestConfig::new().with(
        "[policy]\nlockout_threshold = 5\n\
         [auth]\nip_slowdown_after = 6\nip_refuse_after = 9\nfailure_delay = \"100 ms\"",
    );
    config.write();
    let dir = config.dir.path();
    cli(dir, &["domain", "add", "kemenkeu.go.id"], "");
    let mut users = vec!["budi".to_string(), "tono".to_string()];
    users.extend((1..=10).map(|k| format!("r{k}")));
    for user in &users {
        let address = format!("{user}@kemenkeu.go.id");
        cli(
            dir,
            &["user", "add", &address, "--password-stdin"],
            &format!("{ISSUED}\n"),
        );
        cli(
            dir,
            &["user", "change-password", &address],
            &format!("{ISSUED}\n{CHOSEN}\n"),
        );
    }
    let server = Server::start(config);
    let ports = server.ports();
    let out = Command::new("python3")
        .arg(workspace().join("tests/security/bruteforce.py"))
        .env("SUREL_IMAPS_PORT", ports.imaps.to_string())
        .env("SUREL_SUBMISSIONS_PORT", ports.submissions.to_string())
        .env("SUREL_WEB_PORT", ports.web.to_string())
        .env("SUREL_BIN", BIN)
        .env("SUREL_CONFIG", server.dir().join("surel.toml"))
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
    let log = server.log();
    assert!(!log.contains(CHOSEN), "a password reached the log");
    assert!(!log.contains("Keliru-"), "a password reached the log");
}
