//! The one entry point every protocol uses to log in and to change a
//! password (SPEC §3, §4). Outcomes are protocol-neutral; IMAP, SMTP and the
//! web page map them to their replies.
//!
//! Invariants:
//! - unknown users, wrong passwords and locked accounts cost one argon2
//!   verification each and get the same outcome text, so neither the reply
//!   nor its timing tells them apart;
//! - a locked account is refused without its password being checked (only
//!   a login that matches the cache, i.e. is known right, learns the lock's end);
//! - nothing here logs a password.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use tracing::{info, warn};

use crate::cache::LoginCache;
use crate::config::AuthConfig;
use crate::guard::{Guard, IpVerdict};
use crate::hash::Hasher;
use crate::messages::{Message, text};
use crate::policy::Policy;
use crate::policy::config::Language;
use crate::policy::rules::{self, Violation};
use crate::state::{State, password_state};
use crate::store::{Account, Store, StoreError, StoredState};

/// Which door a login came through; for logs and the warning alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Imap,
    Smtp,
    Web,
    Cli,
}

impl Service {
    fn as_str(self) -> &'static str {
        match self {
            Service::Imap => "imap",
            Service::Smtp => "smtp",
            Service::Web => "web",
            Service::Cli => "cli",
        }
    }
}

/// Who logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef {
    pub id: i64,
    pub address: String,
    pub display_name: String,
}

impl From<&Account> for AccountRef {
    fn from(a: &Account) -> Self {
        AccountRef {
            id: a.id,
            address: a.address(),
            display_name: a.display_name.clone(),
        }
    }
}

/// Inside the warning window: how long the password has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryWarning {
    pub days_left: u32,
    pub last_valid_day: Date,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success {
        account: AccountRef,
        warning: Option<ExpiryWarning>,
    },
    MustChange {
        account: AccountRef,
    },
    Expired {
        account: AccountRef,
    },
    Disabled {
        account: AccountRef,
    },
    /// `until` only when the password is known to be right.
    Locked {
        until: Option<Timestamp>,
    },
    BadCredentials,
    /// Too many failures from this address: try later (SMTP 454 4.7.0).
    Throttled,
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::Success { .. } => "success",
            Outcome::MustChange { .. } => "must_change",
            Outcome::Expired { .. } => "expired",
            Outcome::Disabled { .. } => "disabled",
            Outcome::Locked { .. } => "locked",
            Outcome::BadCredentials => "bad_credentials",
            Outcome::Throttled => "throttled",
        }
    }
}

/// An outcome and how long to wait before replying (the per-IP slowdown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    pub outcome: Outcome,
    pub delay: Duration,
}

/// Why a password change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// The login or the current password is wrong.
    BadCredentials,
    Locked {
        until: Option<Timestamp>,
    },
    Throttled,
    /// Disabled accounts, and expired ones past `disable_after`.
    NotAllowed,
    Rules(Vec<Violation>),
    Internal(String),
}

/// A stored password's new validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    pub last_valid_day: Date,
    pub expires_at: Timestamp,
}

type Clock = Box<dyn Fn() -> Timestamp + Send + Sync>;

pub struct Authenticator {
    store: Arc<Store>,
    policy: RwLock<Arc<Policy>>,
    hasher: Hasher,
    cache: LoginCache,
    guard: Guard,
    clock: Clock,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("store", &self.store)
            .finish()
    }
}

/// What checking a password against an account found.
enum Check {
    Unknown,
    Locked { until: Option<Timestamp> },
    Wrong,
    Right(Box<Account>),
}

impl Authenticator {
    pub fn new(
        store: Arc<Store>,
        policy: Policy,
        config: AuthConfig,
    ) -> Result<Authenticator, String> {
        Ok(Authenticator {
            store,
            policy: RwLock::new(Arc::new(policy)),
            hasher: Hasher::new(config.hash_params())?,
            cache: LoginCache::new(config.cache_ttl.0),
            guard: Guard::new(config),
            clock: Box::new(Timestamp::now),
        })
    }

