//! What every admin command needs: the config, the account database and
//! the authenticator, opened the way `surel serve` opens them.

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use surel_auth::{Account, Authenticator, Language, Store};

use crate::config::Config;

pub struct Admin {
    pub config: Config,
    pub auth: Authenticator,
}

impl Admin {
    pub fn open(config_path: &Path) -> anyhow::Result<Admin> {
        let config = Config::load(config_path)?;
        let policy = config.build_policy(config_path)?;
        crate::serve::prepare_data_dir(&config.data_dir)?;
        let store = Arc::new(Store::open_in(&config.data_dir)?);
        let auth = Authenticator::new(store, policy, config.auth).map_err(anyhow::Error::msg)?;
        Ok(Admin { config, auth })
    }

    pub fn language(&self) -> Language {
        self.config.language
    }

    pub fn store(&self) -> &Store {
        self.auth.store()
    }

    /// The account an address (or any login name form) names.
    pub fn account(&self, address: &str) -> anyhow::Result<Account> {
        let found = match surel_auth::names::resolve(self.store(), address)? {
            Some((local, domain)) => self.store().account(&local, &domain)?,
            None => None,
        };
        found.ok_or_else(|| {
            anyhow::anyhow!("no account {address}: `surel user list` shows the accounts")
        })
    }
}

/// Reads one line from stdin without its line ending (passwords are never
/// taken from the command line, where `ps` and shell history would show them).
pub fn read_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line)?;
    if n == 0 {
        anyhow::bail!("expected {what} on standard input, got nothing");
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Prints `value` as pretty JSON.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints rows as aligned columns under a header.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
