//! Mailbox commands: LIST and LSUB (with special-use and children
//! attributes), CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS.

use imap_next::imap_types::core::{Atom, Tag};
use imap_next::imap_types::flag::FlagNameAttribute;
use imap_next::imap_types::mailbox::{ListMailbox, Mailbox as WireMailbox};
use imap_next::imap_types::response::Data;
use imap_next::imap_types::status::{StatusDataItem, StatusDataItemName};

use surel_maildir::Status;

use crate::cmd::select::storage_error;
use crate::driver::Driver;
use crate::quirks::{ListOptions, Note};
use crate::reply;
use crate::session::{Session, blocking};

/// A STATUS response with the items asked for (RFC 9051 §7.2.4).
fn status_data(name: &str, status: &Status, items: &[StatusDataItemName]) -> Data<'static> {
    let items: Vec<StatusDataItem> = items
        .iter()
        .filter_map(|item| match item {
            StatusDataItemName::Messages => Some(StatusDataItem::Messages(status.messages)),
            StatusDataItemName::Recent => Some(StatusDataItem::Recent(0)),
            StatusDataItemName::UidNext => {
                status.uidnext.try_into().ok().map(StatusDataItem::UidNext)
            }
            StatusDataItemName::UidValidity => status
                .uidvalidity
                .try_into()
                .ok()
                .map(StatusDataItem::UidValidity),
            StatusDataItemName::Unseen => Some(StatusDataItem::Unseen(status.unseen)),
            StatusDataItemName::Deleted => Some(StatusDataItem::Deleted(status.deleted)),
            StatusDataItemName::HighestModSeq => {
                Some(StatusDataItem::HighestModSeq(status.highestmodseq))
            }
            _ => None,
        })
        .collect();
    Data::Status {
        mailbox: reply::wire_mailbox(name),
        items: items.into(),
    }
}

/// `*` matches anything, `%` anything but the separator (RFC 9051 §6.3.9).
fn matches(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| matches(rest, &name[i..])),
        Some(('%', rest)) => (0..=name.len())
            .take_while(|&i| i == 0 || name[i - 1] != '/')
            .any(|i| matches(rest, &name[i..])),
        Some((c, rest)) => name.first().is_some_and(|n| n == c) && matches(rest, &name[1..]),
    }
}

