//! Command syntax imap-codec does not parse yet, rewritten before it sees
//! it, with what was said kept as a note for the command's handler:
//! - LIST-EXTENDED (RFC 5258) selection and return options, SPECIAL-USE
//!   (RFC 6154) and LIST-STATUS (RFC 5819):
//!   `t LIST (SPECIAL-USE) "" "*" RETURN (STATUS (UNSEEN))` → `t LIST "" "*"`;
//! - Outlook's `RFC822.PEEK` (not in RFC 3501) → `BODY.PEEK[]`, answered as RFC822;
//! - `ID ()`, which some clients send for "no parameters" → `ID NIL`;
//! - ESEARCH (RFC 4731) return options:
//!   `t UID SEARCH RETURN (MIN COUNT) UNSEEN` → `t UID SEARCH UNSEEN`.
//!
//! And one on the way out: the capability `IMAP4rev1` spelled as RFC 3501
//! spells it (`spell_capabilities`).
//!
//! Only whole command lines without literals are touched, except that the
//! first line of a SEARCH may announce one (non-ASCII search text).

use imap_next::imap_types::status::StatusDataItemName;

/// What a rewritten command had asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub special_use_only: bool,
    pub subscribed_only: bool,
    pub return_subscribed: bool,
    pub return_status: Vec<StatusDataItemName>,
}

/// The result options of `SEARCH RETURN (…)` (RFC 4731 §3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EsearchOptions {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    List(ListOptions),
    Rfc822Peek,
    Esearch(EsearchOptions),
}

