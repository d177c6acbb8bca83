//! FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2): flags, dates, sizes,
//! ENVELOPE and BODYSTRUCTURE from the index's cache, body sections from the
//! file only when asked for. Results stream to the client in batches as
//! they are made.

mod message;
mod parts;

use std::num::NonZeroU32;

use imap_next::imap_types::command::FetchModifier;
use imap_next::imap_types::core::{Tag, Vec1};
use imap_next::imap_types::datetime::DateTime;
use imap_next::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItemName, Section,
};
use imap_next::imap_types::flag::{Flag, FlagFetch};
use imap_next::imap_types::response::Data;
use imap_next::imap_types::sequence::SequenceSet;

use surel_maildir::{Flags, MessageMeta};

use crate::cmd::select::{resolve, storage_error};
use crate::driver::Driver;
use crate::quirks::Note;
use crate::reply;
use crate::session::{Session, blocking};
use message::Want;

/// FLAGS as FETCH reports them.
pub fn fetch_flags(flags: &Flags) -> Vec<FlagFetch<'static>> {
    flags
        .names()
        .iter()
        .filter_map(|name| {
            Flag::try_from(name.as_str())
                .ok()
                .map(|f| FlagFetch::Flag(imap_next::imap_types::ToStatic::to_static(&f)))
        })
        .collect()
}

pub fn datetime(secs: i64) -> Option<DateTime> {
    let utc = chrono::DateTime::from_timestamp(secs, 0)?;
    DateTime::try_from(utc.with_timezone(&chrono::FixedOffset::east_opt(0)?)).ok()
}

/// Whether a section can be answered from the cached top-level header.
fn header_only(section: &Option<Section<'_>>) -> bool {
    matches!(
        section,
        Some(
            Section::Header(None)
                | Section::HeaderFields(None, _)
                | Section::HeaderFieldsNot(None, _)
        )
    )
}

fn expand(names: MacroOrMessageDataItemNames<'static>) -> Vec<MessageDataItemName<'static>> {
    use MessageDataItemName as N;
    match names {
        MacroOrMessageDataItemNames::Macro(Macro::Fast) => {
            vec![N::Flags, N::InternalDate, N::Rfc822Size]
        }
        MacroOrMessageDataItemNames::Macro(Macro::All) => {
            vec![N::Flags, N::InternalDate, N::Rfc822Size, N::Envelope]
        }
        MacroOrMessageDataItemNames::Macro(Macro::Full) => {
            vec![
                N::Flags,
                N::InternalDate,
                N::Rfc822Size,
                N::Envelope,
                N::Body,
            ]
        }
        MacroOrMessageDataItemNames::MessageDataItemNames(names) => names,
        #[allow(unreachable_patterns)]
        _ => vec![N::Flags],
    }
}

impl Session {
    /// RFC 9051 §6.4.5 (FETCH), §6.4.9 (UID FETCH)
    pub async fn fetch(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        set: &SequenceSet,
        names: MacroOrMessageDataItemNames<'static>,
        uid: bool,
        modifiers: Vec<FetchModifier>,
    ) {
        let rfc822_peek = matches!(d.take_note(tag.as_ref()), Some(Note::Rfc822Peek));
        let mut names = expand(names);
        if uid && !names.iter().any(|n| matches!(n, MessageDataItemName::Uid)) {
            names.insert(0, MessageDataItemName::Uid);
        }
        // RFC 7162 §3.1.4: CHANGEDSINCE, and with QRESYNC, VANISHED.
        let mut changed_since = None;
        let mut vanished = false;
        for m in modifiers {
            match m {
                FetchModifier::ChangedSince(since) => changed_since = Some(since.get()),
                FetchModifier::Vanished if uid && self.qresync => vanished = true,
                FetchModifier::Vanished => {
                    d.server.enqueue_status(reply::bad(
                        Some(tag),
                        "VANISHED needs UID FETCH after ENABLE QRESYNC",
                    ));
                    return;
                }
            }
        }
        if vanished && changed_since.is_none() {
            d.server
                .enqueue_status(reply::bad(Some(tag), "VANISHED needs CHANGEDSINCE"));
            return;
        }
        if changed_since.is_some()
            || names
                .iter()
                .any(|n| matches!(n, MessageDataItemName::ModSeq))
        {
            self.condstore = true;
        }
        if self.condstore
            && changed_since.is_some()
            && !names
                .iter()
                .any(|n| matches!(n, MessageDataItemName::ModSeq))
        {
            names.push(MessageDataItemName::ModSeq);
        }
        let condstore = self.condstore;
        let (Some(view), Some(user)) = (self.selected.as_ref(), self.user.as_mut()) else {
            return;
        };
        let targets = resolve(view, set, uid);
        let folder = view.name.clone();
        if let (true, Some(since)) = (vanished, changed_since) {
            let asked =
                crate::cmd::select::set_members(set, view.uids.last().copied().unwrap_or(0));
            if let Ok(gone) = blocking(|| user.mailbox.expunged_since(&folder, since)) {
                let gone: Vec<u32> = gone.into_iter().filter(|u| asked.contains(u)).collect();
                if let Some(set) = reply::sequence_set(&gone) {
                    d.server.enqueue_data(Data::Vanished {
                        earlier: true,
                        known_uids: set,
                    });
                }
            }
        }
        let want = Want::new(names, view.read_only, condstore, rfc822_peek);
        let metas = match blocking(|| user.mailbox.messages(&folder)) {
            Ok(m) => m,
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
                return;
            }
        };
        let selected: Vec<(u32, &MessageMeta)> = targets
            .into_iter()
            .filter_map(|(seq, uid)| {
                let i = metas.binary_search_by_key(&uid, |m| m.uid).ok()?;
                Some((seq, &metas[i]))
            })
            .filter(|(_, m)| changed_since.is_none_or(|since| m.modseq > since))
            .collect();
        // In batches: one index read for the batch's cache rows, then the
        // replies, flushed before the next batch is read.
        for batch in selected.chunks(256) {
            let done = blocking(|| -> surel_maildir::Result<()> {
                let mut caches = if want.cache || want.file {
                    let uids: Vec<u32> = batch.iter().map(|(_, m)| m.uid).collect();
                    user.mailbox
                        .cached_many(&folder, &uids, want.cache_parts())?
                } else {
                    Vec::new()
                };
                for (i, (seq, meta)) in batch.iter().enumerate() {
                    let cached = caches.get_mut(i).and_then(Option::take);
                    let items = match message::items(
                        &mut user.mailbox,
                        &folder,
                        (*meta).clone(),
                        cached,
                        &want,
                    ) {
                        Ok(items) => items,
                        // Expunged by another session meanwhile: skip it (RFC 9051 §7.4.1).
                        Err(surel_maildir::Error::NoSuchMessage(_)) => continue,
                        Err(e) => return Err(e),
                    };
                    if let (Ok(items), Some(seq)) = (Vec1::try_from(items), NonZeroU32::new(*seq)) {
                        d.server.enqueue_data(Data::Fetch { seq, items });
                    }
                }
                Ok(())
            });
            if let Err(e) = done {
                d.server.enqueue_status(storage_error(tag, &e));
                return;
            }
            if !d.flush().await {
                return;
            }
        }
        d.server
            .enqueue_status(reply::ok(tag, None, "FETCH completed"));
    }
}
