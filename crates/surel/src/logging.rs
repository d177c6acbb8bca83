//! Logs through tracing: text for people, JSON lines for collectors; the
//! level comes from `RUST_LOG` or the config and is reloaded on SIGHUP.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry, reload};

use crate::config::LogFormat;

/// Lets SIGHUP change the level without restarting.
pub struct LogHandle {
    filter: reload::Handle<Targets, Registry>,
    /// `RUST_LOG` was set: it wins over the config, also on reload.
    from_env: bool,
}

/// A level (`info`), or levels per module (`info,surel_smtp=debug`).
/// (`Targets`, not tracing's `EnvFilter`: that one compiles its filters as
/// regular expressions, and the regex engine's code, about 130 KiB of it
/// mapped at rest, served span and field filters nobody here needs.)
pub fn filter_for(level: &str) -> Result<Targets, String> {
    level
        .parse::<Targets>()
        .map_err(|e| format!("log_level {level:?} is not a valid level or filter: {e}"))
}

/// Installs the global subscriber; logs go to stderr (journald takes them from there).
pub fn init(format: LogFormat, level: &str) -> LogHandle {
    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let from_env = env.is_some();
    let info = || Targets::new().with_default(tracing::Level::INFO);
    let filter = match env {
        Some(env) => filter_for(&env).unwrap_or_else(|e| {
            eprintln!("RUST_LOG: {e}; logging at info");
            info()
        }),
        None => filter_for(level).unwrap_or_else(|_| info()),
    };
    let (filter, handle) = reload::Layer::new(filter);
    let output = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    Registry::default().with(filter).with(output).init();
    LogHandle {
        filter: handle,
        from_env,
    }
}

impl LogHandle {
    /// Applies a new level from the config (unless `RUST_LOG` is set).
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        if self.from_env {
            return Ok(());
        }
        let filter = filter_for(level)?;
        self.filter.reload(filter).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::filter_for;
    use tracing::Level;

    #[test]
    fn levels_and_levels_per_module_are_read_and_bad_ones_named() {
        let plain = filter_for("warn").unwrap();
        assert!(plain.would_enable("surel_smtp", &Level::WARN));
        assert!(!plain.would_enable("surel_smtp", &Level::INFO));
        let per_module = filter_for("info,surel_smtp=debug").unwrap();
        assert!(per_module.would_enable("surel_smtp::session", &Level::DEBUG));
        assert!(!per_module.would_enable("surel_imap", &Level::DEBUG));
        assert!(per_module.would_enable("surel_imap", &Level::INFO));
        let err = filter_for("surel=loud").unwrap_err();
        assert!(err.contains("log_level \"surel=loud\""), "{err}");
    }
}
