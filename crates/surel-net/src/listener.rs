//! The accept loop every listener runs: limits, implicit TLS, a span per
//! connection, and no new connections once shutdown begins.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::conn::{Conn, ConnInfo, Context};
use crate::limits::{ConnectionLimits, LimitRefusal};

pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A protocol served on a listener.
pub trait Service: Send + Sync + 'static {
    /// Serves one connection to its end; the stream is already TLS on an
    /// implicit-TLS listener.
    fn serve(self: Arc<Self>, conn: Conn) -> BoxFuture;

    /// The line written on a plain-text connection refused by a connection
    /// limit (e.g. `* BYE …` or `421 …`); `None` just closes it.
    fn busy_reply(&self) -> Option<&'static [u8]>;
}

/// A bound socket with the protocol it serves.
pub struct Listener {
    /// e.g. "imap", "imaps", "smtp", "submission", "submissions", "web".
    pub role: &'static str,
    pub tcp: TcpListener,
    pub implicit_tls: bool,
    pub service: Arc<dyn Service>,
}

static NEXT_CONN_ID: AtomicU64 = AtomicU64::new(1);

impl Listener {
    /// Accepts until shutdown; every connection task is spawned on `tracker`
    /// so the server can wait for them to finish.
    pub async fn run(self, ctx: Arc<Context>, limits: Arc<ConnectionLimits>, tracker: TaskTracker) {
        let local = self.tcp.local_addr().ok();
        loop {
            let accepted = tokio::select! {
                biased;
                _ = ctx.shutdown.cancelled() => break,
                accepted = self.tcp.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(role = self.role, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let slot = match limits.acquire(peer.ip()) {
                Ok(slot) => slot,
                Err(why) => {
                    refuse(
                        stream,
                        self.implicit_tls,
                        self.service.busy_reply(),
                        why,
                        self.role,
                    );
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let info = ConnInfo {
                id: NEXT_CONN_ID.fetch_add(1, Ordering::Relaxed),
                role: self.role,
                local: stream.local_addr().ok().or(local).unwrap_or(peer),
                peer,
                tls: None,
            };
            let span = info_span!("conn", id = info.id, listener = self.role, peer = %peer);
            let conn = Conn {
                stream: Box::new(crate::QuickAckStream(stream)),
                info,
                ctx: Arc::clone(&ctx),
            };
            let service = Arc::clone(&self.service);
            let implicit_tls = self.implicit_tls;
            let role = self.role;
            tracker.spawn(
                async move {
                    let _slot = slot;
                    let _open = OpenGauge::new(role);
                    let started = Instant::now();
                    debug!("connection opened");
                    let conn = if implicit_tls {
                        match conn.start_tls().await {
                            Ok(conn) => conn,
                            Err(e) => {
                                info!(error = %e, "TLS handshake failed");
                                metrics::counter!("surel_tls_handshake_failures_total", "listener" => role)
                                    .increment(1);
                                return;
                            }
                        }
                    } else {
                        conn
                    };
                    service.serve(conn).await;
                    info!(
                        duration_ms = started.elapsed().as_millis() as u64,
                        "connection closed"
                    );
                }
                .instrument(span),
            );
        }
        debug!(role = self.role, "listener stopped accepting");
    }
}

/// Tells a refused client why, without letting it hold the accept loop.
fn refuse(
    mut stream: TcpStream,
    implicit_tls: bool,
    reply: Option<&'static [u8]>,
    why: LimitRefusal,
    role: &'static str,
) {
    let peer = stream.peer_addr().ok();
    warn!(listener = role, ?peer, limit = ?why, "connection refused: limit reached");
    let limit = match why {
        LimitRefusal::Total => "total",
        LimitRefusal::PerIp => "per_ip",
    };
    metrics::counter!("surel_connections_refused_total", "listener" => role, "limit" => limit)
        .increment(1);
    if implicit_tls {
        return;
    }
    if let Some(reply) = reply {
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.write_all(reply)).await;
        });
    }
}

/// Counts a connection in `surel_connections_total` and, for its life, in
/// `surel_connections_open`.
struct OpenGauge(&'static str);

impl OpenGauge {
    fn new(role: &'static str) -> OpenGauge {
        metrics::counter!("surel_connections_total", "listener" => role).increment(1);
        metrics::gauge!("surel_connections_open", "listener" => role).increment(1.0);
        OpenGauge(role)
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        metrics::gauge!("surel_connections_open", "listener" => self.0).decrement(1.0);
    }
}
