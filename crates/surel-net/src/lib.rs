//! surel-net owns what every listener shares: binding with plain-word errors,
//! the accept loop, connection limits (total and per IP), implicit TLS and
//! STARTTLS, timeouts, a tracing span per connection, and graceful shutdown.
//!
//! Protocols implement [`Service`] and receive a [`Conn`] whose stream may be
//! TCP, TLS or an in-memory pipe in tests. This crate must not know any mail
//! protocol, nor load certificates or config: the binary hands it a ready
//! [`tokio_rustls::TlsAcceptor`] and [`Timeouts`].

mod bind;
mod conn;
mod limits;
mod line;
mod listener;
mod quickack;

pub use bind::{BindError, bind};
pub use conn::{BoxStream, Conn, ConnInfo, Context, Timeouts, TlsInfo};
pub use limits::{ConnectionLimits, LimitRefusal};
pub use line::{LineError, Next, next_line, read_line};
pub use listener::{BoxFuture, Listener, Service};
pub use quickack::QuickAckStream;
