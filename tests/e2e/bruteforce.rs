//! Brute force across IMAP, SMTP and the web page together
//! (tests/security/bruteforce.py): the account lockout and the per-address
//! throttle hold across all three, and unknown users cannot be told from
//! wrong passwords by reply or by timing.

#[path = "../support/mod.rs"]
mod support;

use support::accounts::{CHOSEN, active, cli};
use support::{BIN, Server, TestConfig, security_suite};

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
        active(dir, &format!("{user}@kemenkeu.go.id"));
    }
    let server = Server::start(config);
    let ports = server.ports();
    security_suite(
        "bruteforce.py",
        &[
            ("SUREL_IMAPS_PORT", ports.imaps.to_string()),
            ("SUREL_SUBMISSIONS_PORT", ports.submissions.to_string()),
            ("SUREL_WEB_PORT", ports.web.to_string()),
            ("SUREL_BIN", BIN.to_string()),
            (
                "SUREL_CONFIG",
                server.dir().join("surel.toml").display().to_string(),
            ),
            ("SUREL_DIR", server.dir().display().to_string()),
            (
                "SUREL_CA",
                server.dir().join("certs/surel.crt").display().to_string(),
            ),
        ],
        || server.log(),
    );
    let log = server.log();
    assert!(!log.contains(CHOSEN), "a password reached the log");
    assert!(!log.contains("Keliru-"), "a password reached the log");
}
