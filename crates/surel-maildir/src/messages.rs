//! Reading and changing stored messages: fetch, flags (with CONDSTORE
//! modseq), copy and move (atomic, new UIDs), expunge, search helpers.

use std::fs;
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use crate::deliver::next_uid;
use crate::error::{Error, Result};
use crate::flags::Flags;
use crate::mailbox::{
    Durability, Mailbox, MessageMeta, commit, message_path_in, meta_row, sync_dir,
};
use crate::notify::Event;
use crate::parse::{Cached, Fields, MimePart};
use crate::scan::{in_sync, mark_scanned, unmark_scanned};

/// How STORE changes flags (RFC 9051 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    Set,
    Add,
    Remove,
}

/// The outcome of a STORE over several messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// Messages whose flags are now as given, with their new modseq.
    pub updated: Vec<MessageMeta>,
    /// UIDs refused by UNCHANGEDSINCE (RFC 7162 §3.1.3: MODIFIED).
    pub modified: Vec<u32>,
}

/// Old and new UIDs of a COPY or MOVE (RFC 4315 COPYUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub uidvalidity: u32,
    pub uids: Vec<(u32, u32)>,
}

/// A new file made for a copy, taken back if the copy fails.
struct Placed {
    path: PathBuf,
    source: MessageMeta,
}

