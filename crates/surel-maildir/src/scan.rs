//! Reconciling the index with the files: messages added, removed, moved
//! between new/ and cur/ or re-flagged behind surel's back (another tool, a
//! copied-in export, a crash between a rename and the index update). New
//! files get new UIDs after all existing ones; nothing is renumbered.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rusqlite::{OptionalExtension, params};

use crate::deliver::{insert_message, next_uid};
use crate::error::{Error, Result};
use crate::filename;
use crate::flags::Flags;
use crate::mailbox::{Durability, Mailbox, commit, folder_messages};
use crate::messages::{delete_row, next_modseq};
use crate::notify::Event;
use crate::parse;

/// Files left in tmp/ longer than this are debris of interrupted writes.
const TMP_MAX_AGE: Duration = Duration::from_secs(36 * 3600);

/// What a rescan changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rescan {
    pub added: Vec<u32>,
    pub removed: Vec<u32>,
    pub reflagged: Vec<u32>,
}

struct OnDisk {
    in_new: bool,
    letters: String,
    file: String,
}

/// What a folder's scan mark records: the modification times of `new/` and
/// `cur/`, and this process. A mark made by another process (or before a
/// crash or restart) never matches, so each process scans a folder once
/// before trusting its own marks: a crash between a file operation and its
/// commit leaves a change the mark cannot show when the directory's time
/// did not move (coarse timestamps: a change in the same clock tick).
fn mtime_stamp(dir: &Path) -> String {
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let process = PROCESS.get_or_init(rand::random);
    let mut stamp = ["new", "cur"]
        .iter()
        .map(|d| {
            fs::metadata(dir.join(d))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos())
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("/");
    stamp.push_str(&format!("@{process:x}"));
    stamp
}

fn read_files(dir: &Path, in_new: bool, out: &mut HashMap<String, OnDisk>) -> Result<()> {
    let sub = dir.join(if in_new { "new" } else { "cur" });
    let entries = match fs::read_dir(&sub) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(sub)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io(&sub))?;
        let Some(file) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if file.starts_with('.') {
            continue;
        }
        let (base, letters) = filename::split(&file);
        out.insert(
            base.to_string(),
            OnDisk {
                in_new,
                letters: letters.to_string(),
                file: file.clone(),
            },
        );
    }
    Ok(())
}

fn clean_tmp(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir.join("tmp")) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > TMP_MAX_AGE);
        if old && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The (device, inode) of every indexed message file in every folder.
