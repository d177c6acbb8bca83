//! Accounts: identity, password hash and its history, state, failure
//! counters and lock, quota.

use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};

/// The state kept on disk. `expired` and `locked` are not stored: they
/// follow from the dates and the policy (see `crate::state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredState {
    MustChange,
    Active,
    Disabled,
}

impl StoredState {
    pub fn as_str(self) -> &'static str {
        match self {
            StoredState::MustChange => "must_change",
            StoredState::Active => "active",
            StoredState::Disabled => "disabled",
        }
    }
}

impl FromStr for StoredState {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "must_change" => Ok(StoredState::MustChange),
            "active" => Ok(StoredState::Active),
            "disabled" => Ok(StoredState::Disabled),
            other => Err(format!("unknown account state {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub local: String,
    pub domain: String,
    pub display_name: String,
    pub password_hash: String,
    pub state: StoredState,
    pub disabled_reason: Option<String>,
    pub password_changed_at: Timestamp,
    pub failed_logins: u32,
    pub first_failed_at: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
    pub quota_bytes: Option<u64>,
    /// Office date (YYYY-MM-DD) of the last expiry warning shown at login.
    pub last_alert_on: Option<String>,
    /// Bumped by every change to the account.
    pub revision: i64,
}

impl Account {
    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }
}

/// What `add_account` and `import` store.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub local: String,
    pub domain: String,
    pub display_name: String,
    pub password_hash: String,
    pub state: StoredState,
    pub password_changed_at: Timestamp,
    pub quota_bytes: Option<u64>,
}

const COLUMNS: &str = "id, local, domain, display_name, password_hash, state, disabled_reason, \
    password_changed_at, failed_logins, first_failed_at, locked_until, quota_bytes, last_alert_on, revision";

fn ts(secs: Option<i64>) -> Option<Timestamp> {
    secs.and_then(|s| Timestamp::from_second(s).ok())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let state: String = r.get(5)?;
    Ok(Account {
        id: r.get(0)?,
        local: r.get(1)?,
        domain: r.get(2)?,
        display_name: r.get(3)?,
        password_hash: r.get(4)?,
        state: state.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into())
        })?,
        disabled_reason: r.get(6)?,
        password_changed_at: ts(r.get(7)?).unwrap_or(Timestamp::UNIX_EPOCH),
        failed_logins: r.get(8)?,
        first_failed_at: ts(r.get(9)?),
        locked_until: ts(r.get(10)?),
        quota_bytes: r.get::<_, Option<i64>>(11)?.map(|q| q.max(0) as u64),
        last_alert_on: r.get(12)?,
        revision: r.get(13)?,
    })
}

