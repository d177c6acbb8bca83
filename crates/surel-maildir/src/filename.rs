//! Dovecot-compatible Maildir file names:
//! `<secs>.M<usecs>P<pid>Q<n>R<random>.<host>,S=<size>,W=<vsize>` plus
//! `:2,<flags>` once a message is in `cur/`. Files surel writes also carry
//! `,U=<uid>`: the UID their delivery took, so a rescan after a power loss
//! that cost the index its last commits gives each message the same UID
//! again (Dovecot ignores fields it does not know).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .unwrap_or_else(|_| "localhost".into());
        // As Dovecot does: '/' and ':' cannot appear in a file name part.
        raw.trim().replace('/', "\\057").replace(':', "\\072")
    })
}

/// A new unique base name (the part before `:2,`) for a message of
/// `size` bytes as stored and `vsize` bytes with CRLF line ends.
pub fn new_base(size: u64, vsize: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random: u32 = rand::rng().random();
    format!(
        "{}.M{}P{}Q{}R{:08x}.{},S={},W={}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        n,
        random,
        host(),
        size,
        vsize
    )
}

/// Splits a file name into its base and Maildir info letters.
pub fn split(file: &str) -> (&str, &str) {
    match file.split_once(":2,") {
        Some((base, letters)) => (base, letters),
        None => (file.split_once(':').map_or(file, |(b, _)| b), ""),
    }
}

/// The value of a `,<key>` field of a base name.
fn field<T: std::str::FromStr>(base: &str, key: &str) -> Option<T> {
    base.split(',')
        .skip(1)
        .find_map(|f| f.strip_prefix(key))
        .and_then(|v| v.parse().ok())
}

/// The `,S=` and `,W=` sizes a base name carries, if it does.
pub fn sizes(base: &str) -> (Option<u64>, Option<u64>) {
    (field(base, "S="), field(base, "W="))
}

/// `base` named with the UID its message took.
pub fn with_uid(base: &str, uid: u32) -> String {
    format!("{base},U={uid}")
}

/// The UID a base name records (see the module comment), if any.
pub fn uid_hint(base: &str) -> Option<u32> {
    field(base, "U=").filter(|&uid| uid > 0)
}

/// Bytes of `raw` once every bare LF is a CRLF (IMAP's RFC822.SIZE).
pub fn crlf_size(raw: &[u8]) -> u64 {
    let bare_lf = raw
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || raw[i - 1] != b'\r'))
        .count();
    (raw.len() + bare_lf) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_carry_sizes() {
        let a = new_base(10, 12);
        let b = new_base(10, 12);
        assert_ne!(a, b);
        assert_eq!(sizes(&a), (Some(10), Some(12)));
        assert_eq!(split(&format!("{a}:2,FS")), (a.as_str(), "FS"));
        assert_eq!(split(&a), (a.as_str(), ""));
        assert_eq!(sizes("1700000000.M1P2.host"), (None, None));
        let named = with_uid(&a, 42);
        assert_eq!(uid_hint(&named), Some(42));
        assert_eq!(sizes(&named), (Some(10), Some(12)));
        assert_eq!(uid_hint(&a), None);
        assert_eq!(uid_hint("1.M1P2.host,U=0"), None);
        assert_eq!(crlf_size(b"a\nb\r\nc\n"), 9);
    }
}
