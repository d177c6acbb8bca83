//! The pieces of a FETCH reply built from a message: ENVELOPE, BODYSTRUCTURE
//! and BODY from the cached header and MIME tree, body sections and partials
//! from the file.

use std::num::NonZeroU32;

use imap_next::imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition, Language, Location, MultiPartExtensionData,
    SinglePartExtensionData, SpecificFields,
};
use imap_next::imap_types::core::{NString, Vec1};
use imap_next::imap_types::envelope::{Address, Envelope};
use imap_next::imap_types::fetch::{Part, Section};

use surel_maildir::MimePart;

use crate::reply;

/// Converts bare LF line ends to CRLF (files from LF-only imports).
pub(super) fn to_crlf(raw: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

pub(super) fn slice(raw: &[u8], range: (u32, u32)) -> &[u8] {
    let end = (range.1 as usize).min(raw.len());
    &raw[(range.0 as usize).min(end)..end]
}

fn addresses(list: Vec<surel_maildir::EnvelopeAddress>) -> Vec<Address<'static>> {
    list.into_iter()
        .map(|a| Address {
            name: reply::nstring(a.name),
            adl: NString(None),
            mailbox: reply::nstring(a.mailbox),
            host: reply::nstring(a.host),
        })
        .collect()
}

/// ENVELOPE (RFC 9051 §7.5.2) from the fields the index keeps.
pub fn envelope(e: surel_maildir::Envelope) -> Envelope<'static> {
    Envelope {
        date: reply::nstring(e.date),
        subject: reply::nstring(e.subject),
        from: addresses(e.from),
        sender: addresses(e.sender),
        reply_to: addresses(e.reply_to),
        to: addresses(e.to),
        cc: addresses(e.cc),
        bcc: addresses(e.bcc),
        in_reply_to: reply::nstring(e.in_reply_to),
        message_id: reply::nstring(e.message_id),
    }
}

fn params(
    list: &[(String, String)],
) -> Vec<(
    imap_next::imap_types::core::IString<'static>,
    imap_next::imap_types::core::IString<'static>,
)> {
    list.iter()
        .map(|(k, v)| (reply::istring(k.clone()), reply::istring(v.clone())))
        .collect()
}

fn disposition(part: &MimePart) -> Disposition<'static> {
    Disposition {
        disposition: part
            .disposition
            .as_ref()
            .map(|(kind, p)| (reply::istring(kind.clone()), params(p))),
        tail: Some(Language {
            language: part
                .language
                .iter()
                .map(|l| reply::istring(l.clone()))
                .collect(),
            tail: Some(Location {
                location: reply::nstring(part.location.clone()),
                extensions: vec![],
            }),
        }),
    }
}

/// Whether BODYSTRUCTURE needs the file (an embedded message's envelope).
pub(super) fn needs_raw(part: &MimePart) -> bool {
    part.message.is_some() || part.parts.iter().any(needs_raw)
}

