//! `surel serve`: start-up, the signal loop (SIGHUP reloads, SIGTERM/SIGINT
//! stop) and graceful shutdown.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use surel_auth::{Authenticator, Store};
use surel_net::{ConnectionLimits, Listener, Service, Timeouts};

use crate::config::{Config, LogFormat};
use crate::logging::{self, LogHandle};
use crate::tls::{self, CertStore, SniResolver};

/// Runs the server until SIGTERM or SIGINT; returns once sessions have
/// finished or the grace time is over.
pub fn run(config_path: PathBuf, log_format: Option<LogFormat>) -> anyhow::Result<()> {
    let config = Config::load(&config_path)?;
    let log = logging::init(log_format.unwrap_or(config.log_format), &config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("surel")
        // Blocking threads (SQLite, fsync, argon2) that sit idle for a
        // second exit (tokio's default is 10 s), and the allocator's
        // cache of that thread with them.
        .thread_keep_alive(Duration::from_secs(1))
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(config_path, config, log));
    if let Err(e) = &result {
        error!("{e:#}");
    }
    result
}

fn timeouts(config: &Config) -> Timeouts {
    Timeouts {
        handshake: config.limits.handshake_timeout.0,
        idle: config.limits.idle_timeout.0,
        idle_authenticated: config.limits.idle_timeout_authenticated.0,
    }
}

/// The protocol a listener key serves, and whether it starts with TLS.
fn service_for(
    key: &str,
    imap: &Arc<surel_imap::ImapService>,
    smtp: &Arc<surel_smtp::SmtpConfig>,
    web: &Arc<surel_web::WebService>,
    admin: &Arc<surel_web::WebService>,
) -> (&'static str, bool, Arc<dyn Service>) {
    use surel_smtp::{Role, SmtpService};
    let smtp_as = |role| Arc::new(SmtpService::new(role, Arc::clone(smtp)));
    match key {
        "imap.listen" => ("imap", false, imap.clone()),
        "imap.listen_tls" => ("imaps", true, imap.clone()),
        "smtp.listen" => ("smtp", false, smtp_as(Role::Mx)),
        "smtp.submission" => ("submission", false, smtp_as(Role::Submission)),
        "smtp.submissions" => ("submissions", true, smtp_as(Role::Submission)),
        "web.admin_listen" => ("admin", false, admin.clone()),
        _ => ("web", true, web.clone()),
    }
}

/// SPF/DKIM/DMARC on the MX, as configured.
fn inbound_checks(config: &Config) -> anyhow::Result<Option<surel_smtp::checks::InboundChecks>> {
    use surel_smtp::checks::{DmarcAction, InboundChecks};
    if !config.smtp.inbound_checks {
        return Ok(None);
    }
    let action = match config.smtp.dmarc_reject {
        crate::config::DmarcAction::Reject => DmarcAction::Reject,
        crate::config::DmarcAction::Quarantine => DmarcAction::Quarantine,
        crate::config::DmarcAction::Mark => DmarcAction::Mark,
    };
    InboundChecks::new(&config.hostname, config.smtp.dns_server, action)
        .map(Some)
        .map_err(|e| {
            anyhow::anyhow!(
                "smtp.inbound_checks: {e} (set smtp.dns_server, or smtp.inbound_checks = false)"
            )
        })
}

/// The outbound queue with its delivery settings.
fn outbound_queue(config: &Config) -> anyhow::Result<surel_smtp::queue::runner::Queue> {
    use surel_smtp::queue::outbound::{OutboundConfig, Relay, TlsMode};
    use surel_smtp::queue::runner::{Queue, Schedule};
    let store = surel_smtp::queue::QueueStore::open(&config.data_dir).with_context(|| {
        format!(
            "data_dir: cannot create {}/queue",
            config.data_dir.display()
        )
    })?;
    let relay = config.smtp.relay.as_ref().map(|r| Relay {
        host: r.host.clone(),
        port: r.port,
        tls: match r.tls {
            crate::config::RelayTls::Starttls => TlsMode::Required,
            crate::config::RelayTls::Tls => TlsMode::Implicit,
            crate::config::RelayTls::None => TlsMode::None,
        },
        credentials: r
            .username
            .clone()
            .zip(r.password.as_ref().map(|p| p.0.clone())),
    });
    let q = &config.queue;
    Ok(Queue::new(
        store,
        OutboundConfig {
            hostname: config.hostname.clone(),
            routes: q
                .routes
                .iter()
                .map(|(d, r)| (d.to_lowercase(), r.clone()))
                .collect(),
            relay,
            require_tls: q.require_tls.clone(),
            timeout: q.timeout.0,
            dns_server: config.smtp.dns_server,
        },
        Schedule {
            retry: q.retry_after.iter().map(|d| d.0).collect(),
            max_age: q.max_age.0,
            delay_notice: q.delay_notice.0,
        },
    ))
}

