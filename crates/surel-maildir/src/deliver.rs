//! Writing a new message (SMTP delivery, IMAP APPEND): write and fsync it
//! unnamed (see `staged.rs`; named in tmp/ where that is not possible),
//! then in one turn of the index writer take its UID, link it into new/
//! (cur/ when it has flags) under a name with that UID, and index it;
//! then fsync the directory. Success is returned only after all of it, so
//! an acknowledged message is on disk; an interrupted one is either absent
//! or whole, never half.
//!
//! The index commit of a new message is not fsynced (SQLite's
//! `synchronous = NORMAL`, as Dovecot's default `mail_fsync = optimized`
//! leaves its index and uidlist unsynced): the file and its directory entry
//! are what must survive, and they carry everything the index row holds,
//! the UID included. A power loss can only cost the index its last
//! unsynced commits; the first open after the reboot rescans and indexes
//! those files again under the UIDs their names record (see
//! `Mailbox::recover_after_reboot`). This takes one fsync (~0.25 ms) out of
//! every delivery's acknowledgement, and out of the writer's turn.

use std::fs;
use std::io::Write;

use rusqlite::params;

use crate::error::{Error, Result};
use crate::filename;
use crate::flags::Flags;
use crate::mailbox::{Durability, Mailbox, commit, now_secs, sync_dir};
use crate::notify::Event;
use crate::parse;
use crate::scan::{in_sync, mark_scanned};
use crate::staged::Staged;

/// Where a new message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub uidvalidity: u32,
    pub uid: u32,
}

#[cfg(test)]
thread_local! {
    /// Test hook: stop the write path after this step (1 = tmp written,
    /// 2 = fsynced, 3 = named in new/, 4 = indexed: the directory fsync fails).
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

        let tmp = dir.join("tmp");
        let mut staged = match Staged::create(&tmp, &base) {
            // The index knows the folder but its directories are gone (a
            // crash soon after they were made, before the disk had them,
            // or removed by hand): make them again rather than refuse
            // every message from now on.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::create::make_folder(&self.root, &f.name)?;
                Staged::create(&tmp, &base)
            }
            staged => staged,
        }
        .map_err(Error::io(&tmp))?;
        let at = staged.describe(&tmp);
        let result = staged
            .file
            .write_all(raw)
            .map_err(Error::io(&at))
            .and_then(|()| step(1))
            .and_then(|()| staged.file.sync_all().map_err(Error::io(&at)))
            .and_then(|()| step(2));
        if let Err(e) = result {
            staged.discard();
            return Err(e);
        }

        let in_new = flags.maildir_letters().is_empty();
        let target_dir = dir.join(if in_new { "new" } else { "cur" });
        let mut published = None;
        let indexed = self.with_turn(|conn| {
            commit(conn, Durability::Unsynced, |tx| {
                let was_in_sync = in_sync(tx, f.id, &dir)?;
                let (uid, modseq): (i64, i64) = next_uid(tx, f.id)?;
                let named = filename::with_uid(&base, uid as u32);
                let target = if in_new {
                    target_dir.join(&named)
                } else {
                    target_dir.join(format!("{named}:2,{}", flags.maildir_letters()))
                };
                staged.publish(&target).map_err(Error::io(&target))?;
                published = Some(target);
                step(3)?;
                insert_message(
                    tx,
                    f.id,
                    uid,
                    &named,
                    in_new,
                    flags,
                    modseq,
                    internal_date.unwrap_or_else(now_secs),
                    size,
                    vsize,
                    &cached,
                )?;
                if was_in_sync {
                    mark_scanned(tx, f.id, &dir)?;
                }
                Ok(uid as u32)
            })
        });
        let acknowledged = indexed.and_then(|uid| {
            step(4)
                .and_then(|()| sync_dir(&target_dir))
                .map(|()| uid)
                .inspect_err(|_| {
                    // Indexed but not on disk for sure: take the file and
                    // then the row back (should that fail, a rescan drops
                    // a row whose file is gone).
                    if let Some(target) = &published {
                        let _ = fs::remove_file(target);
                    }
                    let _ = self.remove_row(f.id, uid);
                })
        });
        match acknowledged {
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
                if let Some(target) = &published {
                    let _ = fs::remove_file(target);
                }
                staged.discard();
                Err(e)
            }
        }
    }

    /// Deletes one index row (a delivery that could not be finished).
    fn remove_row(&mut self, folder_id: i64, uid: u32) -> Result<()> {
        self.write(|tx| crate::messages::delete_row(tx, folder_id, uid))
    }
}

