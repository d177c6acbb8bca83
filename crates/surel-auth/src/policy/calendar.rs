//! All date arithmetic of the policy, in the office's time zone: working
//! days (Monday–Friday minus holidays), expiry, the warning window and
//! `disable_after` (SPEC §3).
//!
//! A password changed on day D (office time) stays valid through the last
//! valid day L: the Nth working day after D (D itself not counted), or D+N
//! for calendar days. It expires at 00:00 on L+1 in the office's zone.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use super::config::Period;

/// Which days count as working days, and in which time zone days begin.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub holidays: BTreeSet<Date>,
    pub timezone: TimeZone,
}

impl Calendar {
    pub fn is_working_day(&self, day: Date) -> bool {
        !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
            && !self.holidays.contains(&day)
    }

    /// The office's date at `at`.
    pub fn date_of(&self, at: Timestamp) -> Date {
        at.to_zoned(self.timezone.clone()).date()
    }

    /// 00:00 office time on `day` (the first instant of the day, even on a
    /// day that begins with a DST gap elsewhere).
    pub fn start_of(&self, day: Date) -> Timestamp {
        // At the ends of jiff's range (year ±9999) 00:00 of the day may lie
        // beyond the last (or first) instant it can represent: saturate.
        // This used to fall back to 00:00 UTC and unwrap that, which
        // panicked for zones at or west of UTC (found by fuzzing, issue 10).
        day.to_zoned(self.timezone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(if day.year() > 0 {
                Timestamp::MAX
            } else {
                Timestamp::MIN
            })
    }

    /// The last day of a span of `period` that follows `from` (not counted).
    pub fn add(&self, from: Date, period: Period) -> Date {
        match period {
            // A span holds at most ~7.3 million days (jiff's whole range);
            // `n.days()` panicked beyond that (found by fuzzing, issue 10).
            // More days than that reach past the last date anyway.
            Period::Days(n) => jiff::Span::new()
                .try_days(i64::from(n))
                .map_or(Date::MAX, |span| from.saturating_add(span)),
            Period::WorkingDays(n) => {
                let mut day = from;
                let mut left = n;
                while left > 0 {
                    day = day.tomorrow().unwrap_or(day);
                    if self.is_working_day(day) {
                        left -= 1;
                    }
                    if day == Date::MAX {
                        break;
                    }
                }
                day
            }
        }
    }

    /// Days of `period`'s kind from `today` through `last` inclusive:
    /// working days for working-day periods, calendar days otherwise.
    /// Zero once `last` is past.
    pub fn days_left(&self, today: Date, last: Date, kind: Period) -> u32 {
        if last < today {
            return 0;
        }
        match kind {
            Period::Days(_) => (today.until(last).map(|s| s.get_days()).unwrap_or(0) + 1) as u32,
            Period::WorkingDays(_) => {
                let mut count = 0;
                let mut day = today;
                while day <= last {
                    if self.is_working_day(day) {
                        count += 1;
                    }
                    match day.tomorrow() {
                        Ok(next) => day = next,
                        Err(_) => break,
                    }
                }
                count
            }
        }
    }
}

/// Where a password stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// The last day the password is valid (office time).
    pub last_valid_day: Date,
    /// 00:00 office time the day after `last_valid_day`.
    pub expires_at: Timestamp,
    /// The last day a change with the old password is still allowed.
    pub last_change_day: Date,
    /// From this instant the account is disabled.
    pub disabled_at: Timestamp,
}

