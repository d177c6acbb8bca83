//! The config file (SPEC §6): typed structs parsed with serde, unknown keys
//! refused, every error naming its key and line.

mod error;
mod size;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use surel_auth::policy::config::HumanDuration;
use surel_auth::{AuthConfig, Language, Policy, PolicyConfig};

pub use error::ConfigError;
pub use size::Size;

/// Where the config is read from when `--config` is not given.
pub fn default_path() -> PathBuf {
    let local = PathBuf::from("config/surel.toml");
    if local.exists() {
        local
    } else {
        PathBuf::from("/etc/surel/surel.toml")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The server's name in greetings, Received headers and the self-signed certificate.
    pub hostname: String,
    /// SQLite file, maildirs and queue live here.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub language: Language,
    /// `error`, `warn`, `info`, `debug`, `trace`, or levels per module
    /// (`info,surel_smtp=debug`); `RUST_LOG` wins.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    #[serde(default)]
    pub log_format: LogFormat,
    /// Allow LOGIN/AUTH without TLS from 127.0.0.1 and ::1 (local webmail,
    /// tests); never from anywhere else.
    #[serde(default)]
    pub allow_plaintext_loopback: bool,
    pub tls: TlsConfig,
    #[serde(default)]
    pub imap: ImapConfig,
    #[serde(default)]
    pub smtp: SmtpConfig,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub queue: QueueConfig,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

fn default_log_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertPair {
    /// PEM: the certificate first, then the intermediates.
    pub cert: PathBuf,
    /// PEM: PKCS#8, PKCS#1 or SEC1 private key.
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The default certificate, for clients that send no SNI or a name no other certificate has.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Make a self-signed certificate at `cert`/`key` when neither file exists.
    #[serde(default)]
    pub self_signed: bool,
    /// More certificates (one per mail domain), chosen by the name the client asks for (SNI).
    #[serde(default)]
    pub sni: Vec<CertPair>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    /// IMAP with STARTTLS (143 in production).
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// IMAP over implicit TLS (993).
    #[serde(default)]
    pub listen_tls: Vec<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// MX: mail from the internet (25 in production).
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// Submission with STARTTLS and AUTH (587).
    #[serde(default)]
    pub submission: Vec<SocketAddr>,
    /// Submission over implicit TLS (465).
    #[serde(default)]
    pub submissions: Vec<SocketAddr>,
    #[serde(default = "default_max_message_size")]
    pub max_message_size: Size,
    /// Recipients accepted per message.
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
    /// Messages a user may submit per hour (0: no limit).
    #[serde(default = "default_rate_limit")]
    pub rate_limit_per_hour: u32,
    /// MX only: clients that talk before the greeting within this pause are refused.
    #[serde(default = "default_greet_pause")]
    pub greet_pause: HumanDuration,
    /// Errors in one connection after which it is closed.
    #[serde(default = "default_max_errors")]
    pub max_errors: usize,
    /// Send all outgoing mail through this smarthost.
    #[serde(default)]
    pub relay: Option<RelayConfig>,
    /// SPF, DKIM and DMARC checks on mail from the internet (MX).
    #[serde(default = "default_true")]
    pub inbound_checks: bool,
    /// A DNS server to ask for those checks ("IP:PORT") instead of the system's.
    #[serde(default)]
    pub dns_server: Option<SocketAddr>,
    /// What to do with mail failing DMARC from a domain with p=reject.
    #[serde(default)]
    pub dmarc_reject: DmarcAction,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcAction {
    /// Refuse it (550 5.7.1), as the domain asks.
    #[default]
    Reject,
    /// Deliver into the recipient's Junk folder.
    Quarantine,
    /// Deliver normally, marked in Authentication-Results.
    Mark,
}

/// A password in the config, never shown by Debug (and so never logged).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayTls {
    /// STARTTLS required, certificate checked (port 587).
    Starttls,
    /// Implicit TLS, certificate checked (port 465).
    Tls,
    /// Plain text: only for a relay on the same host or a trusted link.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    pub host: String,
    #[serde(default = "default_relay_port")]
    pub port: u16,
    #[serde(default = "default_relay_tls")]
    pub tls: RelayTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

fn default_relay_port() -> u16 {
    587
}

fn default_relay_tls() -> RelayTls {
    RelayTls::Starttls
}

/// `[queue]`: outbound delivery.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Waits between delivery attempts; the last one repeats.
    pub retry_after: Vec<HumanDuration>,
    /// After this long a message is bounced.
    pub max_age: HumanDuration,
    /// The sender is told once when a message has waited this long.
    pub delay_notice: HumanDuration,
    /// Static routes: domain → "host:port" (partners, tests).
    pub routes: std::collections::BTreeMap<String, String>,
    /// Domains whose mail must go over TLS with a checked certificate.
    pub require_tls: Vec<String>,
    /// For each network step of a delivery.
    pub timeout: HumanDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        let m = |n: u64| HumanDuration(std::time::Duration::from_secs(60 * n));
        QueueConfig {
            retry_after: vec![m(5), m(15), m(30), m(60), m(120), m(240), m(480)],
            max_age: HumanDuration(std::time::Duration::from_secs(5 * 24 * 3600)),
            delay_notice: m(240),
            routes: Default::default(),
            require_tls: Vec::new(),
            timeout: m(2),
        }
    }
}

fn default_max_recipients() -> usize {
    100
}

fn default_rate_limit() -> u32 {
    500
}

fn default_greet_pause() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1))
}

