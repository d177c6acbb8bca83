//! surel-smtp owns the SMTP listeners (RFC 5321): MX inbound on port 25,
//! submission (587, STARTTLS) and submissions (465, implicit TLS), and later
//! the queue and outbound delivery.
//!
//! It must not touch SQLite or maildir files: logins go through
//! `surel-auth`, delivery through `surel-maildir`, and it must never answer
//! 250 to a message that is not yet fsynced. Until the protocol lands
//! (issues 6, 7) a session greets, answers EHLO, STARTTLS, NOOP, RSET and
//! QUIT, and defers every transaction with a temporary 451 so that senders
//! retry later and no mail is lost.

mod session;

use std::sync::Arc;

use surel_net::{BoxFuture, Conn, Service};

/// Which of the three SMTP roles a listener plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Mail from the internet for our domains (`smtp.listen`, port 25).
    Mx,
    /// Mail from our users (`smtp.submission`, 587; `smtp.submissions`, 465).
    Submission,
}

#[derive(Debug)]
pub struct SmtpService {
    pub role: Role,
}

impl Service for SmtpService {
    fn serve(self: Arc<Self>, conn: Conn) -> BoxFuture {
        Box::pin(session::run(conn, self.role))
    }

    fn busy_reply(&self) -> Option<&'static [u8]> {
        Some(b"421 4.7.0 Too many connections, try again later\r\n")
    }
}
