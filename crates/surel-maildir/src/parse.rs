//! What the index caches of each message so that listing and searching a
//! folder never re-reads message files: the raw header block, the MIME
//! structure with byte offsets, the ENVELOPE fields, and the fields SEARCH
//! asks for most.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

use crate::Envelope;

/// One MIME part, with offsets into the stored message (RFC 2045/2046):
/// enough for IMAP to build BODYSTRUCTURE and to fetch `BODY[n.MIME]` and
/// `BODY[n]` without parsing the file again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MimePart {
    /// Lower-case type and subtype, e.g. "text", "plain".
    pub ctype: String,
    pub subtype: String,
    /// Content-Type parameters, names lower-case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<(String, Vec<(String, String)>)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub language: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Byte range of this part's header block (including its blank line).
    pub header: (u32, u32),
    /// Byte range of this part's body.
    pub body: (u32, u32),
    /// Lines in the body (for text/* and message/rfc822 in BODYSTRUCTURE).
    pub lines: u32,
    /// Children of a multipart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<MimePart>,
    /// The embedded message of a message/rfc822 part (its root part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<MimePart>>,
}

impl MimePart {
    /// The part an IMAP section number names (RFC 9051 §6.4.5): `[]` is the
    /// whole message; in a non-multipart message part 1 is its body; inside
    /// a message/rfc822 part, numbering continues in the embedded message.
    pub fn part(&self, path: &[u32]) -> Option<&MimePart> {
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        let container = match &self.message {
            Some(inner) if self.ctype == "message" => inner.as_ref(),
            _ => self,
        };
        let child = if container.parts.is_empty() {
            (first == 1).then_some(container)?
        } else {
            container.parts.get(first.checked_sub(1)? as usize)?
        };
        child.part(rest)
    }
}

/// Header fields SEARCH looks at most, decoded to text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    /// The Date: header, seconds since the epoch.
    pub date: Option<i64>,
    pub message_id: String,
}

/// Everything cached for one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cached {
    /// The top-level header block, exactly as stored (ends with the blank line).
    pub header: Vec<u8>,
    pub mime: MimePart,
    pub fields: Fields,
    /// The ENVELOPE fields when read or just worked out; None when not
    /// asked for or not stored (see [`Cached::take_envelope`]).
    pub envelope: Option<Envelope>,
}

impl Cached {
    /// The ENVELOPE fields: the stored ones, else worked out from the header.
    pub fn take_envelope(&mut self) -> Envelope {
        self.envelope
            .take()
            .unwrap_or_else(|| Envelope::of_header(&self.header))
    }
}

/// Parses a message for the cache. Never fails: malformed mail still gets
/// a structure (a single text/plain part at worst).
pub fn parse(raw: &[u8]) -> Cached {
    let Some(message) = MessageParser::default().parse(raw) else {
        let end = raw.len() as u32;
        return Cached {
            header: Vec::new(),
            mime: MimePart {
                ctype: "text".into(),
                subtype: "plain".into(),
                header: (0, 0),
                body: (0, end),
                lines: count_lines(raw),
                ..MimePart::default()
            },
            fields: Fields::default(),
            envelope: Some(Envelope::default()),
        };
    };
    let mime = part_tree(&message, 0, raw, 0);
    let header_end = (mime.header.1 as usize).min(raw.len());
    Cached {
        header: raw[..header_end].to_vec(),
        fields: fields(&message),
        envelope: Some(Envelope::of_message(&message)),
        mime,
    }
}

fn count_lines(bytes: &[u8]) -> u32 {
    let n = bytes.iter().filter(|&&b| b == b'\n').count() as u32;
    if bytes.last().is_some_and(|&b| b != b'\n') {
        n + 1
    } else {
        n
    }
}

