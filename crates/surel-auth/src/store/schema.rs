//! Versioned migrations, applied in order; `PRAGMA user_version` records
//! how many have run. Never edit a released migration: add one.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: domains, accounts, password history, aliases.
    "
    CREATE TABLE domains (
        name        TEXT PRIMARY KEY COLLATE NOCASE,
        netbios     TEXT UNIQUE COLLATE NOCASE,
        alias_of    TEXT REFERENCES domains(name) ON DELETE CASCADE,
        is_default  INTEGER NOT NULL DEFAULT 0,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE accounts (
        id                  INTEGER PRIMARY KEY,
        local               TEXT NOT NULL COLLATE NOCASE,
        domain              TEXT NOT NULL COLLATE NOCASE REFERENCES domains(name),
        display_name        TEXT NOT NULL DEFAULT '',
        password_hash       TEXT NOT NULL,
        state               TEXT NOT NULL CHECK (state IN ('must_change', 'active', 'disabled')),
        disabled_reason     TEXT,
        password_changed_at INTEGER NOT NULL,
        failed_logins       INTEGER NOT NULL DEFAULT 0,
        first_failed_at     INTEGER,
        locked_until        INTEGER,
        quota_bytes         INTEGER,
        last_alert_on       TEXT,
        revision            INTEGER NOT NULL DEFAULT 1,
        created_at          INTEGER NOT NULL,
        UNIQUE (local, domain)
    );
    CREATE TABLE password_history (
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        hash        TEXT NOT NULL,
        replaced_at INTEGER NOT NULL
    );
    CREATE INDEX password_history_account ON password_history(account_id, replaced_at);
    CREATE TABLE aliases (
        address TEXT NOT NULL COLLATE NOCASE,
        target  TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (address, target)
    );
    ",
    // 2: the expiry notice mails already sent, per password (a new
    // password starts afresh).
    "
    CREATE TABLE expiry_notices (
        account_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        password_changed_at INTEGER NOT NULL,
        days_before         INTEGER NOT NULL,
        sent_at             INTEGER NOT NULL,
        PRIMARY KEY (account_id, password_changed_at, days_before)
    );
    ",
];

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