fn indexed_inodes(root: &Path, tx: &rusqlite::Transaction<'_>) -> Result<HashSet<(u64, u64)>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT f.name, {} FROM messages m JOIN folders f ON f.id = m.folder_id",
        crate::mailbox::META_COLUMNS
            .split(", ")
            .map(|c| format!("m.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = HashSet::new();
    while let Some(row) = rows.next()? {
        let folder: String = row.get(0)?;
        let meta = crate::mailbox::meta_row_at(row, 1)?;
        if let Ok(m) = fs::metadata(crate::mailbox::message_path_in(root, &folder, &meta)) {
            out.insert((m.dev(), m.ino()));
        }
    }
    Ok(out)
}

/// Whether the index's scan mark for the folder at `dir` matches its
/// directories now. Changes surel makes itself (in the writer's turn) keep
/// the mark when it matched before them, so the next `Mailbox::sync` does
/// not read the folder again for mail surel itself put there.
pub(crate) fn in_sync(tx: &rusqlite::Transaction<'_>, folder_id: i64, dir: &Path) -> Result<bool> {
    let mark: Option<String> = tx
        .prepare_cached("SELECT scan_stamp FROM folders WHERE id = ?1")?
        .query_row([folder_id], |r| r.get(0))?;
    Ok(mark.is_some_and(|m| m == mtime_stamp(dir)))
}

/// Marks the folder at `dir` scanned as its directories are now.
pub(crate) fn mark_scanned(
    tx: &rusqlite::Transaction<'_>,
    folder_id: i64,
    dir: &Path,
) -> Result<()> {
    tx.prepare_cached("UPDATE folders SET scan_stamp = ?2 WHERE id = ?1")?
        .execute(params![folder_id, mtime_stamp(dir)])?;
    Ok(())
}

/// Marks the folder as needing a scan at its next `Mailbox::sync`.
pub(crate) fn unmark_scanned(tx: &rusqlite::Transaction<'_>, folder_id: i64) -> Result<()> {
    tx.prepare_cached("UPDATE folders SET scan_stamp = NULL WHERE id = ?1")?
        .execute([folder_id])?;
    Ok(())
}

/// Takes `uid` and a new modseq for a message being indexed again, if the
/// folder has not given that UID out yet (UIDNEXT is at or below it).
fn take_uid(
    tx: &rusqlite::Transaction<'_>,
    folder_id: i64,
    uid: u32,
) -> rusqlite::Result<Option<(i64, i64)>> {
    tx.prepare_cached(
        "UPDATE folders SET uidnext = ?2 + 1, highestmodseq = highestmodseq + 1
         WHERE id = ?1 AND uidnext <= ?2 RETURNING ?2, highestmodseq",
    )?
    .query_row(params![folder_id, uid], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()
}

impl Mailbox {
    /// Rescans a folder if its directories changed since the last scan.
    pub fn sync(&mut self, folder: &str) -> Result<Rescan> {
        let f = self.folder(folder)?;
        let stamp = mtime_stamp(&self.folder_dir(&f.name));
        let last: Option<String> = self
            .db()?
            .prepare_cached("SELECT scan_stamp FROM folders WHERE id = ?1")?
            .query_row([f.id], |r| r.get(0))?;
        if last.as_deref() == Some(stamp.as_str()) {
            return Ok(Rescan::default());
        }
        self.rescan(folder)
    }

    /// Compares the folder's files with its index and makes the index agree.
    pub fn rescan(&mut self, folder: &str) -> Result<Rescan> {
        let f = self.folder(folder)?;
        let dir = self.folder_dir(&f.name);
        clean_tmp(&dir);
        let mut result = Rescan::default();
        let root = self.root.clone();
        // All in the writer's turn: surel's own writers rename, link and
        // unlink files only in theirs, so the listing and the rows agree
        // on them (a delivery between the listing and reading the rows
        // would look like a message removed behind surel's back).
        // Committed without fsync, then the WAL is fsynced if anything
        // but the scan mark changed: a mark lost to a crash costs one
        // more scan.
        self.with_turn(|conn| {
            commit(conn, Durability::Unsynced, |tx| {
        let stamp = mtime_stamp(&dir);
        let mut disk = HashMap::new();
        read_files(&dir, true, &mut disk)?;
        read_files(&dir, false, &mut disk)?;
        let known = folder_messages(tx, f.id)?;
            for meta in &known {
                match disk.remove(&meta.base) {
                    None => {
                        delete_row(tx, f.id, meta.uid)?;
                        result.removed.push(meta.uid);
                    }
                    Some(file) => {
                        let letters = Flags::from_maildir_letters(&file.letters);
                        let flags = meta.flags.with_system_of(&letters);
                        if file.in_new != meta.in_new || flags != meta.flags {
                            let modseq = next_modseq(tx, f.id)?;
                            tx.execute(
                                "UPDATE messages SET in_new = ?3, sys = ?4, modseq = ?5 WHERE folder_id = ?1 AND uid = ?2",
                                params![f.id, meta.uid, file.in_new, flags.bits(), modseq],
                            )?;
                            result.reflagged.push(meta.uid);
                        }
                    }
                }
            }
            // Files named with the UID their delivery took, whose index row a
            // power loss undid, first and under that UID (`take_uid` refuses
            // one the folder already gave out); then the others in name order:
            // Dovecot names start with the delivery time.
            let mut new_files: Vec<(Option<u32>, String, OnDisk)> = disk
                .into_iter()
                .map(|(base, file)| (filename::uid_hint(&base), base, file))
                .collect();
            new_files.sort_by(|a, b| (a.0.is_none(), a.0, &a.1).cmp(&(b.0.is_none(), b.0, &b.1)));
            let mut linked: Option<HashSet<(u64, u64)>> = None;
            for (hint, base, file) in new_files {
                let path = dir
                    .join(if file.in_new { "new" } else { "cur" })
                    .join(&file.file);
                // COPY and MOVE hard-link the file into the target folder. A
                // crash between the link and the index (or, for MOVE, between
                // the index and removing the source) leaves a second link that
                // no row names while another row names its inode: the leftover
                // of an unfinished command, not new mail. Indexing it would
                // show the message twice; it is removed instead.
                if let Ok(m) = fs::metadata(&path)
                    && m.nlink() > 1
                {
                    let known = match &linked {
                        Some(set) => set,
                        None => linked.insert(indexed_inodes(&root, tx)?),
                    };
                    if known.contains(&(m.dev(), m.ino())) {
                        tracing::info!(path = %path.display(), "removing the leftover link of an interrupted COPY or MOVE");
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                }
                let raw = match fs::read(&path) {
                    Ok(raw) => raw,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Error::io(path)(e)),
                };
                let internal_date = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs() as i64);
                let taken = match hint {
                    Some(uid) => take_uid(tx, f.id, uid)?,
                    None => None,
                };
                let (uid, modseq): (i64, i64) = match taken {
                    Some(taken) => taken,
                    None => next_uid(tx, f.id)?,
                };
                let flags = Flags::from_maildir_letters(&file.letters);
                let vsize = filename::sizes(&base)
                    .1
                    .unwrap_or_else(|| filename::crlf_size(&raw));
                let cached = parse::parse(&raw);
                insert_message(
                    tx,
                    f.id,
                    uid,
                    &base,
                    file.in_new,
                    &flags,
                    modseq,
                    internal_date,
                    raw.len() as u64,
                    vsize,
                    &cached,
                )?;
                result.added.push(uid as u32);
            }
            tx.execute(
                "UPDATE folders SET scan_stamp = ?2 WHERE id = ?1",
                params![f.id, stamp],
            )?;
            Ok(())
        })
        })?;
        if result != Rescan::default() {
            self.sync_wal()?;
        }
        for &uid in &result.added {
            self.notify(&f.name, Event::New { uid });
        }
        for &uid in &result.removed {
            self.notify(&f.name, Event::Expunged { uid });
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Flags;
    use crate::mailbox::Quota;
    use crate::messages::FlagChange;

    const MSG: &[u8] = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

    fn marked(mb: &Mailbox, folder: &str) -> bool {
        let f = mb.folder(folder).unwrap();
        let mark: Option<String> = mb
            .db()
            .unwrap()
            .query_row(
                "SELECT scan_stamp FROM folders WHERE id = ?1",
                [f.id],
                |r| r.get(0),
            )
            .unwrap();
        mark == Some(mtime_stamp(&mb.folder_dir(&f.name)))
    }

    #[test]
    fn surel_s_own_changes_keep_a_scanned_folder_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
        mb.sync("INBOX").unwrap();
        mb.sync("Trash").unwrap();
        mb.deliver(MSG).unwrap();
        mb.append("INBOX", MSG, &Flags::from_maildir_letters("S"), None)
            .unwrap();
        mb.deliver(MSG).unwrap();
        mb.store_flags(
            "INBOX",
            &[1],
            FlagChange::Add,
            &Flags::from_maildir_letters("F"),
            None,
        )
        .unwrap();
        mb.copy("INBOX", &[1], "Trash").unwrap();
        mb.move_messages("INBOX", &[2], "Trash").unwrap();
        mb.store_flags(
            "INBOX",
            &[3],
            FlagChange::Add,
            &Flags::from_maildir_letters("T"),
            None,
        )
        .unwrap();
        mb.expunge("INBOX", None).unwrap();
        assert!(marked(&mb, "INBOX"));
        assert!(marked(&mb, "Trash"));
        assert_eq!(mb.sync("INBOX").unwrap(), Rescan::default());

        // What another tool puts there is still found.
        std::thread::sleep(Duration::from_millis(20));
        fs::write(dir.path().join("new").join("1700000000.M1P1.other"), MSG).unwrap();
        assert!(!marked(&mb, "INBOX"));
        assert_eq!(mb.sync("INBOX").unwrap().added, vec![4]);
        let trash: Vec<u32> = mb
            .messages("Trash")
            .unwrap()
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(trash, vec![1, 2]);
    }
}
