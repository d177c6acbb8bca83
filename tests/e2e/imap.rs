//! IMAP against the real binary with clients nobody here wrote: Python's
//! imaplib (every command group, every policy reply), mbsync, curl.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::process::Command;

use support::{Server, TestConfig, surel, workspace};

const PASSWORD: &str = "Hujan-Sore-77";

/// A server with the accounts the Python suite expects:
/// budi, tono, rudi (active), wati (inside the warning window),
/// ani (must_change), eko (expired), siti (disabled).
fn server() -> Server {
    // 30 working days of validity with 30 days of warning: every fresh
    // password is inside the warning window. Imported passwords from 2020
    // are long expired but, with disable_after of ten years, not disabled.
    let config = TestConfig::new().with(
        "[policy]\nmax_age = \"30 working days\"\nwarn_before = \"40 working days\"\ndisable_after = \"3650 days\"",
    );
    config.write();
    let dir = config.dir.path().to_path_buf();
    let cli = |args: &[&str], stdin: &str| {
        let mut full = vec!["--config", "surel.toml"];
        full.extend_from_slice(args);
        let out = surel(&dir, &full, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cli(
        &["domain", "add", "kemenkeu.go.id", "--netbios", "kemenkeu"],
        "",
    );
    for user in ["budi", "tono", "rudi", "wati", "siti"] {
        let address = format!("{user}@kemenkeu.go.id");
        cli(
            &["user", "add", &address, "--password-stdin"],
            "Issued-Pass-1\n",
        );
        cli(
            &["user", "change-password", &address],
            &format!("Issued-Pass-1\n{PASSWORD}\n"),
        );
    }
    // Clear the warning of the accounts other tests log in to: change them
    // on a far policy is not possible, so they simply see it once.
    cli(&["user", "disable", "siti@kemenkeu.go.id"], "");
    fs::write(dir.join("siti.txt"), "").unwrap();
    cli(
        &["user", "add", "ani@kemenkeu.go.id", "--password-stdin"],
        "Issued-Pass-1\n",
    );
    let hash = String::from_utf8(
        Command::new("openssl")
            .args(["passwd", "-6", "-salt", "saltsalt", "Old-Pass-2020"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    fs::write(
        dir.join("old.csv"),
        format!("address,name,password_hash,password_changed_at\neko@kemenkeu.go.id,Eko,{{CRYPT}}{},2020-01-02\n", hash.trim()),
    )
    .unwrap();
    cli(&["user", "import", "old.csv"], "");
    Server::start(config)
}

fn run_python(server: &Server, script: &str) {
    let out = Command::new("python3")
        .arg(workspace().join("tests/interop").join(script))
        .env("SUREL_IMAP_PORT", server.ports().imap.to_string())
        .env("SUREL_IMAPS_PORT", server.ports().imaps.to_string())
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
    assert!(report.contains("OK"), "{report}");
}

#[test]
fn imaplib_covers_every_command_group_and_policy_reply() {
    let server = server();
    run_python(&server, "imap_test.py");
    let log = server.log();
    assert!(!log.contains(PASSWORD), "a password reached the log");
    assert!(!log.contains("Old-Pass-2020"), "a password reached the log");
}