/// Takes the folder's next UID and a new modseq for a message being added
/// (inside the caller's transaction, so a rollback gives both back).
pub(crate) fn next_uid(
    tx: &rusqlite::Transaction<'_>,
    folder_id: i64,
) -> rusqlite::Result<(i64, i64)> {
    tx.prepare_cached(
        "UPDATE folders SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
         WHERE id = ?1 RETURNING uidnext - 1, highestmodseq",
    )?
    .query_row([folder_id], |r| Ok((r.get(0)?, r.get(1)?)))
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
           header, mime, subject, from_addr, to_addr, cc_addr, bcc_addr, sent_date, message_id, envelope)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
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
        fields.message_id,
        cached.envelope.as_ref().map(crate::Envelope::to_bytes)
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
        interrupted_at_any_step();
    }

    #[test]
    fn so_does_one_written_under_a_name_in_tmp() {
        crate::staged::NAMED_ONLY.with(|n| n.set(true));
        interrupted_at_any_step();
    }

    fn interrupted_at_any_step() {
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
        assert_eq!(
            ok.uid, 2,
            "only the attempt that got as far as the index used a UID"
        );
        assert_eq!(mb.read("INBOX", 2).unwrap(), MSG);
    }

    #[test]
    fn a_crash_after_the_rename_leaves_a_whole_message_the_rescan_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
        mb.deliver(MSG).unwrap();
        // As if the process died between naming the file in new/ and indexing it.
        let base = crate::filename::new_base(MSG.len() as u64, MSG.len() as u64);
        fs::write(dir.path().join("new").join(&base), MSG).unwrap();
        // And a half-written file in tmp/ that never got published.
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

    #[test]
    fn after_a_power_loss_the_commits_the_index_lost_come_back_under_the_same_uids() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
        let msgs: Vec<Vec<u8>> = (1..=3)
            .map(|i| format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes())
            .collect();
        for m in &msgs {
            mb.deliver(m).unwrap();
        }
        drop(mb);
        // As if the power failed before the unsynced commits of UIDs 2 and
        // 3 reached the disk (their files were fsynced), and the system
        // booted again.
        let db = rusqlite::Connection::open(dir.path().join(crate::schema::INDEX_FILE)).unwrap();
        db.execute_batch(
            "DELETE FROM messages WHERE uid >= 2;
             UPDATE folders SET uidnext = 2 WHERE name = 'INBOX';
             UPDATE meta SET value = 'an earlier boot' WHERE key = 'boot';",
        )
        .unwrap();
        drop(db);

        let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
        let uids: Vec<u32> = mb
            .messages("INBOX")
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(uids, vec![1, 2, 3]);
        for (uid, m) in (1..).zip(&msgs) {
            assert_eq!(&mb.read("INBOX", uid).unwrap(), m, "UID {uid}");
        }
        assert_eq!(mb.deliver(MSG).unwrap().uid, 4, "no UID given twice");
    }

    #[test]
    fn a_file_naming_a_uid_already_given_out_gets_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
        mb.deliver(MSG).unwrap();
        mb.deliver(MSG).unwrap();
        // Copied in by hand from another folder, name and all.
        let base = crate::filename::with_uid(&crate::filename::new_base(3, 3), 1);
        fs::write(dir.path().join("new").join(base), b"x\r\n").unwrap();
        assert_eq!(mb.rescan("INBOX").unwrap().added, vec![3]);
        assert_eq!(mb.read("INBOX", 1).unwrap(), MSG);
        assert_eq!(mb.read("INBOX", 3).unwrap(), b"x\r\n");
    }
}