fn attributes(list: Option<&[mail_parser::Attribute<'_>]>) -> Vec<(String, String)> {
    list.unwrap_or_default()
        .iter()
        .map(|a| (a.name.to_lowercase(), a.value.to_string()))
        .collect()
}

/// Builds the tree of `message`'s part `id`; `base` is where `message`
/// starts within `raw` (non-zero for embedded messages).
fn part_tree(message: &Message<'_>, id: usize, raw: &[u8], base: u32) -> MimePart {
    let part = &message.parts[id];
    let at = |o: u32| (base + o).min(raw.len() as u32);
    let header = (at(part.offset_header), at(part.offset_body));
    let body = (at(part.offset_body), at(part.offset_end));
    let (ctype, subtype, params) = match part.content_type() {
        Some(ct) => (
            ct.ctype().to_lowercase(),
            ct.subtype().unwrap_or("").to_lowercase(),
            attributes(ct.attributes()),
        ),
        None if matches!(part.body, PartType::Multipart(_)) => {
            ("multipart".into(), "mixed".into(), vec![])
        }
        None if matches!(part.body, PartType::Message(_)) => {
            ("message".into(), "rfc822".into(), vec![])
        }
        None => (
            "text".into(),
            "plain".into(),
            vec![("charset".into(), "us-ascii".into())],
        ),
    };
    let body_bytes = &raw[body.0 as usize..body.1 as usize];
    let mut node = MimePart {
        ctype,
        subtype,
        params,
        id: part.content_id().map(str::to_string),
        description: part.content_description().map(str::to_string),
        encoding: part.content_transfer_encoding().map(str::to_lowercase),
        disposition: part
            .content_disposition()
            .map(|d| (d.ctype().to_lowercase(), attributes(d.attributes()))),
        language: part
            .content_language()
            .as_text_list()
            .map(|l| l.iter().map(|s| s.to_string()).collect())
            .or_else(|| {
                part.content_language()
                    .as_text()
                    .map(|s| vec![s.to_string()])
            })
            .unwrap_or_default(),
        location: part.content_location().map(str::to_string),
        header,
        body,
        lines: count_lines(body_bytes),
        parts: Vec::new(),
        message: None,
    };
    match &part.body {
        PartType::Multipart(children) => {
            node.parts = children
                .iter()
                .map(|&c| part_tree(message, c as usize, raw, base))
                .collect();
        }
        PartType::Message(inner) if parsed_in_place(inner, raw, body.0) => {
            // An embedded message parsed in place: its offsets are already
            // offsets into `raw`. (One inside a base64 or quoted-printable
            // part was parsed from decoded bytes; it stays opaque.)
            node.message = Some(Box::new(part_tree(inner, 0, raw, base)));
        }
        _ => {}
    }
    node
}

/// True when `inner` was parsed from `raw` itself, starting at `at`.
fn parsed_in_place(inner: &Message<'_>, raw: &[u8], at: u32) -> bool {
    let own = inner.raw_message();
    inner.parts.first().is_some_and(|p| p.offset_header == at)
        && raw.get(at as usize..at as usize + own.len()) == Some(own)
}

fn address_text(addr: Option<&mail_parser::Address<'_>>) -> String {
    let Some(addr) = addr else {
        return String::new();
    };
    addr.iter()
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn fields(message: &Message<'_>) -> Fields {
    Fields {
        subject: message.subject().unwrap_or("").to_string(),
        from: address_text(message.from()),
        to: address_text(message.to()),
        cc: address_text(message.cc()),
        bcc: address_text(message.bcc()),
        date: message.date().map(|d| d.to_timestamp()),
        message_id: message.message_id().unwrap_or("").to_string(),
    }
}

/// True when `needle` (case-insensitive) is in the decoded text of any
/// body part of `raw` (IMAP SEARCH BODY).
pub fn body_contains(raw: &[u8], needle: &str) -> bool {
    let needle = needle.to_lowercase();
    let Some(message) = MessageParser::default().parse(raw) else {
        return String::from_utf8_lossy(raw)
            .to_lowercase()
            .contains(&needle);
    };
    message.parts.iter().any(|p| match &p.body {
        PartType::Text(t) | PartType::Html(t) => t.to_lowercase().contains(&needle),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: Budi <budi@example.go.id>\r\n\
To: siti@example.go.id, Ani <ani@example.go.id>\r\n\
Subject: =?UTF-8?Q?Laporan_Keuangan?=\r\n\
Date: Mon, 05 Jan 2026 09:00:00 +0700\r\n\
Message-ID: <abc@example.go.id>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Terlampir laporan.\r\nSalam.\r\n\
--b1\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
From: x@example.org\r\n\
\r\n\
Inner body\r\n\
--b1--\r\n";

    #[test]
    fn the_cache_holds_header_structure_and_fields() {
        let c = parse(MIXED);
        assert!(c.header.starts_with(b"From: Budi"));
        assert!(c.header.ends_with(b"\r\n\r\n"));
        assert_eq!(c.fields.subject, "Laporan Keuangan");
        assert_eq!(c.fields.from, "Budi <budi@example.go.id>");
        assert_eq!(c.fields.to, "siti@example.go.id, Ani <ani@example.go.id>");
        assert_eq!(c.fields.message_id, "abc@example.go.id");
        assert_eq!(c.fields.date, Some(1767578400));
        assert_eq!(
            (c.mime.ctype.as_str(), c.mime.subtype.as_str()),
            ("multipart", "mixed")
        );
        assert_eq!(c.mime.parts.len(), 2);
        let text = &c.mime.parts[0];
        assert_eq!(
            text.params,
            vec![("charset".to_string(), "utf-8".to_string())]
        );
        let body = &MIXED[text.body.0 as usize..text.body.1 as usize];
        assert!(
            body.starts_with(b"Terlampir"),
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(text.lines, 2);
        let rfc822 = &c.mime.parts[1];
        assert_eq!(
            (rfc822.ctype.as_str(), rfc822.subtype.as_str()),
            ("message", "rfc822")
        );
        let inner = rfc822.message.as_ref().unwrap();
        let inner_header = &MIXED[inner.header.0 as usize..inner.header.1 as usize];
        assert!(
            inner_header.starts_with(b"Subject: inner"),
            "{:?}",
            String::from_utf8_lossy(inner_header)
        );
        let inner_body = &MIXED[inner.body.0 as usize..inner.body.1 as usize];
        assert!(
            inner_body.starts_with(b"Inner body"),
            "{:?}",
            String::from_utf8_lossy(inner_body)
        );
    }

    #[test]
    fn section_numbers_find_their_parts() {
        let c = parse(MIXED);
        let text = c.mime.part(&[1]).unwrap();
        assert_eq!(text.subtype, "plain");
        let rfc822 = c.mime.part(&[2]).unwrap();
        assert_eq!(rfc822.subtype, "rfc822");
        // 2.1 is the body of the embedded (non-multipart) message.
        let inner_body = c.mime.part(&[2, 1]).unwrap();
        assert!(MIXED[inner_body.body.0 as usize..].starts_with(b"Inner body"));
        assert!(c.mime.part(&[3]).is_none());
        assert!(c.mime.part(&[0]).is_none());
        let single = parse(b"Subject: x\r\n\r\nhello\r\n");
        assert_eq!(single.mime.part(&[1]).unwrap().body, single.mime.body);
        assert!(single.mime.part(&[2]).is_none());
    }

    #[test]
    fn garbage_still_gets_a_structure() {
        let c = parse(b"\x00\x01 not a message");
        assert_eq!(c.mime.ctype, "text");
        let c = parse(b"");
        assert_eq!(c.mime.body, (0, 0));
    }

    #[test]
    fn bodies_are_searched_decoded() {
        let raw = b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nQW5nZ2FyYW4gMjAyNg==\r\n";
        assert!(body_contains(raw, "anggaran"));
        assert!(!body_contains(raw, "QW5n"));
    }
}
