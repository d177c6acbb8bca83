//! The account database: one SQLite file (WAL, versioned migrations, mode
//! 0600) with domains, accounts, password history and aliases.
//!
//! Every multi-row change runs in one transaction, so a crash never leaves
//! a half-written account. Every change to an account bumps its `revision`,
//! which lets the login cache notice changes made by another process (the
//! CLI while the server runs).

mod accounts;
mod aliases;
mod domains;
mod schema;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

pub use accounts::{Account, NewAccount, StoredState};
pub use aliases::Alias;
pub use domains::Domain;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("account database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("account database {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("account database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A request that contradicts what is stored, said for the admin.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The account database. Calls are synchronous and short; callers in async
/// code run them on a blocking thread.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// The database's file name inside `data_dir`.
pub const FILE_NAME: &str = "surel.db";

impl Store {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open_in(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::File {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Self::open(&data_dir.join(FILE_NAME))
    }

    pub fn open(path: &Path) -> Result<Store> {
        let file_err = |source| StoreError::File {
            path: path.to_path_buf(),
            source,
        };
        // Create the file ourselves so it is never world-readable, not even briefly.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(file_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(file_err)?;
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        // Room for every lookup the logins, RCPTs and the web make.
        conn.set_prepared_statement_cache_capacity(64);
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        schema::migrate(&mut conn).map_err(open_err)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the database answers a query and its file is still in place
    /// (for the health check; an open connection outlives a deleted file).
    pub fn check(&self) -> Result<()> {
        std::fs::metadata(&self.path).map_err(|source| StoreError::File {
            path: self.path.clone(),
            source,
        })?;
        self.conn()
            .query_row("SELECT count(*) FROM accounts WHERE id < 0", [], |_| Ok(()))?;
        Ok(())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The one row of a lookup, if any, through a statement kept prepared:
    /// every SMTP RCPT and IMAP LOGIN makes a few of these, and parsing
    /// their SQL each time cost more than running them.
    fn read_one<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        use rusqlite::OptionalExtension as _;
        Ok(self
            .conn()
            .prepare_cached(sql)?
            .query_row(params, f)
            .optional()?)
    }
}
