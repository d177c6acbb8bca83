//! `[policy]` in the config: typed, with the defaults of SPEC §3.
//!
//! Periods are written as people write them: "90 working days", "30 days",
//! "15 min".

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Language of every message a user or admin reads (SPEC §3: Indonesian first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Id,
    En,
}

/// A span of days, counted either as working days (Monday–Friday minus
/// holidays) or as calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    WorkingDays(u32),
    Days(u32),
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::WorkingDays(n) => write!(f, "{n} working days"),
            Period::Days(n) => write!(f, "{n} days"),
        }
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hint =
            || format!("invalid period {s:?}: write e.g. \"90 working days\" or \"30 days\"");
        let words: Vec<String> = s.split_whitespace().map(str::to_lowercase).collect();
        let (number, unit) = match words.as_slice() {
            [n, unit] => (n, unit.as_str().to_string()),
            [n, a, b] => (n, format!("{a} {b}")),
            _ => return Err(hint()),
        };
        let n: u32 = number.parse().map_err(|_| hint())?;
        match unit.as_str() {
            "working days" | "working day" | "hari kerja" => Ok(Period::WorkingDays(n)),
            "days" | "day" | "d" | "hari" => Ok(Period::Days(n)),
            _ => Err(hint()),
        }
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A wall-clock duration written as "15 min", "1h 30min", "10 s".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s)
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {s:?} ({e}): write e.g. \"15 min\", \"30 s\" or \"2 h\""
                ))
            })
    }
}

/// A calendar date written `YYYY-MM-DD`.
fn deserialize_dates<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<jiff::civil::Date>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter()
        .map(|s| {
            s.parse::<jiff::civil::Date>().map_err(|_| {
                serde::de::Error::custom(format!("invalid date {s:?}: write it as YYYY-MM-DD"))
            })
        })
        .collect()
}

fn deserialize_timezone<'de, D: Deserializer<'de>>(d: D) -> Result<jiff::tz::TimeZone, D::Error> {
    let s = String::deserialize(d)?;
    jiff::tz::TimeZone::get(&s).map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown time zone {s:?}: write an IANA name such as \"Asia/Jakarta\", \"Asia/Makassar\" or \"Asia/Jayapura\""
        ))
    })
}

fn default_timezone() -> jiff::tz::TimeZone {
    // Fall back to a fixed +07:00 when the system has no tz database, so that
    // a minimal container still starts with the right office time.
    jiff::tz::TimeZone::get("Asia/Jakarta")
        .unwrap_or_else(|_| jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
}

/// `[policy]`: every rule of SPEC §3, each with its default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub max_age: Period,
    pub warn_before: Period,
    pub disable_after: Period,
    #[serde(deserialize_with = "deserialize_dates")]
    pub holidays: Vec<jiff::civil::Date>,
    /// A file with one `YYYY-MM-DD` per line (`#` starts a comment).
    pub holidays_file: Option<PathBuf>,
    #[serde(deserialize_with = "deserialize_timezone")]
    pub timezone: jiff::tz::TimeZone,
    pub min_length: usize,
    /// How many of the four classes (upper, lower, digit, symbol) a password needs.
    pub require_classes: u8,
    pub reject_contains_username: bool,
    /// How many previous passwords may not be reused.
    pub history: usize,
    pub lockout_threshold: u32,
    pub lockout_window: HumanDuration,
    pub lockout_duration: HumanDuration,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            max_age: Period::WorkingDays(90),
            warn_before: Period::WorkingDays(10),
            disable_after: Period::Days(30),
            holidays: Vec::new(),
            holidays_file: None,
            timezone: default_timezone(),
            min_length: 8,
            require_classes: 3,
            reject_contains_username: true,
            history: 4,
            lockout_threshold: 5,
            lockout_window: HumanDuration(Duration::from_secs(15 * 60)),
            lockout_duration: HumanDuration(Duration::from_secs(15 * 60)),
        }
    }
}

impl PolicyConfig {
    /// Checks that go beyond one value: returns the offending key and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(1..=4).contains(&self.require_classes) {
            return Err((
                "require_classes",
                format!("{} is not between 1 and 4", self.require_classes),
            ));
        }
        if self.min_length < 6 {
            return Err(("min_length", "must be at least 6".into()));
        }
        if self.lockout_threshold == 0 {
            return Err(("lockout_threshold", "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_as_people_write_them() {
        assert_eq!("90 working days".parse(), Ok(Period::WorkingDays(90)));
        assert_eq!("1 Working Day".parse(), Ok(Period::WorkingDays(1)));
        assert_eq!("30 days".parse(), Ok(Period::Days(30)));
        assert_eq!("90 hari kerja".parse(), Ok(Period::WorkingDays(90)));
        assert!("90 weeks".parse::<Period>().is_err());
        assert!("ninety days".parse::<Period>().is_err());
        assert!("".parse::<Period>().is_err());
    }

    #[test]
    fn defaults_follow_the_spec() {
        let p = PolicyConfig::default();
        assert_eq!(p.max_age, Period::WorkingDays(90));
        assert_eq!(p.warn_before, Period::WorkingDays(10));
        assert_eq!(p.disable_after, Period::Days(30));
        assert_eq!(p.lockout_window.0, Duration::from_secs(900));
        assert!(p.validate().is_ok());
    }
}