fn attribute(name: &'static str) -> FlagNameAttribute<'static> {
    FlagNameAttribute::from(Atom::try_from(name).expect("valid atom"))
}

fn list_pattern(pattern: &ListMailbox<'_>) -> String {
    let raw = match pattern {
        ListMailbox::Token(t) => String::from_utf8_lossy(t.as_ref()).into_owned(),
        ListMailbox::String(s) => String::from_utf8_lossy(s.as_ref()).into_owned(),
    };
    surel_maildir::names::decode_utf7(&raw).unwrap_or(raw)
}

impl Session {
    /// RFC 9051 §6.3.9 (LIST), RFC 3501 §6.3.9 (LSUB), RFC 6154 attributes
    pub fn list(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        reference: &WireMailbox<'_>,
        pattern: &ListMailbox<'_>,
        subscribed_only: bool,
    ) {
        // LIST-EXTENDED options (RFC 5258, 6154, 5819), see `quirks`.
        let options = match d.take_note(tag.as_ref()) {
            Some(Note::List(options)) => options,
            _ => ListOptions::default(),
        };
        let Some(user) = self.user.as_mut() else {
            return;
        };
        let pattern = format!(
            "{}{}",
            reply::mailbox_name(reference),
            list_pattern(pattern)
        );
        let delimiter = Some('/'.try_into().expect("quoted char"));
        if pattern.is_empty() {
            // The hierarchy delimiter and root (RFC 9051 §6.3.9).
            d.server.enqueue_data(Data::List {
                items: vec![FlagNameAttribute::Noselect],
                delimiter,
                mailbox: WireMailbox::try_from("").unwrap_or(WireMailbox::Inbox),
            });
            d.server
                .enqueue_status(reply::ok(tag, None, "LIST completed"));
            return;
        }
        let folders = match blocking(|| user.mailbox.list()) {
            Ok(f) => f,
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
                return;
            }
        };
        let pattern: Vec<char> = pattern.chars().collect();
        for folder in folders {
            if (subscribed_only || options.subscribed_only) && !folder.subscribed {
                continue;
            }
            if options.special_use_only && folder.special_use.is_none() {
                continue;
            }
            let name: Vec<char> = folder.name.chars().collect();
            let inbox_match = folder.name == "INBOX"
                && matches(
                    &pattern
                        .iter()
                        .map(|c| c.to_ascii_uppercase())
                        .collect::<Vec<_>>(),
                    &name,
                );
            if !matches(&pattern, &name) && !inbox_match {
                continue;
            }
            let mut items = vec![attribute(if folder.has_children {
                "HasChildren"
            } else {
                "HasNoChildren"
            })];
            if let Some(special) = folder.special_use {
                items.push(attribute(special.trim_start_matches('\\')));
            }
            if options.return_subscribed && folder.subscribed {
                items.push(attribute("Subscribed"));
            }
            let mailbox = reply::wire_mailbox(&folder.name);
            let data = if subscribed_only {
                Data::Lsub {
                    items,
                    delimiter,
                    mailbox,
                }
            } else {
                Data::List {
                    items,
                    delimiter,
                    mailbox,
                }
            };
            d.server.enqueue_data(data);
            if !options.return_status.is_empty() {
                let user = self.user.as_mut().expect("logged in");
                if let Ok(status) = blocking(|| user.mailbox.status(&folder.name)) {
                    d.server.enqueue_data(status_data(
                        &folder.name,
                        &status,
                        &options.return_status,
                    ));
                }
            }
        }
        d.server.enqueue_status(reply::ok(
            tag,
            None,
            if subscribed_only {
                "LSUB completed"
            } else {
                "LIST completed"
            },
        ));
    }

    /// RFC 9051 §6.3.4
    pub fn create(&mut self, d: &mut Driver, tag: &Tag<'static>, name: &str) {
        let Some(user) = self.user.as_mut() else {
            return;
        };
        // A trailing separator only says the client will create children.
        let name = name.strip_suffix('/').unwrap_or(name);
        match blocking(|| user.mailbox.create_folder(name)) {
            Ok(()) => d
                .server
                .enqueue_status(reply::ok(tag, None, "CREATE completed")),
            Err(e) => d.server.enqueue_status(storage_error(tag, &e)),
        };
    }

    /// RFC 9051 §6.3.5
    pub fn delete(&mut self, d: &mut Driver, tag: &Tag<'static>, name: &str) {
        let Some(user) = self.user.as_mut() else {
            return;
        };
        if self
            .selected
            .as_ref()
            .is_some_and(|s| user.mailbox.folder(name).is_ok_and(|f| f.name == s.name))
        {
            self.selected = None;
        }
        match blocking(|| user.mailbox.delete_folder(name)) {
            Ok(()) => d
                .server
                .enqueue_status(reply::ok(tag, None, "DELETE completed")),
            Err(e) => d.server.enqueue_status(storage_error(tag, &e)),
        };
    }

    /// RFC 9051 §6.3.6
    pub fn rename(&mut self, d: &mut Driver, tag: &Tag<'static>, from: &str, to: &str) {
        let Some(user) = self.user.as_mut() else {
            return;
        };
        match blocking(|| user.mailbox.rename_folder(from, to)) {
            Ok(()) => d
                .server
                .enqueue_status(reply::ok(tag, None, "RENAME completed")),
            Err(e) => d.server.enqueue_status(storage_error(tag, &e)),
        };
    }

    /// RFC 9051 §6.3.7, §6.3.8
    pub fn subscribe(&mut self, d: &mut Driver, tag: &Tag<'static>, name: &str, on: bool) {
        let Some(user) = self.user.as_mut() else {
            return;
        };
        match blocking(|| user.mailbox.subscribe(name, on)) {
            Ok(()) => d.server.enqueue_status(reply::ok(tag, None, "Done")),
            Err(e) => d.server.enqueue_status(storage_error(tag, &e)),
        };
    }

    /// RFC 9051 §6.3.11
    pub fn status(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        name: &str,
        items: &[StatusDataItemName],
    ) {
        let Some(user) = self.user.as_mut() else {
            return;
        };
        let found = blocking(|| -> surel_maildir::Result<_> {
            let folder = user.mailbox.folder(name)?;
            user.mailbox.sync(&folder.name)?;
            Ok((folder.name.clone(), user.mailbox.status(&folder.name)?))
        });
        let (canonical, status) = match found {
            Ok(x) => x,
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
                return;
            }
        };
        d.server
            .enqueue_data(status_data(&canonical, &status, items));
        d.server
            .enqueue_status(reply::ok(tag, None, "STATUS completed"));
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, n: &str) -> bool {
        matches(
            &p.chars().collect::<Vec<_>>(),
            &n.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn wildcards_follow_the_rfc() {
        assert!(m("*", "Laporan/2026"));
        assert!(m("%", "Laporan"));
        assert!(!m("%", "Laporan/2026"));
        assert!(m("Laporan/%", "Laporan/2026"));
        assert!(m("L*6", "Laporan/2026"));
        assert!(!m("Sent", "Sent/Old"));
        assert!(m("", ""));
    }
}
