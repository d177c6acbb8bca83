//! Logs through tracing: text for people, JSON lines for collectors; the
//! level comes from `RUST_LOG` or the config and is reloaded on SIGHUP.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::LogFormat;

/// Lets SIGHUP change the level without restarting.
pub struct LogHandle {
    filter: reload::Handle<EnvFilter, Registry>,
    /// `RUST_LOG` was set: it wins over the config, also on reload.
    from_env: bool,
}

pub fn filter_for(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(level)
        .map_err(|e| format!("log_level {level:?} is not a valid level or filter: {e}"))
}

/// Installs the global subscriber; logs go to stderr (journald takes them from there).
pub fn init(format: LogFormat, level: &str) -> LogHandle {
    let from_env = std::env::var_os("RUST_LOG").is_some();
    let filter = if from_env {
        EnvFilter::from_default_env()
    } else {
        filter_for(level).unwrap_or_else(|_| EnvFilter::new("info"))
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
