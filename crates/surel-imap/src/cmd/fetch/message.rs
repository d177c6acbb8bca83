//! The FETCH data items of one message: from the index row, the cache, and
//! the file when a section needs it. Setting \Seen on a non-PEEK body fetch
//! happens here too, so the FLAGS in the reply are the stored ones.

use std::num::{NonZeroU32, NonZeroU64};

use imap_next::imap_types::fetch::{MessageDataItem, MessageDataItemName};

use surel_maildir::{Cached, FlagChange, Flags, Mailbox, MessageMeta};

use super::parts::{
    body_structure, envelope, needs_raw, partial_of, section_bytes, slice, to_crlf,
};
use super::{datetime, fetch_flags};
use crate::reply;

/// What a FETCH asks for, worked out once for all its messages.
pub(super) struct Want {
    pub names: Vec<MessageDataItemName<'static>>,
    /// ENVELOPE, BODY[STRUCTURE] or a section: the index's cache is needed.
    pub cache: bool,
    /// A body section beyond the header: the file is needed.
    pub file: bool,
    /// BODY[STRUCTURE] or a section: the cached MIME tree is needed.
    pub mime: bool,
    /// ENVELOPE: the stored envelope fields are needed.
    pub envelope: bool,
    /// A non-PEEK body fetch, which sets \Seen.
    pub sets_seen: bool,
    pub read_only: bool,
    pub condstore: bool,
    /// Outlook's RFC822.PEEK, answered as RFC822.
    pub rfc822_peek: bool,
}

impl Want {
    pub fn new(
        names: Vec<MessageDataItemName<'static>>,
        read_only: bool,
        condstore: bool,
        rfc822_peek: bool,
    ) -> Self {
        use MessageDataItemName as N;
        let sets_seen = names.iter().any(|n| {
            matches!(
                n,
                N::BodyExt { peek: false, .. } | N::Rfc822 | N::Rfc822Text
            )
        });
        let cache = names.iter().any(|n| {
            matches!(
                n,
                N::Envelope | N::Body | N::BodyStructure | N::Rfc822Header | N::BodyExt { .. }
            )
        });
        let file = names.iter().any(|n| match n {
            N::BodyExt { section, .. } => !super::header_only(section),
            N::Rfc822 | N::Rfc822Text => true,
            _ => false,
        });
        let mime = names.iter().any(|n| {
            matches!(
                n,
                N::Body | N::BodyStructure | N::BodyExt { .. } | N::Rfc822Text
            )
        });
        let envelope = names.iter().any(|n| matches!(n, N::Envelope));
        Want {
            names,
            cache,
            envelope,
            file,
            mime: mime || file,
            sets_seen,
            read_only,
            condstore,
            rfc822_peek,
        }
    }

    /// What a batch read of the cache must fill in (the header serves
    /// header sections; body sections read the file).
    pub fn cache_parts(&self) -> surel_maildir::CacheParts {
        use MessageDataItemName as N;
        surel_maildir::CacheParts {
            header: self.has(|n| matches!(n, N::Rfc822Header | N::BodyExt { .. })),
            mime: self.mime,
            envelope: self.envelope,
        }
    }

