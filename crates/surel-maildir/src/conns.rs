//! Index connections kept open between uses. Opening one parses the
//! schema and sets its pragmas, and when no other connection has the index
//! open SQLite rebuilds its WAL index by reading the log: in a session mix
//! where every login and every end of IDLE opened one, that was a fifth of
//! surel's CPU, and every statement was prepared again. A handle gives its
//! connection back here when it is dropped or parked; the next handle for
//! the same index file takes it, statements still prepared.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

/// Idle connections kept in all; each costs tens of KiB.
const MAX_IDLE: usize = 16;
/// Idle connections kept per index: one user's sessions rarely end at once.
const MAX_PER_INDEX: usize = 2;

struct Idle {
    index: PathBuf,
    /// The index file's inode: a connection to a file since removed (the
    /// account deleted and made again) must not be handed out for the new one.
    inode: u64,
    conn: Connection,
}

static IDLE: Mutex<VecDeque<Idle>> = Mutex::new(VecDeque::new());

/// An idle connection to the index at `index` with inode `inode`, if one is kept.
pub(crate) fn take(index: &Path, inode: u64) -> Option<Connection> {
    let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
    let at = idle
        .iter()
        .rposition(|i| i.inode == inode && i.index == index)?;
    idle.remove(at).map(|i| i.conn)
}

/// Keeps `conn` for the next handle of the same index; the oldest go when
/// there are too many.
pub(crate) fn give_back(index: &Path, inode: u64, conn: Connection) {
    if conn.is_autocommit() {
        // Pages cached for the last session; its statements stay.
        let _ = conn
            .prepare_cached("PRAGMA shrink_memory")
            .and_then(|mut s| s.raw_execute());
    } else {
        return; // never hand out a connection inside a transaction
    }
    let mut closing = Vec::new();
    {
        let mut idle = IDLE.lock().unwrap_or_else(|p| p.into_inner());
        let same = idle.iter().filter(|i| i.index == index).count();
        if same >= MAX_PER_INDEX
            && let Some(at) = idle.iter().position(|i| i.index == index)
        {
            closing.extend(idle.remove(at));
        }
        idle.push_back(Idle {
            index: index.to_path_buf(),
            inode,
            conn,
        });
        while idle.len() > MAX_IDLE {
            closing.extend(idle.pop_front());
        }
    }
    // Closed outside the lock.
    drop(closing);
}

/// Closes every kept connection (the server went quiet).
pub(crate) fn close_idle() {
    let closing = std::mem::take(&mut *IDLE.lock().unwrap_or_else(|p| p.into_inner()));
    drop(closing);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_handed_out_again_only_for_the_same_index_file() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("i.sqlite");
        let conn = Connection::open(&index).unwrap();
        give_back(&index, 7, conn);
        assert!(take(&index, 8).is_none(), "another file at the same path");
        assert!(take(&dir.path().join("other"), 7).is_none());
        assert!(take(&index, 7).is_some());
        assert!(take(&index, 7).is_none(), "handed out once");
    }

    #[test]
    fn at_most_two_are_kept_per_index() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("i.sqlite");
        for _ in 0..3 {
            give_back(&index, 1, Connection::open(&index).unwrap());
        }
        assert!(take(&index, 1).is_some());
        assert!(take(&index, 1).is_some());
        assert!(take(&index, 1).is_none());
    }
}