fn default_max_errors() -> usize {
    10
}

fn default_max_message_size() -> Size {
    Size(50 << 20)
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            listen: Vec::new(),
            submission: Vec::new(),
            submissions: Vec::new(),
            max_message_size: default_max_message_size(),
            max_recipients: default_max_recipients(),
            rate_limit_per_hour: default_rate_limit(),
            greet_pause: default_greet_pause(),
            max_errors: default_max_errors(),
            relay: None,
            inbound_checks: true,
            dns_server: None,
            dmarc_reject: DmarcAction::Reject,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// HTTPS: password change, autoconfiguration, health.
    pub listen: Vec<SocketAddr>,
    /// The address users are sent to, e.g. by IMAP `[ALERT]` texts.
    pub public_url: Option<String>,
    /// Plain HTTP with only /metrics and /healthz, for a private network.
    pub admin_listen: Vec<SocketAddr>,
    /// /healthz fails when the data dir's file system has less free space.
    pub min_free_disk: Size,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: Vec::new(),
            public_url: None,
            admin_listen: Vec::new(),
            min_free_disk: Size(1 << 30),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Open connections over all listeners.
    pub max_connections: usize,
    /// Open connections from one IP address (an office behind NAT needs many).
    pub max_connections_per_ip: usize,
    pub handshake_timeout: HumanDuration,
    /// Waiting for a command before login.
    pub idle_timeout: HumanDuration,
    /// Waiting for a command after login (at least 30 min for IMAP IDLE).
    pub idle_timeout_authenticated: HumanDuration,
    /// How long open sessions may take to finish after SIGTERM.
    pub shutdown_grace: HumanDuration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        use std::time::Duration;
        LimitsConfig {
            max_connections: 10_000,
            max_connections_per_ip: 200,
            handshake_timeout: HumanDuration(Duration::from_secs(30)),
            idle_timeout: HumanDuration(Duration::from_secs(5 * 60)),
            idle_timeout_authenticated: HumanDuration(Duration::from_secs(31 * 60)),
            shutdown_grace: HumanDuration(Duration::from_secs(10)),
        }
    }
}

