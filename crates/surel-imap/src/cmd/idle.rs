//! IDLE (RFC 2177): changes in the selected folder are pushed as they
//! happen; changes made by other tools are noticed within 15 seconds.

use imap_next::imap_types::core::Tag;
use imap_next::imap_types::response::CommandContinuationRequest;
use imap_next::server::Event;

use crate::driver::{Driver, Next};
use crate::reply;
use crate::session::{Flow, Session, blocking};

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
        d.flush().await;
        d.shrink();
        self.rest();
        let flow = self.idle_loop(d, &tag, &mut changes).await;
        self.wake();
        flow
    }

    /// Lets go of the index connection while idling: most of an idle
    /// session's memory (see `Mailbox::park`).
    fn rest(&mut self) {
        if let Some(user) = self.user.as_mut() {
            user.mailbox.park();
        }
    }

    fn wake(&mut self) {
        if let Some(user) = self.user.as_mut()
            && let Err(e) = blocking(|| user.mailbox.unpark())
        {
            tracing::warn!(error = %e, "cannot reopen the mail index");
        }
    }

    /// Updates for a change seen while idling.
    fn updates_while_idle(&mut self, d: &mut Driver) {
        self.wake();
        self.send_updates(d);
        self.rest();
    }

    async fn idle_loop(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        changes: &mut tokio::sync::broadcast::Receiver<surel_maildir::Change>,
    ) -> Flow {
        let idle = d.conn.ctx.timeouts.idle_authenticated;
        loop {
            match d.next(idle, Some(changes)).await {
                Next::Event(Event::IdleDoneReceived) => {
                    self.wake();
                    self.send_updates(d);
                    d.server
                        .enqueue_status(reply::ok(tag, None, "IDLE terminated"));
                    return Flow::Continue;
                }
                Next::Change(change) => {
                    if self
                        .selected
                        .as_ref()
                        .is_some_and(|s| s.name == change.folder)
                    {
                        self.updates_while_idle(d);
                    }
                }
                Next::Tick => self.updates_while_idle(d),
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
