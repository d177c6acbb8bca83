//! The I/O loop around imap-next's sans-I/O server: it writes what the
//! server has to send, reads what it needs, and waits for the next event,
//! a mailbox change (IDLE), the idle timeout or shutdown, whichever comes
//! first. Written over any stream, so STARTTLS just swaps the stream.

use std::collections::HashMap;
use std::time::Duration;

use imap_next::server::{Error as ServerError, Event, Options, Server};
use imap_next::{Interrupt, Io, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

use surel_maildir::Change;
use surel_net::Conn;

use crate::quirks::{self, Note};

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
    /// Bytes read but not yet given to the server. Input is handed over
    /// one command line (or literal) at a time, so that bytes pipelined
    /// after STARTTLS stay visible here (CVE-2011-0411) and command lines
    /// can pass through `quirks` whole.
    pending: Vec<u8>,
    /// Bytes of an announced literal still to hand over untouched.
    literal_left: usize,
    /// Whether that literal was non-synchronizing (`{n+}`, RFC 7888).
    literal_plus: bool,
    /// COMPRESS=DEFLATE is on.
    compressed: bool,
    /// What rewritten commands had asked for, by tag.
    notes: HashMap<String, Note>,
    /// Responses imap-codec cannot encode (ESEARCH), written after what
    /// the server has queued and before the next command is read.
    raw: Vec<u8>,
    /// The next line continues a command after a literal.
    after_literal: bool,
    /// Responses made but not yet written: written together, one system
    /// call (and one TLS record) for many, when the server waits for input
    /// or this grows past `OUT_CHUNK`.
    out: Vec<u8>,
}

/// How much made output is held before it is written.
const OUT_CHUNK: usize = 64 * 1024;

/// Longest line held back waiting for its end; a longer one goes to the
/// server, which refuses it as too long.
const MAX_HELD_LINE: usize = 64 * 1024;

/// `{n}` or `{n+}` (or `~{n}`) at the end of a line: a literal follows.
fn announced_literal(line: &[u8]) -> Option<(usize, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let (digits, plus) = match digits
        .strip_suffix(b"+")
        .or_else(|| digits.strip_suffix(b"-"))
    {
        Some(d) => (d, true),
        None => (digits, false),
    };
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, plus))
}

impl Driver {
    pub fn new(
        conn: Conn,
        options: Options,
        greeting: imap_next::imap_types::response::Greeting<'static>,
    ) -> Driver {
        Driver {
            conn,
            server: Server::new(options, greeting),
            pending: Vec::new(),
            literal_left: 0,
            literal_plus: false,
            compressed: false,
            notes: HashMap::new(),
            raw: Vec::new(),
            after_literal: false,
            out: Vec::new(),
        }
    }

    /// Gives back buffer memory while the session waits (IDLE).
    pub fn shrink(&mut self) {
        self.out = Vec::new();
        self.pending.shrink_to_fit();
    }

    /// True when the client sent bytes that the server has not read yet.
    pub fn has_pending_input(&self) -> bool {
        !self.pending.is_empty()
    }

    /// What a rewritten command (by its tag) had asked for.
    pub fn take_note(&mut self, tag: &str) -> Option<Note> {
        self.notes.remove(tag)
    }

    /// Queues bytes to send as they are, after everything enqueued so far.
    /// Whatever follows them in the same command must be raw too.
    pub fn enqueue_raw(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
    }

    /// Writes the raw responses; false when the connection is gone.
    /// Writes the held output, then the raw responses; false when the
    /// connection is gone.
    async fn write_out(&mut self) -> bool {
        self.out.append(&mut self.raw);
        if self.out.is_empty() {
            return true;
        }
        let out = std::mem::take(&mut self.out);
        let written = self.write(&out).await;
        // Keep the allocation for the next responses unless it grew big.
        if out.capacity() <= OUT_CHUNK * 2 {
            self.out = out;
            self.out.clear();
        }
        written
    }

