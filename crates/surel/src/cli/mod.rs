//! The command line (SPEC §5): `surel [--config PATH] COMMAND`.

mod accounts;
mod admin;
mod domains;
mod policy;
mod queue;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::{self, Config, LogFormat};
use crate::tls;

#[derive(Debug, Parser)]
#[command(name = "surel", version, about = "Mail server for government offices")]
pub struct Cli {
    /// Config file [default: config/surel.toml, else /etc/surel/surel.toml]
    #[arg(long, global = true, env = "SUREL_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Log as human text or as JSON lines (overrides log_format in the config)
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server in the foreground (systemd Type=notify)
    Serve,
    /// Work with the config file
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Make certificates
    #[command(subcommand)]
    Cert(CertCommand),
    /// Accounts: add, reset, unlock, import… (the service desk's tool)
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Mail domains, their NetBIOS names and domain aliases
    #[command(subcommand)]
    Domain(domains::DomainCommand),
    /// Address aliases
    #[command(subcommand)]
    Alias(domains::AliasCommand),
    /// The password policy in force
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// The outbound queue: list, retry, drop
    #[command(subcommand)]
    Queue(queue::QueueCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the config and its certificates; errors name the key and line
    Check,
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Make a self-signed certificate (for tests and first setup only)
    SelfSigned {
        /// The name clients connect to, e.g. mail.example.go.id
        #[arg(long)]
        hostname: String,
        /// Directory for surel.crt and surel.key
        #[arg(long, default_value = "certs")]
        out: PathBuf,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let config_path = cli.config.unwrap_or_else(config::default_path);
    match cli.command {
        Command::Serve => crate::serve::run(config_path, cli.log_format),
        Command::Config(ConfigCommand::Check) => {
            let config = Config::load(&config_path)?;
            config.build_policy(&config_path)?;
            if let Some(note) = tls::check(&config.tls, &config.hostname)? {
                eprintln!("{note}");
            }
            println!("{}: OK", config_path.display());
            Ok(())
        }
        Command::Cert(CertCommand::SelfSigned { hostname, out }) => self_signed(&hostname, &out),
        Command::User(command) => {
            with_admin(&config_path, cli.log_format, |a| accounts::run(a, command))
        }
        Command::Domain(command) => with_admin(&config_path, cli.log_format, |a| {
            domains::run_domain(a, command)
        }),
        Command::Alias(command) => with_admin(&config_path, cli.log_format, |a| {
            domains::run_alias(a, command)
        }),
        Command::Policy(command) => policy::run(&config_path, command),
        Command::Queue(command) => {
            crate::logging::init(cli.log_format.unwrap_or_default(), "warn,audit=info");
            queue::run(&config_path, command)
        }
    }
}

/// Runs an admin command against the account database. Admin actions are
/// audit events: they are shown on stderr (journald keeps them when the
/// command runs under systemd-run or sudo with logging).
fn with_admin(
    config_path: &std::path::Path,
    log_format: Option<LogFormat>,
    command: impl FnOnce(&admin::Admin) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    crate::logging::init(log_format.unwrap_or_default(), "warn,audit=info");
    command(&admin::Admin::open(config_path)?)
}

fn self_signed(hostname: &str, out: &std::path::Path) -> anyhow::Result<()> {
    let cert = out.join("surel.crt");
    let key = out.join("surel.key");
    if cert.exists() || key.exists() {
        anyhow::bail!(
            "{} or {} already exists: move them away first, or choose another --out",
            cert.display(),
            key.display()
        );
    }
    tls::write_self_signed(hostname, &cert, &key)
        .with_context(|| format!("cannot write the certificate into {}", out.display()))?;
    println!("{}", cert.display());
    println!("{}", key.display());
    eprintln!(
        "note: clients will show a certificate error for a self-signed certificate; see {}",
        tls::CERT_DOCS
    );
    Ok(())
}
