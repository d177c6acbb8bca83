//! `[auth]` in the config: hashing cost, the login cache and the per-IP
//! throttle. The password rules themselves are `[policy]`.

use std::time::Duration;

use serde::Deserialize;

use crate::hash::HashParams;
use crate::policy::config::HumanDuration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// argon2id memory in KiB (OWASP: 19456 = 19 MiB).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// How long a successful (login, password) is accepted from memory, so
    /// a client opening five connections pays argon2 once. "0 s" turns it off.
    pub cache_ttl: HumanDuration,
    /// Failed logins from one IP address (within `ip_window`) after which
    /// every further failure is answered more slowly.
    pub ip_slowdown_after: u32,
    /// Failed logins from one IP address after which logins from it are
    /// refused until the window passes. Keep it high: offices share one NAT address.
    pub ip_refuse_after: u32,
    pub ip_window: HumanDuration,
    /// A failed login (unknown user, wrong password, locked, throttled) is
    /// answered no sooner than this after it arrived, so neither the work
    /// done (a failure counted in the database, or not) nor its absence
    /// can be timed (Dovecot's `auth_failure_delay` does the same). "0 s"
    /// turns it off.
    pub failure_delay: HumanDuration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let hash = HashParams::default();
        AuthConfig {
            argon2_memory_kib: hash.memory_kib,
            argon2_iterations: hash.iterations,
            argon2_parallelism: hash.parallelism,
            cache_ttl: HumanDuration(Duration::from_secs(5 * 60)),
            ip_slowdown_after: 20,
            ip_refuse_after: 200,
            ip_window: HumanDuration(Duration::from_secs(15 * 60)),
            failure_delay: HumanDuration(Duration::from_secs(1)),
        }
    }
}

impl AuthConfig {
    pub fn hash_params(&self) -> HashParams {
        HashParams {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }

    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        self.hash_params().check()?;
        if self.ip_refuse_after <= self.ip_slowdown_after {
            return Err((
                "ip_refuse_after",
                format!(
                    "must be larger than ip_slowdown_after ({})",
                    self.ip_slowdown_after
                ),
            ));
        }
        Ok(())
    }
}