/// Creates the data dir readable by surel alone.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data_dir: cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("data_dir: cannot restrict {} to mode 0700", dir.display()))?;
    Ok(())
}

async fn serve(config_path: PathBuf, config: Config, log: LogHandle) -> anyhow::Result<()> {
    let started = Instant::now();
    tls::ensure_self_signed(&config.tls, &config.hostname)?;
    let store = CertStore::load(&config.tls)
        .map_err(|e| anyhow::anyhow!("{e:#} (tls.cert / tls.key in {})", config_path.display()))?;
    if store.default_is_self_signed() {
        tls::warn_self_signed(&config.hostname);
    }
    let resolver = SniResolver::new(store);
    let tls_config = tls::server_config(Arc::clone(&resolver))?;
    prepare_data_dir(&config.data_dir)?;
    let policy = config.build_policy(&config_path)?;
    let store = Arc::new(Store::open_in(&config.data_dir)?);
    let auth =
        Arc::new(Authenticator::new(store, policy, config.auth).map_err(anyhow::Error::msg)?);

    let imap = Arc::new(surel_imap::ImapService::new(surel_imap::ImapConfig {
        auth: Arc::clone(&auth),
        data_dir: config.data_dir.clone(),
        language: config.language,
        password_url: config.password_url(),
        max_message_size: config
            .smtp
            .max_message_size
            .0
            .min(u64::from(u32::MAX) - (64 << 10)) as u32,
        allow_plaintext_loopback: config.allow_plaintext_loopback,
    }));

    let queue = Arc::new(outbound_queue(&config)?);
    let smtp = Arc::new(surel_smtp::SmtpConfig {
        auth: Arc::clone(&auth),
        data_dir: config.data_dir.clone(),
        hostname: config.hostname.clone(),
        language: config.language,
        password_url: config.password_url(),
        max_message_size: config.smtp.max_message_size.0 as usize,
        max_recipients: config.smtp.max_recipients,
        max_errors: config.smtp.max_errors,
        greet_pause: config.smtp.greet_pause.0,
        allow_plaintext_loopback: config.allow_plaintext_loopback,
        rate_limit: surel_smtp::RateLimit::new(config.smtp.rate_limit_per_hour),
        queue: Some(Arc::clone(&queue)),
        checks: inbound_checks(&config)?,
        // Enough for the busiest recipients; each holds a SQLite connection.
        mailboxes: surel_maildir::Pool::new(16),
    });
    crate::memory::spawn_releaser({
        let smtp = Arc::clone(&smtp);
        move || {
            smtp.mailboxes.clear();
            surel_maildir::release_idle();
        }
    });

    let port = |addrs: &[std::net::SocketAddr], standard: u16| {
        addrs.first().map_or(standard, |a| a.port())
    };
    let prometheus = surel_web::metrics::install().map_err(anyhow::Error::msg)?;
    let health =
        surel_web::health::Health::new(config.data_dir.clone(), config.web.min_free_disk.0);
    let queue_store = queue.store.clone();
    let (web, admin) = surel_web::WebService::new(surel_web::WebConfig {
        auth: Arc::clone(&auth),
        hostname: config.hostname.clone(),
        public_url: config
            .web
            .public_url
            .clone()
            .unwrap_or_else(|| format!("https://{}", config.hostname)),
        language: config.language,
        ports: surel_web::ClientPorts {
            imaps: port(&config.imap.listen_tls, 993),
            imap: port(&config.imap.listen, 143),
            submissions: port(&config.smtp.submissions, 465),
            submission: port(&config.smtp.submission, 587),
        },
        health: Some(Arc::clone(&health)),
        metrics: Some(surel_web::metrics::MetricsConfig {
            prometheus: prometheus.clone(),
            queue_size: Box::new(move || queue_store.list().map(|entries| entries.len())),
            data_dir: config.data_dir.clone(),
            admin_listener: !config.web.admin_listen.is_empty(),
        }),
    });
    let (web, admin) = (Arc::new(web), Arc::new(admin));

    // Bind everything before announcing readiness, and report every failure.
    let mut listeners = Vec::new();
    let mut failures = Vec::new();
    for (key, addr) in config.listeners() {
        match surel_net::bind(addr, key) {
            Ok(tcp) => {
                let (role, implicit_tls, service) = service_for(key, &imap, &smtp, &web, &admin);
                listeners.push(Listener {
                    role,
                    tcp,
                    implicit_tls,
                    service,
                });
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if !failures.is_empty() {
        anyhow::bail!("{}", failures.join("; "));
    }

    let shutdown = CancellationToken::new();
    let ctx = Arc::new(surel_net::Context {
        hostname: config.hostname.clone(),
        tls: tokio_rustls::TlsAcceptor::from(tls_config),
        timeouts: timeouts(&config),
        shutdown: shutdown.clone(),
    });
    let limits = ConnectionLimits::new(
        config.limits.max_connections,
        config.limits.max_connections_per_ip,
    );
    let sessions = TaskTracker::new();
    let mut accept_loops = Vec::new();
    for listener in listeners {
        let addr = listener.tcp.local_addr()?;
        info!(listener = listener.role, %addr, "listening");
        let up = health.listener(listener.role, addr);
        let task = listener.run(Arc::clone(&ctx), Arc::clone(&limits), sessions.clone());
        accept_loops.push(tokio::spawn(async move {
            task.await;
            up.store(false, std::sync::atomic::Ordering::SeqCst);
        }));
    }

    tokio::spawn(sweep_expired(Arc::clone(&auth), shutdown.clone()));
    tokio::spawn(surel_web::metrics::upkeep(prometheus, shutdown.clone()));
    tokio::spawn(surel_web::notices::run(
        surel_web::notices::NoticeConfig {
            auth: Arc::clone(&auth),
            data_dir: config.data_dir.clone(),
            hostname: config.hostname.clone(),
            password_url: config.password_url(),
            language: config.language,
        },
        shutdown.clone(),
    ));
    tokio::spawn(surel_smtp::queue::runner::run(
        Arc::clone(&smtp),
        Arc::clone(&queue),
        shutdown.clone(),
    ));

    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    info!(
        startup_ms = started.elapsed().as_millis() as u64,
        config = %config_path.display(),
        language = ?config.language,
        "surel ready"
    );

    let mut config = config;
    let why = loop {
        tokio::select! {
            _ = hangup.recv() => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
                config = reload(&config_path, config, &resolver, &auth, &log);
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
            }
            _ = terminate.recv() => break "SIGTERM",
            _ = interrupt.recv() => break "SIGINT",
        }
    };

    let grace = config.limits.shutdown_grace.0;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    info!(
        signal = why,
        open = limits.open(),
        grace_s = grace.as_secs_f64(),
        "shutting down"
    );
    shutdown.cancel();
    for task in accept_loops {
        let _ = task.await;
    }
    sessions.close();
    if tokio::time::timeout(grace, sessions.wait()).await.is_err() {
        warn!(
            open = limits.open(),
            "grace time over: closing the remaining connections"
        );
    }
    info!("surel stopped");
    Ok(())
}

/// Disables accounts whose password expired longer than `disable_after`
/// ago: at start-up, then every hour (logins check it too).
async fn sweep_expired(auth: Arc<Authenticator>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let auth = Arc::clone(&auth);
        match tokio::task::spawn_blocking(move || auth.sweep()).await {
            Ok(Ok(disabled)) if !disabled.is_empty() => {
                info!(count = disabled.len(), "expiry sweep disabled accounts");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => error!("expiry sweep failed: {e}"),
            Err(e) => error!("expiry sweep panicked: {e}"),
        }
    }
}

/// SIGHUP: reads the config again and applies what can change while running
/// (certificates, log level, the password policy). On any error the old settings stay.
fn reload(
    path: &Path,
    old: Config,
    resolver: &SniResolver,
    auth: &Authenticator,
    log: &LogHandle,
) -> Config {
    let loaded =
        Config::load(path).and_then(|new| new.build_policy(path).map(|policy| (new, policy)));
    let (new, policy) = match loaded {
        Ok(pair) => pair,
        Err(e) => {
            error!("reload refused, keeping the running config: {e}");
            return old;
        }
    };
    auth.set_policy(policy);
    match resolver.reload(&new.tls) {
        Ok(()) => info!("certificates reloaded"),
        Err(e) => error!("certificate reload failed, keeping the old certificates: {e:#}"),
    }
    if let Err(e) = log.set_level(&new.log_level) {
        error!("log level not changed: {e}");
    }
    if new.listeners().ne(old.listeners()) {
        warn!("listen addresses changed: restart surel to apply them");
    }
    if new.hostname != old.hostname || new.data_dir != old.data_dir || new.auth != old.auth {
        warn!("hostname, data_dir or [auth] changed: restart surel to apply them");
    }
    info!("config reloaded");
    new
}
