//! Password hashes: argon2id (PHC strings) for everything surel writes, and
//! verification of the schemes Dovecot and Zimbra export, so imported
//! accounts keep their passwords and are rehashed at their next login.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};

/// argon2id cost. Defaults: OWASP's m = 19 MiB, t = 2, p = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashParams {
    /// Most memory per hash accepted (1 GiB): every login computes one,
    /// up to one per core at a time.
    pub const MAX_MEMORY_KIB: u32 = 1 << 20;
    /// Most iterations accepted: 64 passes over 19 MiB already take
    /// about half a second per login.
    pub const MAX_ITERATIONS: u32 = 64;
    /// Most lanes accepted (the lanes are computed one after the other).
    pub const MAX_PARALLELISM: u32 = 64;

    /// Checks the cost without computing a hash; the error names the
    /// `[auth]` key at fault. Config validation used to build a `Hasher`,
    /// which then hashed a dummy password with this cost: `surel config check`
    /// then allocated whatever `argon2_memory_kib` said and ran
    /// `argon2_iterations` passes (issue 10: out of memory and timeouts in
    /// the config fuzz target).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let range = |key, value: u32, min: u32, max: u32| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err((key, format!("{value} is not between {min} and {max}")))
            }
        };
        range(
            "argon2_parallelism",
            self.parallelism,
            1,
            Self::MAX_PARALLELISM,
        )?;
        range(
            "argon2_iterations",
            self.iterations,
            1,
            Self::MAX_ITERATIONS,
        )?;
        // argon2 needs at least 8 KiB per lane.
        let min_memory = 8 * self.parallelism;
        range(
            "argon2_memory_kib",
            self.memory_kib,
            min_memory,
            Self::MAX_MEMORY_KIB,
        )?;
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map(|_| ())
            .map_err(|e| {
                (
                    "argon2_memory_kib",
                    format!("invalid argon2 parameters: {e}"),
                )
            })
    }
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
    memory: Memory,
}

/// The working memory of argon2: at most one computation per core at a
/// time, each in a buffer kept for reuse. Every computation needs
/// `memory_kib` (19 MiB by default). Allocated fresh each time, a burst
/// of first logins (8 o'clock, or an attacker opening a thousand
/// connections) left the allocator holding ~40 MiB per thread arena
/// afterwards (measured: 50 concurrent first logins took surel from 50 MB
/// to 950 MB RSS, for good). With the pool it is `cores × memory_kib`,
/// and more at once would not finish sooner on the same cores anyway.
/// A buffer nobody waits for is given back to the allocator (which
/// returns it to the system), so an idle server does not hold them.
struct Memory {
    state: std::sync::Mutex<MemoryState>,
    freed: std::sync::Condvar,
    max: usize,
}

struct MemoryState {
    free: Vec<Vec<Block>>,
    created: usize,
    waiting: usize,
    /// Most buffers that existed at once (for the tests).
    peak: usize,
}

impl Memory {
    fn new() -> Memory {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Memory {
            state: std::sync::Mutex::new(MemoryState {
                free: Vec::new(),
                created: 0,
                waiting: 0,
                peak: 0,
            }),
            freed: std::sync::Condvar::new(),
            max: cores.max(1),
        }
    }

    /// Runs `f` with `blocks` blocks of memory, waiting for a free buffer.
    fn with<R>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        let mut buffer = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(b) = state.free.pop() {
                    break b;
                }
                if state.created < self.max {
                    state.created += 1;
                    state.peak = state.peak.max(state.created);
                    break Vec::new();
                }
                state.waiting += 1;
                state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
                state.waiting -= 1;
            }
        };
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::default());
        }
        let result = f(&mut buffer[..blocks]);
        // Nothing derived from a password stays in memory between logins.
        buffer.fill(Block::default());
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.waiting > state.free.len() {
            state.free.push(buffer);
            self.freed.notify_one();
        } else {
            state.created -= 1;
            drop(buffer);
        }
        result
    }
}

/// Checks `password` against an argon2 PHC hash (`body`, parsed as `hash`),
/// computing in `memory`.
fn argon2_matches(memory: &Memory, body: &str, hash: &PasswordHash<'_>, password: &str) -> bool {
    let (Ok(params), Ok(algorithm)) = (Params::try_from(hash), Algorithm::try_from(hash.algorithm))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && params.p_cost() == 1
        && sodium_reads(body, salt.len(), expected.len())
    {
        // Every login's case (surel writes these): libsodium, whose
        // hand-vectorised argon2 (AVX2/AVX-512, chosen at run time) takes
        // 16 ms where the argon2 crate takes 25-30 on the same cost and
        // core, so a cold login costs half. Still one at a time per core,
        // in a slot of `memory`; libsodium allocates its own buffer and
        // frees it (19 MiB is above glibc's mmap threshold: back to the
        // system at once).
        return memory.with(0, |_| {
            libsodium_rs::crypto_pwhash::argon2id::pwhash_str_verify(body, password.as_bytes())
        });
    }
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    memory
        .with(blocks, |m| {
            argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, m)
        })
        .is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

/// Whether libsodium's verifier takes this argon2id (v=19, p=1) string as
/// the PHC parser did: its string buffer is 128 bytes, salts 8 to 64
/// bytes, digests 16 to 64. Anything else goes to the argon2 crate, so an
/// imported hash libsodium would refuse still logs in.
fn sodium_reads(body: &str, salt_len: usize, digest_len: usize) -> bool {
    body.len() < 128 && (8..=64).contains(&salt_len) && (16..=64).contains(&digest_len)
}

