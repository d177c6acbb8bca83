//! The per-user sending rate limit (messages per hour) of submission.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct RateLimit {
    per_hour: u32,
    sent: Mutex<HashMap<i64, VecDeque<Instant>>>,
}

impl RateLimit {
    pub fn new(per_hour: u32) -> RateLimit {
        RateLimit {
            per_hour,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// True when `account` may send one more message now (and counts it).
    pub fn allow(&self, account: i64) -> bool {
        if self.per_hour == 0 {
            return true;
        }
        let now = Instant::now();
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let times = sent.entry(account).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) > HOUR) {
            times.pop_front();
        }
        if times.len() >= self.per_hour as usize {
            return false;
        }
        times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_account() {
        let limit = RateLimit::new(2);
        assert!(limit.allow(1));
        assert!(limit.allow(1));
        assert!(!limit.allow(1));
        assert!(limit.allow(2));
        assert!(RateLimit::new(0).allow(1), "0 means no limit");
    }
}
