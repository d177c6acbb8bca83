//! The per-user index: one SQLite file in the user's maildir root.
//! Versioned migrations; `PRAGMA user_version` records how many ran.

use rusqlite::Connection;

/// File name of the index inside the user's maildir (other tools ignore it).
pub const INDEX_FILE: &str = "surel-index.sqlite";

const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE folders (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        uidvalidity   INTEGER NOT NULL,
        uidnext       INTEGER NOT NULL DEFAULT 1,
        highestmodseq INTEGER NOT NULL DEFAULT 1,
        subscribed    INTEGER NOT NULL DEFAULT 1,
        scan_stamp    TEXT
    );
    CREATE TABLE messages (
        folder_id     INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        uid           INTEGER NOT NULL,
        base          TEXT NOT NULL,
        in_new        INTEGER NOT NULL,
        sys           INTEGER NOT NULL DEFAULT 0,
        keywords      TEXT NOT NULL DEFAULT '',
        modseq        INTEGER NOT NULL,
        internal_date INTEGER NOT NULL,
        size          INTEGER NOT NULL,
        vsize         INTEGER NOT NULL,
        header        BLOB NOT NULL,
        mime          TEXT NOT NULL,
        subject       TEXT NOT NULL DEFAULT '',
        from_addr     TEXT NOT NULL DEFAULT '',
        to_addr       TEXT NOT NULL DEFAULT '',
        cc_addr       TEXT NOT NULL DEFAULT '',
        bcc_addr      TEXT NOT NULL DEFAULT '',
        sent_date     INTEGER,
        message_id    TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (folder_id, uid)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX messages_base ON messages(folder_id, base);
    CREATE TABLE expunged (
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        uid       INTEGER NOT NULL,
        modseq    INTEGER NOT NULL
    );
    CREATE INDEX expunged_modseq ON expunged(folder_id, modseq);
",
    "
    CREATE INDEX messages_modseq ON messages(folder_id, modseq);
",
    // `boot`: the kernel boot the index was last opened in (see
    // `Mailbox::recover_after_reboot`).
    "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
",
    // `envelope`: the ENVELOPE fields (see `envelope.rs`); NULL for messages
    // indexed before, which FETCH works out from `header`.
    "
    ALTER TABLE messages ADD COLUMN envelope BLOB;
",
];

/// Runs the migrations not yet run. The version is read inside a write
/// transaction: sessions opening a new mailbox at the same moment (50
/// first logins at once) would otherwise both run the first migration, and
/// one would fail on tables the other just made.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if done as usize >= MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let done: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()
}
