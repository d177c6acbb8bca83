//! Folder names: validation, the on-disk Maildir++ name, and the special-use
//! folders with the names Outlook and Zimbra give them.
//!
//! IMAP names arrive as UTF-8 with `/` as the hierarchy separator. On disk a
//! folder `A/B` is the directory `.A.B` beside `cur/new/tmp` of INBOX, each
//! component in modified UTF-7 as Dovecot writes it; a `.` inside a
//! component is written `&AC4-` so it cannot split the hierarchy. Nothing a
//! client sends can make a path outside the user's directory: components
//! are never empty, `.` or `..`, and never contain control characters.

use crate::error::{Error, Result};

/// Longest folder name accepted, in bytes of UTF-8.
pub const MAX_NAME: usize = 255;
/// Deepest hierarchy accepted.
pub const MAX_DEPTH: usize = 16;

/// The special-use folders made with every account (RFC 6154).
pub const SPECIAL: [(&str, &str); 5] = [
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Junk", "\\Junk"),
    ("Trash", "\\Trash"),
    ("Archive", "\\Archive"),
];

/// Other clients' names for the special folders (English and Indonesian
/// Outlook, Zimbra, Apple, Gmail-style), all resolving to ours.
const ALIASES: [(&str, &str); 22] = [
    ("Sent Items", "Sent"),
    ("Sent Messages", "Sent"),
    ("Sent Mail", "Sent"),
    ("Item Terkirim", "Sent"),
    ("Terkirim", "Sent"),
    ("Draft", "Drafts"),
    ("Draf", "Drafts"),
    ("Junk E-mail", "Junk"),
    ("Junk Email", "Junk"),
    ("Spam", "Junk"),
    ("Bulk Mail", "Junk"),
    ("Email Sampah", "Junk"),
    ("Surel Sampah", "Junk"),
    ("Deleted Items", "Trash"),
    ("Deleted Messages", "Trash"),
    ("Deleted", "Trash"),
    ("Item yang Dihapus", "Trash"),
    ("Sampah", "Trash"),
    ("Tempat Sampah", "Trash"),
    ("Archives", "Archive"),
    ("Arsip", "Archive"),
    ("Archived", "Archive"),
];

/// The canonical form of a valid name: `INBOX` in any case becomes `INBOX`,
/// and a client's name for a special folder becomes ours.
pub fn canonical(name: &str) -> Result<String> {
    validate(name)?;
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    if name
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("INBOX/"))
    {
        return Ok(format!("INBOX/{}", &name[6..]));
    }
    if let Some((_, ours)) = ALIASES
        .iter()
        .find(|(theirs, _)| theirs.eq_ignore_ascii_case(name))
    {
        return Ok(ours.to_string());
    }
    if let Some((ours, _)) = SPECIAL
        .iter()
        .find(|(ours, _)| ours.eq_ignore_ascii_case(name))
    {
        return Ok(ours.to_string());
    }
    Ok(name.to_string())
}

/// Refuses names that are empty, too long, too deep, or could touch a path
/// outside the user's directory.
pub fn validate(name: &str) -> Result<()> {
    let refuse = |why| {
        Err(Error::InvalidName {
            name: name.chars().take(80).collect(),
            why,
        })
    };
    if name.is_empty() {
        return refuse("the name is empty");
    }
    if name.len() > MAX_NAME {
        return refuse("the name is too long");
    }
    if name.chars().any(|c| c.is_control()) {
        return refuse("control characters are not allowed");
    }
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() > MAX_DEPTH {
        return refuse("the hierarchy is too deep");
    }
    for part in parts {
        if part.is_empty() {
            return refuse("empty hierarchy level (a leading, trailing or double '/')");
        }
        if part == "." || part == ".." {
            return refuse("'.' and '..' are not folder names");
        }
        if part.trim() != part {
            return refuse("a level may not start or end with a space");
        }
        if part.contains('\\') {
            return refuse("'\\' is not allowed");
        }
    }
    Ok(())
}

