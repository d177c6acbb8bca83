//! Mail domains, their NetBIOS-style login names and domain aliases.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Domain {
    pub name: String,
    pub netbios: Option<String>,
    /// For a domain alias: the domain it stands for.
    pub alias_of: Option<String>,
    /// Bare user names (no `@`, no `\`) log in to this domain.
    pub is_default: bool,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Domain> {
    Ok(Domain {
        name: r.get(0)?,
        netbios: r.get(1)?,
        alias_of: r.get(2)?,
        is_default: r.get(3)?,
    })
}

const COLUMNS: &str = "name, netbios, alias_of, is_default";

impl Store {
    /// Adds a domain; the first real domain becomes the default one.
    pub fn add_domain(
        &self,
        name: &str,
        netbios: Option<&str>,
        alias_of: Option<&str>,
        now: Timestamp,
    ) -> Result<Domain> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if tx
            .query_row("SELECT 1 FROM domains WHERE name = ?1", [&name], |_| Ok(()))
            .optional()?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "domain {name} already exists"
            )));
        }
        let target = match alias_of {
            Some(target) => {
                let found: Option<(String, Option<String>)> = tx
                    .query_row(
                        "SELECT name, alias_of FROM domains WHERE name = ?1",
                        [target],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                match found {
                    Some((canonical, None)) => Some(canonical),
                    Some((_, Some(_))) => {
                        return Err(StoreError::Conflict(format!(
                            "{target} is itself an alias; point {name} at the real domain"
                        )));
                    }
                    None => {
                        return Err(StoreError::NotFound(format!(
                            "domain {target} does not exist: add it first with `surel domain add {target}`"
                        )));
                    }
                }
            }
            None => None,
        };
        if let Some(nb) = netbios
            && tx
                .query_row("SELECT name FROM domains WHERE netbios = ?1", [nb], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
                .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "NetBIOS name {nb} is already used by another domain"
            )));
        }
        let has_default: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM domains WHERE is_default)",
            [],
            |r| r.get(0),
        )?;
        let is_default = target.is_none() && !has_default;
        tx.execute(
            "INSERT INTO domains (name, netbios, alias_of, is_default, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, netbios.map(str::to_ascii_uppercase), target, is_default, now.as_second()],
        )?;
        tx.commit()?;
        Ok(Domain {
            name,
            netbios: netbios.map(str::to_ascii_uppercase),
            alias_of: target,
            is_default,
        })
    }

    /// Deletes a domain; refused while accounts still live in it.
    pub fn delete_domain(&self, name: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let accounts: i64 = tx.query_row(
            "SELECT COUNT(*) FROM accounts WHERE domain = ?1",
            [name],
            |r| r.get(0),
        )?;
        if accounts > 0 {
            return Err(StoreError::Conflict(format!(
                "domain {name} still has {accounts} accounts: delete them first (`surel user list`)"
            )));
        }
        let was_default: Option<bool> = tx
            .query_row(
                "SELECT is_default FROM domains WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(was_default) = was_default else {
            return Err(StoreError::NotFound(format!("no domain {name}")));
        };
        tx.execute("DELETE FROM domains WHERE name = ?1", [name])?;
        if was_default {
            tx.execute(
                "UPDATE domains SET is_default = 1 WHERE name = (SELECT name FROM domains WHERE alias_of IS NULL ORDER BY created_at LIMIT 1)",
                [],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn list_domains(&self) -> Result<Vec<Domain>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM domains ORDER BY alias_of IS NOT NULL, name"
        ))?;
        let rows = stmt.query_map([], row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The real domain a name stands for (itself, or the target of a domain alias).
    pub fn canonical_domain(&self, name: &str) -> Result<Option<String>> {
        let name = name.trim_end_matches('.');
        self.read_one(
            "SELECT COALESCE(alias_of, name) FROM domains WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
    }

    pub fn domain_by_netbios(&self, netbios: &str) -> Result<Option<String>> {
        self.read_one(
            "SELECT COALESCE(alias_of, name) FROM domains WHERE netbios = ?1",
            [netbios],
            |r| r.get(0),
        )
    }

    pub fn default_domain(&self) -> Result<Option<String>> {
        self.read_one(
            "SELECT name FROM domains WHERE is_default LIMIT 1",
            [],
            |r| r.get(0),
        )
    }
}
