//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) over the index: flags, sizes
//! and dates from the metadata, header fields from the cache, and message
//! bodies read only for BODY and TEXT.

use std::num::NonZeroU32;

use imap_next::imap_types::core::Tag;
use imap_next::imap_types::extensions::uidplus::UidElement;
use imap_next::imap_types::response::Data;
use imap_next::imap_types::search::SearchKey;

use surel_maildir::{Cached, Mailbox, MessageMeta};

use crate::cmd::select::{resolve, storage_error};
use crate::driver::Driver;
use crate::quirks::{EsearchOptions, Note};
use crate::reply;
use crate::session::{Selected, Session, blocking};

struct Candidate<'a> {
    seq: u32,
    meta: &'a MessageMeta,
    cached: Option<Cached>,
}

fn text_of(s: &imap_next::imap_types::core::AString<'_>) -> String {
    String::from_utf8_lossy(s.as_ref()).to_lowercase()
}

/// The date part of a timestamp (UTC), as SEARCH dates disregard time.
fn day(secs: i64) -> Option<chrono::NaiveDate> {
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.date_naive())
}

fn uses_modseq(key: &SearchKey<'_>) -> bool {
    use SearchKey::*;
    match key {
        ModSequence { .. } => true,
        And(keys) => keys.as_ref().iter().any(uses_modseq),
        Not(k) => uses_modseq(k),
        Or(a, b) => uses_modseq(a) || uses_modseq(b),
        _ => false,
    }
}

fn needs_cache(key: &SearchKey<'_>) -> bool {
    use SearchKey::*;
    match key {
        From(_) | To(_) | Cc(_) | Bcc(_) | Subject(_) | Header(..) | SentBefore(_) | SentOn(_)
        | SentSince(_) | Text(_) => true,
        And(keys) => keys.as_ref().iter().any(needs_cache),
        Not(k) => needs_cache(k),
        Or(a, b) => needs_cache(a) || needs_cache(b),
        _ => false,
    }
}

/// A header field's unfolded value(s) in a header block, lower-cased.
fn header_value(header: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(header);
    let mut found = None;
    let mut current: Option<String> = None;
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push_str(line.trim());
            }
            continue;
        }
        if let Some(done) = current.take() {
            found.get_or_insert_with(String::new).push_str(&done);
        }
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            current = Some(v.trim().to_string());
        }
    }
    if let Some(done) = current {
        found.get_or_insert_with(String::new).push_str(&done);
    }
    found.map(|s| s.to_lowercase())
}

