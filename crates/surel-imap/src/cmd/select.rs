//! SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE, and how changes
//! made elsewhere reach this session (RFC 9051 §7.5.1: EXISTS, EXPUNGE and
//! FETCH FLAGS at NOOP, CHECK, IDLE and after commands that may send them).

use std::num::{NonZeroU32, NonZeroU64};

use imap_next::imap_types::command::SelectParameter;
use imap_next::imap_types::core::Tag;
use imap_next::imap_types::fetch::MessageDataItem;
use imap_next::imap_types::flag::{Flag, FlagPerm};
use imap_next::imap_types::response::{Code, Data, Status};
use imap_next::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use surel_maildir::Error;

use crate::driver::Driver;
use crate::reply;
use crate::session::{Selected, Session, blocking};

/// The NO (with its RFC 5530 code) for a storage error.
pub fn storage_error(tag: &Tag<'static>, e: &Error) -> Status<'static> {
    let (code, text) = match e {
        Error::NoSuchFolder(_) => ("NONEXISTENT", "No such mailbox".to_string()),
        Error::FolderExists(_) => ("ALREADYEXISTS", "Mailbox already exists".to_string()),
        Error::InvalidName { why, .. } => ("CANNOT", format!("Invalid mailbox name: {why}")),
        Error::NotAllowed(why) => ("CANNOT", why.clone()),
        Error::OverQuota { .. } => ("OVERQUOTA", "Quota exceeded".to_string()),
        Error::NoSuchMessage(_) => ("EXPUNGEISSUED", "Message was expunged".to_string()),
        Error::Io { .. } | Error::Index(_) | Error::Parked => {
            tracing::error!(error = %e, "mail storage error");
            ("SERVERBUG", "Internal error, try again later".to_string())
        }
    };
    reply::no(tag, Some(reply::code(code)), &text)
}

/// The flags clients may set; `\*`: keywords of their own too.
pub fn flag_list() -> Vec<Flag<'static>> {
    let mut flags = vec![
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Seen,
        Flag::Draft,
    ];
    if let Ok(fwd) = Flag::try_from("$Forwarded") {
        flags.push(fwd);
    }
    flags
}

