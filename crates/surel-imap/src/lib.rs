//! surel-imap owns the IMAP listener (RFC 3501/9051) for Outlook and
//! Thunderbird: sessions on imap-codec, the commands, and the login replies
//! the password policy needs (SPEC §4).
//!
//! It must not touch SQLite or maildir files: logins go through
//! `surel-auth`, mail through `surel-maildir`. Until the protocol lands
//! (issue 5) a session greets, answers CAPABILITY, NOOP, STARTTLS and
//! LOGOUT, and refuses login with `[UNAVAILABLE]`.

mod session;

use std::sync::Arc;

use surel_net::{BoxFuture, Conn, Service};

/// The IMAP service for the `imap.listen` (STARTTLS) and `imap.listen_tls`
/// (implicit TLS) listeners.
#[derive(Debug, Default)]
pub struct ImapService;

impl Service for ImapService {
    fn serve(self: Arc<Self>, conn: Conn) -> BoxFuture {
        Box::pin(session::run(conn))
    }

    fn busy_reply(&self) -> Option<&'static [u8]> {
        Some(b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
    }
}
