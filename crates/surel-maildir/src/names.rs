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

/// The directory name of a (valid, canonical) folder: "" for INBOX, else
/// ".A.B" with each level in modified UTF-7.
pub fn disk_name(name: &str) -> String {
    if name == "INBOX" {
        return String::new();
    }
    let mut out = String::new();
    for part in name.split('/') {
        out.push('.');
        let encoded = utf7_imap::encode_utf7_imap(part.to_string());
        out.push_str(&encoded.replace('.', "&AC4-"));
    }
    out
}

/// The IMAP name of an on-disk directory name (".A.B" → "A/B"), or None
/// for directories that are not folders (or not valid ones).
pub fn from_disk_name(dir: &str) -> Option<String> {
    let rest = dir.strip_prefix('.')?;
    if rest.is_empty() {
        return None;
    }
    let parts: Vec<String> = rest
        .split('.')
        .map(|p| utf7_imap::decode_utf7_imap(p.to_string()))
        .collect();
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
