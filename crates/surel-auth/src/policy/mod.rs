//! The password policy of SPEC §3: its configuration, its calendar and its
//! rules for new passwords.

pub mod calendar;
pub mod config;
pub mod rules;

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::Date;

pub use calendar::{Calendar, Expiry};
pub use config::{Period, PolicyConfig};

/// The policy in force: its settings and the calendar built from them.
#[derive(Debug, Clone)]
pub struct Policy {
    pub config: PolicyConfig,
    pub calendar: Calendar,
}

impl Policy {
    /// Builds the policy, reading `holidays_file` if one is set. Errors name the key.
    pub fn new(config: PolicyConfig) -> Result<Policy, (&'static str, String)> {
        config.validate()?;
        let mut holidays: BTreeSet<Date> = config.holidays.iter().copied().collect();
        if let Some(path) = &config.holidays_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                (
                    "holidays_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            holidays.extend(
                parse_holidays(&text)
                    .map_err(|e| ("holidays_file", format!("{}: {e}", path.display())))?,
            );
        }
        let calendar = Calendar {
            holidays,
            timezone: config.timezone.clone(),
        };
        Ok(Policy { config, calendar })
    }

    /// The expiry of a password set at `changed_at`.
    pub fn expiry(&self, changed_at: Timestamp) -> Expiry {
        calendar::expiry(
            &self.calendar,
            changed_at,
            self.config.max_age,
            self.config.disable_after,
        )
    }

    /// Days left before expiry when `now` is inside the warning window.
    pub fn warning(&self, expiry: &Expiry, now: Timestamp) -> Option<u32> {
        let today = self.calendar.date_of(now);
        let warn = self.config.warn_before;
        let left = self.calendar.days_left(today, expiry.last_valid_day, warn);
        let limit = match warn {
            Period::WorkingDays(n) | Period::Days(n) => n,
        };
        (now < expiry.expires_at && left <= limit).then_some(left)
    }
}

/// One `YYYY-MM-DD` per line; `#` starts a comment; blank lines are skipped.
pub fn parse_holidays(text: &str) -> Result<Vec<Date>, String> {
    let mut days = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let word = line.split('#').next().unwrap_or("").trim();
        if word.is_empty() {
            continue;
        }
        let day = word
            .parse::<Date>()
            .map_err(|_| format!("line {}: {word:?} is not a date; write YYYY-MM-DD", i + 1))?;
        days.push(day);
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn holiday_files_take_comments() {
        let days = parse_holidays("# list\n2026-01-01  # new year\n\n2026-08-17\n").unwrap();
        assert_eq!(days, vec![date(2026, 1, 1), date(2026, 8, 17)]);
        let err = parse_holidays("2026-01-01\n17-08-2026\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn the_warning_window_opens_ten_working_days_before_expiry() {
        let policy = Policy::new(PolicyConfig::default()).unwrap();
        let changed: Timestamp = "2026-01-05T03:00:00Z".parse().unwrap();
        let e = policy.expiry(changed);
        let at = |day: Date| {
            policy
                .calendar
                .start_of(day)
                .checked_add(jiff::SignedDuration::from_hours(9))
                .unwrap()
        };
        // Last valid day: 90 working days after Monday 2026-01-05 = Monday 2026-05-11.
        assert_eq!(e.last_valid_day, date(2026, 5, 11));
        assert_eq!(policy.warning(&e, at(date(2026, 5, 11))), Some(1));
        assert_eq!(policy.warning(&e, at(date(2026, 4, 28))), Some(10));
        assert_eq!(policy.warning(&e, at(date(2026, 4, 27))), None);
        assert_eq!(
            policy.warning(&e, at(date(2026, 5, 12))),
            None,
            "expired, not warned"
        );
    }
}
