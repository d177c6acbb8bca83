//! The password policy's date arithmetic (`surel_auth::policy::calendar`
//! and `Policy`): working days, calendar days, expiry, the warning window
//! and `disable_after`, with arbitrary dates (up to jiff's limits, year
//! ±9999), day counts, holiday lists and time zones. Why: every login
//! computes these from the config and the account's dates, so a panic
//! here locks everybody out, and a wrong date expires passwords early.
//!
//! Checked: nothing panics; adding more days never gives an earlier date,
//! nor does starting later; N working days end on a working day with
//! exactly N working days in between (N calendar days: N days later); a
//! later password change never expires earlier; expiry comes before
//! disabling; the warning counts at most `warn_before` days.
//!
//! The input is text, so seeds and crash files read as what they test:
//! `from=2026-01-02 wd=90 tz=Asia/Jakarta holiday=2026-01-01
//! changed=2026-01-05T03:00:00Z warn_wd=10 disable=30`, optionally followed
//! by a line `--` and a holidays file. Unknown words are ignored.

#![no_main]

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;
use surel_auth::policy::{Calendar, Period, Policy, PolicyConfig, calendar, parse_holidays};

/// Working days are counted one by one: past ~400 years an input is slow
/// without testing anything new.
const MAX_WORKING_DAYS: u32 = 100_000;

struct Case {
    from: Date,
    period: Period,
    more: u32,
    holidays: BTreeSet<Date>,
    timezone: TimeZone,
    changed: Timestamp,
    later: i64,
    now: i64,
    warn: Period,
    disable: Period,
    holidays_file: String,
}

fn parse(text: &str) -> Case {
    let (words, file) = text.split_once("\n--\n").unwrap_or((text, ""));
    let mut case = Case {
        from: jiff::civil::date(2026, 1, 2),
        period: Period::WorkingDays(90),
        more: 1,
        holidays: BTreeSet::new(),
        timezone: TimeZone::get("Asia/Jakarta").expect("bundled tzdb"),
        changed: "2026-01-05T03:00:00Z".parse().expect("a timestamp"),
        later: 3600,
        now: 86_400,
        warn: Period::WorkingDays(10),
        disable: Period::Days(30),
        holidays_file: file.to_string(),
    };
    let mut relative_holidays = Vec::new();
    for word in words.split_whitespace() {
        let Some((key, value)) = word.split_once('=') else {
            continue;
        };
        let number = || value.parse::<u32>().ok();
        let seconds = || value.parse::<i64>().ok();
        match key {
            "from" => case.from = value.parse().unwrap_or(case.from),
            "wd" => {
                if let Some(n) = number() {
                    case.period = Period::WorkingDays(n.min(MAX_WORKING_DAYS));
                }
            }
            "days" => case.period = number().map_or(case.period, Period::Days),
            "more" => case.more = number().unwrap_or(case.more),
            "holiday" => match value.parse::<Date>() {
                Ok(day) => {
                    case.holidays.insert(day);
                }
                Err(_) => relative_holidays.extend(value.parse::<i32>()),
            },
            "tz" => case.timezone = TimeZone::get(value).unwrap_or(case.timezone),
            "offset" => {
                if let Some(offset) = value
                    .parse()
                    .ok()
                    .and_then(|s| Offset::from_seconds(s).ok())
                {
                    case.timezone = TimeZone::fixed(offset);
                }
            }
            "changed" => {
                case.changed = value
                    .parse()
                    .ok()
                    .or_else(|| seconds().and_then(|s| Timestamp::from_second(s).ok()))
                    .unwrap_or(case.changed)
            }
            "later" => case.later = seconds().unwrap_or(case.later),
            "now" => case.now = seconds().unwrap_or(case.now),
            "warn" => case.warn = number().map_or(case.warn, Period::Days),
            "warn_wd" => case.warn = number().map_or(case.warn, Period::WorkingDays),
            "disable" => case.disable = number().map_or(case.disable, Period::Days),
            "disable_wd" => {
                if let Some(n) = number() {
                    case.disable = Period::WorkingDays(n.min(MAX_WORKING_DAYS));
                }
            }
            _ => {}
        }
    }
    // "holiday=3": three days after `from`, to put holidays where they matter.
    for days in relative_holidays.into_iter().take(1000) {
        if let Ok(span) = jiff::Span::new().try_days(days) {
            case.holidays.insert(case.from.saturating_add(span));
        }
    }
    case
}