impl Hasher {
    pub fn new(params: HashParams) -> Result<Hasher, String> {
        libsodium_rs::ensure_init().map_err(|e| format!("cannot start libsodium: {e}"))?;
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
            memory: Memory::new(),
        };
        // A random digest, not a hash of anything: checking a password
        // against it costs one argon2 computation at the configured cost,
        // as a real account's does, and never matches. Hashing a dummy
        // password here instead took half of surel's start-up time.
        let mut digest = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut digest);
        hasher.dummy = hasher.phc(&SaltString::generate(&mut OsRng), &digest);
        Ok(hasher)
    }

    /// A new argon2id PHC string for `password`.
    pub fn hash(&self, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt
            .as_salt()
            .decode_b64(&mut salt_buf)
            .expect("a generated salt decodes");
        let params = self.argon.params().clone();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.memory
            .with(params.block_count(), |m| {
                self.argon.hash_password_into_with_memory(
                    password.as_bytes(),
                    salt_bytes,
                    &mut out,
                    m,
                )
            })
            .expect("argon2 with validated parameters cannot fail");
        self.phc(&salt, &out)
    }

    /// The PHC string of an argon2id digest with this hasher's cost.
    fn phc(&self, salt: &SaltString, digest: &[u8]) -> String {
        PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(self.argon.params())
                .expect("validated parameters encode"),
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(digest).expect("32 bytes is a valid output")),
        }
        .to_string()
    }

    /// Checks `password` against any supported stored hash.
    pub fn verify(&self, stored: &str, password: &str) -> Verified {
        let (scheme, body) = split_scheme(stored);
        let matches = match scheme.as_deref() {
            None | Some("ARGON2ID") | Some("ARGON2I") if body.starts_with("$argon2") => {
                PasswordHash::new(body)
                    .map(|h| argon2_matches(&self.memory, body, &h, password))
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
    fn libsodium_and_the_argon2_crate_read_each_others_hashes() {
        let h = cheap();
        // Written by libsodium (Dovecot's writer too), checked on the libsodium path.
        let sodium =
            libsodium_rs::crypto_pwhash::argon2id::pwhash_str(b"Kopi-Tubruk-9", 1, 1 << 20)
                .unwrap();
        assert!(
            sodium.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{sodium}"
        );
        assert!(h.verify(&sodium, "Kopi-Tubruk-9").matches);
        assert!(!h.verify(&sodium, "kopi-tubruk-9").matches);
        // Written by the argon2 crate (surel's `hash`), read by libsodium directly.
        let ours = h.hash("Kopi-Tubruk-9");
        assert!(libsodium_rs::crypto_pwhash::argon2id::pwhash_str_verify(
            &ours,
            b"Kopi-Tubruk-9"
        ));
        // What the libsodium path does not take (two lanes; a string longer
        // than its 128-byte buffer) is checked by the argon2 crate.
        for (lanes, salt_len, digest_len) in [(2, 16, 32), (1, 48, 64)] {
            let params = Params::new(1024, 1, lanes, Some(digest_len)).unwrap();
            let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let salt_bytes = vec![7u8; salt_len];
            let salt = SaltString::encode_b64(&salt_bytes).unwrap();
            let mut out = vec![0u8; digest_len];
            argon
                .hash_password_into(b"Kopi-Tubruk-9", &salt_bytes, &mut out)
                .unwrap();
            let stored = PasswordHash {
                algorithm: Algorithm::Argon2id.ident(),
                version: Some(Version::V0x13.into()),
                params: ParamsString::try_from(&params).unwrap(),
                salt: Some(salt.as_salt()),
                hash: Some(Output::new(&out).unwrap()),
            }
            .to_string();
            let sodium_takes = lanes == 1 && stored.len() < 128;
            assert!(!sodium_takes, "{stored}");
            assert!(h.verify(&stored, "Kopi-Tubruk-9").matches, "{stored}");
            assert!(!h.verify(&stored, "Kopi-Tubruk-8").matches, "{stored}");
        }
    }

    #[test]
    fn the_dummy_hash_costs_a_real_verification_and_matches_nothing() {
        let h = cheap();
        // Parsed as argon2id with the configured cost, so verify_dummy runs
        // argon2 as a real account's check does (not a quick parse failure).
        assert!(h.is_current(&h.dummy), "{}", h.dummy);
        assert!(h.dummy.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        for guess in ["", "surel dummy password, never valid", "Rahasia-123"] {
            assert!(!h.verify(&h.dummy, guess).matches);
        }
        assert_ne!(h.dummy, cheap().dummy, "each start makes its own");
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_encoder_and_verifier() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let h = cheap();
        let ours = h.hash("Hujan-Sore-77");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(h.argon.verify_password(b"Hujan-Sore-77", &parsed).is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = h
            .argon
            .hash_password(b"Hujan-Sore-77", &salt)
            .unwrap()
            .to_string();
        assert!(h.verify(&theirs, "Hujan-Sore-77").matches);
        assert!(!h.verify(&theirs, "Hujan-Sore-78").matches);
    }

    #[test]
    fn many_threads_share_a_few_buffers() {
        let h = std::sync::Arc::new(cheap());
        let stored = h.hash("Rahasia-123");
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (h, stored) = (std::sync::Arc::clone(&h), stored.clone());
                std::thread::spawn(move || h.verify(&stored, "Rahasia-123").matches)
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap()));
        let state = h.memory.state.lock().unwrap();
        assert!(state.peak <= h.memory.max, "{} buffers at once", state.peak);
        // Idle: every buffer went back to the allocator.
        assert_eq!((state.created, state.free.len()), (0, 0));
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
