//! surel-auth owns accounts, domains, aliases and the password policy: it is
//! the one place that decides whether a login succeeds, for IMAP, SMTP and the
//! web page alike (SPEC §3).
//!
//! It must not do networking or protocol work: protocols call into it with a
//! login name, a password, a service and a peer address, and map the outcome
//! to their own replies. Everything here can be tested synchronously.

pub mod policy;

pub use policy::config::{Language, Period, PolicyConfig};
