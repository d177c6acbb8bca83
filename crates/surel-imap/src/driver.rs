//! The I/O loop around imap-next's sans-I/O server: it writes what the
//! server has to send, reads what it needs, and waits for the next event,
//! a mailbox change (IDLE), the idle timeout or shutdown, whichever comes
//! first. Written over any stream, so STARTTLS just swaps the stream.

use std::time::Duration;

use imap_next::server::{Error as ServerError, Event, Options, Server};
use imap_next::{Interrupt, Io, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

use surel_maildir::Change;
use surel_net::Conn;

/// What the session gets next.
#[derive(Debug)]
pub enum Next {
    Event(Event),
    /// A change in the user's mailbox (only when asked to watch).
    Change(Change),
    /// Periodic wake-up while watching (to notice changes by other tools).
    Tick,
    Timeout,
    Shutdown,
    Closed,
    Error(ServerError),
}

pub struct Driver {
    pub conn: Conn,
    pub server: Server,
    /// Bytes read but not yet given to the server.
    pending: Vec<u8>,
    /// Before TLS, input is handed over one line at a time, so that bytes
    /// pipelined after STARTTLS stay visible here (CVE-2011-0411).
    line_at_a_time: bool,
}

impl Driver {
    pub fn new(
        conn: Conn,
        options: Options,
        greeting: imap_next::imap_types::response::Greeting<'static>,
    ) -> Driver {
        let line_at_a_time = conn.info.tls.is_none();
        Driver {
            conn,
            server: Server::new(options, greeting),
            pending: Vec::new(),
            line_at_a_time,
        }
    }

    /// True when the client sent bytes that the server has not read yet.
    pub fn has_pending_input(&self) -> bool {
        !self.pending.is_empty()
    }

    fn feed(&mut self) {
        let take = if self.line_at_a_time {
            self.pending
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.pending.len(), |i| i + 1)
        } else {
            self.pending.len()
        };
        let chunk: Vec<u8> = self.pending.drain(..take).collect();
        self.server.enqueue_input(&chunk);
    }

    async fn write(&mut self, bytes: &[u8]) -> bool {
        let write = async {
            self.conn.stream.write_all(bytes).await?;
            self.conn.stream.flush().await
        };
        // A client that stops reading must not hold the session for ever.
        matches!(
            tokio::time::timeout(Duration::from_secs(60), write).await,
            Ok(Ok(()))
        )
    }

    /// Sends everything enqueued, without reading.
    pub async fn flush(&mut self) -> bool {
        loop {
            match self.server.next() {
                Ok(Event::GreetingSent { .. } | Event::ResponseSent { .. }) => continue,
                Ok(other) => {
                    // Only possible with input already handed over; keep it
                    // by not handing over more (it cannot happen here
                    // because we only feed when the server asks).
                    tracing::debug!(?other, "event while flushing");
                    continue;
                }
                Err(Interrupt::Io(Io::Output(bytes))) => {
                    if !self.write(&bytes).await {
                        return false;
                    }
                }
                Err(Interrupt::Io(Io::NeedMoreInput)) => return true,
                Err(Interrupt::Error(e)) => {
                    tracing::debug!(error = %e, "error while flushing");
                    return true;
                }
            }
        }
    }

    /// Waits for the next thing that needs the session's attention.
    pub async fn next(
        &mut self,
        idle: Duration,
        mut watch: Option<&mut broadcast::Receiver<Change>>,
    ) -> Next {
        let deadline = tokio::time::Instant::now() + idle;
        loop {
            match self.server.next() {
                Ok(Event::GreetingSent { .. } | Event::ResponseSent { .. }) => continue,
                Ok(event) => return Next::Event(event),
                Err(Interrupt::Io(Io::Output(bytes))) => {
                    if !self.write(&bytes).await {
                        return Next::Closed;
                    }
                }
                Err(Interrupt::Error(e)) => return Next::Error(e),
                Err(Interrupt::Io(Io::NeedMoreInput)) => {
                    if !self.pending.is_empty() {
                        self.feed();
                        continue;
                    }
                    let mut buf = [0u8; 4 * 1024];
                    let shutdown = self.conn.ctx.shutdown.clone();
                    let change = async {
                        match watch.as_deref_mut() {
                            Some(rx) => {
                                match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await
                                {
                                    Ok(Ok(change)) => Next::Change(change),
                                    // Lagged or a quiet spell: look again anyway.
                                    Ok(Err(_)) | Err(_) => Next::Tick,
                                }
                            }
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => return Next::Shutdown,
                        _ = tokio::time::sleep_until(deadline) => return Next::Timeout,
                        next = change => return next,
                        read = self.conn.stream.read(&mut buf) => match read {
                            Ok(0) | Err(_) => return Next::Closed,
                            Ok(n) => {
                                self.pending.extend_from_slice(&buf[..n]);
                                self.feed();
                            }
                        },
                    }
                }
            }
        }
    }

    /// Runs the TLS handshake after STARTTLS; the server state carries on.
    pub async fn start_tls(self) -> Option<Driver> {
        let Driver { conn, server, .. } = self;
        match conn.start_tls().await {
            Ok(conn) => Some(Driver {
                conn,
                server,
                pending: Vec::new(),
                line_at_a_time: false,
            }),
            Err(e) => {
                tracing::info!(error = %e, "STARTTLS handshake failed");
                None
            }
        }
    }
}
