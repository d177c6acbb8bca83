//! Change notification between sessions of one user in this process, so
//! IMAP IDLE learns of new mail, flag changes and expunges at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message arrived (delivery, APPEND, COPY, MOVE).
    New {
        uid: u32,
    },
    Flags {
        uid: u32,
        modseq: u64,
    },
    Expunged {
        uid: u32,
    },
}

/// What changed, in which folder (its IMAP name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub folder: String,
    pub event: Event,
}

static HUB: LazyLock<Mutex<HashMap<PathBuf, broadcast::Sender<Change>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

static WRITERS: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// One lock per mailbox for this process's writers: they take turns here
/// instead of in SQLite's busy handler, whose sleeps (up to 100 ms) would
/// show as latency. Other processes still coordinate through SQLite.
pub(crate) fn writer_lock(root: &Path) -> Arc<Mutex<()>> {
    let mut writers = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
    if writers.len() > 1024 {
        writers.retain(|_, lock| Arc::strong_count(lock) > 1);
    }
    Arc::clone(writers.entry(root.to_path_buf()).or_default())
}

/// The channel of the mailbox at `root`.
pub(crate) fn sender(root: &Path) -> broadcast::Sender<Change> {
    let mut hub = HUB.lock().unwrap_or_else(|p| p.into_inner());
    if hub.len() > 1024 {
        // Forget mailboxes nobody listens to any more.
        hub.retain(|_, tx| tx.receiver_count() > 0);
    }
    hub.entry(root.to_path_buf())
        .or_insert_with(|| broadcast::channel(1024).0)
        .clone()
}
