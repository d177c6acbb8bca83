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

/// Events kept for a listener that has not read them yet. A change only
/// wakes a session up to look at the index, so a listener that falls
/// behind loses nothing (it is told it lagged, and looks anyway); each
/// channel's ring is allocated whole, so it is kept small: at 1024 it cost
/// 66 KB per open mailbox.
const CHANNEL_EVENTS: usize = 16;

static HUB: LazyLock<Mutex<HashMap<PathBuf, broadcast::Sender<Change>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

static WRITERS: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// One lock per mailbox for this process's writers: they take turns here
/// instead of in SQLite's busy handler, whose sleeps (up to 100 ms) would
/// show as latency. Other processes still coordinate through SQLite.
pub(crate) fn writer_lock(root: &Path) -> Arc<Mutex<()>> {
    let mut writers = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
    writers.retain(|_, lock| writer_in_use(lock));
    Arc::clone(writers.entry(root.to_path_buf()).or_default())
}

/// The channel of the mailbox at `root`.
pub(crate) fn sender(root: &Path) -> broadcast::Sender<Change> {
    let mut hub = HUB.lock().unwrap_or_else(|p| p.into_inner());
    hub.retain(|_, tx| in_use(tx));
    hub.entry(root.to_path_buf())
        .or_insert_with(|| broadcast::channel(CHANNEL_EVENTS).0)
        .clone()
}

/// Someone holds this channel besides the hub: a handle that may send, or
/// a session listening. One nobody holds can go: a handle opened later
/// gets a fresh one, and no one was left to miss anything on the old.
fn in_use(tx: &broadcast::Sender<Change>) -> bool {
    tx.receiver_count() > 0 || tx.strong_count() > 1
}

/// Forgets the channels and writer locks of mailboxes no handle or session
/// uses any more. Opening a mailbox does this too; a server that has gone
/// quiet calls it so that what the last sessions used is freed.
pub fn forget_unused() {
    HUB.lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|_, tx| in_use(tx));
    WRITERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|_, lock| writer_in_use(lock));
}

/// A handle holds this writer lock besides the map.
fn writer_in_use(lock: &Arc<Mutex<()>>) -> bool {
    Arc::strong_count(lock) > 1
}

#[cfg(test)]
pub(crate) fn kept(root: &Path) -> (bool, bool) {
    let hub = HUB.lock().unwrap_or_else(|p| p.into_inner());
    let writers = WRITERS.lock().unwrap_or_else(|p| p.into_inner());
    (hub.contains_key(root), writers.contains_key(root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mailbox, Quota};

    const MSG: &[u8] = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";

    #[test]
    fn a_mailbox_nobody_uses_is_forgotten_and_one_listened_to_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let first = Mailbox::open(root, Quota::default()).unwrap();
        let mut listening = first.changes();
        drop(first);
        forget_unused();
        // Someone still listens: a later handle's delivery must reach them.
        assert_eq!(kept(root), (true, false));
        let mut second = Mailbox::open(root, Quota::default()).unwrap();
        second.deliver(MSG).unwrap();
        assert_eq!(listening.try_recv().unwrap().folder, "INBOX");
        drop(listening);
        forget_unused();
        assert_eq!(kept(root), (true, true));
        drop(second);
        forget_unused();
        assert_eq!(kept(root), (false, false));
        // Two handles at once share both; the channel goes with the last.
        let a = Mailbox::open(root, Quota::default()).unwrap();
        let b = Mailbox::open(root, Quota::default()).unwrap();
        assert!(a.changes.same_channel(&b.changes));
        drop(a);
        forget_unused();
        assert_eq!(kept(root), (true, true));
        drop(b);
        // Opening another mailbox forgets the unused ones too.
        let other = tempfile::tempdir().unwrap();
        let _other = Mailbox::open(other.path(), Quota::default()).unwrap();
        assert_eq!(kept(root), (false, false));
    }
}
