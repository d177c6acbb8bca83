//! In-memory defences that need no disk: the per-IP throttle (slow first,
//! refuse later) and the memory of recent wrong passwords per account, so
//! a phone retrying an old password counts once toward the lockout.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;

use crate::config::AuthConfig;

/// What to do with a login from an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVerdict {
    /// Go ahead; on failure, answer after this delay.
    Allow(Duration),
    Refuse,
}

/// Slower answers grow by this much per failure over the soft limit.
const STEP: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Wrong passwords remembered per account.
const REMEMBERED: usize = 4;
/// Addresses tracked at most; the oldest are forgotten first.
const MAX_IPS: usize = 100_000;

pub struct Guard {
    key: [u8; 32],
    config: AuthConfig,
    ips: Mutex<HashMap<IpAddr, VecDeque<Timestamp>>>,
    wrong: Mutex<HashMap<i64, VecDeque<[u8; 32]>>>,
}

impl Guard {
    pub fn new(config: AuthConfig) -> Guard {
        Guard {
            key: crate::generate::secret_key(),
            config,
            ips: Mutex::new(HashMap::new()),
            wrong: Mutex::new(HashMap::new()),
        }
    }

    fn recent(&self, failures: &mut VecDeque<Timestamp>, now: Timestamp) -> usize {
        let window = jiff::SignedDuration::try_from(self.config.ip_window.0).unwrap_or_default();
        while failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            failures.pop_front();
        }
        failures.len()
    }

    /// The least time a failed login takes to answer (`failure_delay`).
    pub fn failure_floor(&self) -> Duration {
        self.config.failure_delay.0
    }

    pub fn check_ip(&self, ip: Option<IpAddr>, now: Timestamp) -> IpVerdict {
        let Some(ip) = ip else {
            return IpVerdict::Allow(Duration::ZERO);
        };
        let mut ips = self.ips.lock().unwrap_or_else(|p| p.into_inner());
        let n = match ips.get_mut(&ip) {
            Some(failures) => self.recent(failures, now),
            None => 0,
        } as u32;
        if n >= self.config.ip_refuse_after {
            IpVerdict::Refuse
        } else if n >= self.config.ip_slowdown_after {
            IpVerdict::Allow((STEP * (n - self.config.ip_slowdown_after + 1)).min(MAX_DELAY))
        } else {
            IpVerdict::Allow(Duration::ZERO)
        }
    }

    pub fn ip_failed(&self, ip: Option<IpAddr>, now: Timestamp) {
        let Some(ip) = ip else { return };
        let mut ips = self.ips.lock().unwrap_or_else(|p| p.into_inner());
        if ips.len() >= MAX_IPS && !ips.contains_key(&ip) {
            ips.retain(|_, f| {
                f.back()
                    .is_some_and(|t| now.duration_since(*t).as_secs() < 60)
            });
        }
        let failures = ips.entry(ip).or_default();
        self.recent(failures, now);
        if failures.len() < self.config.ip_refuse_after as usize + 1 {
            failures.push_back(now);
        }
    }

    fn fingerprint(&self, password: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Remembers a wrong password for the account; true if it was already
    /// tried recently (and so must not count again).
    pub fn repeated_wrong(&self, account: i64, password: &str) -> bool {
        let fp = self.fingerprint(password);
        let mut wrong = self.wrong.lock().unwrap_or_else(|p| p.into_inner());
        let seen = wrong.entry(account).or_default();
        if seen.contains(&fp) {
            return true;
        }
        if seen.len() == REMEMBERED {
            seen.pop_front();
        }
        seen.push_back(fp);
        false
    }

    pub fn forget_wrong(&self, account: i64) {
        self.wrong
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_slowed_before_it_is_refused() {
        let config = AuthConfig {
            ip_slowdown_after: 2,
            ip_refuse_after: 4,
            ..AuthConfig::default()
        };
        let guard = Guard::new(config);
        let ip = Some("192.0.2.7".parse().unwrap());
        let now = Timestamp::now();
        assert_eq!(guard.check_ip(ip, now), IpVerdict::Allow(Duration::ZERO));
        guard.ip_failed(ip, now);
        guard.ip_failed(ip, now);
        assert_eq!(guard.check_ip(ip, now), IpVerdict::Allow(STEP));
        guard.ip_failed(ip, now);
        assert_eq!(guard.check_ip(ip, now), IpVerdict::Allow(STEP * 2));
        guard.ip_failed(ip, now);
        assert_eq!(guard.check_ip(ip, now), IpVerdict::Refuse);
        let other = Some("192.0.2.8".parse().unwrap());
        assert_eq!(guard.check_ip(other, now), IpVerdict::Allow(Duration::ZERO));
        let later = now
            .checked_add(jiff::SignedDuration::from_mins(16))
            .unwrap();
        assert_eq!(
            guard.check_ip(ip, later),
            IpVerdict::Allow(Duration::ZERO),
            "the window passes"
        );
    }

    #[test]
    fn a_repeated_wrong_password_is_recognised() {
        let guard = Guard::new(AuthConfig::default());
        assert!(!guard.repeated_wrong(1, "old-password"));
        assert!(guard.repeated_wrong(1, "old-password"));
        assert!(!guard.repeated_wrong(1, "other"));
        assert!(!guard.repeated_wrong(2, "old-password"), "per account");
        guard.forget_wrong(1);
        assert!(!guard.repeated_wrong(1, "old-password"));
    }
}
