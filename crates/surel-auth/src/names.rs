//! Login names (SPEC §3): `user@domain`, `NETBIOS\user`, and bare `user`
//! for the default domain; case-insensitive; domain aliases resolved.

use crate::store::{Result, Store};

/// The account a login name points at: (local part, real domain), or None
/// when the name cannot belong to any local account.
pub fn resolve(store: &Store, login: &str) -> Result<Option<(String, String)>> {
    let login = login.trim().to_lowercase();
    if login.is_empty()
        || login.len() > 320
        || login.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Ok(None);
    }
    if let Some((local, domain)) = login.rsplit_once('@') {
        if local.is_empty() {
            return Ok(None);
        }
        return Ok(store
            .canonical_domain(domain)?
            .map(|d| (local.to_string(), d)));
    }
    if let Some((netbios, local)) = login.split_once('\\') {
        if local.is_empty() || local.contains('\\') {
            return Ok(None);
        }
        return Ok(store
            .domain_by_netbios(netbios)?
            .map(|d| (local.to_string(), d)));
    }
    Ok(store.default_domain()?.map(|d| (login, d)))
}
