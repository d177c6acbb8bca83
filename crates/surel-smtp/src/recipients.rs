//! Who an address reaches: local accounts (through domain aliases and
//! address aliases, loops detected) or another domain.

use std::collections::HashSet;

use surel_auth::{Account, Store, StoreError};

/// Where one RCPT TO address leads.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Local accounts, each once.
    pub accounts: Vec<Account>,
    /// Addresses in other domains (aliases may point there).
    pub remote: Vec<String>,
    /// The address is in a local domain but is neither an account nor an alias.
    pub unknown: bool,
    /// An alias chain came back to itself or went too deep.
    pub looped: bool,
}

/// How deep an alias chain may go.
const MAX_DEPTH: usize = 10;

/// Splits `local@domain` (lower-cased); the domain is resolved through
/// domain aliases. None for a domain that is not ours.
pub fn local_part(store: &Store, address: &str) -> Result<Option<(String, String)>, StoreError> {
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Ok(None);
    };
    Ok(store
        .canonical_domain(domain)?
        .map(|d| (local.to_string(), d)))
}

pub fn resolve(store: &Store, address: &str) -> Result<Resolved, StoreError> {
    let mut out = Resolved::default();
    let mut seen = HashSet::new();
    let address = address.trim().to_lowercase();
    // RFC 5321 §4.5.1: a bare "postmaster" is always accepted.
    let address = if address == "postmaster" {
        match store.default_domain()? {
            Some(d) => format!("postmaster@{d}"),
            None => address,
        }
    } else {
        address
    };
    match local_part(store, &address)? {
        None => out.remote.push(address),
        Some((local, domain)) => {
            if !walk(store, &local, &domain, 0, &mut seen, &mut out)? {
                out.unknown = true;
            }
        }
    }
    let mut ids = HashSet::new();
    out.accounts.retain(|a| ids.insert(a.id));
    Ok(out)
}

/// Adds what `local@domain` reaches; false when it is nothing known.
fn walk(
    store: &Store,
    local: &str,
    domain: &str,
    depth: usize,
    seen: &mut HashSet<String>,
    out: &mut Resolved,
) -> Result<bool, StoreError> {
    let address = format!("{local}@{domain}");
    if depth > MAX_DEPTH || !seen.insert(address.clone()) {
        out.looped = true;
        return Ok(true);
    }
    if let Some(account) = store.account(local, domain)? {
        out.accounts.push(account);
        return Ok(true);
    }
    let targets = store.alias_targets(&address)?;
    if targets.is_empty() {
        return Ok(false);
    }
    for target in targets {
        match local_part(store, &target)? {
            Some((l, d)) => {
                if !walk(store, &l, &d, depth + 1, seen, out)? {
                    tracing::warn!(alias = %address, %target, "alias points to an unknown local address");
                }
            }
            None => out.remote.push(target),
        }
    }
    Ok(true)
}

/// The addresses `account` may send as: its own and the aliases that
/// point straight at it.
pub fn owns(store: &Store, account: &Account, address: &str) -> Result<bool, StoreError> {
    let address = address.trim().to_lowercase();
    let Some((local, domain)) = local_part(store, &address)? else {
        return Ok(false);
    };
    if local == account.local.to_lowercase() && domain == account.domain.to_lowercase() {
        return Ok(true);
    }
    let own = account.address().to_lowercase();
    Ok(store
        .alias_targets(&format!("{local}@{domain}"))?
        .iter()
        .any(|t| t.to_lowercase() == own))
}
