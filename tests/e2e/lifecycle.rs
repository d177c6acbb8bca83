//! `surel serve` lifecycle against the real binary: greeting, limits,
//! timeouts, signals, bind errors, first-start certificate, logs.

#[path = "../support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::{Client, Server, TestConfig};

#[test]
fn greets_on_every_plain_listener_and_stops_cleanly_on_sigterm() {
    let mut server = Server::start(TestConfig::new());
    let ports = server.ports();

    let mut imap = Client::connect(ports.imap);
    let greeting = imap.line();
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED "),
        "{greeting}"
    );
    imap.send("a1 CAPABILITY\r\n");
    let lines = imap.until("a1 ");
    assert!(lines[0].contains("STARTTLS"), "{lines:?}");
    assert!(lines[1].starts_with("a1 OK"), "{lines:?}");
    imap.send("a2 LOGIN budi secret\r\n");
    assert!(imap.line().starts_with("a2 NO [PRIVACYREQUIRED]"));

    for (port, mail_reply) in [(ports.smtp, "250 2.1.0"), (ports.submission, "530 5.7.0")] {
        let mut smtp = Client::connect(port);
        assert!(smtp.line().starts_with("220 mail.example.go.id ESMTP"));
        smtp.send("EHLO client.example\r\n");
        let lines = smtp.until("250 ");
        assert!(lines.iter().any(|l| l.contains("STARTTLS")), "{lines:?}");
        assert!(
            !lines.iter().any(|l| l.contains("AUTH")),
            "no AUTH before TLS: {lines:?}"
        );
        // MX takes mail without AUTH; submission requires it.
        smtp.send("MAIL FROM:<a@example.org>\r\n");
        let reply = smtp.line();
        assert!(reply.starts_with(mail_reply), "{reply}");
        smtp.send("QUIT\r\n");
        assert!(smtp.line().starts_with("221"));
    }

    // A session that is open at shutdown is told so, then the server exits 0.
    let mut open = Client::connect(ports.smtp);
    open.line();
    server.signal("TERM");
    assert!(
        open.line().starts_with("421 4.3.2"),
        "open session told of shutdown"
    );
    imap.send("");
    assert!(
        imap.line()
            .starts_with("* BYE [UNAVAILABLE] Server shutting down")
    );
    let (status, took) = server.wait_exit(Duration::from_secs(12));
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(server.log().contains("surel stopped"));
}

#[test]
fn sigint_stops_too() {
    let mut server = Server::start(TestConfig::new());
    server.signal("INT");
    let (status, _) = server.wait_exit(Duration::from_secs(10));
    assert!(status.success());
}

#[test]
fn the_grace_time_bounds_shutdown_when_a_client_hangs() {
    let config =
        TestConfig::new().with("[limits]\nshutdown_grace = \"1 s\"\nhandshake_timeout = \"60 s\"");
    let mut server = Server::start(config);
    // A client that opens a TLS port and never says hello.
    let _silent = std::net::TcpStream::connect(("127.0.0.1", server.ports().imaps)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal("TERM");
    let (status, took) = server.wait_exit(Duration::from_secs(8));
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_millis(900),
        "waited for the grace time: {took:?}"
    );
    assert!(server.log().contains("grace time over"), "{}", server.log());
}

#[test]
fn first_start_makes_a_private_self_signed_certificate_and_warns() {
    let server = Server::start(TestConfig::new());
    let key = server.dir().join("certs/surel.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key mode");
    let data = std::fs::metadata(server.dir().join("data")).unwrap();
    assert_eq!(data.permissions().mode() & 0o777, 0o700, "data dir mode");
    let log = server.log();
    assert!(log.contains("USING A SELF-SIGNED CERTIFICATE"), "{log}");
    assert!(log.contains("docs/en/certificates.md"), "{log}");
}

#[test]
fn a_port_in_use_is_reported_in_plain_words() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = TestConfig::new();
    config.ports.smtp = taken.local_addr().unwrap().port();
    let mut server = Server::spawn(config, &[]);
    let (status, _) = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    let log = server.log();
    assert!(log.contains("(smtp.listen)"), "{log}");
    assert!(log.contains("already in use"), "{log}");
}

#[test]
fn connections_per_ip_are_limited() {
    let config = TestConfig::new().with("[limits]\nmax_connections_per_ip = 2");
    let server = Server::start(config);
    let port = server.ports().imap;
    let mut first = Client::connect(port);
    let mut second = Client::connect(port);
    assert!(first.line().starts_with("* OK"));
    assert!(second.line().starts_with("* OK"));
    let mut third = Client::connect(port);
    assert!(
        third
            .line()
            .starts_with("* BYE [UNAVAILABLE] Too many connections")
    );
    drop(first);
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = Client::connect(port);
    assert!(fourth.line().starts_with("* OK"), "a freed place is reused");
}

#[test]
fn idle_clients_are_disconnected() {
    let config = TestConfig::new().with("[limits]\nidle_timeout = \"1 s\"");
    let server = Server::start(config);
    let mut imap = Client::connect(server.ports().imap);
    imap.line();
    let mut smtp = Client::connect(server.ports().smtp);
    smtp.line();
    assert!(imap.line().starts_with("* BYE Autologout"));
    assert!(smtp.line().starts_with("421 4.4.2"));
    assert!(imap.closed() && smtp.closed());
}

#[test]
fn commands_pipelined_after_starttls_are_refused() {
    let server = Server::start(TestConfig::new());
    let mut imap = Client::connect(server.ports().imap);
    imap.line();
    imap.send("a STARTTLS\r\nb NOOP\r\n");
    assert!(imap.line().starts_with("a BAD Data sent after STARTTLS"));
    let mut smtp = Client::connect(server.ports().submission);
    smtp.line();
    smtp.send("EHLO x\r\n");
    smtp.until("250 ");
    smtp.send("STARTTLS\r\nMAIL FROM:<a@b.c>\r\n");
    assert!(smtp.line().starts_with("554 5.5.1"));
}

#[test]
fn over_long_lines_are_refused_without_harm() {
    let server = Server::start(TestConfig::new());
    let mut smtp = Client::connect(server.ports().smtp);
    smtp.line();
    smtp.send(&format!("EHLO {}\r\nNOOP\r\n", "x".repeat(100_000)));
    assert!(smtp.line().starts_with("500 5.5.6"));
    assert!(
        smtp.line().starts_with("250"),
        "the session goes on in sync"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let server = Server::start_with_args(TestConfig::new(), &["--log-format", "json"]);
    let mut imap = Client::connect(server.ports().imap);
    imap.line();
    imap.send("a LOGOUT\r\n");
    imap.until("a OK");
    server.wait_for_log("connection closed", Duration::from_secs(5));
    let log = server.log();
    let mut ready = false;
    for line in log.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        ready |= event["fields"]["message"] == "surel ready";
        if event["fields"]["message"] == "connection closed" {
            assert_eq!(event["span"]["listener"], "imap", "{line}");
            assert!(
                event["span"]["peer"]
                    .as_str()
                    .unwrap()
                    .starts_with("127.0.0.1:")
            );
        }
    }
    assert!(ready, "{log}");
}
