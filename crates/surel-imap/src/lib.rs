//! surel-imap owns the IMAP listener (RFC 3501/9051) for Outlook and
//! Thunderbird: sessions on imap-next/imap-codec, the commands, and the
//! login replies the password policy needs (SPEC §4).
//!
//! It must not touch SQLite or maildir files: logins go through
//! `surel-auth`, mail through `surel-maildir`.

mod cmd;
mod compress;
mod driver;
mod quirks;
mod reply;
mod session;

use std::sync::Arc;

use surel_net::{BoxFuture, Conn, Service};

pub use session::Shared as ImapConfig;

/// The IMAP service for the `imap.listen` (STARTTLS) and `imap.listen_tls`
/// (implicit TLS) listeners.
pub struct ImapService {
    shared: Arc<session::Shared>,
}

impl ImapService {
    pub fn new(config: ImapConfig) -> ImapService {
        ImapService {
            shared: Arc::new(config),
        }
    }
}

impl Service for ImapService {
    fn serve(self: Arc<Self>, conn: Conn) -> BoxFuture {
        Box::pin(session::run(conn, Arc::clone(&self.shared)))
    }

    fn busy_reply(&self) -> Option<&'static [u8]> {
        Some(b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
    }
}
