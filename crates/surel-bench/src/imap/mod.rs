//! IMAP workloads over plain TCP on loopback.

pub mod bulk;
pub mod client;
pub mod mix;
pub mod sessions;
