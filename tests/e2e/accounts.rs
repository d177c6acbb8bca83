//! The service-desk CLI against the real binary and a real SQLite file:
//! domains, users through every state, aliases, import, the policy.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use support::{TestConfig, surel};

struct Desk {
    config: TestConfig,
}

impl Desk {
    fn new() -> Desk {
        Self::with(TestConfig::new())
    }

    fn with(config: TestConfig) -> Desk {
        config.write();
        let desk = Desk { config };
        desk.ok(&["domain", "add", "kemenkeu.go.id", "--netbios", "kemenkeu"]);
        desk
    }

    fn dir(&self) -> &Path {
        self.config.dir.path()
    }

    /// Runs a command; whatever went in on stdin (passwords) must never
    /// come out in the logs on stderr.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut full = vec!["--config", "surel.toml"];
        full.extend_from_slice(args);
        let out = surel(self.dir(), &full, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        for secret in stdin.lines().filter(|l| l.len() >= 6) {
            assert!(
                !stderr.contains(secret),
                "{args:?} wrote a password to stderr: {stderr}"
            );
        }
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, "")
    }

    fn ok_with(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }

    fn show(&self, address: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["user", "show", address, "--json"])).unwrap()
    }
}

#[test]
fn an_account_goes_from_issued_to_active_through_the_users_own_change() {
    let desk = Desk::new();
    let out = desk.run(
        &[
            "user",
            "add",
            "budi@kemenkeu.go.id",
            "--name",
            "Budi Santoso",
            "--quota",
            "2G",
        ],
        "",
    );
    assert!(out.status.success());
    let issued = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(issued.len(), 14, "{issued}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&issued),
        "the password is printed once, on stdout"
    );

    // The maildir and its special-use folders come with the account.
    let maildir = desk.dir().join("data/mail/kemenkeu.go.id/budi");
    for folder in [
        "cur",
        ".Sent/cur",
        ".Drafts/cur",
        ".Junk/cur",
        ".Trash/cur",
        ".Archive/cur",
    ] {
        assert!(maildir.join(folder).is_dir(), "{folder}");
    }

    let v = desk.show("budi@kemenkeu.go.id");
    assert_eq!(v["state"], "must_change");
    assert_eq!(v["quota"]["used"], 0);
    assert_eq!(v["name"], "Budi Santoso");
    assert_eq!(v["quota"]["limit"], 2u64 << 30);
    assert_eq!(v["failed_logins"], 0);

    // Wrong current password: refused in the configured language (en here).
    let err = desk.fails(
        &["user", "change-password", "budi"],
        "wrong\nHujan-Sore-77\n",
    );
    assert!(err.contains("The current password is wrong"), "{err}");
    // A new password that breaks the rules is refused with the rule's text.
    let err = desk.fails(
        &["user", "change-password", "budi"],
        &format!("{issued}\nbudi1234\n"),
    );
    assert!(err.contains("may not contain the user name"), "{err}");

    let out = desk.ok_with(
        &["user", "change-password", "KEMENKEU\\budi"],
        &format!("{issued}\nHujan-Sore-77\n"),
    );
    assert!(out.contains("Password changed. It is valid until"), "{out}");
    let v = desk.show("budi");
    assert_eq!(v["state"], "active");

    let list: serde_json::Value =
        serde_json::from_str(&desk.ok(&["user", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(desk.ok(&["user", "list"]).contains("budi@kemenkeu.go.id"));

    let db = desk.dir().join("data/surel.db");
    assert_eq!(
        fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn the_service_desk_resets_expires_disables_enables_and_deletes() {
    let desk = Desk::new();
    desk.ok_with(
        &["user", "add", "siti@kemenkeu.go.id", "--password-stdin"],
        "Issued-Pass-1\n",
    );
    desk.ok_with(
        &["user", "change-password", "siti"],
        "Issued-Pass-1\nChosen-Pass-2\n",
    );

    desk.ok(&["user", "expire", "siti"]);
    assert_eq!(desk.show("siti")["state"], "must_change");

    let reset = desk
        .ok(&["user", "passwd", "siti@kemenkeu.go.id"])
        .trim()
        .to_string();
    assert_eq!(desk.show("siti")["state"], "must_change");
    desk.fails(
        &["user", "change-password", "siti"],
        "Chosen-Pass-2\nOther-Pass-3\n",
    );
    desk.ok_with(
        &["user", "change-password", "siti"],
        &format!("{reset}\nOther-Pass-3\n"),
    );

    desk.ok(&["user", "disable", "siti"]);
    assert_eq!(desk.show("siti")["state"], "disabled");
    let err = desk.fails(
        &["user", "change-password", "siti"],
        "Other-Pass-3\nFourth-Pass-4\n",
    );
    assert!(err.contains("service desk"), "{err}");
    desk.ok(&["user", "enable", "siti"]);
    assert_eq!(desk.show("siti")["state"], "must_change");
    desk.ok(&["user", "unlock", "siti"]);

    // History: the last passwords may not come back.
    let err = desk.fails(
        &["user", "change-password", "siti"],
        "Other-Pass-3\nChosen-Pass-2\n",
    );
    assert!(err.contains("may not be the current one"), "{err}");

    desk.ok(&["user", "del", "siti"]);
    let err = desk.fails(&["user", "show", "siti"], "");
    assert!(err.contains("no account siti"), "{err}");
}

#[test]
fn mistakes_get_one_line_that_says_what_to_do() {
    let desk = Desk::new();
    let err = desk.fails(&["user", "add", "budi@unknown.go.id"], "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("surel domain add unknown.go.id"), "{err}");
    let err = desk.fails(&["user", "add", "not-an-address"], "");
    assert!(err.contains("name@domain"), "{err}");
    desk.ok(&["user", "add", "budi@kemenkeu.go.id"]);
    let err = desk.fails(&["user", "add", "BUDI@kemenkeu.go.id"], "");
    assert!(err.contains("already exists"), "{err}");
    let err = desk.fails(
        &["user", "add", "ani@kemenkeu.go.id", "--password-stdin"],
        "short\n",
    );
    assert!(err.contains("at least 8 characters"), "{err}");
    let err = desk.fails(&["domain", "add", "not a domain"], "");
    assert!(err.contains("kemenkeu.go.id"), "{err}");
}

#[test]
fn domains_aliases_and_domain_aliases() {
    let desk = Desk::new();
    desk.ok(&[
        "domain",
        "add",
        "mail.kemenkeu.go.id",
        "--alias-of",
        "kemenkeu.go.id",
    ]);
    desk.ok(&["domain", "add", "kota.go.id"]);
    let domains: serde_json::Value =
        serde_json::from_str(&desk.ok(&["domain", "list", "--json"])).unwrap();
    assert_eq!(domains.as_array().unwrap().len(), 3);
    assert_eq!(domains[0]["name"], "kemenkeu.go.id");
    assert_eq!(domains[0]["is_default"], true);
    desk.ok_with(
        &["user", "add", "budi@kemenkeu.go.id", "--password-stdin"],
        "Issued-Pass-1\n",
    );
    // The domain alias reaches the same account.
    assert_eq!(
        desk.show("budi@mail.kemenkeu.go.id")["address"],
        "budi@kemenkeu.go.id"
    );

    desk.ok(&[
        "alias",
        "add",
        "info@kemenkeu.go.id",
        "budi@kemenkeu.go.id",
        "humas@kota.go.id",
    ]);
    let aliases: serde_json::Value =
        serde_json::from_str(&desk.ok(&["alias", "list", "--json"])).unwrap();
    assert_eq!(aliases[0]["targets"].as_array().unwrap().len(), 2);
    let err = desk.fails(&["alias", "add", "budi@kemenkeu.go.id", "x@kota.go.id"], "");
    assert!(err.contains("is an account"), "{err}");
    desk.ok(&["alias", "del", "info@kemenkeu.go.id"]);
    assert!(!desk.ok(&["alias", "list"]).contains("info@"));

    let err = desk.fails(&["domain", "del", "kemenkeu.go.id"], "");
    assert!(err.contains("still has 1 accounts"), "{err}");
    desk.ok(&["domain", "del", "kota.go.id"]);
}

#[test]
fn import_checks_every_line_first_and_imports_all_or_none() {
    let desk = Desk::new();
    // SHA-512-crypt of "Zimbra-Pass-1", as `doveadm pw -s SHA512-CRYPT` exports it
    // (made with `openssl passwd -6 -salt saltsalt Zimbra-Pass-1`).
    let sha512 = "{SHA512-CRYPT}$6$saltsalt$EAQiPb8iDZUmIkJ6OkctR0JIYoVhBdTjScdREvpCFJEXR5/ZNsrx0prmBVKWmcgmZV6X.LwqfGJaGJ2abTIkg1";
    let bad = format!(
        "address,name,password_hash,password_changed_at\n\
         ani@kemenkeu.go.id,Ani,{sha512},2026-10-01\n\
         bad-address,Nobody,{sha512},\n\
         eko@kemenkeu.go.id,Eko,{{PLAIN}}secret,\n\
         ani@kemenkeu.go.id,Ani again,{sha512},\n"
    );
    fs::write(desk.dir().join("bad.csv"), bad).unwrap();
    let err = desk.fails(&["user", "import", "bad.csv"], "");
    assert!(err.contains("bad.csv:3:"), "{err}");
    assert!(
        err.contains("bad.csv:4:") && err.contains("unsupported password hash"),
        "{err}"
    );
    assert!(err.contains("bad.csv:5:") && err.contains("twice"), "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    assert!(
        desk.ok(&["user", "list", "--json"]).trim() == "[]",
        "none imported"
    );

    let good = format!(
        "address,name,password_hash,password_changed_at\n\
         ani@kemenkeu.go.id,Ani,{sha512},2026-10-01\n\
         eko@kemenkeu.go.id,\"Eko, S.Kom\",{sha512},\n"
    );
    fs::write(desk.dir().join("good.csv"), good).unwrap();
    assert!(
        desk.ok(&["user", "import", "good.csv"])
            .contains("imported 2 accounts")
    );
    assert_eq!(desk.show("eko")["name"], "Eko, S.Kom");
    // Each with its maildir and special-use folders, as `user add` makes.
    for user in ["ani", "eko"] {
        let maildir = desk.dir().join("data/mail/kemenkeu.go.id").join(user);
        for folder in ["cur", ".Sent/cur", ".Trash/cur"] {
            assert!(maildir.join(folder).is_dir(), "{user}: {folder}");
        }
    }
    assert_eq!(
        desk.show("eko")["state"],
        "must_change",
        "no date: must change"
    );
    assert!(
        desk.show("ani")["password_changed_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-10-01T00:00:00+07:00")
    );
    // The imported hash verifies: the user can change with the old password.
    desk.ok_with(
        &["user", "change-password", "ani"],
        "Zimbra-Pass-1\nNew-Pass-2026\n",
    );

    let plain =
        "address,name,password,password_changed_at\nrudi@kemenkeu.go.id,Rudi,Rudi-is-weak,\n";
    fs::write(desk.dir().join("plain.csv"), plain).unwrap();
    let err = desk.fails(&["user", "import", "plain.csv"], "");
    assert!(
        err.contains("plain.csv:2:") && err.contains("user name"),
        "{err}"
    );
}

#[test]
fn policy_expiry_skips_weekends_and_holidays() {
    let config = TestConfig::new().with("[policy]\nholidays = [\"2026-01-01\"]");
    let desk = Desk::with(config);
    // 90 working days after Friday 2026-01-02: 18 full weeks later.
    assert_eq!(
        desk.ok(&["policy", "expiry", "2026-01-02"]).trim(),
        "2026-05-08"
    );
    let v: serde_json::Value =
        serde_json::from_str(&desk.ok(&["policy", "expiry", "2026-01-02", "--json"])).unwrap();
    assert_eq!(v["expires_at"], "2026-05-09T00:00:00+07:00");
    let show = desk.ok(&["policy", "show"]);
    assert!(
        show.contains("90 working days") && show.contains("Asia/Jakarta"),
        "{show}"
    );
    let err = desk.fails(&["policy", "expiry", "2026-13-01"], "");
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}

#[test]
fn the_holidays_file_is_read_and_checked() {
    let config = TestConfig::new().with("[policy]\nholidays_file = \"holidays.txt\"");
    fs::write(
        config.dir.path().join("holidays.txt"),
        "2026-01-05 # a Monday off\n",
    )
    .unwrap();
    let desk = Desk::with(config);
    assert_eq!(
        desk.ok(&["policy", "expiry", "2026-01-02"]).trim(),
        "2026-05-11"
    );
    fs::write(desk.dir().join("holidays.txt"), "5 January\n").unwrap();
    let err = desk.fails(&["policy", "show"], "");
    assert!(
        err.contains("policy.holidays_file") && err.contains("line 1"),
        "{err}"
    );
}
