//! Building imap-types values from plain Rust data, safely: texts that
//! cannot carry CR/LF, names in modified UTF-7, strings as atoms, quoted
//! strings or literals as their content needs.

use std::borrow::Cow;

use imap_next::imap_types::core::{IString, NString, Tag, Text};
use imap_next::imap_types::mailbox::Mailbox as WireMailbox;
use imap_next::imap_types::response::{Code, CodeOther, Status};
use surel_maildir::names;

/// A human text for a status line: no CR, LF or NUL; never empty.
pub fn text(s: &str) -> Text<'static> {
    let clean: String = s
        .chars()
        .map(|c| {
            if c == '\r' || c == '\n' || c == '\0' {
                ' '
            } else {
                c
            }
        })
        .collect();
    let clean = clean.trim();
    Text::try_from(if clean.is_empty() { "." } else { clean })
        .map(|t| t.into_static())
        .unwrap_or_else(|_| Text::try_from("Completed").expect("valid").into_static())
}

trait IntoStatic {
    type Static;
    fn into_static(self) -> Self::Static;
}

impl IntoStatic for Text<'_> {
    type Static = Text<'static>;
    fn into_static(self) -> Text<'static> {
        use imap_next::imap_types::ToStatic;
        self.to_static()
    }
}

/// A response code RFC 5530 defines that imap-types has no variant for.
pub fn code(name: &'static str) -> Code<'static> {
    Code::Other(CodeOther::unvalidated(Cow::Borrowed(name.as_bytes())))
}

pub fn ok(tag: &Tag<'static>, code: Option<Code<'static>>, msg: &str) -> Status<'static> {
    Status::ok(Some(tag.clone()), code, text(msg)).expect("valid status")
}

pub fn no(tag: &Tag<'static>, code: Option<Code<'static>>, msg: &str) -> Status<'static> {
    Status::no(Some(tag.clone()), code, text(msg)).expect("valid status")
}

