//! Commands valid in any state, and the session-wide ones: CAPABILITY,
//! NOOP, LOGOUT, STARTTLS, ID, NAMESPACE, ENABLE.

use imap_next::imap_types::core::{IString, NString, Tag, Vec1};
use imap_next::imap_types::extensions::enable::CapabilityEnable;
use imap_next::imap_types::extensions::namespace::Namespace;
use imap_next::imap_types::response::{Capability, Code, Data};

use crate::driver::Driver;
use crate::reply;
use crate::session::{Flow, Session};

impl Session {
    /// What this session may use now; advertised only when it works.
    pub fn capabilities(&self, tls: bool, plaintext_ok: bool) -> Vec1<Capability<'static>> {
        let mut caps = vec![Capability::Imap4Rev1];
        if !tls {
            caps.push(Capability::StartTls);
        }
        if self.user.is_none() {
            if plaintext_ok {
                caps.push(Capability::Auth("PLAIN".try_into().expect("mechanism")));
                caps.push(Capability::Auth("LOGIN".try_into().expect("mechanism")));
                caps.push(Capability::SaslIr);
            } else {
                caps.push(Capability::LoginDisabled);
            }
        }
        for name in [
            "IDLE",
            "NAMESPACE",
            "ID",
            "ENABLE",
            "UIDPLUS",
            "MOVE",
            "UNSELECT",
            "LITERAL+",
            "CHILDREN",
            "CONDSTORE",
            "QRESYNC",
            "SPECIAL-USE",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "QUOTA",
            "QUOTA=RES-STORAGE",
            "COMPRESS=DEFLATE",
            "ESEARCH",
        ] {
            if let Ok(cap) = Capability::try_from(name) {
                caps.push(cap);
            }
        }
        Vec1::try_from(caps).expect("IMAP4rev1 is always there")
    }

    /// RFC 9051 §6.1.1
    pub fn capability(&mut self, d: &mut Driver, tag: &Tag<'static>) {
        let caps = self.capabilities(d.conn.info.tls.is_some(), self.plaintext_login_ok(d));
        d.server.enqueue_data(Data::Capability(caps));
        d.server
            .enqueue_status(reply::ok(tag, None, "CAPABILITY completed"));
    }

    /// RFC 9051 §6.1.2 (and CHECK, §6.4.1): reports changes made elsewhere.
    pub fn noop(&mut self, d: &mut Driver, tag: &Tag<'static>) {
        self.send_updates(d);
        d.server
            .enqueue_status(reply::ok(tag, None, "NOOP completed"));
    }

    /// RFC 9051 §6.1.3
    pub fn logout(&mut self, d: &mut Driver, tag: &Tag<'static>) -> Flow {
        if let Some(user) = &self.user {
            tracing::info!(account = %user.account.address, "logged out");
        }
        d.server.enqueue_status(reply::bye(None, "Logging out"));
        d.server
            .enqueue_status(reply::ok(tag, None, "LOGOUT completed"));
        Flow::Close
    }

    /// RFC 9051 §6.2.1
    pub fn starttls(&mut self, d: &mut Driver, tag: &Tag<'static>) -> Flow {
        if d.conn.info.tls.is_some() {
            d.server
                .enqueue_status(reply::bad(Some(tag), "TLS is already active"));
            return Flow::Continue;
        }
        if d.has_pending_input() {
            // Commands pipelined after STARTTLS would be taken as if sent over TLS.
            d.server
                .enqueue_status(reply::bad(Some(tag), "Data sent after STARTTLS"));
            return Flow::Close;
        }
        d.server
            .enqueue_status(reply::ok(tag, None, "Begin TLS negotiation now"));
        Flow::StartTls
    }

    /// RFC 4978
    pub fn compress(&mut self, d: &mut Driver, tag: &Tag<'static>) -> Flow {
        if d.is_compressed() {
            d.server.enqueue_status(reply::no(
                tag,
                Some(Code::CompressionActive),
                "Already compressing",
            ));
            return Flow::Continue;
        }
        if d.has_pending_input() {
            // Anything sent before our OK would be read the wrong way.
            d.server
                .enqueue_status(reply::bad(Some(tag), "Data sent after COMPRESS"));
            return Flow::Close;
        }
        d.server
            .enqueue_status(reply::ok(tag, None, "DEFLATE active"));
        Flow::Compress
    }

    /// RFC 2971
    pub fn id(&mut self, d: &mut Driver, tag: &Tag<'static>) {
        let field = |k: &str, v: &str| {
            (
                IString::try_from(k.to_string()).expect("quoted"),
                reply::nstring(Some(v)),
            )
        };
        let params = vec![
            field("name", "surel"),
            field("version", env!("CARGO_PKG_VERSION")),
            field("vendor", "surel"),
        ];
        d.server.enqueue_data(Data::Id {
            parameters: Some(params),
        });
        let _ = NString(None);
        d.server
            .enqueue_status(reply::ok(tag, None, "ID completed"));
    }

    /// RFC 2342: one personal namespace, "" with "/" as separator.
    pub fn namespace(&mut self, d: &mut Driver, tag: &Tag<'static>) {
        let personal = vec![Namespace {
            prefix: reply::istring(""),
            delimiter: Some('/'.try_into().expect("quoted char")),
            extensions: vec![],
        }];
        d.server.enqueue_data(Data::Namespace {
            personal,
            other: vec![],
            shared: vec![],
        });
        d.server
            .enqueue_status(reply::ok(tag, None, "NAMESPACE completed"));
    }

    /// RFC 5161
    pub fn enable(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        asked: Vec<CapabilityEnable<'static>>,
    ) {
        // RFC 7162 §3.2.3: CONDSTORE and QRESYNC (which implies CONDSTORE).
        let mut enabled = Vec::new();
        for cap in asked {
            match &cap {
                CapabilityEnable::CondStore => {
                    self.condstore = true;
                    enabled.push(cap);
                }
                CapabilityEnable::Other(_) if cap.to_string().eq_ignore_ascii_case("QRESYNC") => {
                    self.qresync = true;
                    self.condstore = true;
                    enabled.push(cap);
                }
                _ => {}
            }
        }
        d.server.enqueue_data(Data::Enabled {
            capabilities: enabled,
        });
        d.server
            .enqueue_status(reply::ok(tag, None, "ENABLE completed"));
    }
}
