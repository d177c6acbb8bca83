//! Which expiry notice mails are due (SPEC §3: one at 10, 5 and 1 working
//! days before expiry, each once per password). Composing and delivering
//! them is the daemon's; this decides who gets which, and remembers.

use jiff::civil::Date;

use crate::Authenticator;
use crate::policy::config::Period;
use crate::state::{State, password_state};
use crate::store::{Account, StoreError, StoredState};

/// Working days before expiry at which a notice goes out.
pub const NOTICE_DAYS: [u32; 3] = [10, 5, 1];

/// A notice to send.
#[derive(Debug, Clone)]
pub struct DueNotice {
    pub account: Account,
    /// The notice's mark: 10, 5 or 1.
    pub days_before: u32,
    /// Working days left, today included.
    pub days_left: u32,
    pub last_valid_day: Date,
}

/// The mark a password `days_left` working days from expiry is at: the
/// smallest of [`NOTICE_DAYS`] not below it. A daemon that was down on the
/// day of a mark sends the mark it wakes up in, never an older one.
pub fn mark_for(days_left: u32) -> Option<u32> {
    NOTICE_DAYS
        .iter()
        .rev()
        .copied()
        .find(|&mark| mark >= days_left)
}

impl Authenticator {
    /// The notices due now, not yet sent, for accounts whose chosen password
    /// is still valid.
    pub fn due_notices(&self) -> Result<Vec<DueNotice>, StoreError> {
        let now = self.now();
        let policy = self.policy();
        let today = policy.calendar.date_of(now);
        let mut due = Vec::new();
        for account in self.store().list_accounts()? {
            if account.state != StoredState::Active {
                continue;
            }
            let expiry = policy.expiry(account.password_changed_at);
            if password_state(&account, &expiry, now) != State::Active {
                continue;
            }
            let days_left =
                policy
                    .calendar
                    .days_left(today, expiry.last_valid_day, Period::WorkingDays(0));
            let Some(mark) = mark_for(days_left) else {
                continue;
            };
            if self
                .store()
                .notice_sent(account.id, account.password_changed_at, mark)?
            {
                continue;
            }
            due.push(DueNotice {
                account,
                days_before: mark,
                days_left,
                last_valid_day: expiry.last_valid_day,
            });
        }
        Ok(due)
    }

    /// Remembers that `notice` was delivered.
    pub fn notice_delivered(&self, notice: &DueNotice) -> Result<(), StoreError> {
        self.store().record_notice(
            notice.account.id,
            notice.account.password_changed_at,
            notice.days_before,
            self.now(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_day_count_falls_in_one_mark() {
        assert_eq!(mark_for(11), None);
        assert_eq!(mark_for(10), Some(10));
        assert_eq!(mark_for(6), Some(10));
        assert_eq!(mark_for(5), Some(5));
        assert_eq!(mark_for(2), Some(5));
        assert_eq!(mark_for(1), Some(1));
        assert_eq!(mark_for(0), Some(1));
    }
}
