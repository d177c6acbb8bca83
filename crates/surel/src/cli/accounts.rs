//! `surel user …`: the service desk's account commands (SPEC §5).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use jiff::Timestamp;
use serde::Serialize;
use surel_auth::messages::{Message, text};
use surel_auth::store::NewAccount;
use surel_auth::{Account, ChangeError, State, StoredState, generate, state};

use super::admin::{Admin, print_json, print_table, read_line};
use crate::config::Size;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account in state must_change; prints the generated initial password
    Add {
        address: String,
        /// Display name, e.g. "Budi Santoso"
        #[arg(long)]
        name: Option<String>,
        /// Read the initial password from standard input instead of generating one
        #[arg(long)]
        password_stdin: bool,
        /// Mail quota, e.g. 2G
        #[arg(long)]
        quota: Option<Size>,
        #[arg(long)]
        json: bool,
    },
    /// List accounts with their state and expiry
    List {
        #[arg(long)]
        json: bool,
    },
    /// State, password dates, failed logins, lock, quota of one account
    Show {
        address: String,
        #[arg(long)]
        json: bool,
    },
    /// Service-desk reset: a new issued password (state must_change)
    Passwd {
        address: String,
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// The user's own change: current and new password as two lines on stdin
    ChangePassword { address: String },
    /// Force a password change at next login
    Expire { address: String },
    /// Refuse every login of the account
    Disable { address: String },
    /// Allow logins again; the user must change the password first
    Enable { address: String },
    /// Lift a lock after failed logins
    Unlock { address: String },
    /// Delete the account (its mail stays on disk)
    Del { address: String },
    /// Import accounts from CSV: address,name,password_hash|password,password_changed_at
    Import { file: PathBuf },
}

#[derive(Debug, Serialize)]
struct UserView {
    address: String,
    name: String,
    state: State,
    disabled_reason: Option<String>,
    password_changed_at: String,
    password_expires_at: String,
    last_valid_day: String,
    failed_logins: u32,
    locked_until: Option<String>,
    quota: QuotaView,
}

#[derive(Debug, Serialize)]
struct QuotaView {
    used: u64,
    limit: Option<u64>,
}

fn local_time(admin: &Admin, t: Timestamp) -> String {
    let tz = admin.auth.policy().calendar.timezone.clone();
    t.to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn view(admin: &Admin, a: &Account) -> anyhow::Result<UserView> {
    let policy = admin.auth.policy();
    let now = admin.auth.now();
    let expiry = policy.expiry(a.password_changed_at);
    let used = surel_maildir::usage(&admin.config.data_dir, &a.domain, &a.local)?.bytes;
    Ok(UserView {
        address: a.address(),
        name: a.display_name.clone(),
        state: state::effective(a, &policy, now),
        disabled_reason: a.disabled_reason.clone(),
        password_changed_at: local_time(admin, a.password_changed_at),
        password_expires_at: local_time(admin, expiry.expires_at),
        last_valid_day: expiry.last_valid_day.to_string(),
        failed_logins: a.failed_logins,
        locked_until: a
            .locked_until
            .filter(|t| *t > now)
            .map(|t| local_time(admin, t)),
        quota: QuotaView {
            used,
            limit: a.quota_bytes,
        },
    })
}

/// Splits `local@domain`, lower-cased; the domain must be a real local one.
fn parse_address(admin: &Admin, address: &str) -> anyhow::Result<(String, String)> {
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        bail!("{address:?} is not an address: write name@domain");
    };
    let valid = |c: char| c.is_alphanumeric() || "._-+".contains(c);
    if local.is_empty() || local.len() > 64 || !local.chars().all(valid) || local.starts_with('.') {
        bail!("{local:?} is not a valid user name: use letters, digits, '.', '_', '-', '+'");
    }
    let Some(real) = admin.store().canonical_domain(domain)? else {
        bail!("domain {domain} does not exist: add it with `surel domain add {domain}`");
    };
    if real != domain {
        bail!("{domain} is an alias of {real}: write {local}@{real}");
    }
    Ok((local.to_string(), real))
}

fn refusal(admin: &Admin, e: ChangeError) -> anyhow::Error {
    let lang = admin.language();
    match e {
        ChangeError::Rules(broken) => {
            let texts: Vec<String> = broken
                .iter()
                .map(|v| text(lang, &Message::Violation(v)))
                .collect();
            anyhow::anyhow!("{}", texts.join(" "))
        }
        ChangeError::BadCredentials => {
            anyhow::anyhow!("{}", text(lang, &Message::WrongCurrentPassword))
        }
        ChangeError::Locked { .. } => {
            anyhow::anyhow!("the account is locked: `surel user unlock` lifts the lock")
        }
        ChangeError::Throttled => anyhow::anyhow!("{}", text(lang, &Message::Throttled)),
        ChangeError::NotAllowed => anyhow::anyhow!("{}", text(lang, &Message::ChangeNotAllowed)),
        ChangeError::Internal(e) => anyhow::anyhow!("{e}"),
    }
}