fn with(period: Period, n: u32) -> Period {
    match period {
        Period::WorkingDays(_) => Period::WorkingDays(n.min(MAX_WORKING_DAYS)),
        Period::Days(_) => Period::Days(n),
    }
}

fn count(period: Period) -> u32 {
    match period {
        Period::WorkingDays(n) | Period::Days(n) => n,
    }
}

fn add_seconds(t: Timestamp, seconds: i64) -> Timestamp {
    t.saturating_add(SignedDuration::from_secs(seconds))
        .unwrap_or(t)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let case = parse(text);
    let c = Calendar {
        holidays: case.holidays.clone(),
        timezone: case.timezone.clone(),
    };
    let (from, p) = (case.from, case.period);

    let last = c.add(from, p);
    assert!(last >= from, "{from} + {p} = {last}");
    let more = with(p, count(p).saturating_add(case.more));
    let further = c.add(from, more);
    assert!(
        further >= last,
        "{from}: + {more} = {further} < + {p} = {last}"
    );
    // A later start never ends earlier.
    let next = from.tomorrow().unwrap_or(from);
    assert!(c.add(next, p) >= last, "{next} + {p} < {from} + {p}");
    if last < Date::MAX {
        match p {
            Period::Days(n) => {
                assert_eq!(
                    i64::from(from.until(last).unwrap().get_days()),
                    i64::from(n)
                );
                if n > 0 {
                    assert_eq!(c.days_left(next, last, p), n, "{from} + {p} = {last}");
                }
            }
            Period::WorkingDays(0) => assert_eq!(last, from),
            Period::WorkingDays(n) => {
                assert!(
                    c.is_working_day(last),
                    "{from} + {p} = {last}: not a working day"
                );
                assert_eq!(c.days_left(next, last, p), n, "{from} + {p} = {last}");
            }
        }
    }
    if next > from {
        assert_eq!(c.days_left(next, from, p), 0, "a past day has no days left");
    }

    // Expiry of a password changed at `changed`, and at a later instant.
    let e = calendar::expiry(&c, case.changed, p, case.disable);
    assert!(e.last_valid_day <= e.last_change_day, "{e:?}");
    assert!(e.expires_at <= e.disabled_at, "{e:?}");
    if e.last_valid_day < Date::MAX {
        assert!(
            e.expires_at > case.changed,
            "expired before it was set: {e:?}"
        );
    }
    let later = add_seconds(case.changed, case.later.abs());
    let e2 = calendar::expiry(&c, later, p, case.disable);
    assert!(e2.last_valid_day >= e.last_valid_day, "{e2:?} < {e:?}");
    assert!(e2.expires_at >= e.expires_at, "{e2:?} < {e:?}");
    assert!(e2.disabled_at >= e.disabled_at, "{e2:?} < {e:?}");

    // The warning window, through a Policy as the config builds it.
    let extra = parse_holidays(&case.holidays_file).unwrap_or_default();
    let Ok(policy) = Policy::new(PolicyConfig {
        max_age: p,
        warn_before: case.warn,
        disable_after: case.disable,
        holidays: case.holidays.iter().copied().chain(extra).collect(),
        timezone: case.timezone.clone(),
        ..PolicyConfig::default()
    }) else {
        return;
    };
    let e = policy.expiry(case.changed);
    let now = add_seconds(case.changed, case.now);
    if let Some(left) = policy.warning(&e, now) {
        assert!(
            left <= count(case.warn),
            "{left} days left, warn_before {}",
            case.warn
        );
        assert!(now < e.expires_at);
    }
});
