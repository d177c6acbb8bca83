//! One IMAP connection: the RFC 9051 §3 state machine and the one gate that
//! says which command is allowed in which state.
//!
//! Implementation notes:
//! - commands are handled one at a time in arrival order; pipelined
//!   commands simply wait in imap-next's buffer;
//! - mailbox and account calls are synchronous (SQLite, fsync) and run
//!   through `blocking`, never while a write to the client is pending;
//! - untagged EXISTS/EXPUNGE/FETCH for changes made elsewhere are sent only
//!   where RFC 9051 §7.5.1 allows them (see `select::updates`).

use std::path::PathBuf;
use std::sync::Arc;

use imap_next::imap_types::command::{Command, CommandBody};
use imap_next::imap_types::core::Tag;
use imap_next::imap_types::mailbox::Mailbox as WireMailbox;
use imap_next::imap_types::response::{Code, Greeting, GreetingKind};
use imap_next::server::{Event, Options};
use tokio::sync::broadcast;

use surel_auth::{AccountRef, Authenticator, Language};
use surel_maildir::{Change, Mailbox};
use surel_net::Conn;

use crate::driver::{Driver, Next};
use crate::reply;

/// Settings every session shares.
pub struct Shared {
    pub auth: Arc<Authenticator>,
    pub data_dir: PathBuf,
    pub language: Language,
    /// Where users change their password (named in `[ALERT]` texts).
    pub password_url: String,
    /// Largest APPEND literal accepted.
    pub max_message_size: u32,
    /// Allow LOGIN without TLS from 127.0.0.1/::1 (tests, local webmail).
    pub allow_plaintext_loopback: bool,
}

/// A logged-in user's mailbox.
pub struct User {
    pub account: AccountRef,
    pub mailbox: Mailbox,
    pub changes: broadcast::Receiver<Change>,
}

/// The selected folder as this session has told the client about it.
pub struct Selected {
    pub name: String,
    pub read_only: bool,
    /// UIDs by sequence number (index + 1), as the client knows them.
    pub uids: Vec<u32>,
    /// Everything up to this modseq has been told.
    pub modseq: u64,
}

/// An AUTHENTICATE exchange in progress.
pub enum AuthFlow {
    Plain {
        tag: Tag<'static>,
    },
    Login {
        tag: Tag<'static>,
        user: Option<String>,
    },
}

pub enum Flow {
    Continue,
    Close,
    StartTls,
    /// COMPRESS DEFLATE accepted: wrap the stream once the OK is out.
    Compress,
}

pub struct Session {
    pub shared: Arc<Shared>,
    pub user: Option<User>,
    pub selected: Option<Selected>,
    pub auth_flow: Option<AuthFlow>,
    /// RFC 7162: the client has used a CONDSTORE feature; FETCH responses
    /// carry MODSEQ from now on.
    pub condstore: bool,
    /// RFC 7162 §3.2: ENABLE QRESYNC; expunges are reported as VANISHED.
    pub qresync: bool,
}

/// Runs synchronous storage or account work without stalling other tasks.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The mailboxes a command names (to check their encoding first).
fn named_mailboxes<'a, 'b>(body: &'a CommandBody<'b>) -> Vec<&'a WireMailbox<'b>> {
    use CommandBody::*;
    match body {
        Select { mailbox, .. }
        | Examine { mailbox, .. }
        | Create { mailbox }
        | Delete { mailbox }
        | Subscribe { mailbox }
        | Unsubscribe { mailbox }
        | Status { mailbox, .. }
        | Append { mailbox, .. }
        | Copy { mailbox, .. }
        | Move { mailbox, .. }
        | GetQuotaRoot { mailbox } => vec![mailbox],
        Rename { from, to } => vec![from, to],
        _ => vec![],
    }
}

/// Which states a command is allowed in (RFC 9051 §6).
fn allowed(body: &CommandBody<'_>, authenticated: bool, selected: bool) -> bool {
    use CommandBody::*;
    match body {
        Capability | Noop | Logout => true,
        #[allow(unreachable_patterns)]
        StartTLS | Authenticate { .. } | Login { .. } => !authenticated,
        Check
        | Close
        | Expunge
        | ExpungeUid { .. }
        | Search { .. }
        | Fetch { .. }
        | Store { .. }
        | Copy { .. }
        | Move { .. }
        | Unselect => selected,
        Id { .. } => true,
        _ => authenticated,
    }
}

impl Session {
    pub fn plaintext_login_ok(&self, d: &Driver) -> bool {
        d.conn.info.tls.is_some() || (self.shared.allow_plaintext_loopback && d.conn.is_loopback())
    }

