//! surel-smtp owns the SMTP listeners (RFC 5321): MX inbound on port 25,
//! submission (587, STARTTLS) and submissions (465, implicit TLS), and later
//! the queue and outbound delivery.
//!
//! It must not touch SQLite or maildir files itself: logins and addresses go
//! through `surel-auth`, delivery through `surel-maildir`, and it must never
//! answer 250 to a message that is not yet fsynced. Recipients in other
//! domains are refused with a temporary 451 until the outbound queue lands,
//! so nothing is lost.

pub mod checks;
mod deliver;
pub mod dkim;
pub mod queue;
mod ratelimit;
mod recipients;
mod reply;
mod session;
pub mod stats;

use std::sync::Arc;

use surel_net::{BoxFuture, Conn, Service};

pub use ratelimit::RateLimit;
pub use session::Shared as SmtpConfig;

/// Which of the SMTP roles a listener plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Mail from the internet for our domains (`smtp.listen`, port 25).
    Mx,
    /// Mail from our users (`smtp.submission`, 587; `smtp.submissions`, 465).
    Submission,
}

pub struct SmtpService {
    pub role: Role,
    shared: Arc<session::Shared>,
}

impl SmtpService {
    pub fn new(role: Role, shared: Arc<SmtpConfig>) -> SmtpService {
        SmtpService { role, shared }
    }
}

impl Service for SmtpService {
    fn serve(self: Arc<Self>, conn: Conn) -> BoxFuture {
        Box::pin(session::run(conn, self.role, Arc::clone(&self.shared)))
    }

    fn busy_reply(&self) -> Option<&'static [u8]> {
        Some(b"421 4.7.0 Too many connections, try again later\r\n")
    }
}
