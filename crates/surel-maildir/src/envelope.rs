//! The fields of an IMAP ENVELOPE (RFC 9051 §7.5.2), worked out when a
//! message is indexed and kept in the index (compact postcard bytes), so
//! that `FETCH 1:* ENVELOPE`, what every client sends on opening a folder,
//! reads them instead of parsing each header again. Messages indexed before
//! the column existed get theirs from the cached header block.

use mail_parser::{HeaderName, Message, MessageParser};
use serde::{Deserialize, Serialize};

/// An ENVELOPE's strings as they go out: raw field values unfolded and
/// trimmed, display names RFC 2047-encoded when not ASCII. Sender and
/// Reply-To are already defaulted to From.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub date: Option<String>,
    pub subject: Option<String>,
    pub from: Vec<EnvelopeAddress>,
    pub sender: Vec<EnvelopeAddress>,
    pub reply_to: Vec<EnvelopeAddress>,
    pub to: Vec<EnvelopeAddress>,
    pub cc: Vec<EnvelopeAddress>,
    pub bcc: Vec<EnvelopeAddress>,
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
}

/// One address of an ENVELOPE list. A group is marked as RFC 9051 says:
/// a start entry with only `mailbox` (the group's name) and an end entry
/// with nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeAddress {
    pub name: Option<String>,
    pub mailbox: Option<String>,
    pub host: Option<String>,
}

/// The header fields ENVELOPE is made of.
const ENVELOPE_FIELDS: [&[u8]; 10] = [
    b"date",
    b"subject",
    b"from",
    b"sender",
    b"reply-to",
    b"to",
    b"cc",
    b"bcc",
    b"in-reply-to",
    b"message-id",
];

impl Envelope {
    /// From a parsed message (its top-level header).
    pub fn of_message(m: &Message<'_>) -> Envelope {
        let raw = |name: HeaderName<'static>| {
            m.header_raw(name)
                .map(|v| v.replace(['\r', '\n'], "").trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let from = addresses(m.from());
        let sender = match m.sender() {
            Some(s) => addresses(Some(s)),
            None => from.clone(),
        };
        let reply_to = match m.reply_to() {
            Some(r) => addresses(Some(r)),
            None => from.clone(),
        };
        Envelope {
            date: raw(HeaderName::Date),
            subject: raw(HeaderName::Subject),
            from,
            sender,
            reply_to,
            to: addresses(m.to()),
            cc: addresses(m.cc()),
            bcc: addresses(m.bcc()),
            in_reply_to: raw(HeaderName::InReplyTo),
            message_id: raw(HeaderName::MessageId),
        }
    }

    /// From a header block, parsing only the fields ENVELOPE uses (which
    /// skips the Received and DKIM fields that make up most of a header).
    pub fn of_header(header: &[u8]) -> Envelope {
        let fields = envelope_fields(header);
        match MessageParser::new().parse_headers(&fields) {
            Some(m) => Envelope::of_message(&m),
            None => Envelope::default(),
        }
    }

    /// The bytes the index keeps.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Back from the index's bytes; None for bytes that do not decode (a
    /// row from a later version's format), so the caller falls back to the
    /// header.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Envelope> {
        postcard::from_bytes(bytes).ok()
    }
}

/// The fields of a header block that ENVELOPE uses, with their folded lines.
fn envelope_fields(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len().min(2048));
    let mut keep = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        match line.first() {
            Some(b' ' | b'\t') => {}
            _ => {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                keep = line.contains(&b':')
                    && ENVELOPE_FIELDS
                        .iter()
                        .any(|f| name.trim_ascii().eq_ignore_ascii_case(f));
            }
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Non-ASCII display names go out as RFC 2047 encoded-words, as they came in.
fn encode_word(s: &str) -> String {
    if s.is_ascii() {
        s.to_string()
    } else {
        use base64::Engine as _;
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }
}

fn addresses(addr: Option<&mail_parser::Address<'_>>) -> Vec<EnvelopeAddress> {
    let one = |a: &mail_parser::Addr<'_>| {
        let email = a.address().unwrap_or("");
        let (local, host) = email.rsplit_once('@').unwrap_or((email, ""));
        EnvelopeAddress {
            name: a.name().map(encode_word).filter(|n| !n.is_empty()),
            mailbox: Some(local.to_string()),
            host: Some(host.to_string()),
        }
    };
    match addr {
        None => vec![],
        Some(mail_parser::Address::List(list)) => list.iter().map(one).collect(),
        Some(mail_parser::Address::Group(groups)) => {
            let mut out = Vec::new();
            for g in groups {
                out.push(EnvelopeAddress {
                    name: None,
                    mailbox: g.name.as_deref().map(str::to_string),
                    host: None,
                });
                out.extend(g.addresses.iter().map(one));
                out.push(EnvelopeAddress::default());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8] = b"Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n\
Date: Tue, 2 Jan 2024 10:00:00 +0700\r\n\
Subject: Rapat\r\n  besok\r\n\
From: =?UTF-8?Q?B=C3=BAdi?= <budi@example.go.id>\r\n\
To: tim: a@example.org, b@example.org;\r\n\
Message-ID: <1@example.go.id>\r\n\r\n";

    #[test]
    fn the_stored_bytes_give_back_the_same_envelope() {
        let env = Envelope::of_header(HEADER);
        assert_eq!(env.subject.as_deref(), Some("Rapat  besok"));
        assert_eq!(env.date.as_deref(), Some("Tue, 2 Jan 2024 10:00:00 +0700"));
        assert_eq!(env.from[0].name.as_deref(), Some("=?UTF-8?B?QsO6ZGk=?="));
        assert_eq!(env.sender, env.from);
        assert_eq!(env.reply_to, env.from);
        // The group: start marker, two members, end marker.
        assert_eq!(env.to.len(), 4);
        assert_eq!(env.to[0].mailbox.as_deref(), Some("tim"));
        assert_eq!(env.to[3], EnvelopeAddress::default());
        assert_eq!(Envelope::from_bytes(&env.to_bytes()), Some(env));
    }

    #[test]
    fn the_whole_message_and_its_header_give_the_same_envelope() {
        let mut msg = HEADER.to_vec();
        msg.extend_from_slice(b"Subject: not this one, it is in the body\r\nbody\r\n");
        let parsed = MessageParser::default().parse(&msg).unwrap();
        assert_eq!(Envelope::of_message(&parsed), Envelope::of_header(HEADER));
    }

    #[test]
    fn bytes_that_do_not_decode_are_none() {
        assert_eq!(Envelope::from_bytes(&[0xff, 0xff, 0xff]), None);
        assert_eq!(Envelope::of_header(b""), Envelope::default());
    }
}
