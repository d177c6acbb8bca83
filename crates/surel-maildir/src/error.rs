//! Errors with a taxonomy the protocols map to their replies.

use std::path::PathBuf;

/// Which quota resource (RFC 9208) a request would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaResource {
    /// Bytes of mail (IMAP `STORAGE`, SMTP 452 4.2.2).
    Storage,
    /// Number of messages (IMAP `MESSAGE`).
    Message,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// IMAP `NO [NONEXISTENT]`.
    #[error("no folder {0:?}")]
    NoSuchFolder(String),
    /// IMAP `NO [ALREADYEXISTS]`.
    #[error("folder {0:?} already exists")]
    FolderExists(String),
    /// IMAP `NO [CANNOT]` / `BAD`: a name that may not be used.
    #[error("invalid folder name {name:?}: {why}")]
    InvalidName { name: String, why: &'static str },
    /// IMAP `NO [CANNOT]`: e.g. deleting INBOX or a folder with children.
    #[error("{0}")]
    NotAllowed(String),
    /// IMAP `NO [OVERQUOTA]`, SMTP 452 4.2.2 / 552 5.2.2.
    #[error("over quota ({resource:?})")]
    OverQuota { resource: QuotaResource },
    /// The message has gone (expunged by another session).
    #[error("message {0} no longer exists")]
    NoSuchMessage(u32),
    /// Local trouble: IMAP `NO [SERVERBUG]`, SMTP 451 4.3.0. Retry later.
    #[error("mail storage error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("mail index error: {0}")]
    Index(#[from] rusqlite::Error),
    /// The handle's index connection is closed (`Mailbox::park`): a bug
    /// in the caller, answered like local trouble.
    #[error("mail index connection is parked")]
    Parked,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// True for local trouble (disk, index) rather than a request's fault.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Error::Io { .. } | Error::Index(_))
    }
}

pub type Result<T> = std::result::Result<T, Error>;
