//! Open mailboxes kept for the next delivery. Opening one costs more than
//! delivering into it: the index's files, its schema check, the special
//! folders, and SQLite checkpointing and removing the WAL when the last
//! connection closes. SMTP delivers many messages to the same few
//! mailboxes, so it takes a handle from here and gives it back.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Result;
use crate::mailbox::{Mailbox, Quota};

/// Idle handles, most recently used last; at most `max_idle` are kept.
#[derive(Debug)]
pub struct Pool {
    idle: Mutex<VecDeque<(PathBuf, Mailbox)>>,
    max_idle: usize,
}

impl Pool {
    pub fn new(max_idle: usize) -> Pool {
        Pool {
            idle: Mutex::new(VecDeque::new()),
            max_idle,
        }
    }

    /// Runs `work` on the mailbox at `dir` with `quota`: an idle handle
    /// when there is one for it, else a newly opened one. Concurrent calls
    /// for the same mailbox each get their own handle.
    pub fn with<T>(
        &self,
        dir: &Path,
        quota: Quota,
        work: impl FnOnce(&mut Mailbox) -> Result<T>,
    ) -> Result<T> {
        let taken = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.iter()
                .rposition(|(d, _)| d == dir)
                .and_then(|i| idle.remove(i))
        };
        let mut mailbox = match taken {
            // A handle whose index was removed meanwhile (account deleted
            // and made again) would write into a deleted file.
            Some((_, mut mb)) if mb.index_is_current() => {
                mb.set_quota(quota);
                mb
            }
            _ => Mailbox::open(dir, quota)?,
        };
        let result = work(&mut mailbox);
        if result.is_ok() && self.max_idle > 0 {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.push_back((dir.to_path_buf(), mailbox));
            while idle.len() > self.max_idle {
                idle.pop_front();
            }
        }
        result
    }

    /// Closes every idle handle (the server went quiet; see `Mailbox` for
    /// what a handle holds).
    pub fn clear(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        drop(idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Flags;

    const MSG: &[u8] = b"Subject: x\r\n\r\nbody\r\n";

    #[test]
    fn handles_are_reused_and_a_removed_mailbox_is_opened_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("u");
        let pool = Pool::new(4);
        let put = |pool: &Pool| {
            pool.with(&root, Quota::default(), |mb| {
                mb.append("INBOX", MSG, &Flags::new(), None)
            })
            .unwrap()
        };
        assert_eq!(put(&pool).uid, 1);
        assert_eq!(put(&pool).uid, 2);
        assert_eq!(pool.idle.lock().unwrap().len(), 1, "one handle, reused");
        // The account is deleted and made again: the old handle is not used.
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(put(&pool).uid, 1);
        let mb = Mailbox::open(&root, Quota::default()).unwrap();
        assert_eq!(mb.messages("INBOX").unwrap().len(), 1);
    }

    #[test]
    fn at_most_max_idle_handles_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::new(2);
        for i in 0..5 {
            pool.with(&dir.path().join(format!("u{i}")), Quota::default(), |_| {
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(pool.idle.lock().unwrap().len(), 2);
        pool.clear();
        assert!(pool.idle.lock().unwrap().is_empty());
    }
}