/// The alphabet of modified base64 (RFC 3501 §5.1.3): `,` instead of `/`.
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// `text` in modified UTF-7 (RFC 3501 §5.1.3), as IMAP and Dovecot's
/// Maildir++ directories write names: printable ASCII as itself, `&` as
/// `&-`, every run of other characters as `&`, the modified base64 of its
/// UTF-16, `-`.
pub fn encode_utf7(text: &str) -> String {
    fn flush(out: &mut String, run: &mut Vec<u8>) {
        if run.is_empty() {
            return;
        }
        out.push('&');
        for chunk in run.chunks(3) {
            let bytes = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
            // 1, 2 or 3 bytes make 2, 3 or 4 characters; no `=` padding.
            for i in 0..=chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]));
            }
        }
        out.push('-');
        run.clear();
    }
    let mut out = String::with_capacity(text.len());
    let mut run = Vec::new();
    for c in text.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut run);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                run.extend_from_slice(&unit.to_be_bytes());
            }
        }
    }
    flush(&mut out, &mut run);
    out
}

/// The text a modified UTF-7 string stands for, or None when it is not
/// well-formed: an `&` without its closing `-`, a character outside
/// modified base64, leftover bits that are not zero padding, or UTF-16
/// that is not valid. Text outside `&…-` is taken as it is (also UTF-8,
/// which some clients send).
///
/// This replaces the utf7-imap crate, whose decoder unwrapped its base64
/// decoding: `SELECT "&A-"` from any client, or a directory `.&A-` in a
/// maildir, panicked the session (found by fuzzing, issue 10).
pub fn decode_utf7(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('-')?;
        let (encoded, tail) = (&after[..end], &after[end + 1..]);
        rest = tail;
        if encoded.is_empty() {
            out.push('&');
            continue;
        }
        let mut bytes = Vec::with_capacity(encoded.len() * 3 / 4);
        let (mut bits, mut nbits) = (0u32, 0u32);
        for b in encoded.bytes() {
            let value = BASE64.iter().position(|&x| x == b)? as u32;
            bits = (bits << 6) | value;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                bytes.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        // What is left must be fewer than 6 bits, all zero.
        if nbits >= 6 || bits != 0 || bytes.len() % 2 != 0 {
            return None;
        }
        let units = bytes
            .chunks(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
        for c in char::decode_utf16(units) {
            out.push(c.ok()?);
        }
    }
    out.push_str(rest);
    Some(out)
}

/// The directory name of a (valid, canonical) folder: "" for INBOX, else
/// ".A.B" with each level in modified UTF-7.
pub fn disk_name(name: &str) -> String {
    if name == "INBOX" {
        return String::new();
    }
    let mut out = String::new();
    for part in name.split('/') {
        out.push('.');
        out.push_str(&disk_level(part));
    }
    out
}

/// One level of a directory name: modified UTF-7, `.` written `&AC4-`.
fn disk_level(part: &str) -> String {
    encode_utf7(part).replace('.', "&AC4-")
}

/// The IMAP name of an on-disk directory name (".A.B" → "A/B"), or None
/// for directories that are not folders (or not valid ones). A level must
/// be written as `disk_name` writes it (as Dovecot does), so that the
/// folder listed is the directory opened.
pub fn from_disk_name(dir: &str) -> Option<String> {
    let rest = dir.strip_prefix('.')?;
    if rest.is_empty() {
        return None;
    }
    let parts = rest
        .split('.')
        .map(|p| decode_utf7(p).filter(|decoded| disk_level(decoded) == p))
        .collect::<Option<Vec<String>>>()?;
    let name = parts.join("/");
    canonical(&name).ok()
}

/// The special-use attribute of a folder, if it is one of ours.
pub fn special_use(name: &str) -> Option<&'static str> {
    SPECIAL
        .iter()
        .find(|(ours, _)| *ours == name)
        .map(|(_, attr)| *attr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_names_are_refused() {
        for bad in [
            "", "..", ".", "a/../b", "../x", "a/./b", "/abs", "a/", "a//b", "a\0b", "a\nb",
            "x\u{7f}", "a\\..\\b", " lead", "trail ",
        ] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate(&"x".repeat(256)).is_err());
        assert!(validate(&vec!["a"; 17].join("/")).is_err());
        for good in [
            "INBOX",
            "Laporan/2026",
            "Surat Masuk (11.2026)",
            "Keuangan/Pajak & Bea",
            "Über",
            "日本",
        ] {
            assert!(validate(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn disk_names_are_dovecot_maildir_plus_plus() {
        assert_eq!(disk_name("INBOX"), "");
        assert_eq!(disk_name("Sent"), ".Sent");
        assert_eq!(disk_name("Laporan/2026"), ".Laporan.2026");
        assert_eq!(disk_name("Über"), ".&ANw-ber");
        assert_eq!(disk_name("v1.2"), ".v1&AC4-2");
        for name in ["Sent", "Laporan/2026", "Über/Ärger", "v1.2/x.y", "A & B"] {
            assert_eq!(
                from_disk_name(&disk_name(name)).as_deref(),
                Some(name),
                "{name}"
            );
        }
        // Whatever is on disk, the name read back is a valid one, or none.
        assert_eq!(from_disk_name(".."), None);
        assert_eq!(from_disk_name("."), None);
        assert_eq!(from_disk_name("cur"), None);
        assert_eq!(from_disk_name(".a..b"), None);
    }

    #[test]
    fn modified_utf7_is_what_dovecot_writes() {
        for (text, encoded) in [
            ("Arsip", "Arsip"),
            ("Pajak & Bea", "Pajak &- Bea"),
            ("Über", "&ANw-ber"),
            ("Catatan Rapat \u{2013} Mei", "Catatan Rapat &IBM- Mei"),
            ("日本語", "&ZeVnLIqe-"),
            ("Dokumen 📁", "Dokumen &2D3cwQ-"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
        ] {
            assert_eq!(encode_utf7(text), encoded, "{text}");
            assert_eq!(decode_utf7(encoded).as_deref(), Some(text), "{encoded}");
        }
    }

    /// Regression (issue 10, fuzz/corpus/imap_session/crash_rename_invalid_utf7
    /// and fuzz/corpus/folder_names/disk_invalid_utf7): the utf7-imap crate
    /// panicked on these; they are refused now.
    #[test]
    fn malformed_modified_utf7_is_refused_not_a_panic() {
        for bad in [
            "&A-", "&I-", "&AA-", "&Jjo", "a&", "&!!-", "&AGE=-", "&2D0-", "&AGF-", "&ANw",
        ] {
            assert_eq!(decode_utf7(bad), None, "{bad:?}");
        }
        assert_eq!(from_disk_name(".&A-"), None);
        assert_eq!(from_disk_name(".Arsip.&I-"), None);
        // Well-formed but not as we write it: not a folder of ours.
        assert_eq!(decode_utf7("&AGE-").as_deref(), Some("a"));
        assert_eq!(from_disk_name(".&AGE-"), None);
    }

    #[test]
    fn other_clients_names_resolve_to_the_special_folders() {
        assert_eq!(canonical("Sent Items").unwrap(), "Sent");
        assert_eq!(canonical("deleted items").unwrap(), "Trash");
        assert_eq!(canonical("Junk E-mail").unwrap(), "Junk");
        assert_eq!(canonical("Item Terkirim").unwrap(), "Sent");
        assert_eq!(canonical("inbox").unwrap(), "INBOX");
        assert_eq!(canonical("Inbox/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(canonical("sent").unwrap(), "Sent");
        assert_eq!(canonical("Sent Items/Old").unwrap(), "Sent Items/Old");
        assert_eq!(special_use("Trash"), Some("\\Trash"));
    }
}