/// The password given on stdin, or a new random one (then printed).
fn initial_password(
    admin: &Admin,
    local: &str,
    from_stdin: bool,
) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        Ok((read_line("the password")?, false))
    } else {
        Ok((
            generate::initial_password(&admin.auth.policy().config, local),
            true,
        ))
    }
}

#[derive(Serialize)]
struct Issued<'a> {
    address: &'a str,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

fn print_issued(address: &str, password: &str, generated: bool, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&Issued {
            address,
            state: "must_change",
            password: generated.then_some(password),
        });
    }
    if generated {
        println!("{password}");
    }
    eprintln!("{address}: must_change (the user changes this password at first login)");
    Ok(())
}

pub fn run(admin: &Admin, command: UserCommand) -> anyhow::Result<()> {
    let now = admin.auth.now();
    match command {
        UserCommand::Add {
            address,
            name,
            password_stdin,
            quota,
            json,
        } => {
            let (local, domain) = parse_address(admin, &address)?;
            let (password, generated) = initial_password(admin, &local, password_stdin)?;
            let broken =
                surel_auth::policy::rules::check(&admin.auth.policy().config, &local, &password);
            if !broken.is_empty() {
                return Err(refusal(admin, ChangeError::Rules(broken)));
            }
            let account = admin.store().add_account(
                &NewAccount {
                    local,
                    domain,
                    display_name: name.unwrap_or_default(),
                    password_hash: admin.auth.hasher().hash(&password),
                    state: StoredState::MustChange,
                    password_changed_at: now,
                    quota_bytes: quota.map(|q| q.0),
                },
                now,
            )?;
            make_mailbox(admin, &account.domain, &account.local, account.quota_bytes)
                .with_context(|| format!("cannot create the mailbox of {}", account.address()))?;
            tracing::info!(target: "audit", account = %account.address(), "account created");
            print_issued(&account.address(), &password, generated, json)
        }
        UserCommand::List { json } => {
            let views = admin
                .store()
                .list_accounts()?
                .iter()
                .map(|a| view(admin, a))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if json {
                return print_json(&views);
            }
            let rows: Vec<Vec<String>> = views
                .iter()
                .map(|v| {
                    vec![
                        v.address.clone(),
                        v.name.clone(),
                        v.state.as_str().to_string(),
                        v.last_valid_day.clone(),
                    ]
                })
                .collect();
            print_table(&["ADDRESS", "NAME", "STATE", "VALID THROUGH"], &rows);
            Ok(())
        }
        UserCommand::Show { address, json } => {
            let v = view(admin, &admin.account(&address)?)?;
            if json {
                return print_json(&v);
            }
            println!("address:             {}", v.address);
            println!("name:                {}", v.name);
            println!("state:               {}", v.state.as_str());
            if let Some(reason) = &v.disabled_reason {
                println!("disabled_reason:     {reason}");
            }
            println!("password_changed_at: {}", v.password_changed_at);
            println!("password_expires_at: {}", v.password_expires_at);
            println!("last_valid_day:      {}", v.last_valid_day);
            println!("failed_logins:       {}", v.failed_logins);
            println!(
                "locked_until:        {}",
                v.locked_until.as_deref().unwrap_or("-")
            );
            let limit = v
                .quota
                .limit
                .map_or("unlimited".to_string(), |l| Size(l).to_string());
            println!("quota:               {} / {limit}", Size(v.quota.used));
            Ok(())
        }
        UserCommand::Passwd {
            address,
            password_stdin,
            json,
        } => {
            let account = admin.account(&address)?;
            let (password, generated) = initial_password(admin, &account.local, password_stdin)?;
            admin
                .auth
                .issue_password(&account, &password)
                .map_err(|e| refusal(admin, e))?;
            print_issued(&account.address(), &password, generated, json)
        }
        UserCommand::ChangePassword { address } => {
            let current = read_line("the current password (first line)")?;
            let new = read_line("the new password (second line)")?;
            let changed = admin
                .auth
                .change_password(&address, &current, &new, None)
                .map_err(|e| refusal(admin, e))?;
            let last_day = changed.last_valid_day.to_string();
            println!(
                "{}",
                text(
                    admin.language(),
                    &Message::Changed {
                        last_day: &last_day
                    }
                )
            );
            Ok(())
        }
        UserCommand::Expire { address } => {
            let account = admin.account(&address)?;
            admin.store().force_change(account.id)?;
            tracing::info!(target: "audit", account = %account.address(), "password expired by the service desk");
            eprintln!("{}: must_change", account.address());
            Ok(())
        }
        UserCommand::Disable { address } => {
            let account = admin.account(&address)?;
            admin
                .store()
                .set_state(account.id, StoredState::Disabled, Some("admin"))?;
            tracing::info!(target: "audit", account = %account.address(), "account disabled by the service desk");
            eprintln!("{}: disabled", account.address());
            Ok(())
        }
        UserCommand::Enable { address } => {
            let account = admin.account(&address)?;
            admin.store().reenable(account.id, now)?;
            tracing::info!(target: "audit", account = %account.address(), "account enabled by the service desk");
            eprintln!(
                "{}: must_change (the user changes the password before the next login)",
                account.address()
            );
            Ok(())
        }
        UserCommand::Unlock { address } => {
            let account = admin.account(&address)?;
            admin.store().clear_failures(account.id)?;
            tracing::info!(target: "audit", account = %account.address(), "account unlocked by the service desk");
            eprintln!("{}: unlocked", account.address());
            Ok(())
        }
        UserCommand::Del { address } => {
            let account = admin.account(&address)?;
            admin.store().delete_account(account.id)?;
            tracing::info!(target: "audit", account = %account.address(), "account deleted");
            let dir =
                surel_maildir::mailbox_dir(&admin.config.data_dir, &account.domain, &account.local);
            eprintln!(
                "{}: deleted; its mail, if any, stays in {}",
                account.address(),
                dir.display()
            );
            Ok(())
        }
        UserCommand::Import { file } => import(admin, &file),
    }
}

