//! `/metrics` and `/healthz` against the real binary: what IMAP, SMTP and
//! the account store did shows up in the counters, parsed by the official
//! Prometheus Python client; the admin address serves them over plain
//! HTTP and the public HTTPS port then hides them; health fails when the
//! disk is short.

#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use support::accounts::{CHOSEN, ISSUED, cli, imap_login, issue};
use support::{Server, TestConfig, free_port};

/// `curl URL` → (status, body); `-k` for the self-signed HTTPS port.
fn get(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {url}: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.trim().parse().unwrap(), body.to_string())
}

/// Parses the exposition text with `prometheus_client` (what Prometheus
/// accepts) into `name{k="v",…}` (labels sorted) → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, s.value))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not valid Prometheus text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing from {samples:#?}"))
}

#[test]
fn metrics_count_connections_logins_and_messages_on_the_admin_address() {
    let admin = free_port();
    // Keys before any table land in [web].
    let config = TestConfig::new().with(&format!("admin_listen = [\"127.0.0.1:{admin}\"]"));
    issue(&config, "ani@kemenkeu.go.id");
    cli(
        config.dir.path(),
        &["user", "change-password", "ani@kemenkeu.go.id"],
        &format!("{ISSUED}\n{CHOSEN}\n"),
    );
    cli(
        config.dir.path(),
        &["user", "add", "budi@kemenkeu.go.id", "--password-stdin"],
        &format!("{ISSUED}\n"),
    );
    let server = Server::start(config);
    let p = server.ports();

    assert!(imap_login(&server, "ani@kemenkeu.go.id", CHOSEN).contains("a OK"));
    assert!(imap_login(&server, "ani@kemenkeu.go.id", "Wrong-Pass-9").contains("a NO"));
    let swaks = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &p.smtp.to_string()])
        .args([
            "--from",
            "pengirim@mitra.go.id",
            "--to",
            "ani@kemenkeu.go.id",
        ])
        .args(["--helo", "mitra.go.id"])
        .output()
        .expect("run swaks");
    assert!(swaks.status.success(), "{swaks:?}");

    let (status, text) = get(&format!("http://127.0.0.1:{admin}/metrics"));
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("# TYPE surel_delivery_seconds histogram"),
        "{text}"
    );
    let m = samples(&text);
    assert!(value(&m, r#"surel_connections_total{listener="imaps"}"#) >= 2.0);
    assert_eq!(
        value(&m, r#"surel_connections_total{listener="smtp"}"#),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"surel_logins_total{outcome="success",service="imap"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"surel_logins_total{outcome="bad_credentials",service="imap"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&m, r#"surel_messages_received_total{listener="smtp"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"surel_messages_delivered_total{via="local"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"surel_delivery_seconds_count{via="local"}"#),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"surel_delivery_seconds_bucket{le="+Inf",via="local"}"#
        ),
        1.0
    );
    assert_eq!(value(&m, "surel_queue_messages{}"), 0.0);
    assert_eq!(value(&m, r#"surel_accounts{state="active"}"#), 1.0);
    assert_eq!(value(&m, r#"surel_accounts{state="must_change"}"#), 1.0);
    assert_eq!(value(&m, r#"surel_accounts{state="locked"}"#), 0.0);
    assert!(value(&m, "surel_disk_free_bytes{}") > 0.0);

    // The admin address has health too; the public port no longer shows metrics.
    let (status, health) = get(&format!("http://127.0.0.1:{admin}/healthz"));
    assert_eq!(status, 200, "{health}");
    assert!(health.starts_with("ok\n"), "{health}");
    for role in [
        "imap",
        "imaps",
        "smtp",
        "submission",
        "submissions",
        "web",
        "admin",
    ] {
        assert!(
            health.contains(&format!("ok   listener {role} 127.0.0.1:")),
            "{role}: {health}"
        );
    }
    assert!(health.contains("ok   database reachable"), "{health}");
    let (status, _) = get(&format!("https://127.0.0.1:{}/metrics", p.web));
    assert_eq!(status, 404);
    // Users' pages stay on HTTPS.
    let (status, _) = get(&format!("http://127.0.0.1:{admin}/password"));
    assert_eq!(status, 404);
}

#[test]
fn health_fails_when_the_disk_is_short_and_metrics_stay_on_loopback() {
    let config = TestConfig::new().with("min_free_disk = \"1 PiB\"");
    config.write();
    let server = Server::start(config);
    let web = server.ports().web;
    let (status, health) = get(&format!("https://127.0.0.1:{web}/healthz"));
    assert_eq!(status, 503, "{health}");
    assert!(health.starts_with("fail\n"), "{health}");
    assert!(health.contains("FAIL disk "), "{health}");
    assert!(health.contains("ok   database reachable"), "{health}");
    // Without an admin address, /metrics answers loopback on the HTTPS port.
    let (status, text) = get(&format!("https://127.0.0.1:{web}/metrics"));
    assert_eq!(status, 200);
    assert_eq!(value(&samples(&text), "surel_queue_messages{}"), 0.0);
}
