//! Writing a new message (SMTP delivery, IMAP APPEND): tmp, fsync, rename
//! into new (or cur when it has flags), fsync the directory, then the index.
//! Success is returned only after all of it, so an acknowledged message is
//! on disk; an interrupted one is either absent or whole, never half.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use rusqlite::{TransactionBehavior, params};

use crate::error::{Error, Result};
use crate::filename;
use crate::flags::Flags;
use crate::mailbox::{Mailbox, now_secs, sync_dir};
use crate::notify::Event;
use crate::parse;

/// Where a new message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub uidvalidity: u32,
    pub uid: u32,
}

#[cfg(test)]
thread_local! {
    /// Test hook: stop the write path after this step (1 = tmp written,
    /// 2 = fsynced, 3 = renamed, 4 = directory fsynced).
    pub(crate) static STOP_AFTER: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

fn step(_n: u8) -> Result<()> {
    #[cfg(test)]
    if STOP_AFTER.with(|s| s.get()) == _n {
        return Err(Error::Io {
            path: "interrupted".into(),
            source: std::io::Error::other("interrupted by test"),
        });
    }
    Ok(())
}

impl Mailbox {
    /// Delivers a message into INBOX (SMTP).
    pub fn deliver(&mut self, raw: &[u8]) -> Result<Appended> {
        self.append("INBOX", raw, &Flags::new(), None)
    }

    /// Stores a message in `folder` with `flags` and an INTERNALDATE
    /// (seconds since the epoch; now when None).
    pub fn append(
        &mut self,
        folder: &str,
        raw: &[u8],
        flags: &Flags,
        internal_date: Option<i64>,
    ) -> Result<Appended> {
        let f = self.folder(folder)?;
        let size = raw.len() as u64;
        let vsize = filename::crlf_size(raw);
        self.check_quota(size, 1)?;
        let cached = parse::parse(raw);
        let dir = self.folder_dir(&f.name);
        let base = filename::new_base(size, vsize);

        let tmp = dir.join("tmp").join(&base);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(Error::io(&tmp))?;
        let written = file.write_all(raw).map_err(Error::io(&tmp));
        let result = written
            .and_then(|()| step(1))
            .and_then(|()| file.sync_all().map_err(Error::io(&tmp)))
            .and_then(|()| step(2));
        drop(file);
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }

        let in_new = flags.maildir_letters().is_empty();
        let (target_dir, target) = if in_new {
            (dir.join("new"), dir.join("new").join(&base))
        } else {
            let name = format!("{base}:2,{}", flags.maildir_letters());
            (dir.join("cur"), dir.join("cur").join(name))
        };
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(&target)(e));
        }
        let indexed = step(3)
            .and_then(|()| sync_dir(&target_dir))
            .and_then(|()| step(4))
            .and_then(|()| {
                let writer = std::sync::Arc::clone(&self.writer);
                let _turn = writer.lock().unwrap_or_else(|p| p.into_inner());
                let tx = self
                    .conn
                    .as_mut()
                    .ok_or(Error::Parked)?
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let (uid, modseq): (i64, i64) = next_uid(&tx, f.id)?;
                insert_message(
                    &tx,
                    f.id,
                    uid,
                    &base,
                    in_new,
                    flags,
                    modseq,
                    internal_date.unwrap_or_else(now_secs),
                    size,
                    vsize,
                    &cached,
                )?;
                tx.commit()?;
                Ok(uid as u32)
            });
        match indexed {
            Ok(uid) => {
                self.notify(&f.name, Event::New { uid });
                Ok(Appended {
                    uidvalidity: f.uidvalidity,
                    uid,
                })
            }
            Err(e) => {
                // Not acknowledged: take the file back so a retry does not
                // leave a duplicate. (If this fails too, the next rescan
                // indexes the message: whole, never half.)
                let _ = fs::remove_file(&target);
                Err(e)
            }
        }
    }
}

/// Takes the folder's next UID and a new modseq for a message being added
/// (inside the caller's transaction, so a rollback gives both back).
pub(crate) fn next_uid(
    tx: &rusqlite::Transaction<'_>,
    folder_id: i64,
) -> rusqlite::Result<(i64, i64)> {
    tx.query_row(
        "UPDATE folders SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
         WHERE id = ?1 RETURNING uidnext - 1, highestmodseq",
        [folder_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Inserts one index row with its cache.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_message(
    tx: &rusqlite::Transaction<'_>,
    folder_id: i64,
    uid: i64,
    base: &str,
    in_new: bool,
    flags: &Flags,
    modseq: i64,
    internal_date: i64,
    size: u64,
    vsize: u64,
    cached: &parse::Cached,
) -> Result<()> {
    let mime = serde_json::to_string(&cached.mime).unwrap_or_else(|_| "{}".into());
    let fields = &cached.fields;
    tx.prepare_cached(
        "INSERT INTO messages (folder_id, uid, base, in_new, sys, keywords, modseq, internal_date, size, vsize,
           header, mime, subject, from_addr, to_addr, cc_addr, bcc_addr, sent_date, message_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
        folder_id,
        uid,
        base,
        in_new,
        flags.bits(),
        flags.keywords_text(),
        modseq,
        internal_date,
        size as i64,
        vsize as i64,
        cached.header,
        mime,
        fields.subject,
        fields.from,
        fields.to,
        fields.cc,
        fields.bcc,
        fields.date,
        fields.message_id
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::Quota;

    const MSG: &[u8] = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

    fn files(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["tmp", "new", "cur"] {
            for e in fs::read_dir(dir.join(sub)).unwrap() {
                out.push(format!(
                    "{sub}/{}",
                    e.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        out
    }

    #[test]
    fn a_delivery_interrupted_at_any_step_leaves_nothing_half_done() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
        for stop in 1..=4 {
            STOP_AFTER.with(|s| s.set(stop));
            assert!(mb.deliver(MSG).is_err(), "step {stop}");
            STOP_AFTER.with(|s| s.set(0));
            assert!(
                files(dir.path()).is_empty(),
                "step {stop}: {:?}",
                files(dir.path())
            );
            assert!(mb.messages("INBOX").unwrap().is_empty());
            // Nothing for a rescan to find either: absent, not half.
            assert!(mb.rescan("INBOX").unwrap().added.is_empty());
        }
        let ok = mb.deliver(MSG).unwrap();
        assert_eq!(ok.uid, 1, "failed attempts used no UID");
        assert_eq!(mb.read("INBOX", 1).unwrap(), MSG);
    }

    #[test]
    fn a_crash_after_the_rename_leaves_a_whole_message_the_rescan_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
        mb.deliver(MSG).unwrap();
        // As if the process died between the rename into new/ and the index.
        let base = crate::filename::new_base(MSG.len() as u64, MSG.len() as u64);
        fs::write(dir.path().join("new").join(&base), MSG).unwrap();
        // And a half-written file in tmp/ that never got renamed.
        fs::write(dir.path().join("tmp").join("half"), &MSG[..10]).unwrap();
        let scan = mb.rescan("INBOX").unwrap();
        assert_eq!(scan.added, vec![2]);
        assert_eq!(mb.read("INBOX", 2).unwrap(), MSG);
        assert_eq!(
            mb.messages("INBOX").unwrap().len(),
            2,
            "the tmp file is never a message"
        );
    }
}