impl Config {
    /// Reads and checks the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unreadable(path, &e))?;
        Self::parse(&text, path)
    }

    /// Parses `text` (read from `path`, for messages) and checks it.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e))?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::at_key(path, text, &key, message))?;
        Ok(config)
    }

    /// Checks that go beyond a single value; returns the dotted key at fault.
    fn validate(&self) -> Result<(), (String, String)> {
        let host = self.hostname.trim();
        if host.is_empty() || host.contains(char::is_whitespace) || !host.contains('.') {
            return Err((
                "hostname".into(),
                format!(
                    "{:?} is not a full host name: write the name clients connect to, e.g. \"mail.example.go.id\"",
                    self.hostname
                ),
            ));
        }
        if self.listeners().next().is_none() {
            return Err((
                "imap.listen".into(),
                "no listener is configured: set at least one of imap.listen, imap.listen_tls, \
                 smtp.listen, smtp.submission, smtp.submissions, web.listen"
                    .into(),
            ));
        }
        if let Some(url) = &self.web.public_url
            && !url.starts_with("https://")
        {
            return Err((
                "web.public_url".into(),
                format!("{url:?} must start with https:// (passwords are typed on that page)"),
            ));
        }
        crate::logging::filter_for(&self.log_level).map_err(|e| ("log_level".to_string(), e))?;
        if self.queue.retry_after.is_empty() {
            return Err((
                "queue.retry_after".into(),
                "give at least one wait, e.g. [\"5 min\"]".into(),
            ));
        }
        for (domain, route) in &self.queue.routes {
            let ok = route
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return Err((
                    format!("queue.routes.{domain}"),
                    format!("{route:?}: write \"host:port\""),
                ));
            }
        }
        let limits = &self.limits;
        if limits.max_connections == 0 || limits.max_connections_per_ip == 0 {
            return Err((
                "limits.max_connections".into(),
                "connection limits must be at least 1".into(),
            ));
        }
        self.policy
            .validate()
            .map_err(|(key, message)| (format!("policy.{key}"), message))?;
        self.auth
            .validate()
            .map_err(|(key, message)| (format!("auth.{key}"), message))?;
        Ok(())
    }

    /// The policy with its holidays file read; errors name the key.
    pub fn build_policy(&self, path: &Path) -> Result<Policy, ConfigError> {
        Policy::new(self.policy.clone()).map_err(|(key, message)| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            ConfigError::at_key(path, &text, &format!("policy.{key}"), message)
        })
    }

    /// The self-service page users are sent to (`[ALERT]` texts).
    pub fn password_url(&self) -> String {
        let base = self
            .web
            .public_url
            .clone()
            .unwrap_or_else(|| format!("https://{}", self.hostname));
        format!("{}/password", base.trim_end_matches('/'))
    }

    /// Every configured listener: (config key, address).
    pub fn listeners(&self) -> impl Iterator<Item = (&'static str, SocketAddr)> + '_ {
        let groups: [(&'static str, &Vec<SocketAddr>); 7] = [
            ("imap.listen", &self.imap.listen),
            ("imap.listen_tls", &self.imap.listen_tls),
            ("smtp.listen", &self.smtp.listen),
            ("smtp.submission", &self.smtp.submission),
            ("smtp.submissions", &self.smtp.submissions),
            ("web.listen", &self.web.listen),
            ("web.admin_listen", &self.web.admin_listen),
        ];
        groups
            .into_iter()
            .flat_map(|(key, addrs)| addrs.iter().map(move |a| (key, *a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_file(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel)
    }

    #[test]
    fn the_shipped_config_parses() {
        let path = workspace_file("config/surel.toml");
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.listeners().count(), 6);
        assert_eq!(config.smtp.max_message_size, Size(50 << 20));
        assert!(config.tls.self_signed);
    }

    #[test]
    fn every_shipped_config_parses() {
        for name in ["config/surel.toml", "config/docker.toml"] {
            let path = workspace_file(name);
            Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    const MINIMAL: &str = "hostname = \"mail.example.go.id\"\n\
        [tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n\
        [imap]\nlisten = [\"127.0.0.1:1143\"]\n";

    #[test]
    fn a_minimal_config_gets_the_defaults() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.language, Language::Id);
        assert_eq!(config.limits, LimitsConfig::default());
    }

    #[test]
    fn a_misspelt_key_is_named_with_its_line_and_a_suggestion() {
        let text = MINIMAL.replace("listen = ", "lisen = ");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:6:"), "{err}");
        assert!(err.contains("imap.lisen"), "{err}");
        assert!(err.contains("did you mean `listen`"), "{err}");
    }

    #[test]
    fn a_bad_value_names_its_key_and_line() {
        let text = format!("{MINIMAL}[smtp]\nmax_message_size = \"50 apples\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:8:"), "{err}");
        assert!(err.contains("smtp.max_message_size"), "{err}");
        assert!(err.contains("\"50M\""), "{err}");

        let text = format!("{MINIMAL}[policy]\nmax_age = \"90 weeks\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("test.toml:8: policy.max_age"), "{err}");
        assert!(err.contains("90 working days"), "{err}");

        let text = MINIMAL.replace("127.0.0.1:1143", "localhost");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("test.toml:6: imap.listen"), "{err}");
    }

    #[test]
    fn semantic_errors_name_their_key_and_line() {
        let text = format!("{MINIMAL}[web]\npublic_url = \"http://mail.example.go.id\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("test.toml:8: web.public_url"), "{err}");

        let text = format!("{MINIMAL}[policy]\nrequire_classes = 7\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("test.toml:8: policy.require_classes"), "{err}");
    }

    /// Regression (issue 10, fuzz/corpus/config/crash_empty_table_name):
    /// `[""]` is a legal table name; the error named the key as "".
    #[test]
    fn an_empty_key_is_named_as_toml_writes_it() {
        let err = parse(&format!("{MINIMAL}[\"\"]\n")).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("\"\""), "{err}");
        assert!(
            err.to_string()
                .starts_with("test.toml:7: \"\": unknown key"),
            "{err}"
        );
        let err = parse("\t\t\t\t [\"\"]").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("\"\""), "{err}");
    }

    /// Regression (issue 10, fuzz/corpus/config/oom_argon2_memory and
    /// slow_argon2_iterations): checking the config hashed a dummy password
    /// with the configured cost, so a large number allocated that much
    /// memory (4000000 KiB: 4 GB) or ran for minutes. The cost is now
    /// checked against limits, without hashing.
    #[test]
    fn absurd_argon2_costs_are_refused_without_hashing() {
        for (line, key) in [
            ("argon2_memory_kib = 4000000", "auth.argon2_memory_kib"),
            ("argon2_memory_kib = 4294967295", "auth.argon2_memory_kib"),
            ("argon2_iterations = 400000", "auth.argon2_iterations"),
            ("argon2_parallelism = 100000", "auth.argon2_parallelism"),
            ("argon2_iterations = 0", "auth.argon2_iterations"),
            ("argon2_memory_kib = 7", "auth.argon2_memory_kib"),
        ] {
            let started = std::time::Instant::now();
            let err = parse(&format!("{MINIMAL}[auth]\n{line}\n")).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{line}: {err}");
            assert_eq!(err.line, Some(8), "{line}: {err}");
            assert!(started.elapsed().as_secs() < 1, "{line}: hashed?");
        }
        let ok = "argon2_memory_kib = 1048576\nargon2_iterations = 64\nargon2_parallelism = 4\n";
        let started = std::time::Instant::now();
        parse(&format!("{MINIMAL}[auth]\n{ok}")).unwrap();
        assert!(
            started.elapsed().as_secs() < 1,
            "the upper limits were hashed"
        );
    }

    #[test]
    fn a_missing_required_key_says_what_to_add() {
        let text = MINIMAL.replace("hostname = \"mail.example.go.id\"\n", "");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("hostname"), "{err}");
    }
}