fn matches(key: &SearchKey<'_>, c: &Candidate<'_>, view: &Selected, mailbox: &Mailbox) -> bool {
    use SearchKey::*;
    let flags = &c.meta.flags;
    let field = |f: fn(&Cached) -> &str| {
        c.cached
            .as_ref()
            .map(|x| f(x).to_lowercase())
            .unwrap_or_default()
    };
    let sent = || c.cached.as_ref().and_then(|x| x.fields.date).and_then(day);
    match key {
        All => true,
        And(keys) => keys.as_ref().iter().all(|k| matches(k, c, view, mailbox)),
        Or(a, b) => matches(a, c, view, mailbox) || matches(b, c, view, mailbox),
        Not(k) => !matches(k, c, view, mailbox),
        SequenceSet(set) => resolve(view, set, false).iter().any(|&(s, _)| s == c.seq),
        Uid(set) => resolve(view, set, true)
            .iter()
            .any(|&(_, u)| u == c.meta.uid),
        Answered => flags.contains("\\Answered"),
        Unanswered => !flags.contains("\\Answered"),
        Deleted => flags.is_deleted(),
        Undeleted => !flags.is_deleted(),
        Draft => flags.contains("\\Draft"),
        Undraft => !flags.contains("\\Draft"),
        Flagged => flags.contains("\\Flagged"),
        Unflagged => !flags.contains("\\Flagged"),
        Seen => flags.is_seen(),
        Unseen => !flags.is_seen(),
        // surel keeps no \Recent (RFC 9051 dropped it).
        Recent => false,
        New => false,
        Old => true,
        Keyword(k) => flags.contains(k.as_ref()),
        Unkeyword(k) => !flags.contains(k.as_ref()),
        Larger(n) => c.meta.size > u64::from(*n),
        Smaller(n) => c.meta.size < u64::from(*n),
        Before(date) => day(c.meta.internal_date).is_some_and(|d| d < *date.as_ref()),
        On(date) => day(c.meta.internal_date).is_some_and(|d| d == *date.as_ref()),
        Since(date) => day(c.meta.internal_date).is_some_and(|d| d >= *date.as_ref()),
        SentBefore(date) => sent().is_some_and(|d| d < *date.as_ref()),
        SentOn(date) => sent().is_some_and(|d| d == *date.as_ref()),
        SentSince(date) => sent().is_some_and(|d| d >= *date.as_ref()),
        From(s) => field(|x| &x.fields.from).contains(&text_of(s)),
        To(s) => field(|x| &x.fields.to).contains(&text_of(s)),
        Cc(s) => field(|x| &x.fields.cc).contains(&text_of(s)),
        Bcc(s) => field(|x| &x.fields.bcc).contains(&text_of(s)),
        Subject(s) => field(|x| &x.fields.subject).contains(&text_of(s)),
        Header(name, value) => {
            let name = String::from_utf8_lossy(name.as_ref()).into_owned();
            c.cached
                .as_ref()
                .and_then(|x| header_value(&x.header, &name))
                .is_some_and(|v| v.contains(&text_of(value)))
        }
        Body(s) => mailbox
            .body_contains(&view.name, c.meta, &text_of(s))
            .unwrap_or(false),
        ModSequence { modseq, .. } => c.meta.modseq >= *modseq,
        Text(s) => {
            let needle = text_of(s);
            c.cached.as_ref().is_some_and(|x| {
                String::from_utf8_lossy(&x.header)
                    .to_lowercase()
                    .contains(&needle)
            }) || mailbox
                .body_contains(&view.name, c.meta, &needle)
                .unwrap_or(false)
        }
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// `* ESEARCH (TAG "t") [UID] …` (RFC 4731 §3.1): MIN, MAX and ALL only
/// when something matched, COUNT always; the tag quoted, as Outlook
/// needs; MODSEQ after a CONDSTORE search (RFC 7162 §3.1.5).
fn esearch_line(
    tag: &str,
    uid: bool,
    options: EsearchOptions,
    hits: &[u32],
    modseq: Option<u64>,
) -> String {
    let mut line = format!("* ESEARCH (TAG \"{tag}\")");
    if uid {
        line.push_str(" UID");
    }
    if let (Some(first), Some(last)) = (hits.first(), hits.last()) {
        if options.min {
            line.push_str(&format!(" MIN {first}"));
        }
        if options.max {
            line.push_str(&format!(" MAX {last}"));
        }
    }
    if options.count {
        line.push_str(&format!(" COUNT {}", hits.len()));
    }
    if options.all
        && let Some(set) = crate::cmd::store::uid_set(hits)
    {
        let parts: Vec<String> = set
            .0
            .as_ref()
            .iter()
            .map(|e| match e {
                UidElement::Single(a) => a.to_string(),
                UidElement::Range(a, b) => format!("{a}:{b}"),
            })
            .collect();
        line.push_str(&format!(" ALL {}", parts.join(",")));
    }
    if let Some(m) = modseq.filter(|_| !hits.is_empty()) {
        line.push_str(&format!(" MODSEQ {m}"));
    }
    line.push_str("\r\n");
    line
}

impl Session {
    /// RFC 9051 §6.4.4 (SEARCH), §6.4.9 (UID SEARCH), with RFC 4731's
    /// `RETURN (MIN MAX COUNT ALL)` answered by ESEARCH.
    pub fn search(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        criteria: Vec<SearchKey<'static>>,
        uid: bool,
    ) {
        let key = match criteria.len() {
            1 => criteria.into_iter().next().expect("one"),
            _ => SearchKey::And(criteria.try_into().expect("not empty")),
        };
        let esearch = match d.take_note(tag.as_ref()) {
            Some(Note::Esearch(options)) => Some(options),
            _ => None,
        };
        let with_cache = needs_cache(&key);
        let modseq_search = uses_modseq(&key);
        if modseq_search {
            self.condstore = true;
        }
        let (Some(view), Some(user)) = (self.selected.as_ref(), self.user.as_mut()) else {
            return;
        };
        // One snapshot of the index for the whole search, not one per message.
        let found = blocking(|| -> surel_maildir::Result<(Vec<u32>, u64)> {
            let _snapshot = user.mailbox.snapshot()?;
            let metas = user.mailbox.messages(&view.name)?;
            let mut hits = Vec::new();
            let mut highest = 0u64;
            for (i, &u) in view.uids.iter().enumerate() {
                let Ok(m) = metas.binary_search_by_key(&u, |m| m.uid) else {
                    continue;
                };
                let cached = if with_cache {
                    user.mailbox.cached(&view.name, u).ok()
                } else {
                    None
                };
                let candidate = Candidate {
                    seq: i as u32 + 1,
                    meta: &metas[m],
                    cached,
                };
                if matches(&key, &candidate, view, &user.mailbox) {
                    hits.push(if uid { u } else { i as u32 + 1 });
                    highest = highest.max(candidate.meta.modseq);
                }
            }
            Ok((hits, highest))
        });
        match found {
            Ok((hits, highest)) if esearch.is_some() => {
                let options = esearch.expect("checked");
                let modseq = modseq_search.then_some(highest);
                let line = esearch_line(tag.as_ref(), uid, options, &hits, modseq);
                // Raw, so the tagged reply must follow it raw as well.
                d.enqueue_raw(line.as_bytes());
                d.enqueue_raw(format!("{} OK SEARCH completed\r\n", tag.as_ref()).as_bytes());
            }
            Ok((hits, highest)) => {
                let hits: Vec<NonZeroU32> = hits.into_iter().filter_map(NonZeroU32::new).collect();
                // RFC 7162 §3.1.5: a MODSEQ search reports the highest modseq found.
                let modseq = if modseq_search {
                    std::num::NonZeroU64::new(highest)
                } else {
                    None
                };
                d.server.enqueue_data(Data::Search(hits, modseq));
                d.server
                    .enqueue_status(reply::ok(tag, None, "SEARCH completed"));
            }
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EsearchOptions, esearch_line, header_value};

    #[test]
    fn esearch_lines_follow_rfc_4731() {
        let all = EsearchOptions {
            min: true,
            max: true,
            all: true,
            count: true,
        };
        assert_eq!(
            esearch_line("A282", true, all, &[2, 3, 4, 10, 11], None),
            "* ESEARCH (TAG \"A282\") UID MIN 2 MAX 11 COUNT 5 ALL 2:4,10:11\r\n"
        );
        assert_eq!(
            esearch_line("A283", false, all, &[], Some(9)),
            "* ESEARCH (TAG \"A283\") COUNT 0\r\n"
        );
        let count = EsearchOptions {
            count: true,
            ..Default::default()
        };
        assert_eq!(
            esearch_line("t", false, count, &[7], Some(917162500)),
            "* ESEARCH (TAG \"t\") COUNT 1 MODSEQ 917162500\r\n"
        );
    }

    #[test]
    fn header_values_are_unfolded() {
        let h = b"Subject: Rapat\r\n  besok pagi\r\nX-Prioritas: Tinggi\r\n\r\n";
        assert_eq!(
            header_value(h, "subject").as_deref(),
            Some("rapatbesok pagi")
        );
        assert_eq!(header_value(h, "x-prioritas").as_deref(), Some("tinggi"));
        assert_eq!(header_value(h, "to"), None);
    }
}