pub fn bad(tag: Option<&Tag<'static>>, msg: &str) -> Status<'static> {
    Status::bad(tag.cloned(), None, text(msg)).expect("valid status")
}

pub fn untagged_ok(code: Option<Code<'static>>, msg: &str) -> Status<'static> {
    Status::ok(None, code, text(msg)).expect("valid status")
}

pub fn untagged_no(code: Option<Code<'static>>, msg: &str) -> Status<'static> {
    Status::no(None, code, text(msg)).expect("valid status")
}

pub fn bye(code: Option<Code<'static>>, msg: &str) -> Status<'static> {
    Status::bye(code, text(msg)).expect("valid status")
}

/// The UTF-8 name of a mailbox as the client sent it (modified UTF-7).
pub fn mailbox_name(mailbox: &WireMailbox<'_>) -> String {
    match mailbox {
        WireMailbox::Inbox => "INBOX".into(),
        WireMailbox::Other(other) => {
            let raw = String::from_utf8_lossy(other.as_ref());
            // Not valid modified UTF-7: taken as sent (commands that name
            // a mailbox have refused it already, see `mailbox_name_error`).
            names::decode_utf7(&raw).unwrap_or_else(|| raw.into_owned())
        }
    }
}

/// Why a mailbox name as sent cannot be decoded, if it cannot: bytes that
/// are not UTF-8, or ASCII that is not canonical modified UTF-7 (RFC 3501
/// §5.1.3: an unterminated `&`, base64 of printable ASCII, bad padding).
/// Names with UTF-8 beyond ASCII are taken as they are (UTF8=ACCEPT and
/// clients that send UTF-8 anyway).
pub fn mailbox_name_error(mailbox: &WireMailbox<'_>) -> Option<&'static str> {
    let WireMailbox::Other(other) = mailbox else {
        return None;
    };
    let Ok(raw) = std::str::from_utf8(other.as_ref()) else {
        return Some("not UTF-8");
    };
    if !raw.is_ascii() || !raw.contains('&') {
        return None;
    }
    match names::decode_utf7(raw) {
        Some(decoded) if names::encode_utf7(&decoded) == raw => None,
        _ => Some("not valid modified UTF-7"),
    }
}

/// A mailbox name for the wire, in modified UTF-7.
pub fn wire_mailbox(name: &str) -> WireMailbox<'static> {
    if name == "INBOX" {
        return WireMailbox::Inbox;
    }
    let encoded = names::encode_utf7(name);
    WireMailbox::try_from(encoded).unwrap_or(WireMailbox::Inbox)
}

/// An IMAP string (quoted or literal as needed).
pub fn istring(s: impl Into<String>) -> IString<'static> {
    use imap_next::imap_types::core::{Literal, Quoted};
    let s: String = s.into();
    // Validated once, here, so the string moves into the reply uncopied
    // and is not checked a second time (a FETCH ENVELOPE makes ~15 each).
    if Quoted::validate(&s).is_ok() {
        return IString::Quoted(Quoted::unvalidated(s));
    }
    Literal::try_from(s.into_bytes())
        .map(IString::Literal)
        .unwrap_or_else(|_| IString::Quoted(Quoted::unvalidated("")))
}

/// NIL for None or empty, a string otherwise.
pub fn nstring(s: Option<impl Into<String>>) -> NString<'static> {
    match s.map(Into::into).filter(|s: &String| !s.is_empty()) {
        Some(s) => NString(Some(istring(s))),
        None => NString(None),
    }
}

/// NIL or a string of raw bytes (a literal when not printable ASCII).
pub fn nbytes(bytes: Vec<u8>) -> NString<'static> {
    match IString::try_from(bytes) {
        Ok(s) => NString(Some(s)),
        Err(_) => NString(None),
    }
}

/// A sequence set naming exactly `numbers` (sorted, runs as ranges).
pub fn sequence_set(numbers: &[u32]) -> Option<imap_next::imap_types::sequence::SequenceSet> {
    use imap_next::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
    use std::num::NonZeroU32;
    let mut sorted: Vec<u32> = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<Sequence> = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    let push = |out: &mut Vec<Sequence>, (a, b): (u32, u32)| {
        let (a, b) = (NonZeroU32::new(a)?, NonZeroU32::new(b)?);
        out.push(if a == b {
            Sequence::Single(SeqOrUid::Value(a))
        } else {
            Sequence::Range(SeqOrUid::Value(a), SeqOrUid::Value(b))
        });
        Some(())
    };
    for n in sorted {
        run = match run {
            Some((a, b)) if b + 1 == n => Some((a, n)),
            Some(r) => {
                push(&mut out, r)?;
                Some((n, n))
            }
            None => Some((n, n)),
        };
    }
    if let Some(r) = run {
        push(&mut out, r)?;
    }
    Some(SequenceSet(out.try_into().ok()?))
}

#[cfg(test)]
mod name_tests {
    use super::*;

    fn wire(raw: &[u8]) -> WireMailbox<'static> {
        WireMailbox::Other(
            imap_next::imap_types::mailbox::MailboxOther::try_from(raw.to_vec()).unwrap(),
        )
    }

    #[test]
    fn only_canonical_modified_utf7_names_are_taken() {
        for ok in [
            &b"Arsip"[..],
            b"&ZeVnLIqe-",
            b"Rapat &- Agenda",
            b"Surat/Keluar",
        ] {
            assert_eq!(mailbox_name_error(&wire(ok)), None, "{ok:?}");
        }
        // Unterminated, printable ASCII in base64, a lone '&' at the end.
        for bad in [&b"&Jjo"[..], b"&AGE-", b"a&"] {
            assert!(mailbox_name_error(&wire(bad)).is_some(), "{bad:?}");
        }
        // Regression (issue 10, fuzz/corpus/imap_session/crash_rename_invalid_utf7):
        // base64 that does not decode panicked in the utf7-imap crate.
        for bad in [&b"&I-"[..], b"&A-", b"&!!-", b"&2D0-"] {
            assert!(mailbox_name_error(&wire(bad)).is_some(), "{bad:?}");
            let _ = mailbox_name(&wire(bad));
        }
    }
}
