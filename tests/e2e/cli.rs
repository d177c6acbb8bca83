//! The admin CLI against the real binary: `config check`, `cert self-signed`.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use support::{TestConfig, surel, workspace};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_shipped_config_checks_out() {
    let path = workspace().join("config/surel.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = surel(
        dir.path(),
        &["--config", path.to_str().unwrap(), "config", "check"],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
    assert!(
        stderr(&out).contains("self-signed"),
        "says that a self-signed certificate will be made"
    );
}

#[test]
fn a_misspelt_key_is_named_with_its_line() {
    let config = TestConfig::new();
    let path = config.write();
    let text = fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("submissions"))
        .unwrap()
        + 1;
    fs::write(&path, text.replace("submissions =", "submisions =")).unwrap();
    let out = surel(
        config.dir.path(),
        &["--config", "surel.toml", "config", "check"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("surel.toml:{line}: smtp.submisions")),
        "{err}"
    );
    assert!(err.contains("did you mean `submissions`"), "{err}");
}

#[test]
fn bad_values_are_named_with_what_to_write() {
    for (from, to, key, hint) in [
        (
            "self_signed = true",
            "self_signed = true\nmax_age = 5",
            "tls.max_age",
            "unknown key",
        ),
        (
            "language = \"en\"",
            "language = \"fr\"",
            "language",
            "`id` or `en`",
        ),
        (
            "data_dir = \"data\"",
            "data_dir = \"data\"\n[smtp.x]",
            "smtp",
            "",
        ),
    ] {
        let config = TestConfig::new();
        let path = config.write();
        let text = fs::read_to_string(&path).unwrap().replacen(from, to, 1);
        fs::write(&path, text).unwrap();
        let out = surel(
            config.dir.path(),
            &["--config", "surel.toml", "config", "check"],
            "",
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains(hint), "{hint}: {err}");
    }
    let config = TestConfig::new().with("[limits]\nidle_timeout = \"soon\"");
    config.write();
    let out = surel(
        config.dir.path(),
        &["--config", "surel.toml", "config", "check"],
        "",
    );
    let err = stderr(&out);
    assert!(
        err.contains("limits.idle_timeout: invalid duration"),
        "{err}"
    );
}

#[test]
fn a_broken_certificate_fails_the_check() {
    let config = TestConfig::new();
    config.write();
    let certs = config.dir.path().join("certs");
    fs::create_dir_all(&certs).unwrap();
    fs::write(certs.join("surel.crt"), "junk").unwrap();
    fs::write(certs.join("surel.key"), "junk").unwrap();
    let out = surel(
        config.dir.path(),
        &["--config", "surel.toml", "config", "check"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("tls"), "{}", stderr(&out));
}

#[test]
fn cert_self_signed_writes_a_private_key_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "cert",
        "self-signed",
        "--hostname",
        "mail.example.go.id",
        "--out",
        "c",
    ];
    let out = surel(dir.path(), &args, "");
    assert!(out.status.success(), "{}", stderr(&out));
    let key = dir.path().join("c/surel.key");
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let pem = fs::read_to_string(dir.path().join("c/surel.crt")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let again = surel(dir.path(), &args, "");
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn the_systemd_unit_verifies() {
    // verify also checks that ExecStart exists: point it at the binary under test.
    let unit = fs::read_to_string(workspace().join("config/systemd/surel.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/surel "));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("surel.service");
    fs::write(&copy, unit.replace("/usr/local/bin/surel", support::BIN)).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze is missing: .ci/run installs the systemd package");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "systemd-analyze verify: {err}"
    );
}