/// BODYSTRUCTURE (`extended`) or BODY from the cached MIME tree.
pub fn body_structure(
    part: &MimePart,
    raw: Option<&[u8]>,
    extended: bool,
) -> BodyStructure<'static> {
    if part.ctype == "multipart" && !part.parts.is_empty() {
        let bodies: Vec<BodyStructure<'static>> = part
            .parts
            .iter()
            .map(|p| body_structure(p, raw, extended))
            .collect();
        return BodyStructure::Multi {
            bodies: Vec1::try_from(bodies).expect("not empty"),
            subtype: reply::istring(part.subtype.clone()),
            extension_data: extended.then(|| MultiPartExtensionData {
                parameter_list: params(&part.params),
                tail: Some(disposition(part)),
            }),
        };
    }
    let mut parameter_list = params(&part.params);
    if part.ctype == "text" && !part.params.iter().any(|(k, _)| k == "charset") {
        parameter_list.push((reply::istring("charset"), reply::istring("us-ascii")));
    }
    let (ctype, subtype) = if part.ctype == "multipart" {
        ("text".to_string(), "plain".to_string())
    } else {
        (part.ctype.clone(), part.subtype.clone())
    };
    let basic = BasicFields {
        parameter_list,
        id: reply::nstring(part.id.clone()),
        description: reply::nstring(part.description.clone()),
        content_transfer_encoding: reply::istring(
            part.encoding
                .clone()
                .unwrap_or_else(|| "7bit".into())
                .to_uppercase(),
        ),
        size: part.body.1.saturating_sub(part.body.0),
    };
    let specific = match (&part.message, raw) {
        (Some(inner), Some(raw)) if ctype == "message" => SpecificFields::Message {
            envelope: Box::new(envelope(surel_maildir::Envelope::of_header(slice(
                raw,
                inner.header,
            )))),
            body_structure: Box::new(body_structure(inner, Some(raw), extended)),
            number_of_lines: part.lines,
        },
        _ if ctype == "text" => SpecificFields::Text {
            subtype: reply::istring(subtype),
            number_of_lines: part.lines,
        },
        _ => SpecificFields::Basic {
            r#type: reply::istring(ctype),
            subtype: reply::istring(subtype),
        },
    };
    BodyStructure::Single {
        body: Body { basic, specific },
        extension_data: extended.then(|| SinglePartExtensionData {
            md5: NString(None),
            tail: Some(disposition(part)),
        }),
    }
}

/// The header fields of a header block named in `names` (or not, with `not`).
fn header_fields(header: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
            keep = names.contains(&name) != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn part_path(part: &Part) -> Vec<u32> {
    part.0.as_ref().iter().map(|n| n.get()).collect()
}

/// The bytes a section names (RFC 9051 §6.4.5).
pub(super) fn section_bytes(raw: &[u8], mime: &MimePart, section: &Option<Section<'_>>) -> Vec<u8> {
    // HEADER and TEXT of a part mean those of the message it embeds.
    let embedded = |part: &Option<Part>| -> Option<&MimePart> {
        match part {
            None => Some(mime),
            Some(p) => mime.part(&part_path(p)).and_then(|m| m.message.as_deref()),
        }
    };
    let names = |fields: &Vec1<imap_next::imap_types::core::AString<'_>>| -> Vec<String> {
        fields
            .as_ref()
            .iter()
            .map(|f| String::from_utf8_lossy(f.as_ref()).to_ascii_lowercase())
            .collect()
    };
    match section {
        None => raw.to_vec(),
        Some(Section::Header(part)) => embedded(part)
            .map(|m| slice(raw, m.header).to_vec())
            .unwrap_or_default(),
        Some(Section::HeaderFields(part, fields)) => embedded(part)
            .map(|m| header_fields(slice(raw, m.header), &names(fields), false))
            .unwrap_or_default(),
        Some(Section::HeaderFieldsNot(part, fields)) => embedded(part)
            .map(|m| header_fields(slice(raw, m.header), &names(fields), true))
            .unwrap_or_default(),
        Some(Section::Text(part)) => embedded(part)
            .map(|m| slice(raw, m.body).to_vec())
            .unwrap_or_default(),
        Some(Section::Mime(part)) => mime
            .part(&part_path(part))
            .map(|m| slice(raw, m.header).to_vec())
            .unwrap_or_default(),
        Some(Section::Part(part)) => mime
            .part(&part_path(part))
            .map(|m| slice(raw, m.body).to_vec())
            .unwrap_or_default(),
    }
}

pub(super) fn partial_of(
    bytes: Vec<u8>,
    partial: Option<(u32, NonZeroU32)>,
) -> (Vec<u8>, Option<u32>) {
    match partial {
        None => (bytes, None),
        Some((start, len)) => {
            let start_i = (start as usize).min(bytes.len());
            let end = start_i.saturating_add(len.get() as usize).min(bytes.len());
            (bytes[start_i..end].to_vec(), Some(start))
        }
    }
}
