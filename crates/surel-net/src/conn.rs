//! One accepted connection, whatever its transport.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// Any byte stream a session can run over: TCP, TLS over TCP, or a pipe in tests.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// Boxed so that STARTTLS can swap the stream without changing the session's type.
pub type BoxStream = Box<dyn AsyncStream>;

/// Timeouts that every session obeys; protocols pick the one for their state.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For the TLS handshake, implicit or after STARTTLS.
    pub handshake: Duration,
    /// Waiting for a command before login.
    pub idle: Duration,
    /// Waiting for a command after login (IMAP IDLE needs ≥ 29 min, RFC 2177).
    pub idle_authenticated: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            handshake: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            idle_authenticated: Duration::from_secs(30 * 60),
        }
    }
}

/// What every connection of the server shares.
#[derive(Clone)]
pub struct Context {
    /// The server's name, used in greetings.
    pub hostname: String,
    /// Reloads certificates behind the scenes (its resolver is swappable).
    pub tls: TlsAcceptor,
    pub timeouts: Timeouts,
    /// Cancelled when the server begins to shut down: sessions finish the
    /// command in hand, say goodbye and close.
    pub shutdown: CancellationToken,
}

/// Details of a finished TLS handshake, for logs and Received headers.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    pub sni: Option<String>,
}

/// Who is on the other end, and how they reached us.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Unique within this process run; appears in every log line of the connection.
    pub id: u64,
    /// The listener's role, e.g. "imap", "submissions".
    pub role: &'static str,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub tls: Option<TlsInfo>,
}

/// An accepted connection handed to a [`crate::Service`].
pub struct Conn {
    pub stream: BoxStream,
    pub info: ConnInfo,
    pub ctx: Arc<Context>,
}

impl Conn {
    /// Runs the server side of a TLS handshake over the current stream
    /// (implicit TLS, or after a protocol's STARTTLS reply).
    pub async fn start_tls(self) -> std::io::Result<Conn> {
        let Conn {
            stream,
            mut info,
            ctx,
        } = self;
        let handshake = ctx.tls.accept(stream);
        let tls = tokio::time::timeout(ctx.timeouts.handshake, handshake)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
            })??;
        let (_, session) = tls.get_ref();
        info.tls = Some(TlsInfo {
            // As OpenSSL and Postfix write them: "TLSv1.3", "TLS_AES_256_GCM_SHA384".
            version: session
                .protocol_version()
                .and_then(|v| v.as_str())
                .unwrap_or("TLS")
                .replace('_', "."),
            cipher: session
                .negotiated_cipher_suite()
                .and_then(|c| c.suite().as_str())
                .unwrap_or("unknown")
                .replacen("TLS13_", "TLS_", 1),
            sni: session.server_name().map(str::to_string),
        });
        Ok(Conn {
            stream: Box::new(tls),
            info,
            ctx,
        })
    }

    /// Flushes and closes the stream (a TLS close_notify where TLS is on),
    /// without waiting long for a peer that stopped reading.
    pub async fn close(mut self) {
        use tokio::io::AsyncWriteExt;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.stream.shutdown()).await;
    }

    /// True when the peer is on this machine (for `allow_plaintext_loopback`).
    pub fn is_loopback(&self) -> bool {
        self.info.peer.ip().is_loopback()
    }
}