    fn has(&self, wanted: impl Fn(&MessageDataItemName<'static>) -> bool) -> bool {
        self.names.iter().any(wanted)
    }
}

/// The data items of one message. `cached` is its cache row, read ahead
/// for a batch of messages when `want.cache` or `want.file`.
pub(super) fn items(
    mailbox: &mut Mailbox,
    folder: &str,
    mut meta: MessageMeta,
    mut cached: Option<Cached>,
    want: &Want,
) -> surel_maildir::Result<Vec<MessageDataItem<'static>>> {
    use MessageDataItemName as N;
    let mut raw: Option<Vec<u8>> = None;
    let load = |raw: &mut Option<Vec<u8>>, mailbox: &Mailbox| -> surel_maildir::Result<()> {
        if raw.is_none() {
            let bytes = mailbox.read(folder, meta.uid)?;
            *raw = Some(if meta.is_crlf() {
                bytes
            } else {
                to_crlf(bytes)
            });
        }
        Ok(())
    };
    if (want.cache || want.file) && cached.is_none() {
        cached = Some(mailbox.cached(folder, meta.uid)?);
    }
    if !meta.is_crlf() && cached.is_some() {
        // Offsets in the cache are for the LF file: work on the converted bytes.
        load(&mut raw, mailbox)?;
        cached = Some(surel_maildir::parse::parse(
            raw.as_deref().unwrap_or_default(),
        ));
    }
    if want.file {
        load(&mut raw, mailbox)?;
    }
    if let Some(c) = &cached
        && want.has(|n| matches!(n, N::Body | N::BodyStructure))
        && needs_raw(&c.mime)
    {
        load(&mut raw, mailbox)?;
    }
    if want.sets_seen && !want.read_only && !meta.flags.is_seen() {
        let seen = Flags::from_names(["\\Seen"]);
        let stored = mailbox.store_flags(folder, &[meta.uid], FlagChange::Add, &seen, None)?;
        if let Some(updated) = stored.updated.into_iter().next() {
            meta = updated;
        }
    }
    // Taken out before the items borrow the cache: its strings move into the reply.
    let mut envelope_fields = match &mut cached {
        Some(c) if want.envelope => Some(c.take_envelope()),
        _ => None,
    };
    let cache = || cached.as_ref().expect("cache read when wanted");
    let mut items = Vec::new();
    for name in &want.names {
        let item = match name {
            N::Uid => MessageDataItem::Uid(NonZeroU32::new(meta.uid).expect("positive")),
            N::ModSeq => match NonZeroU64::new(meta.modseq) {
                Some(m) => MessageDataItem::ModSeq(m),
                None => continue,
            },
            N::Flags => MessageDataItem::Flags(fetch_flags(&meta.flags)),
            N::InternalDate => match datetime(meta.internal_date) {
                Some(dt) => MessageDataItem::InternalDate(dt),
                None => continue,
            },
            N::Rfc822Size => MessageDataItem::Rfc822Size(meta.size.min(u32::MAX as u64) as u32),
            N::Envelope => match envelope_fields.take() {
                Some(fields) => MessageDataItem::Envelope(envelope(fields)),
                None => continue,
            },
            N::BodyStructure => {
                MessageDataItem::BodyStructure(body_structure(&cache().mime, raw.as_deref(), true))
            }
            N::Body => MessageDataItem::Body(body_structure(&cache().mime, raw.as_deref(), false)),
            N::BodyExt {
                section, partial, ..
            } => {
                let c = cache();
                let bytes = match raw.as_deref() {
                    Some(raw) => section_bytes(raw, &c.mime, section),
                    None => section_bytes(&c.header, &c.mime, section),
                };
                let (bytes, origin) = partial_of(bytes, *partial);
                if want.rfc822_peek && section.is_none() && partial.is_none() {
                    MessageDataItem::Rfc822(reply::nbytes(bytes))
                } else {
                    MessageDataItem::BodyExt {
                        section: section.clone(),
                        origin,
                        data: reply::nbytes(bytes),
                    }
                }
            }
            N::Rfc822 => MessageDataItem::Rfc822(reply::nbytes(raw.clone().unwrap_or_default())),
            N::Rfc822Header => MessageDataItem::Rfc822Header(reply::nbytes(cache().header.clone())),
            N::Rfc822Text => {
                let text = raw
                    .as_deref()
                    .map(|r| slice(r, cache().mime.body).to_vec())
                    .unwrap_or_default();
                MessageDataItem::Rfc822Text(reply::nbytes(text))
            }
            _ => continue,
        };
        items.push(item);
    }
    // A \Seen set by this FETCH is reported even when FLAGS was not asked.
    if want.sets_seen && !want.read_only && !want.has(|n| matches!(n, N::Flags)) {
        items.push(MessageDataItem::Flags(fetch_flags(&meta.flags)));
        if want.condstore
            && !want.has(|n| matches!(n, N::ModSeq))
            && let Some(m) = NonZeroU64::new(meta.modseq)
        {
            items.push(MessageDataItem::ModSeq(m));
        }
    }
    Ok(items)
}
