//! TLS against the real binary with `openssl s_client`: versions, STARTTLS,
//! SNI, and certificate reload on SIGHUP.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::time::Duration;

use support::{Client, Server, TestConfig, s_client, subject_cn, surel};

#[test]
fn only_tls_1_2_and_1_3_are_offered() {
    let server = Server::start(TestConfig::new());
    let p = server.ports();
    for port in [p.imaps, p.submissions, p.web] {
        let (ok, out) = s_client(port, &["-tls1_1"], "");
        assert!(!ok, "TLS 1.1 accepted on {port}: {out}");
        for version in ["-tls1_2", "-tls1_3"] {
            let (ok, out) = s_client(port, &[version], "");
            assert!(ok, "{version} refused on {port}: {out}");
        }
    }
    let (ok, out) = s_client(p.imaps, &["-tls1_3", "-quiet"], "a1 LOGOUT\n");
    assert!(ok, "{out}");
    assert!(
        out.contains("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN"),
        "{out}"
    );
    assert!(out.contains("a1 OK LOGOUT"), "{out}");
}

#[test]
fn starttls_works_for_imap_and_smtp() {
    let server = Server::start(TestConfig::new());
    let p = server.ports();
    let (ok, out) = s_client(
        p.imap,
        &["-starttls", "imap", "-quiet"],
        "a1 CAPABILITY\na2 LOGOUT\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("a1 OK"), "{out}");
    assert!(
        out.contains("AUTH=PLAIN"),
        "after STARTTLS, login is offered: {out}"
    );
    for port in [p.submission, p.smtp] {
        let (ok, out) = s_client(port, &["-starttls", "smtp", "-quiet"], "EHLO x\nQUIT\n");
        assert!(ok, "{out}");
        assert!(out.contains("221 2.0.0"), "{out}");
    }
}

#[test]
fn sni_picks_the_certificate_for_the_name_asked() {
    let config = TestConfig::new();
    let out = surel(
        config.dir.path(),
        &[
            "cert",
            "self-signed",
            "--hostname",
            "mail.kota.go.id",
            "--out",
            "kota",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let config = config.with("[[tls.sni]]\ncert = \"kota/surel.crt\"\nkey = \"kota/surel.key\"");
    let server = Server::start(config);
    let port = server.ports().imaps;
    for (servername, expected) in [
        (Some("mail.kota.go.id"), "mail.kota.go.id"),
        (Some("mail.kota.go.id."), "mail.kota.go.id"),
        (Some("MAIL.KOTA.GO.ID"), "mail.kota.go.id"),
        (Some("other.example"), "mail.example.go.id"),
        (None, "mail.example.go.id"),
    ] {
        let args: Vec<&str> = match servername {
            Some(name) => vec!["-servername", name],
            None => vec!["-noservername"],
        };
        let (ok, out) = s_client(port, &args, "");
        assert!(ok, "{out}");
        assert_eq!(
            subject_cn(&out).as_deref(),
            Some(expected),
            "{servername:?}: {out}"
        );
    }
}

#[test]
fn sighup_reloads_certificates_and_keeps_connections() {
    let server = Server::start(TestConfig::new());
    let port = server.ports().imaps;
    let (_, out) = s_client(port, &[], "");
    assert_eq!(subject_cn(&out).as_deref(), Some("mail.example.go.id"));

    let mut open = Client::connect(server.ports().imap);
    open.line();

    // A new certificate in place of the old one.
    let dir = server.dir();
    let made = surel(
        dir,
        &[
            "cert",
            "self-signed",
            "--hostname",
            "new.example.go.id",
            "--out",
            "new",
        ],
        "",
    );
    assert!(made.status.success());
    fs::rename(dir.join("new/surel.crt"), dir.join("certs/surel.crt")).unwrap();
    fs::rename(dir.join("new/surel.key"), dir.join("certs/surel.key")).unwrap();
    server.signal("HUP");
    server.wait_for_log("certificates reloaded", Duration::from_secs(5));
    let (_, out) = s_client(port, &[], "");
    assert_eq!(
        subject_cn(&out).as_deref(),
        Some("new.example.go.id"),
        "{out}"
    );

    // A broken certificate is refused and the working one stays.
    fs::write(dir.join("certs/surel.crt"), "not a certificate").unwrap();
    server.signal("HUP");
    server.wait_for_log("certificate reload failed", Duration::from_secs(5));
    let (ok, out) = s_client(port, &[], "");
    assert!(ok, "{out}");
    assert_eq!(
        subject_cn(&out).as_deref(),
        Some("new.example.go.id"),
        "{out}"
    );

    // The connection opened before both reloads is still served.
    open.send("a1 NOOP\r\n");
    assert!(open.line().starts_with("a1 OK"));
}