    /// Replaces the clock (tests move time forward).
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Applies a reloaded policy (SIGHUP).
    pub fn set_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Logs in `login` with `password` through `service` from `peer`.
    pub fn authenticate(
        &self,
        login: &str,
        password: &str,
        service: Service,
        peer: Option<IpAddr>,
    ) -> AuthResult {
        let started = std::time::Instant::now();
        let now = self.now();
        let (outcome, reason, delay) = match self.guard.check_ip(peer, now) {
            IpVerdict::Refuse => (
                Outcome::Throttled,
                "too many failures from this address",
                Duration::ZERO,
            ),
            IpVerdict::Allow(delay) => match self.decide(login, password, peer, now) {
                Ok((outcome, reason)) => (outcome, reason, delay),
                Err(e) => {
                    warn!(target: "audit", login, service = service.as_str(), error = %e, "login failed: account database error");
                    (Outcome::BadCredentials, "account database error", delay)
                }
            },
        };
        let delay = match outcome {
            Outcome::Success { .. } => Duration::ZERO,
            Outcome::BadCredentials | Outcome::Locked { .. } | Outcome::Throttled => {
                let floor = self.guard.failure_floor();
                delay.max(floor.saturating_sub(started.elapsed()))
            }
            _ => delay,
        };
        info!(
            target: "audit",
            login,
            service = service.as_str(),
            peer = ?peer,
            outcome = outcome.name(),
            reason,
            "login"
        );
        metrics::counter!(
            "surel_logins_total",
            "service" => service.as_str(),
            "outcome" => outcome.name()
        )
        .increment(1);
        AuthResult { outcome, delay }
    }

