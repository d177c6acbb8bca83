//! Command syntax imap-codec does not parse yet, rewritten before it sees
//! it, with what was said kept as a note for the command's handler:
//! - LIST-EXTENDED (RFC 5258) selection and return options, SPECIAL-USE
//!   (RFC 6154) and LIST-STATUS (RFC 5819):
//!   `t LIST (SPECIAL-USE) "" "*" RETURN (STATUS (UNSEEN))` → `t LIST "" "*"`;
//! - Outlook's `RFC822.PEEK` (not in RFC 3501) → `BODY.PEEK[]`, answered as RFC822;
//! - `ID ()`, which some clients send for "no parameters" → `ID NIL`.
//!
//! Only whole command lines without literals are touched.

use imap_next::imap_types::status::StatusDataItemName;

/// What a rewritten command had asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub special_use_only: bool,
    pub subscribed_only: bool,
    pub return_subscribed: bool,
    pub return_status: Vec<StatusDataItemName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    List(ListOptions),
    Rfc822Peek,
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
}
