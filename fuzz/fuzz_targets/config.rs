//! The config parser (`surel::config::Config::parse`, what `surel serve`,
//! `surel config check` and SIGHUP reload run) fed arbitrary TOML text.
//! Why: admins edit this file by hand, and a typo must give an error that
//! names its key (or at least its line), never a panic, a hang or an
//! allocation sized by a number in the file. A config that parses is also
//! turned into the password policy and its dates, as start-up does.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use surel::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, Path::new("surel.toml")) {
        Ok(config) => {
            let _ = config.listeners().count();
            assert!(config.password_url().ends_with("/password"));
            // build_policy() would read holidays_file, any path the input
            // names (/dev/zero...): only the policy without one is built.
            if config.policy.holidays_file.is_none() {
                let policy = config
                    .build_policy(Path::new("surel.toml"))
                    .expect("a validated policy builds");
                let now = jiff::Timestamp::now();
                let expiry = policy.expiry(now);
                let _ = policy.warning(&expiry, now);
            }
        }
        Err(e) => {
            // An admin can act on it: it says where (a key or a line) and what.
            assert!(
                e.key.is_some() || e.line.is_some(),
                "no key and no line: {e}"
            );
            if let Some(key) = &e.key {
                assert!(!key.is_empty(), "empty key: {e}");
            }
            if let Some(line) = e.line {
                assert!(
                    line >= 1 && line <= text.lines().count().max(1) + 1,
                    "line {line} outside the text: {e}"
                );
            }
            assert!(!e.message.trim().is_empty(), "no message: {e}");
        }
    }
});