/// Splits off the next token: a parenthesised list, a quoted string or an atom.
fn token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let bytes = s.as_bytes();
    let end = match bytes.first()? {
        b'(' => {
            let mut depth = 0;
            let mut end = None;
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            end?
        }
        b'"' => {
            let mut escaped = false;
            let mut end = None;
            for (i, &b) in bytes.iter().enumerate().skip(1) {
                match b {
                    b'\\' if !escaped => escaped = true,
                    b'"' if !escaped => {
                        end = Some(i + 1);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            end?
        }
        _ => s.find(' ').unwrap_or(s.len()),
    };
    Some((&s[..end], &s[end..]))
}

fn words(list: &str) -> Vec<String> {
    list.trim_start_matches('(')
        .trim_end_matches(')')
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect()
}

fn status_items(list: &str) -> Vec<StatusDataItemName> {
    words(list)
        .iter()
        .filter_map(|w| match w.trim_matches(['(', ')']) {
            "MESSAGES" => Some(StatusDataItemName::Messages),
            "UIDNEXT" => Some(StatusDataItemName::UidNext),
            "UIDVALIDITY" => Some(StatusDataItemName::UidValidity),
            "UNSEEN" => Some(StatusDataItemName::Unseen),
            "DELETED" => Some(StatusDataItemName::Deleted),
            "RECENT" => Some(StatusDataItemName::Recent),
            "HIGHESTMODSEQ" => Some(StatusDataItemName::HighestModSeq),
            _ => None,
        })
        .collect()
}

/// `LIST (sel) ref pat RETURN (ret)` → (`LIST ref pat`, options).
fn list(rest: &str) -> Option<(String, ListOptions)> {
    let mut options = ListOptions::default();
    let mut rest = rest;
    let (first, after) = token(rest)?;
    let reference = if first.starts_with('(') {
        for w in words(first) {
            match w.as_str() {
                "SPECIAL-USE" => options.special_use_only = true,
                "SUBSCRIBED" => {
                    options.subscribed_only = true;
                    options.return_subscribed = true;
                }
                "RECURSIVEMATCH" | "REMOTE" => {}
                _ => return None,
            }
        }
        let (reference, after) = token(after)?;
        rest = after;
        reference
    } else {
        rest = after;
        first
    };
    let (pattern, after) = token(rest)?;
    if pattern.starts_with('(') {
        return None; // several patterns: left to imap-codec (and BAD)
    }
    let after = after.trim();
    if !after.is_empty() {
        let ret = after
            .strip_prefix("RETURN")
            .or_else(|| after.strip_prefix("return"))?;
        let (list, tail) = token(ret)?;
        if !tail.trim().is_empty() {
            return None;
        }
        let inner = list.strip_prefix('(')?.strip_suffix(')')?;
        let mut inner = inner.trim();
        while !inner.is_empty() {
            let (word, tail) = token(inner)?;
            match word.to_ascii_uppercase().as_str() {
                "SUBSCRIBED" => options.return_subscribed = true,
                "CHILDREN" | "SPECIAL-USE" => {}
                "STATUS" => {
                    let (items, tail2) = token(tail)?;
                    options.return_status = status_items(items);
                    inner = tail2.trim();
                    continue;
                }
                _ => return None,
            }
            inner = tail.trim();
        }
    }
    Some((format!("LIST {reference} {pattern}"), options))
}

/// Rewrites one command line (CRLF included) if it needs it.
/// `RETURN (options) criteria` after SEARCH or UID SEARCH: the criteria
/// and the options, or `None` when there is no RETURN or an option surel
/// does not offer (SAVE; imap-codec then answers BAD, as RFC 4731 asks).
fn search_return(args: &str) -> Option<(&str, EsearchOptions)> {
    let args = args.trim_start();
    let keyword = args.get(..6)?;
    if !keyword.eq_ignore_ascii_case("RETURN") || !args[6..].starts_with(' ') {
        return None;
    }
    let (list, criteria) = token(&args[6..])?;
    let inner = list.strip_prefix('(')?.strip_suffix(')')?;
    let mut options = EsearchOptions::default();
    for word in words(inner) {
        match word.as_str() {
            "MIN" => options.min = true,
            "MAX" => options.max = true,
            "ALL" => options.all = true,
            "COUNT" => options.count = true,
            _ => return None,
        }
    }
    if options == EsearchOptions::default() {
        options.all = true; // `RETURN ()` means ALL
    }
    let criteria = criteria.trim_start();
    (!criteria.is_empty()).then_some((criteria, options))
}

/// The ESEARCH rewrite alone, for the first line of a command that
/// announces a literal.
pub fn rewrite_search(line: &[u8]) -> (Vec<u8>, Option<(String, Note)>) {
    let (rewritten, note) = rewrite(line);
    match note {
        Some((_, Note::Esearch(_))) => (rewritten, note),
        _ => (line.to_vec(), None),
    }
}

pub fn rewrite(line: &[u8]) -> (Vec<u8>, Option<(String, Note)>) {
    let unchanged = || (line.to_vec(), None);
    let Ok(text) = std::str::from_utf8(line) else {
        return unchanged();
    };
    let body = text.trim_end_matches(['\r', '\n']);
    let Some((tag, rest)) = body.split_once(' ') else {
        return unchanged();
    };
    let Some((command, args)) = rest.split_once(' ') else {
        return unchanged();
    };
    match command.to_ascii_uppercase().as_str() {
        "LIST" => {
            let plain = token(args).is_some_and(|(t, _)| !t.starts_with('('))
                && !args.to_ascii_uppercase().contains(" RETURN ");
            if plain {
                return unchanged();
            }
            match list(args) {
                Some((cmd, options)) => (
                    format!("{tag} {cmd}\r\n").into_bytes(),
                    Some((tag.to_string(), Note::List(options))),
                ),
                None => unchanged(),
            }
        }
        "ID" if args.trim() == "()" => (format!("{tag} ID NIL\r\n").into_bytes(), None),
        "SEARCH" | "UID"
            if command.eq_ignore_ascii_case("SEARCH")
                || args
                    .get(..7)
                    .is_some_and(|w| w.eq_ignore_ascii_case("SEARCH ")) =>
        {
            let (command, args) = if command.eq_ignore_ascii_case("UID") {
                ("UID SEARCH", &args[7..])
            } else {
                ("SEARCH", args)
            };
            match search_return(args) {
                Some((criteria, options)) => (
                    format!("{tag} {command} {criteria}\r\n").into_bytes(),
                    Some((tag.to_string(), Note::Esearch(options))),
                ),
                None => unchanged(),
            }
        }
        "FETCH" | "UID" if body.to_ascii_uppercase().contains("RFC822.PEEK") => {
            let upper = body.to_ascii_uppercase();
            let at = upper.find("RFC822.PEEK").expect("found");
            let rewritten = format!(
                "{}BODY.PEEK[]{}\r\n",
                &body[..at],
                &body[at + "RFC822.PEEK".len()..]
            );
            (
                rewritten.into_bytes(),
                Some((tag.to_string(), Note::Rfc822Peek)),
            )
        }
        _ => unchanged(),
    }
}

/// imap-codec writes the capability `IMAP4REV1`; servers write it
/// `IMAP4rev1` as RFC 3501 spells it, and some tools match that spelling
/// case-sensitively (testssl.sh's STARTTLS check found no STARTTLS). In
/// place, in any response carrying a capability list.
pub fn spell_capabilities(response: &mut [u8]) {
    const UPPER: &[u8] = b" IMAP4REV1";
    let head = &response[..response.len().min(64)];
    if !head.windows(10).any(|w| w == b"CAPABILITY") {
        return;
    }
    if let Some(at) = response.windows(UPPER.len()).position(|w| w == UPPER) {
        response[at..at + UPPER.len()].copy_from_slice(b" IMAP4rev1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(line: &str) -> (String, Option<(String, Note)>) {
        let (bytes, note) = rewrite(line.as_bytes());
        (String::from_utf8(bytes).unwrap(), note)
    }

    #[test]
    fn list_extended_is_rewritten_with_its_options() {
        let (line, note) = r("a1 LIST (SPECIAL-USE) \"\" \"*\"\r\n");
        assert_eq!(line, "a1 LIST \"\" \"*\"\r\n");
        assert!(matches!(note, Some((t, Note::List(o))) if t == "a1" && o.special_use_only));
        let (line, note) =
            r("a2 LIST \"\" \"*\" RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UNSEEN))\r\n");
        assert_eq!(line, "a2 LIST \"\" \"*\"\r\n");
        let Some((_, Note::List(o))) = note else {
            panic!()
        };
        assert!(o.return_subscribed && !o.subscribed_only);
        assert_eq!(
            o.return_status,
            vec![StatusDataItemName::Messages, StatusDataItemName::Unseen]
        );
        let (line, note) = r("a3 LIST \"\" *\r\n");
        assert_eq!((line.as_str(), note), ("a3 LIST \"\" *\r\n", None));
        let (line, _) = r("a4 LIST (SUBSCRIBED) \"\" \"Arsip Proyek/%\"\r\n");
        assert_eq!(line, "a4 LIST \"\" \"Arsip Proyek/%\"\r\n");
        // Unknown options are left alone (imap-codec answers BAD).
        assert_eq!(r("a5 LIST (FROB) \"\" *\r\n").1, None);
    }

    #[test]
    fn outlook_and_id_habits() {
        let (line, note) = r("7 UID FETCH 1:* (UID RFC822.PEEK)\r\n");
        assert_eq!(line, "7 UID FETCH 1:* (UID BODY.PEEK[])\r\n");
        assert_eq!(note, Some(("7".to_string(), Note::Rfc822Peek)));
        assert_eq!(r("8 ID ()\r\n").0, "8 ID NIL\r\n");
        assert_eq!(r("9 NOOP\r\n").0, "9 NOOP\r\n");
    }

    #[test]
    fn esearch_return_options_are_taken_off() {
        let (line, note) = r("t1 UID SEARCH RETURN (MIN COUNT) UNSEEN\r\n");
        assert_eq!(line, "t1 UID SEARCH UNSEEN\r\n");
        let want = EsearchOptions {
            min: true,
            count: true,
            ..Default::default()
        };
        assert_eq!(note, Some(("t1".into(), Note::Esearch(want))));
        let (line, note) = r("t2 search return () charset UTF-8 all\r\n");
        assert_eq!(line, "t2 SEARCH charset UTF-8 all\r\n");
        assert!(matches!(note, Some((_, Note::Esearch(o))) if o.all && !o.min));
        // SAVE is not offered; plain SEARCH stays as it is.
        assert_eq!(r("t3 SEARCH RETURN (SAVE) ALL\r\n").1, None);
        assert_eq!(r("t4 UID SEARCH ALL\r\n").1, None);
        assert_eq!(r("t5 SEARCH RETURN (MIN)\r\n").1, None);
        // A literal after the options (non-ASCII text) keeps its announcement.
        let (line, _) = rewrite_search(b"t6 SEARCH RETURN (COUNT) CHARSET UTF-8 SUBJECT {5}\r\n");
        assert_eq!(line, b"t6 SEARCH CHARSET UTF-8 SUBJECT {5}\r\n");
        let (line, note) = rewrite_search(b"t7 LIST (SPECIAL-USE) \"\" {1}\r\n");
        assert_eq!(
            (line.as_slice(), note),
            (&b"t7 LIST (SPECIAL-USE) \"\" {1}\r\n"[..], None)
        );
    }
}