fn insert(tx: &rusqlite::Transaction<'_>, a: &NewAccount, now: Timestamp) -> Result<i64> {
    let domain: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT name, alias_of FROM domains WHERE name = ?1",
            [&a.domain],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match domain {
        None => {
            return Err(StoreError::NotFound(format!(
                "domain {} does not exist: add it with `surel domain add {}`",
                a.domain, a.domain
            )));
        }
        Some((_, Some(target))) => {
            return Err(StoreError::Conflict(format!(
                "{} is an alias of {target}: create the account as {}@{target}",
                a.domain, a.local
            )));
        }
        Some(_) => {}
    }
    let taken = tx
        .query_row(
            "SELECT 1 FROM accounts WHERE local = ?1 AND domain = ?2 UNION SELECT 1 FROM aliases WHERE address = ?3",
            params![a.local, a.domain, format!("{}@{}", a.local, a.domain)],
            |_| Ok(()),
        )
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!(
            "{}@{} already exists",
            a.local, a.domain
        )));
    }
    tx.execute(
        "INSERT INTO accounts (local, domain, display_name, password_hash, state, password_changed_at, quota_bytes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            a.local,
            a.domain,
            a.display_name,
            a.password_hash,
            a.state.as_str(),
            a.password_changed_at.as_second(),
            a.quota_bytes.map(|q| q as i64),
            now.as_second()
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

impl Store {
    pub fn add_account(&self, account: &NewAccount, now: Timestamp) -> Result<Account> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id = insert(&tx, account, now)?;
        tx.commit()?;
        drop(conn);
        self.account_by_id(id)?
            .ok_or_else(|| StoreError::NotFound("account vanished".into()))
    }

    /// Adds all accounts or none.
    pub fn import_accounts(&self, accounts: &[NewAccount], now: Timestamp) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for a in accounts {
            insert(&tx, a, now)?;
        }
        tx.commit()?;
        Ok(accounts.len())
    }

    pub fn account(&self, local: &str, domain: &str) -> Result<Option<Account>> {
        self.read_one(
            &format!("SELECT {COLUMNS} FROM accounts WHERE local = ?1 AND domain = ?2"),
            [local, domain],
            row,
        )
    }

    pub fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.read_one(
            &format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1"),
            [id],
            row,
        )
    }

    pub fn list_accounts(&self) -> Result<Vec<Account>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM accounts ORDER BY domain, local"
        ))?;
        let rows = stmt.query_map([], row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn delete_account(&self, id: i64) -> Result<()> {
        self.conn()
            .execute("DELETE FROM accounts WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Stores a new password: the old hash goes to the history (keeping
    /// `keep` of them), the failure counters are cleared.
    pub fn set_password(
        &self,
        id: i64,
        new_hash: &str,
        state: StoredState,
        changed_at: Timestamp,
        keep: usize,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let old: String = tx.query_row(
            "SELECT password_hash FROM accounts WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        if keep > 0 {
            tx.execute(
                "INSERT INTO password_history (account_id, hash, replaced_at) VALUES (?1, ?2, ?3)",
                params![id, old, changed_at.as_second()],
            )?;
        }
        tx.execute(
            "DELETE FROM password_history WHERE account_id = ?1 AND rowid NOT IN
               (SELECT rowid FROM password_history WHERE account_id = ?1 ORDER BY replaced_at DESC, rowid DESC LIMIT ?2)",
            params![id, keep as i64],
        )?;
        tx.execute(
            "UPDATE accounts SET password_hash = ?2, state = ?3, password_changed_at = ?4, disabled_reason = NULL,
               failed_logins = 0, first_failed_at = NULL, locked_until = NULL, last_alert_on = NULL,
               revision = revision + 1
             WHERE id = ?1",
            params![id, new_hash, state.as_str(), changed_at.as_second()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the hash of the same password (a legacy scheme or old cost).
    pub fn rehash(&self, id: i64, old_hash: &str, new_hash: &str) -> Result<()> {
        // Only if nobody changed the password meanwhile.
        self.conn().execute(
            "UPDATE accounts SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
            params![id, old_hash, new_hash],
        )?;
        Ok(())
    }

    /// Previous hashes, newest first.
    pub fn password_history(&self, id: i64) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT hash FROM password_history WHERE account_id = ?1 ORDER BY replaced_at DESC, rowid DESC",
        )?;
        let rows = stmt
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn set_state(&self, id: i64, state: StoredState, reason: Option<&str>) -> Result<()> {
        self.conn().execute(
            "UPDATE accounts SET state = ?2, disabled_reason = ?3, revision = revision + 1 WHERE id = ?1",
            params![id, state.as_str(), reason],
        )?;
        Ok(())
    }

    /// Re-enables an account (`user enable`): it gets a fresh window to
    /// change its password, as if the password had just been issued.
    pub fn reenable(&self, id: i64, now: Timestamp) -> Result<()> {
        self.conn().execute(
            "UPDATE accounts SET state = 'must_change', disabled_reason = NULL, password_changed_at = ?2,
               failed_logins = 0, first_failed_at = NULL, locked_until = NULL, revision = revision + 1
             WHERE id = ?1",
            params![id, now.as_second()],
        )?;
        Ok(())
    }

    /// Marks the password as needing a change at next login (`user expire`).
    pub fn force_change(&self, id: i64) -> Result<()> {
        self.set_state(id, StoredState::MustChange, None)
    }

    /// Counts a failed login in the lockout window (not a change of the
    /// credentials: the revision, and so the login cache, stays); locks the account when
    /// the threshold is reached. Returns the lock's end if it locked now.
    pub fn record_failure(
        &self,
        id: i64,
        now: Timestamp,
        window: Duration,
        threshold: u32,
        lock_for: Duration,
    ) -> Result<Option<Timestamp>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let (count, first): (u32, Option<i64>) = tx.query_row(
            "SELECT failed_logins, first_failed_at FROM accounts WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let window_start = now.as_second() - window.as_secs() as i64;
        let (count, first) = match first {
            Some(first) if first >= window_start => (count + 1, first),
            _ => (1, now.as_second()),
        };
        let locked_until =
            (count >= threshold).then(|| now.as_second() + lock_for.as_secs() as i64);
        tx.execute(
            "UPDATE accounts SET failed_logins = ?2, first_failed_at = ?3,
               locked_until = COALESCE(?4, locked_until) WHERE id = ?1",
            params![id, count, first, locked_until],
        )?;
        tx.commit()?;
        Ok(ts(locked_until))
    }

    /// After a successful login, or by the service desk.
    pub fn clear_failures(&self, id: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE accounts SET failed_logins = 0, first_failed_at = NULL, locked_until = NULL
             WHERE id = ?1 AND (failed_logins > 0 OR locked_until IS NOT NULL)",
            [id],
        )?;
        Ok(())
    }

    /// Records that today's expiry warning was shown; false if it already was.
    pub fn take_daily_alert(&self, id: i64, today: &str) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE accounts SET last_alert_on = ?2 WHERE id = ?1 AND (last_alert_on IS NULL OR last_alert_on <> ?2)",
            params![id, today],
        )?;
        Ok(changed == 1)
    }

    /// Whether the expiry notice `days_before` for the password set at
    /// `changed_at` has gone out.
    pub fn notice_sent(&self, id: i64, changed_at: Timestamp, days_before: u32) -> Result<bool> {
        let found: Option<i64> = self.read_one(
            "SELECT 1 FROM expiry_notices
             WHERE account_id = ?1 AND password_changed_at = ?2 AND days_before = ?3",
            params![id, changed_at.as_second(), days_before],
            |r| r.get(0),
        )?;
        Ok(found.is_some())
    }

    /// Records an expiry notice as delivered.
    pub fn record_notice(
        &self,
        id: i64,
        changed_at: Timestamp,
        days_before: u32,
        now: Timestamp,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO expiry_notices (account_id, password_changed_at, days_before, sent_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, changed_at.as_second(), days_before, now.as_second()],
        )?;
        Ok(())
    }

    pub fn set_quota(&self, id: i64, quota: Option<u64>) -> Result<()> {
        self.conn().execute(
            "UPDATE accounts SET quota_bytes = ?2, revision = revision + 1 WHERE id = ?1",
            params![id, quota.map(|q| q as i64)],
        )?;
        Ok(())
    }
}
