//! What the session fuzz targets share: one small, real surel world per
//! process (a temporary data dir with the real SQLite account store and
//! real maildirs, one account made through surel-auth's public API), and
//! a way to run a protocol's `Service` — the entry point the TCP listener
//! uses — over an in-memory pipe for one input.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use surel_auth::policy::config::HumanDuration;
use surel_auth::store::NewAccount;
use surel_auth::{AuthConfig, Authenticator, Policy, PolicyConfig, Store, StoredState};
use surel_net::{Conn, ConnInfo, Context, Service, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

pub const DOMAIN: &str = "kemenkeu.go.id";
pub const LOCAL: &str = "budi";
pub const ADDRESS: &str = "budi@kemenkeu.go.id";
pub const PASSWORD: &str = "Hujan-Sore-77";
pub const HOSTNAME: &str = "mail.kemenkeu.go.id";

/// How long one input may keep a session busy. The client side is closed
/// right after the input, so a session normally ends within milliseconds;
/// this only bounds slow paths (a TLS handshake over garbage, a delivery).
pub const INPUT_TIME: Duration = Duration::from_secs(1);

/// Largest message (APPEND literal, DATA, BDAT) the sessions accept: small,
/// so that the "too big" paths are within the fuzzer's reach.
pub const MAX_MESSAGE: usize = 16 * 1024;

pub struct World {
    pub runtime: tokio::runtime::Runtime,
    pub auth: Arc<Authenticator>,
    pub data_dir: PathBuf,
    pub ctx: Arc<Context>,
    next_id: AtomicU64,
    slow_inputs: AtomicU64,
}

impl World {
    /// Makes the world for the fuzz target `name`: a data dir under the
    /// temporary directory (`TMPDIR`), removed by the next run once this
    /// process is gone (statics are never dropped, so it cannot remove
    /// itself).
    pub fn new(name: &str) -> World {
        let data_dir = make_data_dir(name);
        let store = Arc::new(Store::open_in(&data_dir).expect("open the account store"));
        // Cheap argon2 (one login per input would otherwise cost 19 MiB
        // and ~20 ms), and no failure delay, throttle or lockout: a wrong
        // login must not take a second, nor slow down or lock out the
        // inputs that follow.
        let config = AuthConfig {
            argon2_memory_kib: 256,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            ip_slowdown_after: u32::MAX - 1,
            ip_refuse_after: u32::MAX,
            ip_window: HumanDuration(Duration::ZERO),
            failure_delay: HumanDuration(Duration::ZERO),
            ..AuthConfig::default()
        };
        let policy = Policy::new(PolicyConfig {
            lockout_threshold: u32::MAX,
            ..PolicyConfig::default()
        })
        .expect("a valid policy");
        let auth = Arc::new(Authenticator::new(Arc::clone(&store), policy, config).expect("auth"));
        let now = auth.now();
        store
            .add_domain(DOMAIN, Some("kemenkeu"), None, now)
            .expect("add the domain");
        store
            .add_account(
                &NewAccount {
                    local: LOCAL.into(),
                    domain: DOMAIN.into(),
                    display_name: "Budi Santoso".into(),
                    password_hash: auth.hasher().hash(PASSWORD),
                    state: StoredState::Active,
                    password_changed_at: now,
                    quota_bytes: None,
                },
                now,
            )
            .expect("add the account");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let ctx = Arc::new(Context {
            hostname: HOSTNAME.into(),
            tls: tokio_rustls::TlsAcceptor::from(tls_config()),
            timeouts: Timeouts {
                handshake: INPUT_TIME,
                idle: INPUT_TIME,
                idle_authenticated: INPUT_TIME,
            },
            shutdown: CancellationToken::new(),
        });
        World {
            runtime,
            auth,
            data_dir,
            ctx,
            next_id: AtomicU64::new(1),
            slow_inputs: AtomicU64::new(0),
        }
    }

    /// A connection from 127.0.0.1 (so `allow_plaintext_loopback` applies)
    /// over `stream`, as the listener would hand it to a service.
    fn conn(&self, stream: tokio::io::DuplexStream, role: &'static str) -> Conn {
        Conn {
            stream: Box::new(stream),
            info: ConnInfo {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                role,
                local: SocketAddr::from((Ipv4Addr::LOCALHOST, 143)),
                peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
                tls: None,
            },
            ctx: Arc::clone(&self.ctx),
        }
    }

    /// Serves one connection with `service`: writes `input` as the client,
    /// then closes the client's sending side, reading and dropping all the
    /// server says meanwhile. A panic in the session is a crash (libFuzzer's
    /// panic hook aborts); a session still busy after `INPUT_TIME` is
    /// stopped and counted, not a crash.
    pub fn exchange(&self, service: Arc<dyn Service>, role: &'static str, input: &[u8]) {
        self.runtime.block_on(async {
            let (client, server) = tokio::io::duplex(64 * 1024);
            let session = tokio::spawn(service.serve(self.conn(server, role)));
            let stop = session.abort_handle();
            let (mut from_server, mut to_server) = tokio::io::split(client);
            let write = async {
                let _ = to_server.write_all(input).await;
                let _ = to_server.shutdown().await;
            };
            let read = async {
                let mut sink = vec![0u8; 16 * 1024];
                while matches!(from_server.read(&mut sink).await, Ok(n) if n > 0) {}
            };
            let whole = async {
                tokio::join!(write, read);
                session.await
            };
            match tokio::time::timeout(INPUT_TIME, whole).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Ok(Err(_)) => {}
                Err(_) => {
                    stop.abort();
                    let n = self.slow_inputs.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        eprintln!(
                            "surel-fuzz: {n} input(s) kept a {role} session busy > {INPUT_TIME:?}"
                        );
                    }
                }
            }
        });
    }
}

/// A self-signed certificate for STARTTLS, made once.
fn tls_config() -> Arc<rustls::ServerConfig> {
    let cert = rcgen::generate_simple_self_signed(vec![HOSTNAME.to_string()]).expect("rcgen");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .expect("server config");
    Arc::new(config)
}

/// `$TMPDIR/surel-fuzz-<name>-<pid>`, after removing those of processes
/// that no longer run.
fn make_data_dir(name: &str) -> PathBuf {
    let tmp = std::env::temp_dir();
    let prefix = format!("surel-fuzz-{name}-");
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(pid) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = tmp.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the data dir");
    dir
}