/// Reads the whole CSV, checks every line, then imports all or nothing.
fn import(admin: &Admin, file: &std::path::Path) -> anyhow::Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_lowercase).collect();
    let plain = match header
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["address", "name", "password_hash", "password_changed_at"] => false,
        ["address", "name", "password", "password_changed_at"] => true,
        _ => bail!(
            "{}: the first line must be `address,name,password_hash,password_changed_at` \
             (or `password` instead of `password_hash`)",
            file.display()
        ),
    };
    let now = admin.auth.now();
    let policy = admin.auth.policy();
    let mut accounts = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let result = (|| -> anyhow::Result<NewAccount> {
            let record = record?;
            if record.len() != 4 {
                bail!("expected 4 columns, found {}", record.len());
            }
            let (local, domain) = parse_address(admin, &record[0])?;
            if !seen.insert(format!("{local}@{domain}")) {
                bail!("{local}@{domain} appears twice in the file");
            }
            if admin.store().account(&local, &domain)?.is_some() {
                bail!("{local}@{domain} already exists");
            }
            let secret = &record[2];
            let password_hash = if plain {
                let broken = surel_auth::policy::rules::check(&policy.config, &local, secret);
                if !broken.is_empty() {
                    return Err(refusal(admin, ChangeError::Rules(broken)));
                }
                admin.auth.hasher().hash(secret)
            } else {
                surel_auth::hash::is_supported(secret).map_err(anyhow::Error::msg)?;
                secret.to_string()
            };
            let (state, changed_at) = match &record[3] {
                "" => (StoredState::MustChange, now),
                when => (StoredState::Active, parse_when(admin, when)?),
            };
            Ok(NewAccount {
                local,
                domain,
                display_name: record[1].to_string(),
                password_hash,
                state,
                password_changed_at: changed_at,
                quota_bytes: None,
            })
        })();
        match result {
            Ok(account) => accounts.push(account),
            Err(e) => errors.push(format!("{}:{line}: {e:#}", file.display())),
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        bail!(
            "nothing imported: fix the {} lines above and run the import again",
            errors.len()
        );
    }
    let n = admin.store().import_accounts(&accounts, now)?;
    tracing::info!(target: "audit", count = n, file = %file.display(), "accounts imported");
    // Each with its maildir, as `user add` makes it: its first login is
    // then a login only, and a maildir that cannot be made (permissions, a
    // full disk) is reported here to the admin, not to the user later.
    let mut unmade = Vec::new();
    for a in &accounts {
        if let Err(e) = make_mailbox(admin, &a.domain, &a.local, a.quota_bytes) {
            unmade.push(format!("{}@{}: {e:#}", a.local, a.domain));
        }
    }
    println!("imported {n} accounts");
    if !unmade.is_empty() {
        for e in &unmade {
            eprintln!("{e}");
        }
        bail!(
            "the accounts are imported, but the {} mailboxes above could not be made: \
             fix the cause; each is also made at its account's first login or first mail",
            unmade.len()
        );
    }
    Ok(())
}

/// Makes an account's maildir with its special-use folders and index.
fn make_mailbox(
    admin: &Admin,
    domain: &str,
    local: &str,
    quota_bytes: Option<u64>,
) -> anyhow::Result<()> {
    let dir = surel_maildir::mailbox_dir(&admin.config.data_dir, domain, local);
    let quota = surel_maildir::Quota {
        storage: quota_bytes,
        messages: None,
    };
    surel_maildir::Mailbox::open(&dir, quota)?;
    Ok(())
}

/// `YYYY-MM-DD` (office time, start of day) or an RFC 3339 time.
fn parse_when(admin: &Admin, when: &str) -> anyhow::Result<Timestamp> {
    if let Ok(t) = when.parse::<Timestamp>() {
        return Ok(t);
    }
    let day: jiff::civil::Date = when.parse().map_err(|_| {
        anyhow::anyhow!(
            "password_changed_at {when:?}: write YYYY-MM-DD or 2026-01-31T08:00:00+07:00"
        )
    })?;
    Ok(admin.auth.policy().calendar.start_of(day))
}
