//! `surel domain …` and `surel alias …` (SPEC §5).

use clap::Subcommand;

use super::admin::{Admin, print_json, print_table};

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Add a mail domain (the first one is the default for bare user names)
    Add {
        name: String,
        /// The NetBIOS-style login name, as in KEMENKEU\budi
        #[arg(long)]
        netbios: Option<String>,
        /// Make NAME a domain alias: its addresses are those of DOMAIN
        #[arg(long, value_name = "DOMAIN")]
        alias_of: Option<String>,
    },
    /// Delete a domain without accounts
    Del { name: String },
    /// List domains and domain aliases
    List {
        #[arg(long)]
        json: bool,
    },
    /// DKIM keys for signing the domain's outgoing mail
    #[command(subcommand)]
    Dkim(DkimCommand),
}

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Make an Ed25519 and an RSA-2048 key; prints the DNS TXT records to publish
    Generate {
        domain: String,
        /// Selector prefix: the records are <S>-ed25519._domainkey and <S>-rsa._domainkey
        #[arg(long, default_value = "surel")]
        selector: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Deliver ALIAS to one or more TARGET addresses
    Add {
        alias: String,
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Delete an alias
    Del { alias: String },
    /// List aliases
    List {
        #[arg(long)]
        json: bool,
    },
}

fn valid_domain(name: &str) -> anyhow::Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let name = name.trim_end_matches('.');
    if name.len() > 253 || !name.contains('.') || !name.split('.').all(label_ok) {
        anyhow::bail!("{name:?} is not a domain name: write e.g. kemenkeu.go.id");
    }
    Ok(())
}

pub fn run_domain(admin: &Admin, command: DomainCommand) -> anyhow::Result<()> {
    match command {
        DomainCommand::Add {
            name,
            netbios,
            alias_of,
        } => {
            valid_domain(&name)?;
            if let Some(nb) = &netbios
                && (nb.is_empty()
                    || nb.len() > 15
                    || !nb.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            {
                anyhow::bail!("--netbios {nb:?}: up to 15 letters, digits or '-', e.g. KEMENKEU");
            }
            let d = admin.store().add_domain(
                &name,
                netbios.as_deref(),
                alias_of.as_deref(),
                admin.auth.now(),
            )?;
            tracing::info!(target: "audit", domain = %d.name, "domain added");
            match &d.alias_of {
                Some(target) => eprintln!("{}: alias of {target}", d.name),
                None if d.is_default => {
                    eprintln!("{}: added (default domain for bare user names)", d.name)
                }
                None => eprintln!("{}: added", d.name),
            }
            Ok(())
        }
        DomainCommand::Dkim(DkimCommand::Generate { domain, selector }) => {
            let domain = domain.to_lowercase();
            if admin.store().canonical_domain(&domain)?.as_deref() != Some(domain.as_str()) {
                anyhow::bail!(
                    "{domain} is not a local domain: add it with `surel domain add {domain}`"
                );
            }
            if selector.is_empty()
                || !selector
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                anyhow::bail!("--selector {selector:?}: use letters, digits and '-'");
            }
            let records = surel_smtp::dkim::generate(&admin.config.data_dir, &domain, &selector)
                .map_err(anyhow::Error::msg)?;
            tracing::info!(target: "audit", %domain, %selector, "DKIM keys generated");
            for record in records {
                println!("{record}");
            }
            eprintln!(
                "publish these TXT records; mail from {domain} to other domains is signed from now on"
            );
            Ok(())
        }
        DomainCommand::Del { name } => {
            admin.store().delete_domain(&name.to_lowercase())?;
            tracing::info!(target: "audit", domain = %name, "domain deleted");
            eprintln!("{name}: deleted");
            Ok(())
        }
        DomainCommand::List { json } => {
            let domains = admin.store().list_domains()?;
            if json {
                return print_json(&domains);
            }
            let rows: Vec<Vec<String>> = domains
                .iter()
                .map(|d| {
                    vec![
                        d.name.clone(),
                        d.netbios.clone().unwrap_or_else(|| "-".into()),
                        d.alias_of.clone().unwrap_or_else(|| "-".into()),
                        if d.is_default { "yes" } else { "" }.into(),
                    ]
                })
                .collect();
            print_table(&["DOMAIN", "NETBIOS", "ALIAS OF", "DEFAULT"], &rows);
            Ok(())
        }
    }
}

pub fn run_alias(admin: &Admin, command: AliasCommand) -> anyhow::Result<()> {
    match command {
        AliasCommand::Add { alias, targets } => {
            let a = admin.store().add_alias(&alias, &targets)?;
            tracing::info!(target: "audit", alias = %a.address, targets = ?a.targets, "alias added");
            eprintln!("{} -> {}", a.address, a.targets.join(", "));
            Ok(())
        }
        AliasCommand::Del { alias } => {
            admin.store().delete_alias(&alias.to_lowercase())?;
            tracing::info!(target: "audit", alias = %alias, "alias deleted");
            eprintln!("{alias}: deleted");
            Ok(())
        }
        AliasCommand::List { json } => {
            let aliases = admin.store().list_aliases()?;
            if json {
                return print_json(&aliases);
            }
            let rows: Vec<Vec<String>> = aliases
                .iter()
                .map(|a| vec![a.address.clone(), a.targets.join(", ")])
                .collect();
            print_table(&["ALIAS", "TARGETS"], &rows);
            Ok(())
        }
    }
}
