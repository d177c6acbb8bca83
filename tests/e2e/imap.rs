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
    cli(
        &[
            "user",
            "add",
            "kiki@kemenkeu.go.id",
            "--password-stdin",
            "--quota",
            "64K",
        ],
        "Issued-Pass-1\n",
    );
    cli(
        &["user", "change-password", "kiki@kemenkeu.go.id"],
        &format!("Issued-Pass-1\n{PASSWORD}\n"),
    );
    cli(&["user", "disable", "siti@kemenkeu.go.id"], "");
    for user in ["ani", "baru"] {
        let address = format!("{user}@kemenkeu.go.id");
        cli(
            &["user", "add", &address, "--password-stdin"],
            "Issued-Pass-1\n",
        );
    }
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
        .env("SUREL_BIN", support::BIN)
        .env("SUREL_CONFIG", server.dir().join("surel.toml"))
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
    println!("{report}");
}

#[test]
fn imaplib_covers_every_command_group_and_policy_reply() {
    let server = server();
    run_python(&server, "imap_test.py");
    let log = server.log();
    assert!(!log.contains(PASSWORD), "a password reached the log");
    assert!(!log.contains("Old-Pass-2020"), "a password reached the log");
}

fn curl(server: &Server, url_path: &str, extra: &[&str]) -> String {
    let url = format!("imaps://localhost:{}/{url_path}", server.ports().imaps);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(server.dir().join("certs/surel.crt"))
        .args(["-u", &format!("budi@kemenkeu.go.id:{PASSWORD}")])
        .args(extra)
        .arg(&url)
        .output()
        .expect("curl must be installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "curl {url} {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mail(subject: &str) -> String {
    format!(
        "From: siti@kemenkeu.go.id\r\nTo: budi@kemenkeu.go.id\r\nSubject: {subject}\r\n\r\nIsi {subject}.\r\n"
    )
}

#[test]
fn curl_uploads_and_fetches_over_imaps() {
    let server = server();
    let file = server.dir().join("m.eml");
    fs::write(&file, mail("lewat curl")).unwrap();
    curl(&server, "INBOX", &["-T", file.to_str().unwrap()]);
    let fetched = curl(&server, "INBOX;UID=1", &[]);
    assert_eq!(fetched, mail("lewat curl"));
    let search = curl(&server, "INBOX", &["-X", "SEARCH SUBJECT curl"]);
    assert!(search.contains("* SEARCH 1"), "{search}");
}

#[test]
fn mbsync_syncs_a_populated_account_both_ways() {
    let server = server();
    for subject in ["satu", "dua", "tiga"] {
        let file = server.dir().join(format!("{subject}.eml"));
        fs::write(&file, mail(subject)).unwrap();
        curl(&server, "INBOX", &["-T", file.to_str().unwrap()]);
    }
    let local = server.dir().join("local");
    fs::create_dir_all(&local).unwrap();
    let rc = server.dir().join("mbsyncrc");
    fs::write(
        &rc,
        format!(
            "IMAPAccount surel\nHost localhost\nPort {port}\nUser budi@kemenkeu.go.id\nPass {PASSWORD}\n\
             SSLType IMAPS\nCertificateFile {cert}\n\n\
             IMAPStore far\nAccount surel\n\n\
             MaildirStore near\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n\
             Channel all\nFar :far:\nNear :near:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n",
            port = server.ports().imaps,
            cert = server.dir().join("certs/surel.crt").display(),
            local = local.display(),
        ),
    )
    .unwrap();
    let sync = || {
        let out = Command::new("mbsync")
            .arg("-c")
            .arg(&rc)
            .arg("-a")
            .output()
            .expect("mbsync must be installed (.ci/run installs isync)");
        assert!(
            out.status.success(),
            "mbsync: {}{}\n--- server log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            server.log()
        );
    };
    let count = |dir: &std::path::Path| -> usize {
        ["cur", "new"]
            .iter()
            .map(|s| fs::read_dir(dir.join(s)).map(|d| d.count()).unwrap_or(0))
            .sum()
    };

    // Down: the server's messages and folders arrive.
    sync();
    assert_eq!(count(&local.join("INBOX")), 3);
    for folder in ["Sent", "Drafts", "Junk", "Trash", "Archive"] {
        assert!(local.join(folder).is_dir(), "{folder}");
    }

    // Up: a message filed locally and a flag set locally reach the server.
    let archive = local.join("Archive");
    fs::write(
        archive.join("new").join("1700000000.local.host"),
        mail("dari laptop"),
    )
    .unwrap();
    let cur = local.join("INBOX/cur");
    let first = fs::read_dir(&cur).unwrap().next().unwrap().unwrap().path();
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    let flagged = if name.contains(":2,") {
        format!("{name}F")
    } else {
        format!("{name}:2,F")
    };
    fs::rename(&first, cur.join(flagged)).unwrap();
    sync();
    let archived = curl(&server, "Archive", &["-X", "SEARCH SUBJECT laptop"]);
    assert!(archived.contains("* SEARCH 1"), "{archived}");
    let flagged = curl(&server, "INBOX", &["-X", "SEARCH FLAGGED"]);
    assert!(
        flagged.trim().starts_with("* SEARCH ") && flagged.trim().len() > "* SEARCH".len(),
        "{flagged}"
    );

    // Down again: a message deleted on the server disappears locally.
    curl(&server, "INBOX", &["-X", "STORE 1 +FLAGS (\\Deleted)"]);
    curl(&server, "INBOX", &["-X", "EXPUNGE"]);
    sync();
    assert_eq!(count(&local.join("INBOX")), 2);
}
