//! The login cache: after a successful login the same (login, password) is
//! accepted from memory for a short time, so Thunderbird opening five
//! connections pays argon2 once. Entries are keyed by an HMAC under a key
//! that lives only in this process; the password is never stored. An entry
//! is valid only while the account's revision is unchanged, so any change
//! (password, state, lock, by this process or the CLI) drops it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

const MAX_ENTRIES: usize = 100_000;

struct Entry {
    account: i64,
    revision: i64,
    until: Instant,
}

pub struct LoginCache {
    key: [u8; 32],
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl LoginCache {
    pub fn new(ttl: Duration) -> LoginCache {
        LoginCache {
            key: crate::generate::secret_key(),
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key_for(&self, login: &str, password: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(login.trim().to_lowercase().as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// True when this (login, password) succeeded for `account` at `revision` recently.
    pub fn hit(&self, login: &str, password: &str, account: i64, revision: i64) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let key = self.key_for(login, password);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(&key).is_some_and(|e| {
            e.account == account && e.revision == revision && e.until > Instant::now()
        })
    }

    pub fn insert(&self, login: &str, password: &str, account: i64, revision: i64) {
        if self.ttl.is_zero() {
            return;
        }
        let key = self.key_for(login, password);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                account,
                revision,
                until: now + self.ttl,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_login_password_and_revision() {
        let cache = LoginCache::new(Duration::from_secs(60));
        cache.insert("Budi@Example.go.id", "pw", 7, 3);
        assert!(cache.hit("budi@example.go.id", "pw", 7, 3));
        assert!(!cache.hit("budi@example.go.id", "PW", 7, 3));
        assert!(
            !cache.hit("budi@example.go.id", "pw", 7, 4),
            "a changed account misses"
        );
        assert!(!cache.hit("siti@example.go.id", "pw", 7, 3));
        let off = LoginCache::new(Duration::ZERO);
        off.insert("a", "b", 1, 1);
        assert!(!off.hit("a", "b", 1, 1));
    }
}
