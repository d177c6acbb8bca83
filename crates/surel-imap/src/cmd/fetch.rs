//! FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2): flags, dates, sizes,
//! ENVELOPE and BODYSTRUCTURE from the index's cache, body sections from the
//! file only when asked for. Results stream to the client as they are made.

use std::num::{NonZeroU32, NonZeroU64};

use imap_next::imap_types::body::{
    BasicFields, Body, BodyStructure, Disposition, Language, Location, MultiPartExtensionData,
    SinglePartExtensionData, SpecificFields,
};
use imap_next::imap_types::command::FetchModifier;
use imap_next::imap_types::core::{NString, Tag, Vec1};
use imap_next::imap_types::datetime::DateTime;
use imap_next::imap_types::envelope::{Address, Envelope};
use imap_next::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItem, MessageDataItemName, Part, Section,
};
use imap_next::imap_types::flag::{Flag, FlagFetch};
use imap_next::imap_types::response::Data;
use imap_next::imap_types::sequence::SequenceSet;
use mail_parser::{HeaderName, MessageParser};

use surel_maildir::{FlagChange, Flags, MessageMeta, MimePart};

use crate::cmd::select::{resolve, storage_error};
use crate::driver::Driver;
use crate::quirks::Note;
use crate::reply;
use crate::session::{Session, blocking};

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

