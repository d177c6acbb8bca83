//! STORE (RFC 9051 §6.4.6), COPY (§6.4.7, RFC 4315 COPYUID) and MOVE
//! (RFC 6851), with and without UID.

use std::num::{NonZeroU32, NonZeroU64};

use imap_next::imap_types::command::StoreModifier;
use imap_next::imap_types::core::Tag;
use imap_next::imap_types::extensions::uidplus::{UidElement, UidSet};
use imap_next::imap_types::fetch::MessageDataItem;
use imap_next::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_next::imap_types::response::{Code, Data};
use imap_next::imap_types::sequence::SequenceSet;

use surel_maildir::{FlagChange, Flags};

use crate::cmd::fetch::fetch_flags;
use crate::cmd::select::{resolve, storage_error};
use crate::driver::Driver;
use crate::reply;
use crate::session::{Session, blocking};

fn flag_name(flag: &Flag<'_>) -> String {
    flag.to_string()
}

/// A UID set for COPYUID from a list of UIDs.
pub(crate) fn uid_set(uids: &[u32]) -> Option<UidSet> {
    // Runs of consecutive UIDs become ranges, keeping the order (COPYUID
    // pairs source and destination UIDs by position).
    let mut elements: Vec<UidElement> = Vec::new();
    for &u in uids {
        let u = NonZeroU32::new(u)?;
        match elements.last_mut() {
            Some(UidElement::Single(a)) if a.get() + 1 == u.get() => {
                *elements.last_mut()? = UidElement::Range(*a, u)
            }
            Some(UidElement::Range(_, b)) if b.get() + 1 == u.get() => *b = u,
            _ => elements.push(UidElement::Single(u)),
        }
    }
    Some(UidSet(elements.try_into().ok()?))
}

impl Session {
    /// RFC 9051 §6.4.6
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: Vec<Flag<'static>>,
        uid: bool,
        modifiers: Vec<StoreModifier>,
    ) {
        let unchanged_since = modifiers
            .iter()
            .map(|StoreModifier::UnchangedSince(m)| *m)
            .next();
        if unchanged_since.is_some() {
            self.condstore = true;
        }
        let condstore = self.condstore;
        let (Some(view), Some(user)) = (self.selected.as_ref(), self.user.as_mut()) else {
            return;
        };
        if view.read_only {
            d.server.enqueue_status(reply::no(
                tag,
                Some(reply::code("CANNOT")),
                "Mailbox is read-only",
            ));
            return;
        }
        let targets = resolve(view, set, uid);
        let uids: Vec<u32> = targets.iter().map(|&(_, u)| u).collect();
        let change = match kind {
            StoreType::Replace => FlagChange::Set,
            StoreType::Add => FlagChange::Add,
            StoreType::Remove => FlagChange::Remove,
        };
        let flags = Flags::from_names(
            flags
                .iter()
                .map(flag_name)
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        );
        let name = view.name.clone();
        match blocking(|| {
            user.mailbox
                .store_flags(&name, &uids, change, &flags, unchanged_since)
        }) {
            Ok(stored) => {
                if matches!(response, StoreResponse::Answer) || condstore {
                    for meta in stored.updated.clone() {
                        let Some(&(seq, _)) = targets.iter().find(|&&(_, u)| u == meta.uid) else {
                            continue;
                        };
                        let mut items = vec![MessageDataItem::Flags(fetch_flags(&meta.flags))];
                        if uid {
                            items.push(MessageDataItem::Uid(
                                NonZeroU32::new(meta.uid).expect("positive"),
                            ));
                        }
                        if condstore && let Some(m) = NonZeroU64::new(meta.modseq) {
                            items.push(MessageDataItem::ModSeq(m));
                        }
                        if let (Ok(items), Some(seq)) = (items.try_into(), NonZeroU32::new(seq)) {
                            d.server.enqueue_data(Data::Fetch { seq, items });
                        }
                    }
                }
                // RFC 7162 §3.1.3: what UNCHANGEDSINCE refused, by the numbers the client used.
                let refused: Vec<u32> = stored
                    .modified
                    .iter()
                    .filter_map(|u| targets.iter().find(|&&(_, t)| t == *u))
                    .map(|&(seq, u)| if uid { u } else { seq })
                    .collect();
                let code = reply::sequence_set(&refused).map(Code::Modified);
                d.server
                    .enqueue_status(reply::ok(tag, code, "STORE completed"));
            }
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
            }
        }
        if let Some(view) = self.selected.as_mut() {
            // Our own changes need not come back as updates.
            let _ = view;
        }
    }

    /// RFC 9051 §6.4.7 (COPY) and RFC 6851 (MOVE)
    pub fn copy(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        set: &SequenceSet,
        to: &str,
        uid: bool,
        remove: bool,
    ) {
        let (Some(view), Some(user)) = (self.selected.as_ref(), self.user.as_mut()) else {
            return;
        };
        if remove && view.read_only {
            d.server.enqueue_status(reply::no(
                tag,
                Some(reply::code("CANNOT")),
                "Mailbox is read-only",
            ));
            return;
        }
        let uids: Vec<u32> = resolve(view, set, uid)
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        let from = view.name.clone();
        let result = blocking(|| {
            if remove {
                user.mailbox.move_messages(&from, &uids, to)
            } else {
                user.mailbox.copy(&from, &uids, to)
            }
        });
        let copied = match result {
            Ok(c) => c,
            Err(surel_maildir::Error::NoSuchFolder(_)) => {
                d.server
                    .enqueue_status(reply::no(tag, Some(Code::TryCreate), "No such mailbox"));
                return;
            }
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
                return;
            }
        };
        let sources: Vec<u32> = copied.uids.iter().map(|&(s, _)| s).collect();
        let targets: Vec<u32> = copied.uids.iter().map(|&(_, t)| t).collect();
        let code = match (
            NonZeroU32::new(copied.uidvalidity),
            uid_set(&sources),
            uid_set(&targets),
        ) {
            (Some(uid_validity), Some(source), Some(destination)) => Some(Code::CopyUid {
                uid_validity,
                source,
                destination,
            }),
            _ => None,
        };
        if remove {
            // RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs.
            d.server.enqueue_status(reply::untagged_ok(code, "Moved"));
            self.send_updates(d);
            d.server
                .enqueue_status(reply::ok(tag, None, "MOVE completed"));
        } else {
            d.server
                .enqueue_status(reply::ok(tag, code, "COPY completed"));
        }
    }
}
