//! The rules a new password must meet (SPEC §3): length, character classes,
//! no user name inside. History is checked by the store, which has the hashes.

use super::config::PolicyConfig;

/// One rule a proposed password breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    TooShort {
        min: usize,
    },
    TooFewClasses {
        need: u8,
    },
    ContainsUsername,
    /// Same as the current password or one of the last `history`.
    Reused {
        history: usize,
    },
    /// Longer than we accept (argon2 input is bounded to keep logins cheap).
    TooLong {
        max: usize,
    },
}

/// Longest password accepted; long enough for any passphrase.
pub const MAX_LENGTH: usize = 256;

/// Character classes present: upper, lower, digit, symbol (anything else).
pub fn classes(password: &str) -> u8 {
    let mut seen = [false; 4];
    for c in password.chars() {
        let i = if c.is_uppercase() {
            0
        } else if c.is_lowercase() {
            1
        } else if c.is_numeric() {
            2
        } else {
            3
        };
        seen[i] = true;
    }
    seen.iter().filter(|&&s| s).count() as u8
}

/// Checks `password` for the account whose local part is `username`.
pub fn check(config: &PolicyConfig, username: &str, password: &str) -> Vec<Violation> {
    let mut broken = Vec::new();
    let length = password.chars().count();
    if length < config.min_length {
        broken.push(Violation::TooShort {
            min: config.min_length,
        });
    }
    if length > MAX_LENGTH {
        broken.push(Violation::TooLong { max: MAX_LENGTH });
    }
    if classes(password) < config.require_classes {
        broken.push(Violation::TooFewClasses {
            need: config.require_classes,
        });
    }
    if config.reject_contains_username && contains_username(username, password) {
        broken.push(Violation::ContainsUsername);
    }
    broken
}

/// True when the user name, or a part of it of three letters or more
/// ("budi.santoso" → "budi", "santoso"), appears in the password.
fn contains_username(username: &str, password: &str) -> bool {
    let password = password.to_lowercase();
    let username = username.to_lowercase();
    let local = username.split('@').next().unwrap_or("");
    std::iter::once(local)
        .chain(local.split(['.', '_', '-', '+']))
        .filter(|part| part.chars().count() >= 3)
        .any(|part| password.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PolicyConfig {
        PolicyConfig::default()
    }

    #[test]
    fn a_good_password_passes() {
        assert!(check(&policy(), "budi", "Hujan-Sore7").is_empty());
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(
            check(&policy(), "budi", "Ab1!xyz"),
            vec![Violation::TooShort { min: 8 }]
        );
        // Eight characters, more than eight bytes.
        assert!(check(&policy(), "budi", "Äbc1!xyé").is_empty());
    }

    #[test]
    fn three_of_four_classes_are_needed() {
        assert_eq!(classes("abc"), 1);
        assert_eq!(classes("aB3!"), 4);
        assert_eq!(
            check(&policy(), "budi", "alllowercase1"),
            vec![Violation::TooFewClasses { need: 3 }]
        );
        assert!(check(&policy(), "budi", "lowercase1!").is_empty());
        let mut strict = policy();
        strict.require_classes = 4;
        assert!(!check(&strict, "budi", "Lowercase1").is_empty());
    }

    #[test]
    fn the_username_may_not_appear() {
        let p = policy();
        assert_eq!(
            check(&p, "budi", "xBUDIx2024"),
            vec![Violation::ContainsUsername]
        );
        assert_eq!(
            check(&p, "budi.santoso", "Santoso#2024"),
            vec![Violation::ContainsUsername]
        );
        assert!(
            check(&p, "b.s", "Hujan-Sore7").is_empty(),
            "short parts are ignored"
        );
        let mut lax = p.clone();
        lax.reject_contains_username = false;
        assert!(check(&lax, "budi", "xBUDIx2024").is_empty());
    }
}
