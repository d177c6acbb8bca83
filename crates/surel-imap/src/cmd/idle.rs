//! IDLE (RFC 2177): changes in the selected folder are pushed as they
//! happen; changes made by other tools are noticed within 15 seconds.

use imap_next::imap_types::core::Tag;
use imap_next::imap_types::response::CommandContinuationRequest;
use imap_next::server::Event;

use crate::driver::{Driver, Next};
use crate::reply;
use crate::session::{Flow, Session};

impl Session {
    pub async fn idle(&mut self, d: &mut Driver, tag: Tag<'static>) -> Flow {
        let Some(user) = self.user.as_mut() else {
            let _ = d.server.idle_reject(reply::bad(Some(&tag), "Log in first"));
            return Flow::Continue;
        };
        let mut changes = user.changes.resubscribe();
        let ccr = CommandContinuationRequest::basic(None, "idling").expect("valid");
        let _ = d.server.idle_accept(ccr);
        self.send_updates(d);
        if let Some(user) = &self.user {
            user.mailbox.shrink();
        }
        let idle = d.conn.ctx.timeouts.idle_authenticated;
        loop {
            match d.next(idle, Some(&mut changes)).await {
                Next::Event(Event::IdleDoneReceived) => {
                    self.send_updates(d);
                    d.server
                        .enqueue_status(reply::ok(&tag, None, "IDLE terminated"));
                    return Flow::Continue;
                }
                Next::Change(change) => {
                    if self
                        .selected
                        .as_ref()
                        .is_some_and(|s| s.name == change.folder)
                    {
                        self.send_updates(d);
                    }
                }
                Next::Tick => self.send_updates(d),
                Next::Event(_) => {}
                Next::Timeout => {
                    d.server
                        .enqueue_status(reply::bye(None, "Autologout; idle for too long"));
                    return Flow::Close;
                }
                Next::Shutdown => {
                    d.server.enqueue_status(reply::bye(
                        Some(reply::code("UNAVAILABLE")),
                        "Server shutting down",
                    ));
                    return Flow::Close;
                }
                Next::Closed => return Flow::Close,
                Next::Error(_) => {
                    d.server.enqueue_status(reply::bad(None, "Expected DONE"));
                    return Flow::Close;
                }
            }
        }
    }
}
