//! The password policy of SPEC §3: its configuration and its rules.

pub mod config;
