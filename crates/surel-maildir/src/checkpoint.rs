//! Index checkpoints on a thread of their own. SQLite copies the WAL into
//! the index inside the commit that takes the log past its limit, and that
//! commit waits for three more fsyncs (the log, the index, the log again):
//! one 1 KB delivery in every dozen answered its 250 late, which was the
//! one-connection p99. Commits now only ask, and this thread checkpoints
//! while the sessions go on: a passive checkpoint takes no lock that a
//! writer waits for.

use std::collections::VecDeque;
use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use rusqlite::Connection;
use rusqlite::hooks::Wal;

use crate::conns;
use crate::error::Result;
use crate::mailbox::{connect_existing, is_file_with_inode};

/// WAL pages after which the log is checkpointed. A connection that opens
/// an index nobody else has open rebuilds SQLite's WAL index by reading
/// every frame since the last checkpoint: with SQLite's 1000 pages, 4 MB
/// at each IMAP login and each end of IDLE, a third of surel's CPU in a
/// busy session mix. 64 pages (256 KB) keep that read short.
const LIMIT_PAGES: c_int = 64;
/// Past this the commit checkpoints itself, as SQLite would: the thread
/// is behind (many busy accounts) or stuck, and the log must not grow
/// without bound.
const HARD_LIMIT_PAGES: c_int = 16 * LIMIT_PAGES;

#[derive(Default)]
struct Queue {
    /// Index files (path and inode) whose log is past the limit, oldest
    /// request first.
    pending: VecDeque<(PathBuf, u64)>,
    started: bool,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    pending: VecDeque::new(),
    started: false,
});
static WAKE: Condvar = Condvar::new();

fn queue() -> MutexGuard<'static, Queue> {
    QUEUE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Has `db`, a connection to the index `index` (inode `inode`), ask for a
/// checkpoint when a commit leaves its log past the limit. Replaces
/// SQLite's own checkpoints on commit.
pub(crate) fn watch(db: &mut Connection, index: &Path, inode: u64) -> Result<()> {
    let index = index.to_path_buf();
    db.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
        if pages >= HARD_LIMIT_PAGES || (pages >= LIMIT_PAGES && !request(&index, inode)) {
            // Here, as SQLite would. Its result is ignored as SQLite's own
            // hook ignores it: the commit is done, and an error (BUSY while
            // another checkpoint runs) would be reported as the commit's.
            let _ = wal.checkpoint();
        }
        Ok(())
    }))?;
    Ok(())
}

/// Queues a checkpoint of `index`; false when the thread could not start.
fn request(index: &Path, inode: u64) -> bool {
    let mut queue = queue();
    if !queue.started {
        let spawned = std::thread::Builder::new()
            .name("surel-checkpoint".into())
            .spawn(run);
        if spawned.is_err() {
            return false;
        }
        queue.started = true;
    }
    if !queue
        .pending
        .iter()
        .any(|(path, ino)| *ino == inode && path == index)
    {
        queue.pending.push_back((index.to_path_buf(), inode));
        WAKE.notify_one();
    }
    true
}

fn run() {
    loop {
        let (index, inode) = {
            let mut queue = queue();
            loop {
                if let Some(next) = queue.pending.pop_front() {
                    break next;
                }
                queue = WAKE.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
        };
        if let Err(e) = checkpoint(&index, inode) {
            tracing::warn!(index = %index.display(), error = %e, "index checkpoint failed; the next commit asks again");
        }
    }
}

/// Copies what it can of the log of `index` into it.
fn checkpoint(index: &Path, inode: u64) -> Result<()> {
    // The account may be gone, or its index made again, since it asked.
    if !is_file_with_inode(index, inode) {
        return Ok(());
    }
    let conn = match conns::take(index, inode) {
        Some(conn) => conn,
        None => connect_existing(index, inode)?,
    };
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    // Kept like any handle's: the next checkpoint or session of this
    // index takes it instead of opening one (a busy mailbox asks every
    // dozen deliveries); the pool bounds how many stay.
    conns::give_back(index, inode, conn);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::{Mailbox, Quota, schema};

    /// Deliveries commit without checkpointing; the thread copies their
    /// log into the index file, which grows only then.
    #[test]
    fn a_growing_log_is_copied_into_the_index_by_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
        let index = dir.path().join(schema::INDEX_FILE);
        let made = std::fs::metadata(&index).unwrap().len();
        let msg = b"From: a@b.go.id\r\nSubject: x\r\n\r\nisi\r\n";
        for _ in 0..100 {
            mb.deliver(msg).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&index).unwrap().len() == made {
            assert!(Instant::now() < deadline, "no checkpoint in 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
