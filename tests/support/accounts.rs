//! An account whose password the service desk just issued, and the ways
//! tests look at it: the CLI, its state, an IMAP login over TLS.

use std::path::Path;

use super::{Server, TestConfig, s_client, surel};

/// The password the service desk issued.
pub const ISSUED: &str = "Issued-Pass-1";
/// The one the user chooses on the web page.
pub const CHOSEN: &str = "Hujan-Sore-77";

/// `surel --config surel.toml ARGS` in `dir`; panics on failure.
pub fn cli(dir: &Path, args: &[&str], stdin: &str) -> String {
    let mut full = vec!["--config", "surel.toml"];
    full.extend_from_slice(args);
    let out = surel(dir, &full, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes `config` and issues `address` a password in kemenkeu.go.id
/// (NetBIOS name KEMENKEU).
pub fn issue(config: &TestConfig, address: &str) {
    config.write();
    let dir = config.dir.path();
    cli(
        dir,
        &["domain", "add", "kemenkeu.go.id", "--netbios", "kemenkeu"],
        "",
    );
    cli(
        dir,
        &["user", "add", address, "--password-stdin"],
        &format!("{ISSUED}\n"),
    );
}

/// A server with `ani@kemenkeu.go.id`, whose password was just issued.
pub fn issued_server() -> Server {
    let config = TestConfig::new().with("[policy]\nlockout_threshold = 3");
    issue(&config, "ani@kemenkeu.go.id");
    Server::start(config)
}

/// The account's state as `surel user show` reports it.
pub fn state(server: &Server, user: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(&cli(server.dir(), &["user", "show", user, "--json"], "")).unwrap();
    json["state"].as_str().unwrap().to_string()
}

/// LOGIN then LOGOUT over implicit TLS (plain LOGIN before TLS is refused
/// by design); returns the whole dialogue.
pub fn imap_login(server: &Server, user: &str, password: &str) -> String {
    let (_, out) = s_client(
        server.ports().imaps,
        &[],
        &format!("a LOGIN {user} {password}\r\nb LOGOUT\r\n"),
    );
    out
}

/// Adds `address` with the issued password and changes it to CHOSEN, as
/// its user would: an active account (the domain must exist).
pub fn active(dir: &Path, address: &str) {
    cli(
        dir,
        &["user", "add", address, "--password-stdin"],
        &format!("{ISSUED}\n"),
    );
    cli(
        dir,
        &["user", "change-password", address],
        &format!("{ISSUED}\n{CHOSEN}\n"),
    );
}
