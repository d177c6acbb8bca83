//! APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315).

use std::num::NonZeroU32;

use imap_next::imap_types::core::Tag;
use imap_next::imap_types::datetime::DateTime;
use imap_next::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_next::imap_types::flag::Flag;
use imap_next::imap_types::response::Code;

use surel_maildir::Flags;

use crate::cmd::select::storage_error;
use crate::driver::Driver;
use crate::reply;
use crate::session::{Session, blocking};

impl Session {
    pub fn append(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        name: &str,
        flags: Vec<Flag<'static>>,
        date: Option<DateTime>,
        message: LiteralOrLiteral8<'static>,
    ) {
        let Some(user) = self.user.as_mut() else {
            return;
        };
        let bytes: Vec<u8> = match &message {
            LiteralOrLiteral8::Literal(l) => l.as_ref().to_vec(),
            LiteralOrLiteral8::Literal8(l) => l.data.to_vec(),
        };
        let flags = Flags::from_names(
            flags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        );
        let when = date.map(|dt| dt.as_ref().timestamp());
        match blocking(|| user.mailbox.append(name, &bytes, &flags, when)) {
            Ok(appended) => {
                let code = match (
                    NonZeroU32::new(appended.uidvalidity),
                    NonZeroU32::new(appended.uid),
                ) {
                    (Some(uid_validity), Some(uid)) => Some(Code::AppendUid { uid_validity, uid }),
                    _ => None,
                };
                self.send_updates(d);
                d.server
                    .enqueue_status(reply::ok(tag, code, "APPEND completed"));
            }
            Err(surel_maildir::Error::NoSuchFolder(_)) => {
                d.server
                    .enqueue_status(reply::no(tag, Some(Code::TryCreate), "No such mailbox"));
            }
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
            }
        }
    }
}