    pub fn language(&self) -> Language {
        self.shared.language
    }

    async fn command(&mut self, d: &mut Driver, command: Command<'static>) -> Flow {
        let tag = command.tag;
        let body = command.body;
        if !allowed(&body, self.user.is_some(), self.selected.is_some()) {
            let why = if self.user.is_none() {
                "Log in first"
            } else if self.selected.is_none() {
                "Select a mailbox first"
            } else {
                "Not allowed now"
            };
            d.server.enqueue_status(reply::bad(Some(&tag), why));
            return Flow::Continue;
        }
        if let Some(why) = named_mailboxes(&body)
            .into_iter()
            .find_map(|m| reply::mailbox_name_error(m))
        {
            d.server.enqueue_status(reply::no(
                &tag,
                Some(reply::code("CANNOT")),
                &format!("Invalid mailbox name: {why}"),
            ));
            return Flow::Continue;
        }
        use CommandBody::*;
        match body {
            Capability => self.capability(d, &tag),
            Noop => self.noop(d, &tag),
            Logout => return self.logout(d, &tag),
            StartTLS => return self.starttls(d, &tag),
            Login { username, password } => {
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let pass = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.login(d, &tag, &user, &pass).await;
            }
            Authenticate { .. } => {
                // imap-next reports AUTHENTICATE as its own event.
                d.server
                    .enqueue_status(reply::bad(Some(&tag), "Unexpected AUTHENTICATE"));
            }
            Id { .. } => self.id(d, &tag),
            Namespace => self.namespace(d, &tag),
            Enable { capabilities } => self.enable(d, &tag, capabilities.into_inner()),
            Select {
                mailbox,
                parameters,
            } => self.select(d, &tag, &reply::mailbox_name(&mailbox), false, parameters),
            Examine {
                mailbox,
                parameters,
            } => self.select(d, &tag, &reply::mailbox_name(&mailbox), true, parameters),
            Create { mailbox } => self.create(d, &tag, &reply::mailbox_name(&mailbox)),
            Delete { mailbox } => self.delete(d, &tag, &reply::mailbox_name(&mailbox)),
            Rename { from, to } => self.rename(
                d,
                &tag,
                &reply::mailbox_name(&from),
                &reply::mailbox_name(&to),
            ),
            Subscribe { mailbox } => self.subscribe(d, &tag, &reply::mailbox_name(&mailbox), true),
            Unsubscribe { mailbox } => {
                self.subscribe(d, &tag, &reply::mailbox_name(&mailbox), false)
            }
            List {
                reference,
                mailbox_wildcard,
            } => self.list(d, &tag, &reference, &mailbox_wildcard, false),
            Lsub {
                reference,
                mailbox_wildcard,
            } => self.list(d, &tag, &reference, &mailbox_wildcard, true),
            Status {
                mailbox,
                item_names,
            } => self.status(d, &tag, &reply::mailbox_name(&mailbox), &item_names),
            Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(
                d,
                &tag,
                &reply::mailbox_name(&mailbox),
                flags,
                date,
                message,
            ),
            Check => self.noop(d, &tag),
            Close => self.close(d, &tag, true),
            Unselect => self.close(d, &tag, false),
            Expunge => self.expunge(d, &tag, None),
            ExpungeUid { sequence_set } => self.expunge(d, &tag, Some(sequence_set)),
            Search { criteria, uid, .. } => self.search(d, &tag, criteria.into_inner(), uid),
            Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                modifiers,
            } => {
                self.fetch(d, &tag, &sequence_set, macro_or_item_names, uid, modifiers)
                    .await
            }
            Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                modifiers,
            } => self.store(
                d,
                &tag,
                &sequence_set,
                kind,
                response,
                flags,
                uid,
                modifiers,
            ),
            Copy {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(
                d,
                &tag,
                &sequence_set,
                &reply::mailbox_name(&mailbox),
                uid,
                false,
            ),
            Move {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(
                d,
                &tag,
                &sequence_set,
                &reply::mailbox_name(&mailbox),
                uid,
                true,
            ),
            Compress { .. } => return self.compress(d, &tag),
            GetQuotaRoot { mailbox } => {
                self.get_quota_root(d, &tag, &reply::mailbox_name(&mailbox))
            }
            GetQuota { root } => self.get_quota(d, &tag, &root),
            SetQuota { .. } => self.set_quota(d, &tag),
            Idle => {
                // imap-next reports IDLE as its own event.
                d.server
                    .enqueue_status(reply::bad(Some(&tag), "Unexpected IDLE"));
            }
            _ => {
                d.server
                    .enqueue_status(reply::bad(Some(&tag), "Command not supported"));
            }
        }
        Flow::Continue
    }

