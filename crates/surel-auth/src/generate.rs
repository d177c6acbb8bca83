//! Initial passwords the service desk hands out: random, easy to read
//! aloud and type (no 0/O/o, 1/l/I), and always within the policy.

use rand::Rng;

use crate::policy::config::PolicyConfig;
use crate::policy::rules;

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
const SYMBOLS: &[u8] = b"-+=#%";

/// A new random password that meets `policy` for `username`.
pub fn initial_password(policy: &PolicyConfig, username: &str) -> String {
    let length = policy.min_length.max(14);
    let mut rng = rand::rng();
    loop {
        let mut chars: Vec<u8> = (0..length)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
            .collect();
        if policy.require_classes >= 4 {
            let at = rng.random_range(1..length - 1);
            chars[at] = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
        }
        let password = String::from_utf8(chars).expect("ASCII");
        if rules::check(policy, username, &password).is_empty() {
            return password;
        }
    }
}

/// A random key for keyed hashes held in memory (cache, fingerprints).
pub fn secret_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_passwords_meet_the_policy_and_avoid_ambiguous_characters() {
        let mut policy = PolicyConfig::default();
        for classes in [3, 4] {
            policy.require_classes = classes;
            for _ in 0..200 {
                let p = initial_password(&policy, "budi");
                assert!(rules::check(&policy, "budi", &p).is_empty(), "{p}");
                assert!(!p.contains(['0', 'O', 'o', '1', 'l', 'I']), "{p}");
                assert_eq!(p.len(), 14);
            }
        }
        assert_ne!(
            initial_password(&policy, "x"),
            initial_password(&policy, "x")
        );
    }
}
