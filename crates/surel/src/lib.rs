//! The library half of the `surel` package: the config parser and the
//! logging set-up it checks `log_level` with. The binary (`main.rs`) uses
//! them from here; they are a library so that the fuzz targets in `fuzz/`
//! (issue 10) can drive `Config::parse` directly. Everything else — the
//! CLI, start-up, TLS — stays in the binary.

pub mod config;
pub mod logging;