    fn protocol_error(&mut self, d: &mut Driver, error: imap_next::server::Error) -> Flow {
        use imap_next::server::Error;
        match error {
            Error::LiteralTooLong { .. } => {
                // imap-next has answered the command with a tagged BAD.
                let sent_anyway = d.literal_refused();
                // A non-synchronizing literal arrives regardless: no way to resync.
                if sent_anyway {
                    Flow::Close
                } else {
                    Flow::Continue
                }
            }
            Error::CommandTooLong { .. } => {
                d.server
                    .enqueue_status(reply::bye(None, "Command line too long"));
                Flow::Close
            }
            Error::ExpectedCrlfGotLf { discarded_bytes }
            | Error::MalformedMessage { discarded_bytes } => {
                let bytes = discarded_bytes.declassify();
                let first = bytes
                    .split(|b| b.is_ascii_whitespace())
                    .next()
                    .unwrap_or_default();
                let tag = std::str::from_utf8(first)
                    .ok()
                    .and_then(|t| Tag::try_from(t.to_string()).ok());
                d.server
                    .enqueue_status(reply::bad(tag.as_ref(), "Syntax error"));
                Flow::Continue
            }
        }
    }
}

fn greeting(caps: &str) -> Greeting<'static> {
    let _ = caps;
    Greeting {
        kind: GreetingKind::Ok,
        code: None,
        text: reply::text("surel IMAP ready"),
    }
}

/// Serves one connection to its end.
pub async fn run(conn: Conn, shared: Arc<Shared>) {
    let mut session = Session {
        shared,
        user: None,
        selected: None,
        auth_flow: None,
        condstore: false,
        qresync: false,
    };
    let mut options = Options::default();
    // Accept bare LF line ends, as Dovecot does (telnet, scripts, s_client).
    options.crlf_relaxed = true;
    options.max_literal_size = session.shared.max_message_size;
    // imap-next refuses an oversized literal with a tagged BAD of this text
    // (a response code cannot be given there: imap-codec refuses text
    // starting with '[').
    let _ = options
        .set_literal_reject_text("Message is larger than this server accepts (TOOBIG)".into());
    options.max_command_size = session.shared.max_message_size.saturating_add(64 * 1024);
    let mut greet = greeting("");
    let plaintext_ok =
        conn.info.tls.is_some() || (session.shared.allow_plaintext_loopback && conn.is_loopback());
    greet.code = Code::capability(session.capabilities(conn.info.tls.is_some(), plaintext_ok)).ok();
    let mut driver = Driver::new(conn, options, greet);
    loop {
        let timeouts = driver.conn.ctx.timeouts;
        let idle = if session.user.is_some() {
            timeouts.idle_authenticated
        } else {
            timeouts.idle
        };
        let flow = match driver.next(idle, None).await {
            Next::Event(Event::CommandReceived { command }) => {
                session.command(&mut driver, command).await
            }
            Next::Event(Event::CommandAuthenticateReceived {
                command_authenticate,
            }) => {
                session
                    .authenticate_start(&mut driver, command_authenticate)
                    .await
            }
            Next::Event(Event::AuthenticateDataReceived { authenticate_data }) => {
                session
                    .authenticate_data(&mut driver, authenticate_data)
                    .await
            }
            Next::Event(Event::IdleCommandReceived { tag }) => session.idle(&mut driver, tag).await,
            Next::Event(_) | Next::Change(_) | Next::Tick => Flow::Continue,
            Next::Timeout => {
                driver
                    .server
                    .enqueue_status(reply::bye(None, "Autologout; idle for too long"));
                Flow::Close
            }
            Next::Shutdown => {
                driver.server.enqueue_status(reply::bye(
                    Some(reply::code("UNAVAILABLE")),
                    "Server shutting down",
                ));
                Flow::Close
            }
            Next::Closed => return,
            Next::Error(e) => session.protocol_error(&mut driver, e),
        };
        match flow {
            Flow::Continue => {}
            Flow::Close => {
                driver.flush().await;
                driver.conn.close().await;
                return;
            }
            Flow::Compress => {
                if !driver.flush().await {
                    return;
                }
                driver.compress();
            }
            Flow::StartTls => {
                if !driver.flush().await {
                    return;
                }
                driver = match driver.start_tls().await {
                    Some(d) => d,
                    None => return,
                };
            }
        }
    }
}
