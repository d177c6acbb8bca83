//! Password hashes: argon2id (PHC strings) for everything surel writes, and
//! verification of the schemes Dovecot and Zimbra export, so imported
//! accounts keep their passwords and are rehashed at their next login.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};

/// argon2id cost. Defaults: OWASP's m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The hash is not argon2id with the configured cost: store a new one.
    pub needs_rehash: bool,
}

pub struct Hasher {
    argon: Argon2<'static>,
    params: HashParams,
    /// Checked for unknown users, so they cost what a wrong password costs.
    dummy: String,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish()
    }
}

impl Hasher {
    pub fn new(params: HashParams) -> Result<Hasher, String> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| format!("invalid argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let mut hasher = Hasher {
            argon,
            params,
            dummy: String::new(),
        };
        hasher.dummy = hasher.hash("surel dummy password, never valid");
        Ok(hasher)
    }

    /// A new argon2id PHC string for `password`.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .expect("argon2 with validated parameters cannot fail")
    }

    /// Checks `password` against any supported stored hash.
    pub fn verify(&self, stored: &str, password: &str) -> Verified {
        let (scheme, body) = split_scheme(stored);
        let matches = match scheme.as_deref() {
            None | Some("ARGON2ID") | Some("ARGON2I") if body.starts_with("$argon2") => {
                PasswordHash::new(body)
                    .map(|h| self.argon.verify_password(password.as_bytes(), &h).is_ok())
                    .unwrap_or(false)
            }
            Some("SSHA512") => salted_sha::<Sha512>(body, password, 64),
            Some("SSHA256") => salted_sha::<Sha256>(body, password, 32),
            None | Some("CRYPT") | Some("SHA512-CRYPT") | Some("SHA256-CRYPT")
            | Some("BLF-CRYPT") => crypt(body, password),
            _ => false,
        };
        Verified {
            matches,
            needs_rehash: matches && !self.is_current(stored),
        }
    }

    /// Spends the time of one verification, for an unknown user.
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(&self.dummy, password);
    }

    fn is_current(&self, stored: &str) -> bool {
        let Ok(hash) = PasswordHash::new(stored) else {
            return false;
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        hash.algorithm == Algorithm::Argon2id.ident()
            && params.m_cost() == self.params.memory_kib
            && params.t_cost() == self.params.iterations
            && params.p_cost() == self.params.parallelism
    }
}

/// Dovecot writes `{SCHEME}body`; a bare body is argon2 PHC or crypt(3).
fn split_scheme(stored: &str) -> (Option<String>, &str) {
    if let Some(rest) = stored.strip_prefix('{')
        && let Some((scheme, body)) = rest.split_once('}')
    {
        return (Some(scheme.to_ascii_uppercase()), body);
    }
    (None, stored)
}

/// Whether `stored` is a hash this module can verify (for `user import`).
pub fn is_supported(stored: &str) -> Result<(), String> {
    let (scheme, body) = split_scheme(stored);
    let ok = match scheme.as_deref() {
        None | Some("ARGON2ID") | Some("ARGON2I") if body.starts_with("$argon2") => {
            PasswordHash::new(body).is_ok()
        }
        Some("SSHA512") => decoded_len(body).is_some_and(|n| n > 64),
        Some("SSHA256") => decoded_len(body).is_some_and(|n| n > 32),
        None | Some("CRYPT") | Some("SHA512-CRYPT") | Some("SHA256-CRYPT") | Some("BLF-CRYPT") => {
            ["$6$", "$5$", "$2a$", "$2b$", "$2y$"]
                .iter()
                .any(|p| body.starts_with(p))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(
            "unsupported password hash: use argon2id (PHC), {SSHA512}, {SSHA256}, {CRYPT}/{SHA512-CRYPT} \
             with $6$ or $5$, or {BLF-CRYPT} bcrypt"
                .into(),
        )
    }
}

fn decoded_len(body: &str) -> Option<usize> {
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()
        .map(|b| b.len())
}

/// `{SSHA512}`: base64(digest(password ‖ salt) ‖ salt), as Dovecot and Zimbra
/// write it. No maintained crate verifies this LDAP-style scheme on its own,
/// so it is the few lines below over the RustCrypto digests.
fn salted_sha<D: Digest>(body: &str, password: &str, digest_len: usize) -> bool {
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(body.trim()) else {
        return false;
    };
    if raw.len() <= digest_len {
        return false;
    }
    let (expected, salt) = raw.split_at(digest_len);
    let mut digest = D::new();
    digest.update(password.as_bytes());
    digest.update(salt);
    constant_time_eq(&digest.finalize(), expected)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn crypt(body: &str, password: &str) -> bool {
    if body.starts_with("$6$") {
        sha_crypt::sha512_check(password, body).is_ok()
    } else if body.starts_with("$5$") {
        sha_crypt::sha256_check(password, body).is_ok()
    } else if body.starts_with("$2") {
        bcrypt::verify(password, body).unwrap_or(false)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Hasher {
        Hasher::new(HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn argon2id_round_trip() {
        let h = cheap();
        let stored = h.hash("Rahasia-123");
        assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            h.verify(&stored, "Rahasia-123"),
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(!h.verify(&stored, "rahasia-123").matches);
        // A hash with other costs still verifies, and asks to be redone.
        let other = Hasher::new(HashParams::default()).unwrap().hash("x");
        assert_eq!(
            h.verify(&other, "x"),
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
        assert!(
            h.verify(&format!("{{ARGON2ID}}{stored}"), "Rahasia-123")
                .matches
        );
    }

    #[test]
    fn dovecot_and_zimbra_exports_verify() {
        let h = cheap();
        // {SSHA512}: sha512("secret" ‖ "salt1234") ‖ "salt1234".
        let mut raw = Sha512::digest(b"secretsalt1234").to_vec();
        raw.extend_from_slice(b"salt1234");
        let ssha = format!(
            "{{SSHA512}}{}",
            base64::engine::general_purpose::STANDARD.encode(&raw)
        );
        assert_eq!(
            h.verify(&ssha, "secret"),
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
        assert!(!h.verify(&ssha, "Secret").matches);
        assert!(is_supported(&ssha).is_ok());

        // {CRYPT} SHA-512-crypt as made by `doveadm pw -s SHA512-CRYPT -p secret`.
        let params = sha_crypt::Sha512Params::new(5000).unwrap();
        let sha512 = sha_crypt::sha512_simple("secret", &params).unwrap();
        for stored in [
            format!("{{CRYPT}}{sha512}"),
            format!("{{SHA512-CRYPT}}{sha512}"),
            sha512.clone(),
        ] {
            assert!(h.verify(&stored, "secret").matches, "{stored}");
            assert!(!h.verify(&stored, "wrong").matches);
            assert!(is_supported(&stored).is_ok());
        }

        // bcrypt, as {BLF-CRYPT} in Dovecot.
        let bc = bcrypt::hash("secret", 4).unwrap();
        assert!(h.verify(&format!("{{BLF-CRYPT}}{bc}"), "secret").matches);
        assert!(!h.verify(&bc, "wrong").matches);

        assert!(is_supported("{PLAIN}secret").is_err());
        assert!(is_supported("{MD5}abc").is_err());
        assert!(
            !h.verify("{PLAIN}secret", "secret").matches,
            "plain text is never accepted"
        );
    }
}
