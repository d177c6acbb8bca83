//! Message flags: IMAP system flags as bits, keywords as words, and the
//! Maildir info letters (`:2,DFPRST`) that other tools read.

use std::fmt;

/// IMAP system flags (RFC 9051 §2.3.2) plus `$Forwarded`, which Maildir
/// stores as a letter too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    bits: u8,
    keywords: Vec<String>,
}

const SEEN: u8 = 1;
const ANSWERED: u8 = 2;
const FLAGGED: u8 = 4;
const DELETED: u8 = 8;
const DRAFT: u8 = 16;
const FORWARDED: u8 = 32;

/// (IMAP name, bit, Maildir letter), letters in the ASCII order Maildir wants.
const SYSTEM: [(&str, u8, char); 6] = [
    ("\\Draft", DRAFT, 'D'),
    ("\\Flagged", FLAGGED, 'F'),
    ("$Forwarded", FORWARDED, 'P'),
    ("\\Answered", ANSWERED, 'R'),
    ("\\Seen", SEEN, 'S'),
    ("\\Deleted", DELETED, 'T'),
];

impl Flags {
    pub fn new() -> Flags {
        Flags::default()
    }

    /// Builds flags from IMAP names (system flags case-insensitive).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Flags {
        let mut flags = Flags::new();
        for name in names {
            flags.insert(name);
        }
        flags
    }

    pub fn insert(&mut self, name: &str) {
        if let Some((_, bit, _)) = SYSTEM.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
            self.bits |= bit;
        } else if !name.starts_with('\\')
            && !name.is_empty()
            && !self.keywords.iter().any(|k| k.eq_ignore_ascii_case(name))
        {
            self.keywords.push(name.to_string());
            self.keywords.sort();
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Some((_, bit, _)) = SYSTEM.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
            self.bits &= !bit;
        } else {
            self.keywords.retain(|k| !k.eq_ignore_ascii_case(name));
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        match SYSTEM.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, bit, _)) => self.bits & bit != 0,
            None => self.keywords.iter().any(|k| k.eq_ignore_ascii_case(name)),
        }
    }

    pub fn is_seen(&self) -> bool {
        self.bits & SEEN != 0
    }

    pub fn is_deleted(&self) -> bool {
        self.bits & DELETED != 0
    }

    /// Every flag by its IMAP name, system flags first.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            ("\\Seen", SEEN),
            ("\\Answered", ANSWERED),
            ("\\Flagged", FLAGGED),
            ("\\Deleted", DELETED),
            ("\\Draft", DRAFT),
            ("$Forwarded", FORWARDED),
        ]
        .iter()
        .filter(|(_, bit)| self.bits & bit != 0)
        .map(|(n, _)| n.to_string())
        .collect();
        out.extend(self.keywords.iter().cloned());
        out
    }

    /// The Maildir info letters, e.g. "FS".
    pub fn maildir_letters(&self) -> String {
        SYSTEM
            .iter()
            .filter(|(_, bit, _)| self.bits & bit != 0)
            .map(|(_, _, c)| *c)
            .collect()
    }

    /// Reads Maildir letters; unknown letters (Dovecot keyword letters
    /// a–z) are ignored here, keywords live in the index.
    pub fn from_maildir_letters(letters: &str) -> Flags {
        let mut flags = Flags::new();
        for c in letters.chars() {
            if let Some((_, bit, _)) = SYSTEM.iter().find(|(_, _, l)| *l == c) {
                flags.bits |= bit;
            }
        }
        flags
    }

    /// Same system flags as `other`, keeping this one's keywords.
    pub fn with_system_of(&self, other: &Flags) -> Flags {
        Flags {
            bits: other.bits,
            keywords: self.keywords.clone(),
        }
    }

    pub(crate) fn bits(&self) -> u8 {
        self.bits
    }

    pub(crate) fn from_parts(bits: u8, keywords: &str) -> Flags {
        Flags {
            bits,
            keywords: keywords
                .split(' ')
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    pub(crate) fn keywords_text(&self) -> String {
        self.keywords.join(" ")
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_letters_round_trip() {
        let flags = Flags::from_names(["\\seen", "\\Flagged", "$Forwarded", "Work", "\\Recent"]);
        assert_eq!(flags.names(), ["\\Seen", "\\Flagged", "$Forwarded", "Work"]);
        assert_eq!(flags.maildir_letters(), "FPS");
        let back = Flags::from_maildir_letters("FPSab");
        assert_eq!(back.names(), ["\\Seen", "\\Flagged", "$Forwarded"]);
        assert!(flags.contains("work") && flags.contains("\\SEEN"));
        let mut f = flags.clone();
        f.remove("\\Seen");
        f.remove("WORK");
        assert_eq!(f.names(), ["\\Flagged", "$Forwarded"]);
        assert_eq!(Flags::from_parts(f.bits(), &f.keywords_text()), f);
    }
}