impl Mailbox {
    /// The whole message as stored.
    pub fn read(&self, folder: &str, uid: u32) -> Result<Vec<u8>> {
        let meta = self.message(folder, uid)?;
        let path = self.message_path(&self.folder(folder)?.name, &meta);
        match fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NoSuchMessage(uid)),
            Err(e) => Err(Error::io(path)(e)),
        }
    }

    /// The cached header block, MIME structure and search fields.
    pub fn cached(&self, folder: &str, uid: u32) -> Result<Cached> {
        let f = self.folder(folder)?;
        let mut stmt = self.db()?.prepare_cached(
            "SELECT header, mime, subject, from_addr, to_addr, cc_addr, bcc_addr, sent_date, message_id, envelope
             FROM messages WHERE folder_id = ?1 AND uid = ?2",
        )?;
        stmt.query_row(params![f.id, uid], |r| {
            let mut cached = cached_row(r)?;
            cached.envelope = envelope_at(r, 9)?;
            Ok(cached)
        })
        .optional()?
        .ok_or(Error::NoSuchMessage(uid))
    }

    /// The caches of `uids` (None for one expunged meanwhile), read in one
    /// snapshot of the index: a FETCH of many messages reads them in
    /// batches. Ascending UIDs without big gaps (`1:*`) are read as one
    /// range, others one by one. Only the `parts` asked for are read, the
    /// others left empty (a message without stored ENVELOPE fields gets its
    /// header, which stands in for them). The search fields are always left
    /// empty: FETCH does not use them.
    pub fn cached_many(
        &self,
        folder: &str,
        uids: &[u32],
        parts: CacheParts,
    ) -> Result<Vec<Option<Cached>>> {
        let f = self.folder(folder)?;
        let mut out: Vec<Option<Cached>> = uids.iter().map(|_| None).collect();
        let (Some(&first), Some(&last)) = (uids.first(), uids.last()) else {
            return Ok(out);
        };
        let snapshot = self.db()?.unchecked_transaction()?;
        let row = |r: &rusqlite::Row<'_>| {
            let mut cached = header_row(r)?;
            if parts.envelope {
                cached.envelope = envelope_at(r, 2)?;
            }
            Ok(cached)
        };
        let ascending = uids.windows(2).all(|w| w[0] < w[1]);
        if ascending && (last - first) as usize <= uids.len() * 2 {
            let mut stmt = snapshot.prepare_cached(
                "SELECT CASE WHEN ?6 OR (?5 AND envelope IS NULL) THEN header ELSE x'' END,
                   CASE WHEN ?4 THEN mime ELSE '' END, CASE WHEN ?5 THEN envelope END, uid
                 FROM messages WHERE folder_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
            )?;
            let mut rows = stmt.query(params![
                f.id,
                first,
                last,
                parts.mime,
                parts.envelope,
                parts.header
            ])?;
            let mut i = 0;
            while let Some(r) = rows.next()? {
                let uid: u32 = r.get(3)?;
                while i < uids.len() && uids[i] < uid {
                    i += 1;
                }
                if i < uids.len() && uids[i] == uid {
                    out[i] = Some(row(r)?);
                }
            }
        } else {
            let mut stmt = snapshot.prepare_cached(
                "SELECT CASE WHEN ?5 OR (?4 AND envelope IS NULL) THEN header ELSE x'' END,
                   CASE WHEN ?3 THEN mime ELSE '' END, CASE WHEN ?4 THEN envelope END
                 FROM messages WHERE folder_id = ?1 AND uid = ?2",
            )?;
            for (slot, uid) in out.iter_mut().zip(uids) {
                *slot = stmt
                    .query_row(
                        params![f.id, uid, parts.mime, parts.envelope, parts.header],
                        row,
                    )
                    .optional()?;
            }
        }
        Ok(out)
    }

    /// Calls `visit` with the cache of every message with a UID in
    /// `first..=last`, in UID order, without loading them all at once.
    pub fn for_each_cached(
        &self,
        folder: &str,
        first: u32,
        last: u32,
        mut visit: impl FnMut(u32, Cached),
    ) -> Result<()> {
        let f = self.folder(folder)?;
        let mut stmt = self.db()?.prepare_cached(
            "SELECT header, mime, subject, from_addr, to_addr, cc_addr, bcc_addr, sent_date, message_id, uid
             FROM messages WHERE folder_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
        )?;
        let mut rows = stmt.query(params![f.id, first, last])?;
        while let Some(row) = rows.next()? {
            visit(row.get(9)?, cached_row(row)?);
        }
        Ok(())
    }

    /// Whether the decoded body text of a message contains `needle` (SEARCH
    /// BODY/TEXT). `meta` is as the caller last read it: its file is tried
    /// first, the index only when its flags (and so its name) changed since.
    pub fn body_contains(&self, folder: &str, meta: &MessageMeta, needle: &str) -> Result<bool> {
        let raw = match fs::read(self.message_path(folder, meta)) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.read(folder, meta.uid)?,
            Err(e) => return Err(Error::io(self.message_path(folder, meta))(e)),
        };
        Ok(crate::parse::body_contains(&raw, needle))
    }

    /// Changes flags of `uids`; with `unchanged_since`, only messages whose
    /// modseq is not above it (RFC 7162).
    pub fn store_flags(
        &mut self,
        folder: &str,
        uids: &[u32],
        change: FlagChange,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<Stored> {
        let f = self.folder(folder)?;
        let mut stored = Stored::default();
        let dir = self.root.join(crate::names::disk_name(&f.name));
        self.write(|tx| {
            let was_in_sync = in_sync(tx, f.id, &dir)?;
            for &uid in uids {
                let meta = tx
                    .prepare_cached(
                        "SELECT uid, sys, keywords, modseq, internal_date, vsize, size, base, in_new
                         FROM messages WHERE folder_id = ?1 AND uid = ?2",
                    )?
                    .query_row(params![f.id, uid], meta_row)
                    .optional()?;
                let Some(meta) = meta else { continue };
                if unchanged_since.is_some_and(|since| meta.modseq > since) {
                    stored.modified.push(uid);
                    continue;
                }
                let mut new = match change {
                    FlagChange::Set => Flags::new(),
                    FlagChange::Add | FlagChange::Remove => meta.flags.clone(),
                };
                for name in flags.names() {
                    if change == FlagChange::Remove {
                        new.remove(&name);
                    } else {
                        new.insert(&name);
                    }
                }
                if new == meta.flags {
                    stored.updated.push(meta);
                    continue;
                }
                // Keep the file name's letters in step with the system flags,
                // so other tools see them too.
                let from = if meta.in_new {
                    dir.join("new").join(&meta.base)
                } else {
                    dir.join("cur")
                        .join(format!("{}:2,{}", meta.base, meta.flags.maildir_letters()))
                };
                let to = dir
                    .join("cur")
                    .join(format!("{}:2,{}", meta.base, new.maildir_letters()));
                if from != to {
                    fs::rename(&from, &to).map_err(Error::io(&from))?;
                }
                let modseq = next_modseq(tx, f.id)?;
                tx.prepare_cached(
                    "UPDATE messages SET sys = ?3, keywords = ?4, modseq = ?5, in_new = 0 WHERE folder_id = ?1 AND uid = ?2",
                )?
                .execute(params![f.id, uid, new.bits(), new.keywords_text(), modseq])?;
                stored.updated.push(MessageMeta {
                    flags: new,
                    modseq: modseq as u64,
                    in_new: false,
                    ..meta
                });
            }
            if was_in_sync {
                mark_scanned(tx, f.id, &dir)?;
            }
            Ok(())
        })?;
        for m in &stored.updated {
            self.notify(
                &f.name,
                Event::Flags {
                    uid: m.uid,
                    modseq: m.modseq,
                },
            );
        }
        Ok(stored)
    }

    /// Copies messages to another folder; all or none (RFC 9051 §6.4.7).
    pub fn copy(&mut self, from: &str, uids: &[u32], to: &str) -> Result<Copied> {
        self.transfer(from, uids, to, false)
    }

    /// Moves messages to another folder (RFC 6851); all or none.
    pub fn move_messages(&mut self, from: &str, uids: &[u32], to: &str) -> Result<Copied> {
        self.transfer(from, uids, to, true)
    }

    fn transfer(&mut self, from: &str, uids: &[u32], to: &str, remove: bool) -> Result<Copied> {
        let src = self.folder(from)?;
        let dst = self.folder(to)?;
        let sources: Vec<MessageMeta> = uids
            .iter()
            .filter_map(|&uid| self.meta(src.id, uid).transpose())
            .collect::<Result<_>>()?;
        if !remove || src.id == dst.id {
            let bytes = sources.iter().map(|m| m.stored_size).sum();
            self.check_quota(bytes, sources.len() as u64)?;
        }
        let src_dir = self.folder_dir(&src.name);
        let dst_dir = self.folder_dir(&dst.name);
        if !dst_dir.join("cur").is_dir() {
            // Known to the index but gone from disk (see `append`).
            crate::create::make_folder(&self.root, &dst.name)?;
        }
        let root = self.root.clone();
        let mut placed: Vec<Placed> = Vec::new();
        // In the writer's turn, so a rescan of either folder sees the
        // links and the rows together (see `Mailbox::rescan`).
        let pairs = self.with_turn(|conn| {
            let mut src_in_sync = false;
            let committed = commit(conn, Durability::Synced, |tx| {
                src_in_sync = in_sync(tx, src.id, &src_dir)?;
                let dst_in_sync = in_sync(tx, dst.id, &dst_dir)?;
                let mut pairs = Vec::new();
                for meta in &sources {
                    let (uid, modseq): (i64, i64) = next_uid(tx, dst.id)?;
                    let source = message_path_in(&root, &src.name, meta);
                    let base = crate::filename::with_uid(
                        &crate::filename::new_base(meta.stored_size, meta.size),
                        uid as u32,
                    );
                    let target = dst_dir
                        .join("cur")
                        .join(format!("{base}:2,{}", meta.flags.maildir_letters()));
                    // A hard link shares the file (as Dovecot does); across
                    // file systems, copy it. Moves keep the same inode by
                    // linking too, and unlink the source only once the
                    // index agrees.
                    fs::hard_link(&source, &target)
                        .or_else(|_| {
                            fs::copy(&source, &target)
                                .and_then(|_| fs::File::open(&target)?.sync_all())
                        })
                        .map_err(|e| {
                            if e.kind() == std::io::ErrorKind::NotFound {
                                Error::NoSuchMessage(meta.uid)
                            } else {
                                Error::io(&target)(e)
                            }
                        })?;
                    placed.push(Placed {
                        path: target,
                        source: meta.clone(),
                    });
                    tx.prepare_cached(
                        "INSERT INTO messages (folder_id, uid, base, in_new, sys, keywords, modseq, internal_date, size, vsize,
                           header, mime, subject, from_addr, to_addr, cc_addr, bcc_addr, sent_date, message_id, envelope)
                         SELECT ?3, ?4, ?5, 0, sys, keywords, ?6, internal_date, size, vsize,
                           header, mime, subject, from_addr, to_addr, cc_addr, bcc_addr, sent_date, message_id, envelope
                         FROM messages WHERE folder_id = ?1 AND uid = ?2",
                    )?
                    .execute(params![src.id, meta.uid, dst.id, uid, base, modseq])?;
                    pairs.push((meta.uid, uid as u32));
                }
                sync_dir(&dst_dir.join("cur"))?;
                if remove {
                    for p in &placed {
                        delete_row(tx, src.id, p.source.uid)?;
                    }
                }
                if dst_in_sync {
                    mark_scanned(tx, dst.id, &dst_dir)?;
                }
                if remove {
                    // The source's files go after this commit: until they
                    // have, the folder must not count as scanned, or a
                    // crash in between would leave them unseen.
                    unmark_scanned(tx, src.id)?;
                }
                Ok(pairs)
            });
            let pairs = match committed {
                Ok(pairs) => pairs,
                Err(e) => {
                    for p in &placed {
                        let _ = fs::remove_file(&p.path);
                    }
                    return Err(e);
                }
            };
            if remove {
                for p in &placed {
                    let _ = fs::remove_file(message_path_in(&root, &src.name, &p.source));
                }
                // The source's rows went with the commit above; its scan
                // mark follows now that the files are gone. Losing this
                // mark to a crash costs one scan, nothing else.
                if src_in_sync {
                    commit(conn, Durability::Unsynced, |tx| {
                        mark_scanned(tx, src.id, &src_dir)
                    })?;
                }
            }
            Ok(pairs)
        })?;
        if remove {
            for p in &placed {
                self.notify(&src.name, Event::Expunged { uid: p.source.uid });
            }
        }
        for (_, uid) in &pairs {
            self.notify(&dst.name, Event::New { uid: *uid });
        }
        Ok(Copied {
            uidvalidity: dst.uidvalidity,
            uids: pairs,
        })
    }

    /// Removes the messages flagged \Deleted (only those in `uids` when
    /// given: UID EXPUNGE); returns the expunged UIDs in order.
    pub fn expunge(&mut self, folder: &str, uids: Option<&[u32]>) -> Result<Vec<u32>> {
        let f = self.folder(folder)?;
        let doomed: Vec<MessageMeta> = self
            .messages(&f.name)?
            .into_iter()
            .filter(|m| m.flags.is_deleted() && uids.is_none_or(|set| set.contains(&m.uid)))
            .collect();
        if doomed.is_empty() {
            return Ok(Vec::new());
        }
        let paths: Vec<PathBuf> = doomed
            .iter()
            .map(|m| self.message_path(&f.name, m))
            .collect();
        let dir = self.folder_dir(&f.name);
        self.write(|tx| {
            let was_in_sync = in_sync(tx, f.id, &dir)?;
            // Files first, then rows: a crash in between leaves rows without
            // files, which the next rescan drops. The other order would bring
            // expunged messages back.
            for path in &paths {
                if let Err(e) = fs::remove_file(path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "expunged message file could not be removed");
                }
            }
            for m in &doomed {
                delete_row(tx, f.id, m.uid)?;
            }
            if was_in_sync {
                mark_scanned(tx, f.id, &dir)?;
            }
            Ok(())
        })?;
        for m in &doomed {
            self.notify(&f.name, Event::Expunged { uid: m.uid });
        }
        Ok(doomed.iter().map(|m| m.uid).collect())
    }

    /// Messages added or re-flagged since `modseq`, in UID order (what a
    /// session must announce to catch up).
    pub fn changed_since(&self, folder: &str, modseq: u64) -> Result<Vec<MessageMeta>> {
        let f = self.folder(folder)?;
        let mut stmt = self.db()?.prepare_cached(
            "SELECT uid, sys, keywords, modseq, internal_date, vsize, size, base, in_new
             FROM messages WHERE folder_id = ?1 AND modseq > ?2 ORDER BY uid",
        )?;
        let rows = stmt
            .query_map(params![f.id, modseq as i64], meta_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// UIDs expunged since `modseq` (QRESYNC VANISHED (EARLIER)).
    pub fn expunged_since(&self, folder: &str, modseq: u64) -> Result<Vec<u32>> {
        let f = self.folder(folder)?;
        let mut stmt = self.db()?.prepare_cached(
            "SELECT uid FROM expunged WHERE folder_id = ?1 AND modseq > ?2 ORDER BY uid",
        )?;
        let rows = stmt
            .query_map(params![f.id, modseq as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// Deletes a message row and records the expunge with a new modseq.
/// A new modseq for a change in the folder (inside the caller's transaction).
pub(crate) fn next_modseq(tx: &rusqlite::Transaction<'_>, folder_id: i64) -> Result<i64> {
    Ok(tx
        .prepare_cached(
            "UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = ?1 RETURNING highestmodseq",
        )?
        .query_row([folder_id], |r| r.get(0))?)
}

pub(crate) fn delete_row(tx: &rusqlite::Transaction<'_>, folder_id: i64, uid: u32) -> Result<()> {
    let modseq = next_modseq(tx, folder_id)?;
    tx.prepare_cached("DELETE FROM messages WHERE folder_id = ?1 AND uid = ?2")?
        .execute(params![folder_id, uid])?;
    tx.prepare_cached("INSERT INTO expunged (folder_id, uid, modseq) VALUES (?1, ?2, ?3)")?
        .execute(params![folder_id, uid, modseq])?;
    Ok(())
}

/// Which parts of the cache a batch read (`Mailbox::cached_many`) fills in.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheParts {
    /// The header block (RFC822.HEADER, header sections).
    pub header: bool,
    /// The MIME tree (BODYSTRUCTURE, body sections).
    pub mime: bool,
    /// The ENVELOPE fields.
    pub envelope: bool,
}

/// A cache row of header and MIME tree only (see `cached_many`).
fn header_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Cached> {
    Ok(Cached {
        header: r.get(0)?,
        mime: mime_of(r.get_ref(1)?.as_str()?),
        fields: Fields::default(),
        envelope: None,
    })
}

/// The stored ENVELOPE fields in column `idx`; None when NULL (indexed
/// before the column existed) or unreadable, which the header stands in for.
fn envelope_at(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<crate::Envelope>> {
    Ok(r.get_ref(idx)?
        .as_blob_or_null()?
        .and_then(crate::Envelope::from_bytes))
}

fn mime_of(json: &str) -> MimePart {
    match json {
        "" => MimePart::default(),
        json => serde_json::from_str::<MimePart>(json).unwrap_or_default(),
    }
}

fn cached_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Cached> {
    let mime: &str = r.get_ref(1)?.as_str()?;
    Ok(Cached {
        header: r.get(0)?,
        mime: mime_of(mime),
        fields: Fields {
            subject: r.get(2)?,
            from: r.get(3)?,
            to: r.get(4)?,
            cc: r.get(5)?,
            bcc: r.get(6)?,
            date: r.get(7)?,
            message_id: r.get(8)?,
        },
        envelope: None,
    })
}