/// The numbers a set names, `*` being `largest` (for UID sets given by clients).
pub fn set_members(set: &SequenceSet, largest: u32) -> Vec<u32> {
    let value = |s: &SeqOrUid| match s {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    let mut out = Vec::new();
    for seq in set.0.as_ref() {
        let (a, b) = match seq {
            Sequence::Single(s) => (value(s), value(s)),
            Sequence::Range(a, b) => (value(a).min(value(b)), value(a).max(value(b))),
        };
        // Bounded: clients cannot make us build a list of billions.
        out.extend((a..=b).take(1_000_000));
    }
    out
}

/// Messages of a sequence set: (sequence number, UID) in order.
pub fn resolve(view: &Selected, set: &SequenceSet, uid: bool) -> Vec<(u32, u32)> {
    let largest = if uid {
        view.uids.last().copied().unwrap_or(0)
    } else {
        view.uids.len() as u32
    };
    let value = |s: &SeqOrUid| match s {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => largest,
    };
    let ranges: Vec<(u32, u32)> = set
        .0
        .as_ref()
        .iter()
        .map(|seq| match seq {
            Sequence::Single(s) => (value(s), value(s)),
            Sequence::Range(a, b) => {
                let (a, b) = (value(a), value(b));
                (a.min(b), a.max(b))
            }
        })
        .collect();
    let inside = |n: u32| ranges.iter().any(|&(a, b)| a <= n && n <= b);
    view.uids
        .iter()
        .enumerate()
        .map(|(i, &u)| (i as u32 + 1, u))
        .filter(|&(seq, u)| inside(if uid { u } else { seq }))
        .collect()
}

impl Session {
    /// RFC 9051 §6.3.2 (SELECT) and §6.3.3 (EXAMINE)
    pub fn select(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        name: &str,
        read_only: bool,
        parameters: Vec<SelectParameter>,
    ) {
        self.selected = None;
        let mut resync = None;
        for p in parameters {
            match p {
                SelectParameter::CondStore => self.condstore = true,
                SelectParameter::QResync { .. } if !self.qresync => {
                    d.server
                        .enqueue_status(reply::bad(Some(tag), "ENABLE QRESYNC first"));
                    return;
                }
                SelectParameter::QResync {
                    uid_validity,
                    mod_sequence_value,
                    known_uids,
                    ..
                } => resync = Some((uid_validity.get(), mod_sequence_value.get(), known_uids)),
            }
        }
        let Some(user) = self.user.as_mut() else {
            return;
        };
        let opened = blocking(|| -> surel_maildir::Result<_> {
            let folder = user.mailbox.folder(name)?;
            user.mailbox.sync(&folder.name)?;
            let status = user.mailbox.status(&folder.name)?;
            let metas = user.mailbox.messages(&folder.name)?;
            Ok((folder, status, metas))
        });
        let (folder, status, metas) = match opened {
            Ok(x) => x,
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
                return;
            }
        };
        let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
        let first_unseen = metas.iter().position(|m| !m.flags.is_seen());
        d.server.enqueue_data(Data::Flags(flag_list()));
        let mut perm: Vec<FlagPerm<'static>> =
            flag_list().into_iter().map(FlagPerm::Flag).collect();
        perm.push(FlagPerm::Asterisk);
        let perm = if read_only { vec![] } else { perm };
        d.server.enqueue_status(reply::untagged_ok(
            Some(Code::PermanentFlags(perm)),
            "Flags permitted",
        ));
        d.server.enqueue_data(Data::Exists(uids.len() as u32));
        d.server.enqueue_data(Data::Recent(0));
        if let Some(i) = first_unseen
            && let Ok(code) = Code::unseen(i as u32 + 1)
        {
            d.server
                .enqueue_status(reply::untagged_ok(Some(code), "First unseen"));
        }
        if let Ok(code) = Code::uidvalidity(status.uidvalidity) {
            d.server
                .enqueue_status(reply::untagged_ok(Some(code), "UIDs valid"));
        }
        if let Ok(code) = Code::uidnext(status.uidnext.max(1)) {
            d.server
                .enqueue_status(reply::untagged_ok(Some(code), "Predicted next UID"));
        }
        if let Some(modseq) = NonZeroU64::new(status.highestmodseq) {
            d.server.enqueue_status(reply::untagged_ok(
                Some(Code::HighestModSeq(modseq)),
                "Highest",
            ));
        }
        // RFC 7162 §3.2.5.2: what changed since the client's last visit.
        if let Some((uidvalidity, since, known)) = resync
            && uidvalidity == status.uidvalidity
        {
            let largest = uids.last().copied().unwrap_or(0);
            let known: Option<Vec<u32>> = known.map(|set| set_members(&set, largest));
            let user = self.user.as_mut().expect("logged in");
            let changes = blocking(|| -> surel_maildir::Result<_> {
                Ok((
                    user.mailbox.expunged_since(&folder.name, since)?,
                    user.mailbox.changed_since(&folder.name, since)?,
                ))
            });
            if let Ok((gone, changed)) = changes {
                let gone: Vec<u32> = gone
                    .into_iter()
                    .filter(|u| known.as_ref().is_none_or(|k| k.contains(u)))
                    .collect();
                if let Some(set) = reply::sequence_set(&gone) {
                    d.server.enqueue_data(Data::Vanished {
                        earlier: true,
                        known_uids: set,
                    });
                }
                for meta in changed {
                    if let Ok(i) = uids.binary_search(&meta.uid) {
                        let items = vec![
                            MessageDataItem::Uid(NonZeroU32::new(meta.uid).expect("positive")),
                            MessageDataItem::Flags(crate::cmd::fetch::fetch_flags(&meta.flags)),
                            MessageDataItem::ModSeq(
                                NonZeroU64::new(meta.modseq.max(1)).expect("positive"),
                            ),
                        ];
                        if let (Ok(items), Some(seq)) =
                            (items.try_into(), NonZeroU32::new(i as u32 + 1))
                        {
                            d.server.enqueue_data(Data::Fetch { seq, items });
                        }
                    }
                }
            }
        }
        self.selected = Some(Selected {
            name: folder.name,
            read_only,
            uids,
            modseq: status.highestmodseq,
        });
        let (code, text) = if read_only {
            (Code::ReadOnly, "EXAMINE completed")
        } else {
            (Code::ReadWrite, "SELECT completed")
        };
        d.server.enqueue_status(reply::ok(tag, Some(code), text));
    }

    /// RFC 9051 §6.4.2 (CLOSE: expunge silently) and RFC 3691 (UNSELECT)
    pub fn close(&mut self, d: &mut Driver, tag: &Tag<'static>, expunge: bool) {
        if let (Some(view), Some(user)) = (self.selected.take(), self.user.as_mut())
            && expunge
            && !view.read_only
            && let Err(e) = blocking(|| user.mailbox.expunge(&view.name, None))
        {
            d.server.enqueue_status(storage_error(tag, &e));
            return;
        }
        d.server.enqueue_status(reply::ok(tag, None, "Closed"));
    }

    /// RFC 9051 §6.4.3 (EXPUNGE) and RFC 4315 §2.1 (UID EXPUNGE)
    pub fn expunge(&mut self, d: &mut Driver, tag: &Tag<'static>, set: Option<SequenceSet>) {
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
        let uids: Option<Vec<u32>> = set.map(|s| {
            resolve(view, &s, true)
                .into_iter()
                .map(|(_, u)| u)
                .collect()
        });
        let name = view.name.clone();
        if let Err(e) = blocking(|| user.mailbox.expunge(&name, uids.as_deref())) {
            d.server.enqueue_status(storage_error(tag, &e));
            return;
        }
        self.send_updates(d);
        d.server
            .enqueue_status(reply::ok(tag, None, "EXPUNGE completed"));
    }

    /// Tells the client what changed in the selected folder since it was
    /// last told: expunges, flag changes, new messages.
    pub fn send_updates(&mut self, d: &mut Driver) {
        let (condstore, qresync) = (self.condstore, self.qresync);
        let (Some(view), Some(user)) = (self.selected.as_mut(), self.user.as_mut()) else {
            return;
        };
        let found = blocking(|| -> surel_maildir::Result<_> {
            user.mailbox.sync(&view.name)?;
            let highestmodseq = user.mailbox.folder(&view.name)?.highestmodseq;
            if highestmodseq == view.modseq {
                return Ok(None);
            }
            let gone = user.mailbox.expunged_since(&view.name, view.modseq)?;
            let changed = user.mailbox.changed_since(&view.name, view.modseq)?;
            Ok(Some((highestmodseq, gone, changed)))
        });
        let (modseq, gone, changed) = match found {
            Ok(Some(x)) => x,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read changes");
                return;
            }
        };
        // Highest sequence numbers first, so each number is still right when sent.
        let mut expunged: Vec<usize> = gone
            .iter()
            .filter_map(|u| view.uids.binary_search(u).ok())
            .collect();
        expunged.sort_unstable_by(|a, b| b.cmp(a));
        expunged.dedup();
        let mut vanished = Vec::new();
        for i in expunged {
            let uid = view.uids.remove(i);
            if qresync {
                vanished.push(uid);
            } else if let Some(seq) = NonZeroU32::new(i as u32 + 1) {
                d.server.enqueue_data(Data::Expunge(seq));
            }
        }
        // RFC 7162 §3.2.10: with QRESYNC, expunges are reported as VANISHED UIDs.
        if let Some(set) = reply::sequence_set(&vanished) {
            d.server.enqueue_data(Data::Vanished {
                earlier: false,
                known_uids: set,
            });
        }
        let known_max = view.uids.last().copied().unwrap_or(0);
        let mut added = false;
        for meta in changed {
            if meta.uid > known_max {
                view.uids.push(meta.uid);
                added = true;
            } else if let Ok(i) = view.uids.binary_search(&meta.uid) {
                let seq = NonZeroU32::new(i as u32 + 1).expect("positive");
                let mut items = vec![
                    MessageDataItem::Flags(crate::cmd::fetch::fetch_flags(&meta.flags)),
                    MessageDataItem::Uid(NonZeroU32::new(meta.uid).expect("UIDs are positive")),
                ];
                if condstore && let Some(m) = NonZeroU64::new(meta.modseq) {
                    items.push(MessageDataItem::ModSeq(m));
                }
                if let Ok(items) = items.try_into() {
                    d.server.enqueue_data(Data::Fetch { seq, items });
                }
            }
        }
        if added {
            d.server.enqueue_data(Data::Exists(view.uids.len() as u32));
        }
        view.modseq = modseq;
    }
}