/// Computes the expiry of a password set at `changed_at`.
pub fn expiry(
    calendar: &Calendar,
    changed_at: Timestamp,
    max_age: Period,
    disable_after: Period,
) -> Expiry {
    let changed_on = calendar.date_of(changed_at);
    let last_valid_day = calendar.add(changed_on, max_age);
    let last_change_day = calendar.add(last_valid_day, disable_after);
    Expiry {
        last_valid_day,
        expires_at: calendar.start_of(last_valid_day.tomorrow().unwrap_or(last_valid_day)),
        last_change_day,
        disabled_at: calendar.start_of(last_change_day.tomorrow().unwrap_or(last_change_day)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn calendar(holidays: &[Date]) -> Calendar {
        Calendar {
            holidays: holidays.iter().copied().collect(),
            timezone: TimeZone::get("Asia/Jakarta").unwrap(),
        }
    }

    #[test]
    fn weekends_are_skipped() {
        let c = calendar(&[]);
        // Friday 2026-01-02 + 1 working day = Monday 2026-01-05.
        assert_eq!(
            c.add(date(2026, 1, 2), Period::WorkingDays(1)),
            date(2026, 1, 5)
        );
        // + 5 working days from a Monday = next Monday.
        assert_eq!(
            c.add(date(2026, 1, 5), Period::WorkingDays(5)),
            date(2026, 1, 12)
        );
        assert_eq!(
            c.add(date(2026, 1, 5), Period::WorkingDays(0)),
            date(2026, 1, 5)
        );
    }

    #[test]
    fn holidays_are_skipped() {
        let c = calendar(&[date(2026, 1, 5)]);
        assert_eq!(
            c.add(date(2026, 1, 2), Period::WorkingDays(1)),
            date(2026, 1, 6)
        );
    }

    #[test]
    fn the_spec_example_ninety_working_days_from_2026_01_02() {
        let c = calendar(&[date(2026, 1, 1)]);
        // 18 full weeks of 5 working days from Friday 2026-01-02: Friday 2026-05-08.
        assert_eq!(
            c.add(date(2026, 1, 2), Period::WorkingDays(90)),
            date(2026, 5, 8)
        );
        // One holiday inside the span pushes it to the next working day.
        let c = calendar(&[date(2026, 1, 1), date(2026, 3, 19)]);
        assert_eq!(
            c.add(date(2026, 1, 2), Period::WorkingDays(90)),
            date(2026, 5, 11)
        );
    }

    #[test]
    fn a_change_on_saturday_or_a_holiday_counts_from_the_next_working_day() {
        let c = calendar(&[date(2026, 8, 17)]);
        // Saturday 2026-01-03: the first working day after it is Monday the 5th.
        assert_eq!(
            c.add(date(2026, 1, 3), Period::WorkingDays(1)),
            date(2026, 1, 5)
        );
        assert_eq!(
            c.add(date(2026, 1, 3), Period::WorkingDays(1)),
            c.add(date(2026, 1, 2), Period::WorkingDays(1)),
            "Friday and Saturday give the same expiry"
        );
        // Changed on Independence Day (a Monday holiday): Tuesday is working day 1.
        assert_eq!(
            c.add(date(2026, 8, 17), Period::WorkingDays(1)),
            date(2026, 8, 18)
        );
    }

    #[test]
    fn year_ends_and_leap_years() {
        let c = calendar(&[date(2027, 1, 1)]);
        // Thursday 2026-12-31 + 1 working day skips the New Year holiday and the weekend.
        assert_eq!(
            c.add(date(2026, 12, 31), Period::WorkingDays(1)),
            date(2027, 1, 4)
        );
        // 2028 is a leap year: 2028-02-28 (Monday) + 1 = 2028-02-29.
        assert_eq!(
            c.add(date(2028, 2, 28), Period::WorkingDays(1)),
            date(2028, 2, 29)
        );
        assert_eq!(c.add(date(2028, 2, 28), Period::Days(2)), date(2028, 3, 1));
        assert_eq!(c.add(date(2027, 2, 28), Period::Days(1)), date(2027, 3, 1));
        assert_eq!(c.add(date(2026, 12, 1), Period::Days(90)), date(2027, 3, 1));
    }

    #[test]
    fn days_are_office_days_not_utc_days() {
        let c = calendar(&[]);
        // 2026-01-02 20:00 UTC is already Saturday 03:00 in Jakarta (UTC+7).
        let friday_evening_utc: Timestamp = "2026-01-02T20:00:00Z".parse().unwrap();
        assert_eq!(c.date_of(friday_evening_utc), date(2026, 1, 3));
        let e = expiry(&c, friday_evening_utc, Period::Days(1), Period::Days(30));
        assert_eq!(e.last_valid_day, date(2026, 1, 4));
        // Expires at 00:00 WIB on the 5th = 17:00 UTC on the 4th.
        assert_eq!(
            e.expires_at,
            "2026-01-04T17:00:00Z".parse::<Timestamp>().unwrap()
        );
        // In Jayapura (UTC+9) the same instant is later the same Saturday.
        let east = Calendar {
            holidays: BTreeSet::new(),
            timezone: TimeZone::get("Asia/Jayapura").unwrap(),
        };
        assert_eq!(east.date_of(friday_evening_utc), date(2026, 1, 3));
        let friday_noon_utc: Timestamp = "2026-01-02T12:00:00Z".parse().unwrap();
        assert_eq!(c.date_of(friday_noon_utc), date(2026, 1, 2));
        assert_eq!(east.date_of(friday_noon_utc), date(2026, 1, 2));
        assert_eq!(
            east.date_of("2026-01-02T15:00:00Z".parse().unwrap()),
            date(2026, 1, 3)
        );
        assert_eq!(
            c.date_of("2026-01-02T15:00:00Z".parse().unwrap()),
            date(2026, 1, 2)
        );
    }

    #[test]
    fn disable_after_counts_from_the_last_valid_day() {
        let c = calendar(&[]);
        let changed: Timestamp = "2026-01-05T03:00:00Z".parse().unwrap(); // Monday 10:00 WIB
        let e = expiry(&c, changed, Period::WorkingDays(5), Period::Days(30));
        assert_eq!(e.last_valid_day, date(2026, 1, 12));
        assert_eq!(e.last_change_day, date(2026, 2, 11));
        assert_eq!(e.disabled_at, c.start_of(date(2026, 2, 12)));
    }

    /// Regression (issue 10): fuzz/corpus/policy_dates/near_the_end_of_time_utc
    /// panicked in `start_of` (00:00 UTC on 9999-12-31 is past jiff's last
    /// instant), fuzz/corpus/policy_dates/crash_add_days_beyond_jiff_span in
    /// `add` (435992026 days is more than a span holds). Both come from the
    /// config (`max_age = "4000000 days"`, `timezone = "UTC"`) and panicked
    /// at every login.
    #[test]
    fn the_ends_of_time_saturate_instead_of_panicking() {
        let utc = Calendar {
            holidays: BTreeSet::new(),
            timezone: TimeZone::UTC,
        };
        assert_eq!(utc.start_of(Date::MAX), Timestamp::MAX);
        assert_eq!(
            utc.start_of(date(9999, 12, 30)),
            "9999-12-30T00:00:00Z".parse().unwrap()
        );
        let west = Calendar {
            holidays: BTreeSet::new(),
            timezone: TimeZone::get("America/Los_Angeles").unwrap(),
        };
        assert_eq!(west.start_of(Date::MAX), Timestamp::MAX);
        assert_eq!(utc.start_of(Date::MIN), Timestamp::MIN);

        for n in [7_304_485, 435_992_026, u32::MAX] {
            assert_eq!(utc.add(date(2026, 1, 2), Period::Days(n)), Date::MAX, "{n}");
        }
        assert_eq!(utc.add(Date::MAX, Period::WorkingDays(u32::MAX)), Date::MAX);
        let changed: Timestamp = "9999-12-29T00:00:00Z".parse().unwrap();
        let e = expiry(&utc, changed, Period::WorkingDays(10), Period::Days(30));
        assert_eq!(e.last_valid_day, Date::MAX);
        assert_eq!(e.expires_at, Timestamp::MAX);
        let e = expiry(
            &utc,
            "2026-01-05T03:00:00Z".parse().unwrap(),
            Period::Days(u32::MAX),
            Period::Days(u32::MAX),
        );
        assert_eq!(
            (e.last_valid_day, e.disabled_at),
            (Date::MAX, Timestamp::MAX)
        );
    }

    #[test]
    fn days_left_counts_today_and_the_last_day() {
        let c = calendar(&[date(2026, 1, 7)]);
        let wd = Period::WorkingDays(1);
        // Monday the 5th through Friday the 9th, minus the holiday on the 7th.
        assert_eq!(c.days_left(date(2026, 1, 5), date(2026, 1, 9), wd), 4);
        assert_eq!(c.days_left(date(2026, 1, 9), date(2026, 1, 9), wd), 1);
        assert_eq!(c.days_left(date(2026, 1, 10), date(2026, 1, 9), wd), 0);
        assert_eq!(
            c.days_left(date(2026, 1, 5), date(2026, 1, 9), Period::Days(1)),
            5
        );
    }
}