/// Converts bare LF line ends to CRLF (files from LF-only imports).
fn to_crlf(raw: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn slice(raw: &[u8], range: (u32, u32)) -> &[u8] {
    let end = (range.1 as usize).min(raw.len());
    &raw[(range.0 as usize).min(end)..end]
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

fn addresses(addr: Option<&mail_parser::Address<'_>>) -> Vec<Address<'static>> {
    let one = |a: &mail_parser::Addr<'_>| {
        let email = a.address().unwrap_or("");
        let (local, host) = email.rsplit_once('@').unwrap_or((email, ""));
        Address {
            name: reply::nstring(a.name().map(encode_word)),
            adl: NString(None),
            mailbox: reply::nstring(Some(local)),
            host: reply::nstring(Some(host)),
        }
    };
    match addr {
        None => vec![],
        Some(mail_parser::Address::List(list)) => list.iter().map(one).collect(),
        Some(mail_parser::Address::Group(groups)) => {
            let mut out = Vec::new();
            for g in groups {
                // RFC 9051 §7.5.2: group start (NIL NIL name NIL) and end (NIL NIL NIL NIL).
                out.push(Address {
                    name: NString(None),
                    adl: NString(None),
                    mailbox: reply::nstring(g.name.as_deref()),
                    host: NString(None),
                });
                out.extend(g.addresses.iter().map(one));
                out.push(Address {
                    name: NString(None),
                    adl: NString(None),
                    mailbox: NString(None),
                    host: NString(None),
                });
            }
            out
        }
    }
}

/// ENVELOPE from a header block (RFC 9051 §7.5.2).
pub fn envelope(header: &[u8]) -> Envelope<'static> {
    let parsed = MessageParser::new().parse_headers(header);
    let Some(m) = parsed else {
        return Envelope {
            date: NString(None),
            subject: NString(None),
            from: vec![],
            sender: vec![],
            reply_to: vec![],
            to: vec![],
            cc: vec![],
            bcc: vec![],
            in_reply_to: NString(None),
            message_id: NString(None),
        };
    };
    let raw = |name: HeaderName<'static>| {
        m.header_raw(name)
            .map(|v| v.replace(['\r', '\n'], "").trim().to_string())
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
        date: reply::nstring(raw(HeaderName::Date)),
        subject: reply::nstring(raw(HeaderName::Subject)),
        from,
        sender,
        reply_to,
        to: addresses(m.to()),
        cc: addresses(m.cc()),
        bcc: addresses(m.bcc()),
        in_reply_to: reply::nstring(raw(HeaderName::InReplyTo)),
        message_id: reply::nstring(raw(HeaderName::MessageId)),
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
fn needs_raw(part: &MimePart) -> bool {
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
            envelope: Box::new(envelope(slice(raw, inner.header))),
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
fn section_bytes(raw: &[u8], mime: &MimePart, section: &Option<Section<'_>>) -> Vec<u8> {
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

fn partial_of(bytes: Vec<u8>, partial: Option<(u32, NonZeroU32)>) -> (Vec<u8>, Option<u32>) {
    match partial {
        None => (bytes, None),
        Some((start, len)) => {
            let start_i = (start as usize).min(bytes.len());
            let end = start_i.saturating_add(len.get() as usize).min(bytes.len());
            (bytes[start_i..end].to_vec(), Some(start))
        }
    }
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
        let read_only = view.read_only;
        let metas = match blocking(|| user.mailbox.messages(&folder)) {
            Ok(m) => m,
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
                return;
            }
        };
        let sets_seen = names.iter().any(|n| {
            matches!(
                n,
                MessageDataItemName::BodyExt { peek: false, .. }
                    | MessageDataItemName::Rfc822
                    | MessageDataItemName::Rfc822Text
            )
        });
        let needs_cache = names.iter().any(|n| {
            matches!(
                n,
                MessageDataItemName::Envelope
                    | MessageDataItemName::Body
                    | MessageDataItemName::BodyStructure
                    | MessageDataItemName::Rfc822Header
            ) || matches!(n, MessageDataItemName::BodyExt { .. })
        });
        let needs_file = names.iter().any(|n| match n {
            MessageDataItemName::BodyExt { section, .. } => !header_only(section),
            MessageDataItemName::Rfc822 | MessageDataItemName::Rfc822Text => true,
            _ => false,
        });
        let mut sent = 0usize;
        for (seq, uid_value) in targets {
            let Ok(i) = metas.binary_search_by_key(&uid_value, |m| m.uid) else {
                continue;
            };
            let mut meta: MessageMeta = metas[i].clone();
            if changed_since.is_some_and(|since| meta.modseq <= since) {
                continue;
            }
            let items = blocking(|| -> surel_maildir::Result<Vec<MessageDataItem<'static>>> {
                let mut raw: Option<Vec<u8>> = None;
                let load = |raw: &mut Option<Vec<u8>>| -> surel_maildir::Result<()> {
                    if raw.is_none() {
                        let bytes = user.mailbox.read(&folder, meta.uid)?;
                        *raw = Some(if meta.is_crlf() {
                            bytes
                        } else {
                            to_crlf(bytes)
                        });
                    }
                    Ok(())
                };
                let mut cached = if needs_cache || needs_file {
                    Some(user.mailbox.cached(&folder, meta.uid)?)
                } else {
                    None
                };
                if !meta.is_crlf() && cached.is_some() {
                    // Offsets in the cache are for the LF file: work on the converted bytes.
                    load(&mut raw)?;
                    cached = Some(surel_maildir::parse::parse(
                        raw.as_deref().unwrap_or_default(),
                    ));
                }
                if needs_file {
                    load(&mut raw)?;
                }
                if let Some(c) = &cached
                    && names.iter().any(|n| {
                        matches!(
                            n,
                            MessageDataItemName::Body | MessageDataItemName::BodyStructure
                        )
                    })
                    && needs_raw(&c.mime)
                {
                    load(&mut raw)?;
                }
                if sets_seen && !read_only && !meta.flags.is_seen() {
                    let seen = Flags::from_names(["\\Seen"]);
                    let stored = user.mailbox.store_flags(
                        &folder,
                        &[meta.uid],
                        FlagChange::Add,
                        &seen,
                        None,
                    )?;
                    if let Some(updated) = stored.updated.into_iter().next() {
                        meta = updated;
                    }
                }
                let mut items = Vec::new();
                for name in &names {
                    let item = match name {
                        MessageDataItemName::Uid => {
                            MessageDataItem::Uid(NonZeroU32::new(meta.uid).expect("positive"))
                        }
                        MessageDataItemName::ModSeq => match NonZeroU64::new(meta.modseq) {
                            Some(m) => MessageDataItem::ModSeq(m),
                            None => continue,
                        },
                        MessageDataItemName::Flags => {
                            MessageDataItem::Flags(fetch_flags(&meta.flags))
                        }
                        MessageDataItemName::InternalDate => match datetime(meta.internal_date) {
                            Some(dt) => MessageDataItem::InternalDate(dt),
                            None => continue,
                        },
                        MessageDataItemName::Rfc822Size => {
                            MessageDataItem::Rfc822Size(meta.size.min(u32::MAX as u64) as u32)
                        }
                        MessageDataItemName::Envelope => MessageDataItem::Envelope(envelope(
                            &cached.as_ref().expect("cached").header,
                        )),
                        MessageDataItemName::BodyStructure => {
                            MessageDataItem::BodyStructure(body_structure(
                                &cached.as_ref().expect("cached").mime,
                                raw.as_deref(),
                                true,
                            ))
                        }
                        MessageDataItemName::Body => MessageDataItem::Body(body_structure(
                            &cached.as_ref().expect("cached").mime,
                            raw.as_deref(),
                            false,
                        )),
                        MessageDataItemName::BodyExt {
                            section, partial, ..
                        } => {
                            let c = cached.as_ref().expect("cached");
                            let bytes = match raw.as_deref() {
                                Some(raw) => section_bytes(raw, &c.mime, section),
                                None => section_bytes(&c.header, &c.mime, section),
                            };
                            let (bytes, origin) = partial_of(bytes, *partial);
                            if rfc822_peek && section.is_none() && partial.is_none() {
                                // Outlook's RFC822.PEEK is answered as RFC822.
                                MessageDataItem::Rfc822(reply::nbytes(bytes))
                            } else {
                                MessageDataItem::BodyExt {
                                    section: section.clone(),
                                    origin,
                                    data: reply::nbytes(bytes),
                                }
                            }
                        }
                        MessageDataItemName::Rfc822 => {
                            MessageDataItem::Rfc822(reply::nbytes(raw.clone().unwrap_or_default()))
                        }
                        MessageDataItemName::Rfc822Header => MessageDataItem::Rfc822Header(
                            reply::nbytes(cached.as_ref().expect("cached").header.clone()),
                        ),
                        MessageDataItemName::Rfc822Text => {
                            let c = cached.as_ref().expect("cached");
                            let text = raw
                                .as_deref()
                                .map(|r| slice(r, c.mime.body).to_vec())
                                .unwrap_or_default();
                            MessageDataItem::Rfc822Text(reply::nbytes(text))
                        }
                        _ => continue,
                    };
                    items.push(item);
                }
                if sets_seen
                    && !names
                        .iter()
                        .any(|n| matches!(n, MessageDataItemName::Flags))
                    && !read_only
                {
                    items.push(MessageDataItem::Flags(fetch_flags(&meta.flags)));
                    if condstore
                        && !names
                            .iter()
                            .any(|n| matches!(n, MessageDataItemName::ModSeq))
                        && let Some(m) = NonZeroU64::new(meta.modseq)
                    {
                        items.push(MessageDataItem::ModSeq(m));
                    }
                }
                Ok(items)
            });
            match items {
                Ok(items) => {
                    if let (Ok(items), Some(seq)) = (Vec1::try_from(items), NonZeroU32::new(seq)) {
                        d.server.enqueue_data(Data::Fetch { seq, items });
                    }
                }
                // Expunged by another session meanwhile: skip it (RFC 9051 §7.4.1).
                Err(surel_maildir::Error::NoSuchMessage(_)) => continue,
                Err(e) => {
                    d.server.enqueue_status(storage_error(tag, &e));
                    return;
                }
            }
            sent += 1;
            if sent.is_multiple_of(256) && !d.flush().await {
                return;
            }
        }
        d.server
            .enqueue_status(reply::ok(tag, None, "FETCH completed"));
    }
}