    /// Holds `bytes` to send; writes when enough is held.
    async fn hold(&mut self, bytes: &[u8]) -> bool {
        let start = self.out.len();
        self.out.extend_from_slice(bytes);
        quirks::spell_capabilities(&mut self.out[start..]);
        self.out.len() < OUT_CHUNK || self.write_out().await
    }

    /// Forgets an announced literal the server refused (the client will
    /// not send it); true when the client sends it anyway (`{n+}`).
    pub fn literal_refused(&mut self) -> bool {
        let plus = self.literal_plus && self.literal_left > 0;
        self.literal_left = 0;
        plus
    }

    /// Hands the server the next whole line or literal chunk; false when
    /// more input must be read first.
    fn feed(&mut self) -> bool {
        if self.literal_left > 0 {
            let n = self.literal_left.min(self.pending.len());
            let chunk: Vec<u8> = self.pending.drain(..n).collect();
            self.literal_left -= n;
            self.after_literal = true;
            self.server.enqueue_input(&chunk);
            return n > 0;
        }
        let Some(end) = self.pending.iter().position(|&b| b == b'\n') else {
            if self.pending.len() > MAX_HELD_LINE {
                let chunk: Vec<u8> = self.pending.drain(..).collect();
                self.server.enqueue_input(&chunk);
                return true;
            }
            return false;
        };
        let line: Vec<u8> = self.pending.drain(..=end).collect();
        let literal = announced_literal(&line);
        let continues = std::mem::replace(&mut self.after_literal, false);
        let (line, note) = match literal {
            _ if continues => (line, None),
            Some(_) => quirks::rewrite_search(&line),
            None => quirks::rewrite(&line),
        };
        if let Some((tag, note)) = note {
            if self.notes.len() > 64 {
                self.notes.clear();
            }
            self.notes.insert(tag, note);
        }
        if let Some((n, plus)) = literal {
            self.literal_left = n;
            self.literal_plus = plus;
        }
        self.server.enqueue_input(&line);
        true
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
                    if !self.hold(&bytes).await {
                        return false;
                    }
                }
                Err(Interrupt::Io(Io::NeedMoreInput)) => return self.write_out().await,
                Err(Interrupt::Error(e)) => {
                    tracing::debug!(error = %e, "error while flushing");
                    return self.write_out().await;
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
                Ok(event) => {
                    return match self.write_out().await {
                        true => Next::Event(event),
                        false => Next::Closed,
                    };
                }
                Err(Interrupt::Io(Io::Output(bytes))) => {
                    if !self.hold(&bytes).await {
                        return Next::Closed;
                    }
                }
                Err(Interrupt::Error(e)) => {
                    return match self.write_out().await {
                        true => Next::Error(e),
                        false => Next::Closed,
                    };
                }
                Err(Interrupt::Io(Io::NeedMoreInput)) => {
                    if !self.write_out().await {
                        return Next::Closed;
                    }
                    if !self.pending.is_empty() && self.feed() {
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
                            Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                        },
                    }
                }
            }
        }
    }

    /// Switches both directions to DEFLATE (after COMPRESS's OK is sent).
    pub fn compress(&mut self) {
        let stream = std::mem::replace(&mut self.conn.stream, Box::new(tokio::io::duplex(1).0));
        self.conn.stream = Box::new(crate::compress::Deflate::new(stream));
        self.compressed = true;
    }

    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Runs the TLS handshake after STARTTLS; the server state carries on.
    pub async fn start_tls(self) -> Option<Driver> {
        let Driver {
            conn,
            server,
            notes,
            ..
        } = self;
        match conn.start_tls().await {
            Ok(conn) => Some(Driver {
                conn,
                server,
                pending: Vec::new(),
                literal_left: 0,
                literal_plus: false,
                compressed: false,
                notes,
                raw: Vec::new(),
                after_literal: false,
                out: Vec::new(),
            }),
            Err(e) => {
                tracing::info!(error = %e, "STARTTLS handshake failed");
                None
            }
        }
    }
}
