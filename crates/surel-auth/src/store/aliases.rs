//! Aliases: one address delivered to one or more targets.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    pub address: String,
    pub targets: Vec<String>,
}

impl Store {
    /// Adds `targets` to the alias `address` (in a local domain, not an account).
    pub fn add_alias(&self, address: &str, targets: &[String]) -> Result<Alias> {
        let address = address.to_ascii_lowercase();
        let Some((local, domain)) = address.split_once('@') else {
            return Err(StoreError::Conflict(format!(
                "{address} is not an address: write name@domain"
            )));
        };
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let real: Option<Option<String>> = tx
            .query_row(
                "SELECT alias_of FROM domains WHERE name = ?1",
                [domain],
                |r| r.get(0),
            )
            .optional()?;
        match real {
            None => {
                return Err(StoreError::NotFound(format!(
                    "{domain} is not a local domain: add it with `surel domain add {domain}`"
                )));
            }
            Some(Some(target)) => {
                return Err(StoreError::Conflict(format!(
                    "{domain} is an alias of {target}: write the alias as {local}@{target}"
                )));
            }
            Some(None) => {}
        }
        let is_account = tx
            .query_row(
                "SELECT 1 FROM accounts WHERE local = ?1 AND domain = ?2",
                [local, domain],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if is_account {
            return Err(StoreError::Conflict(format!(
                "{address} is an account, not an alias"
            )));
        }
        for target in targets {
            let target = target.trim().to_ascii_lowercase();
            if !target.contains('@') || target == address {
                return Err(StoreError::Conflict(format!(
                    "{target:?} is not a valid target for {address}"
                )));
            }
            tx.execute(
                "INSERT OR IGNORE INTO aliases (address, target) VALUES (?1, ?2)",
                params![address, target],
            )?;
        }
        tx.commit()?;
        drop(conn);
        Ok(Alias {
            targets: self.alias_targets(&address)?,
            address,
        })
    }

    pub fn delete_alias(&self, address: &str) -> Result<()> {
        let n = self
            .conn()
            .execute("DELETE FROM aliases WHERE address = ?1", [address])?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no alias {address}")));
        }
        Ok(())
    }

    pub fn alias_targets(&self, address: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT target FROM aliases WHERE address = ?1 ORDER BY target")?;
        let rows = stmt
            .query_map([address], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn list_aliases(&self) -> Result<Vec<Alias>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT address, target FROM aliases ORDER BY address, target")?;
        let pairs: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out: Vec<Alias> = Vec::new();
        for (address, target) in pairs {
            match out.last_mut() {
                Some(last) if last.address == address => last.targets.push(target),
                _ => out.push(Alias {
                    address,
                    targets: vec![target],
                }),
            }
        }
        Ok(out)
    }
}
