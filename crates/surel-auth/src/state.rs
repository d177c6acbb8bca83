//! The state an account is in now (SPEC §3): what is stored, read against
//! the clock and the policy.

use jiff::Timestamp;
use serde::Serialize;

use crate::policy::{Expiry, Policy};
use crate::store::{Account, StoredState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    MustChange,
    Active,
    Expired,
    Disabled,
    Locked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::MustChange => "must_change",
            State::Active => "active",
            State::Expired => "expired",
            State::Disabled => "disabled",
            State::Locked => "locked",
        }
    }
}

/// The state at `now`. A lock shows over must_change/active/expired; a
/// disabled account stays disabled whatever its lock.
pub fn effective(account: &Account, policy: &Policy, now: Timestamp) -> State {
    let expiry = policy.expiry(account.password_changed_at);
    if account.state == StoredState::Disabled || now >= expiry.disabled_at {
        return State::Disabled;
    }
    if account.locked_until.is_some_and(|t| t > now) {
        return State::Locked;
    }
    password_state(account, &expiry, now)
}

/// The state of the password alone, ignoring locks.
pub fn password_state(account: &Account, expiry: &Expiry, now: Timestamp) -> State {
    match account.state {
        StoredState::Disabled => State::Disabled,
        _ if now >= expiry.disabled_at => State::Disabled,
        StoredState::MustChange => State::MustChange,
        StoredState::Active if now >= expiry.expires_at => State::Expired,
        StoredState::Active => State::Active,
    }
}
