//! Hostile clients against the real binary (tests/security/hostile.py):
//! over-long lines and literals, literals never sent, bad and climbing
//! folder names, commands in the wrong state, 1,000 connections from one
//! address, slow clients, TLS garbage, an AUTH flood and a mail bomb,
//! while a normal client from another address is timed.

#[path = "../support/mod.rs"]
mod support;

use support::accounts::{active, cli};
use support::{Server, TestConfig, security_suite};

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
    active(dir, "budi@kemenkeu.go.id");
    let server = Server::start(config);
    let ports = server.ports();
    security_suite(
        "hostile.py",
        &[
            ("SUREL_IMAP_PORT", ports.imap.to_string()),
            ("SUREL_IMAPS_PORT", ports.imaps.to_string()),
            ("SUREL_SMTP_PORT", ports.smtp.to_string()),
            ("SUREL_SUBMISSIONS_PORT", ports.submissions.to_string()),
            ("SUREL_WEB_PORT", ports.web.to_string()),
            ("SUREL_PID", server.pid().to_string()),
            ("SUREL_DIR", server.dir().display().to_string()),
            (
                "SUREL_CA",
                server.dir().join("certs/surel.crt").display().to_string(),
            ),
        ],
        || server.log(),
    );
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