    /// The outcome of a login, and why (for the audit log only: the reply
    /// never tells an unknown user from a wrong password).
    fn decide(
        &self,
        login: &str,
        password: &str,
        peer: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(Outcome, &'static str), StoreError> {
        let account = match self.check_password(login, password, peer, now)? {
            Check::Unknown => return Ok((Outcome::BadCredentials, "unknown user")),
            Check::Wrong => return Ok((Outcome::BadCredentials, "wrong password")),
            Check::Locked { until } => return Ok((Outcome::Locked { until }, "account locked")),
            Check::Right(account) => account,
        };
        let policy = self.policy();
        let expiry = policy.expiry(account.password_changed_at);
        let who = AccountRef::from(account.as_ref());
        Ok(match password_state(&account, &expiry, now) {
            State::Disabled => {
                self.disable_if_expired(&account, now)?;
                (Outcome::Disabled { account: who }, "account disabled")
            }
            State::MustChange => (
                Outcome::MustChange { account: who },
                "password must be changed",
            ),
            State::Expired => (Outcome::Expired { account: who }, "password expired"),
            State::Active | State::Locked => {
                let warning = policy.warning(&expiry, now).map(|days_left| ExpiryWarning {
                    days_left,
                    last_valid_day: expiry.last_valid_day,
                });
                let reason = if warning.is_some() {
                    "password expires soon"
                } else {
                    "ok"
                };
                (
                    Outcome::Success {
                        account: who,
                        warning,
                    },
                    reason,
                )
            }
        })
    }

    /// The common part of login and password change: find the account,
    /// honour the lock, verify the password, count failures.
    fn check_password(
        &self,
        login: &str,
        password: &str,
        peer: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<Check, StoreError> {
        let account = match crate::names::resolve(&self.store, login)? {
            Some((local, domain)) => self.store.account(&local, &domain)?,
            None => None,
        };
        let Some(account) = account else {
            self.hasher.verify_dummy(password);
            self.guard.ip_failed(peer, now);
            return Ok(Check::Unknown);
        };
        let cached = self
            .cache
            .hit(login, password, account.id, account.revision);
        if account.locked_until.is_some_and(|t| t > now) {
            if !cached {
                self.hasher.verify_dummy(password);
                self.guard.ip_failed(peer, now);
            }
            return Ok(Check::Locked {
                until: cached.then_some(account.locked_until).flatten(),
            });
        }
        let right = cached
            || {
                let verified = self.hasher.verify(&account.password_hash, password);
                if verified.matches && verified.needs_rehash {
                    self.store.rehash(
                        account.id,
                        &account.password_hash,
                        &self.hasher.hash(password),
                    )?;
                    info!(target: "audit", account = %account.address(), "password rehashed with argon2id");
                }
                verified.matches
            };
        if !right {
            if !self.guard.repeated_wrong(account.id, password) {
                self.guard.ip_failed(peer, now);
                let policy = self.policy();
                let locked = self.store.record_failure(
                    account.id,
                    now,
                    policy.config.lockout_window.0,
                    policy.config.lockout_threshold,
                    policy.config.lockout_duration.0,
                )?;
                if let Some(until) = locked {
                    warn!(target: "audit", account = %account.address(), %until, "account locked after repeated failed logins");
                }
            }
            return Ok(Check::Wrong);
        }
        self.guard.forget_wrong(account.id);
        let account = if account.failed_logins > 0 || account.locked_until.is_some() {
            self.store.clear_failures(account.id)?;
            self.store.account_by_id(account.id)?.unwrap_or(account)
        } else {
            account
        };
        self.cache
            .insert(login, password, account.id, account.revision);
        Ok(Check::Right(Box::new(account)))
    }

    fn disable_if_expired(&self, account: &Account, now: Timestamp) -> Result<(), StoreError> {
        if account.state != StoredState::Disabled {
            self.store
                .set_state(account.id, StoredState::Disabled, Some("expired"))?;
            warn!(target: "audit", account = %account.address(), %now, "account disabled: password expired longer than disable_after");
        }
        Ok(())
    }

    /// The user's own password change (web page, CLI): the current password
    /// must be right and the new one must meet the policy and the history.
    pub fn change_password(
        &self,
        login: &str,
        current: &str,
        new: &str,
        peer: Option<IpAddr>,
    ) -> Result<Changed, ChangeError> {
        let now = self.now();
        if self.guard.check_ip(peer, now) == IpVerdict::Refuse {
            return Err(ChangeError::Throttled);
        }
        let internal = |e: StoreError| ChangeError::Internal(e.to_string());
        let account = match self
            .check_password(login, current, peer, now)
            .map_err(internal)?
        {
            Check::Unknown | Check::Wrong => {
                info!(target: "audit", login, outcome = "bad_credentials", "password change refused");
                return Err(ChangeError::BadCredentials);
            }
            Check::Locked { until } => return Err(ChangeError::Locked { until }),
            Check::Right(account) => account,
        };
        let policy = self.policy();
        let expiry = policy.expiry(account.password_changed_at);
        if password_state(&account, &expiry, now) == State::Disabled {
            self.disable_if_expired(&account, now).map_err(internal)?;
            info!(target: "audit", account = %account.address(), outcome = "disabled", "password change refused");
            return Err(ChangeError::NotAllowed);
        }
        let mut broken = rules::check(&policy.config, &account.local, new);
        if broken.is_empty()
            && self
                .reused(&account, new, policy.config.history)
                .map_err(internal)?
        {
            broken.push(Violation::Reused {
                history: policy.config.history,
            });
        }
        if !broken.is_empty() {
            info!(target: "audit", account = %account.address(), outcome = "policy", "password change refused");
            return Err(ChangeError::Rules(broken));
        }
        let hash = self.hasher.hash(new);
        self.store
            .set_password(
                account.id,
                &hash,
                StoredState::Active,
                now,
                policy.config.history,
            )
            .map_err(internal)?;
        let expiry = policy.expiry(now);
        info!(target: "audit", account = %account.address(), last_valid_day = %expiry.last_valid_day, "password changed");
        Ok(Changed {
            last_valid_day: expiry.last_valid_day,
            expires_at: expiry.expires_at,
        })
    }

    /// True when `new` is the current password or one of the last `history`.
    fn reused(&self, account: &Account, new: &str, history: usize) -> Result<bool, StoreError> {
        if self.hasher.verify(&account.password_hash, new).matches {
            return Ok(true);
        }
        let previous = self.store.password_history(account.id)?;
        Ok(previous
            .iter()
            .take(history)
            .any(|h| self.hasher.verify(h, new).matches))
    }

    /// The service desk sets a password (`user add`, `user passwd`): the
    /// account must change it at next login. Rules apply, history does not.
    pub fn issue_password(&self, account: &Account, password: &str) -> Result<(), ChangeError> {
        let policy = self.policy();
        let broken = rules::check(&policy.config, &account.local, password);
        if !broken.is_empty() {
            return Err(ChangeError::Rules(broken));
        }
        let hash = self.hasher.hash(password);
        self.store
            .set_password(
                account.id,
                &hash,
                StoredState::MustChange,
                self.now(),
                policy.config.history,
            )
            .map_err(|e| ChangeError::Internal(e.to_string()))?;
        info!(target: "audit", account = %account.address(), "password issued by the service desk; must change at next login");
        Ok(())
    }

    /// True once a day per account: whether to show the expiry `[ALERT]` now.
    pub fn take_daily_alert(&self, account: &AccountRef) -> bool {
        let today = self.policy().calendar.date_of(self.now()).to_string();
        self.store
            .take_daily_alert(account.id, &today)
            .unwrap_or(false)
    }

    /// Disables every account expired longer than `disable_after`; returns their addresses.
    pub fn sweep(&self) -> Result<Vec<String>, StoreError> {
        let now = self.now();
        let policy = self.policy();
        let mut disabled = Vec::new();
        for account in self.store.list_accounts()? {
            let expiry = policy.expiry(account.password_changed_at);
            if account.state != StoredState::Disabled && now >= expiry.disabled_at {
                self.disable_if_expired(&account, now)?;
                disabled.push(account.address());
            }
        }
        Ok(disabled)
    }

    /// How many accounts are in each state now (for the metrics); every
    /// state is present, zero or not.
    pub fn count_by_state(&self) -> Result<Vec<(State, usize)>, StoreError> {
        let now = self.now();
        let policy = self.policy();
        let mut counts = [
            (State::MustChange, 0),
            (State::Active, 0),
            (State::Expired, 0),
            (State::Disabled, 0),
            (State::Locked, 0),
        ];
        for account in self.store.list_accounts()? {
            let state = crate::state::effective(&account, &policy, now);
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == state) {
                slot.1 += 1;
            }
        }
        Ok(counts.to_vec())
    }

    /// The text to show for an outcome, in `language`, naming `url`.
    pub fn message(&self, outcome: &Outcome, language: Language, url: &str) -> String {
        let tz = self.policy().calendar.timezone.clone();
        let when = |t: &Timestamp| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        };
        match outcome {
            Outcome::Success {
                warning: Some(w), ..
            } => {
                let last_day = w.last_valid_day.to_string();
                text(
                    language,
                    &Message::Warning {
                        days_left: w.days_left,
                        last_day: &last_day,
                        url,
                    },
                )
            }
            Outcome::Success { warning: None, .. } => String::new(),
            Outcome::MustChange { .. } => text(language, &Message::MustChange { url }),
            Outcome::Expired { .. } => text(language, &Message::Expired { url }),
            Outcome::Disabled { .. } => text(language, &Message::Disabled),
            Outcome::Locked { until } => {
                let until = until.as_ref().map(when);
                text(
                    language,
                    &Message::Locked {
                        until: until.as_deref(),
                    },
                )
            }
            Outcome::BadCredentials => text(language, &Message::BadCredentials),
            Outcome::Throttled => text(language, &Message::Throttled),
        }
    }
}
