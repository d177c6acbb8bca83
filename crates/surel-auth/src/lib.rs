//! surel-auth owns accounts, domains, aliases and the password policy: it is
//! the one place that decides whether a login succeeds, for IMAP, SMTP and the
//! web page alike (SPEC §3).
//!
//! It must not do networking or protocol work: protocols call
//! [`Authenticator::authenticate`] with a login name, a password, a service
//! and a peer address, and map the [`Outcome`] to their own replies.
//! Everything here is synchronous (SQLite, argon2): async callers run it on
//! a blocking thread.

pub mod authenticator;
mod cache;
pub mod config;
pub mod generate;
mod guard;
pub mod hash;
pub mod messages;
pub mod names;
pub mod notices;
pub mod policy;
pub mod state;
pub mod store;

pub use authenticator::{
    AccountRef, AuthResult, Authenticator, ChangeError, Changed, ExpiryWarning, Outcome, Service,
};
pub use config::AuthConfig;
pub use policy::config::{Language, Period, PolicyConfig};
pub use policy::{Policy, rules::Violation};
pub use state::State;
pub use store::{Account, Store, StoreError, StoredState};
