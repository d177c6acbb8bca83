//! LOGIN and AUTHENTICATE (PLAIN, LOGIN; SASL-IR), and the replies the
//! password policy needs (SPEC §4): `[ALERT]` first, because Thunderbird
//! shows only that, then `[EXPIRED]`, `[CONTACTADMIN]` or
//! `[AUTHENTICATIONFAILED]` (RFC 5530).

use std::borrow::Cow;

use imap_next::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_next::imap_types::core::Tag;
use imap_next::imap_types::response::{Code, CommandContinuationRequest, Status};
use imap_next::types::CommandAuthenticate;

use surel_auth::{AccountRef, Outcome, Service};
use surel_maildir::{Mailbox, Quota};

use crate::driver::Driver;
use crate::reply;
use crate::session::{AuthFlow, Flow, Session, User, blocking};

impl Session {
    /// RFC 9051 §6.2.3
    pub async fn login(&mut self, d: &mut Driver, tag: &Tag<'static>, login: &str, password: &str) {
        if !self.plaintext_login_ok(d) {
            d.server.enqueue_status(reply::no(
                tag,
                Some(reply::code("PRIVACYREQUIRED")),
                "Use STARTTLS first",
            ));
            return;
        }
        let status = self.check_login(d, tag, login, password).await;
        d.server.enqueue_status(status);
    }

    /// RFC 9051 §6.2.2
    pub async fn authenticate_start(&mut self, d: &mut Driver, cmd: CommandAuthenticate) -> Flow {
        let tag = cmd.tag;
        if !self.plaintext_login_ok(d) {
            let status = reply::no(
                &tag,
                Some(reply::code("PRIVACYREQUIRED")),
                "Use STARTTLS first",
            );
            let _ = d.server.authenticate_finish(status);
            return Flow::Continue;
        }
        match cmd.mechanism {
            AuthMechanism::Plain => match cmd.initial_response {
                Some(ir) => {
                    let data = ir.declassify().to_vec();
                    self.finish_plain(d, &tag, &data).await;
                }
                None => {
                    self.auth_flow = Some(AuthFlow::Plain { tag });
                    let _ = d
                        .server
                        .authenticate_continue(CommandContinuationRequest::base64(Cow::Borrowed(
                            &b""[..],
                        )));
                }
            },
            AuthMechanism::Login => {
                // Outlook checks these exact challenges: "Username:", "Password:".
                match cmd.initial_response {
                    Some(ir) => {
                        let user = String::from_utf8_lossy(ir.declassify()).into_owned();
                        self.auth_flow = Some(AuthFlow::Login {
                            tag,
                            user: Some(user),
                        });
                        let _ = d
                            .server
                            .authenticate_continue(CommandContinuationRequest::base64(
                                Cow::Borrowed(&b"Password:"[..]),
                            ));
                    }
                    None => {
                        self.auth_flow = Some(AuthFlow::Login { tag, user: None });
                        let _ = d
                            .server
                            .authenticate_continue(CommandContinuationRequest::base64(
                                Cow::Borrowed(&b"Username:"[..]),
                            ));
                    }
                }
            }
            _ => {
                let status = reply::no(
                    &tag,
                    Some(reply::code("CANNOT")),
                    "Unsupported mechanism: use PLAIN or LOGIN",
                );
                let _ = d.server.authenticate_finish(status);
            }
        }
        Flow::Continue
    }

    /// A client's answer to an AUTHENTICATE challenge.
    pub async fn authenticate_data(
        &mut self,
        d: &mut Driver,
        data: AuthenticateData<'static>,
    ) -> Flow {
        let Some(flow) = self.auth_flow.take() else {
            return Flow::Continue;
        };
        let bytes = match data {
            AuthenticateData::Continue(secret) => secret.declassify().to_vec(),
            AuthenticateData::Cancel => {
                let tag = match flow {
                    AuthFlow::Plain { tag } | AuthFlow::Login { tag, .. } => tag,
                };
                let _ = d
                    .server
                    .authenticate_finish(reply::bad(Some(&tag), "Authentication cancelled"));
                return Flow::Continue;
            }
        };
        match flow {
            AuthFlow::Plain { tag } => self.finish_plain(d, &tag, &bytes).await,
            AuthFlow::Login { tag, user: None } => {
                let user = String::from_utf8_lossy(&bytes).into_owned();
                self.auth_flow = Some(AuthFlow::Login {
                    tag,
                    user: Some(user),
                });
                let _ = d
                    .server
                    .authenticate_continue(CommandContinuationRequest::base64(Cow::Borrowed(
                        &b"Password:"[..],
                    )));
            }
            AuthFlow::Login {
                tag,
                user: Some(user),
            } => {
                let password = String::from_utf8_lossy(&bytes).into_owned();
                let status = self.check_login(d, &tag, &user, &password).await;
                let _ = d.server.authenticate_finish(status);
            }
        }
        Flow::Continue
    }

    /// SASL PLAIN (RFC 4616): authzid NUL authcid NUL password.
    async fn finish_plain(&mut self, d: &mut Driver, tag: &Tag<'static>, data: &[u8]) {
        let parts: Vec<&[u8]> = data.split(|&b| b == 0).collect();
        let status = match parts.as_slice() {
            [authz, user, pass] if authz.is_empty() || authz == user => {
                let user = String::from_utf8_lossy(user).into_owned();
                let pass = String::from_utf8_lossy(pass).into_owned();
                self.check_login(d, tag, &user, &pass).await
            }
            [_, _, _] => reply::no(
                tag,
                Some(reply::code("AUTHORIZATIONFAILED")),
                "Logging in as another user is not allowed",
            ),
            _ => reply::bad(Some(tag), "Malformed PLAIN response"),
        };
        let _ = d.server.authenticate_finish(status);
    }

    /// Asks surel-auth, enqueues the untagged lines the policy needs, and
    /// returns the tagged status.
    async fn check_login(
        &mut self,
        d: &mut Driver,
        tag: &Tag<'static>,
        login: &str,
        password: &str,
    ) -> Status<'static> {
        let auth = self.shared.auth.clone();
        let peer = d.conn.info.peer.ip();
        let (l, p) = (login.to_string(), password.to_string());
        let Ok(result) = tokio::task::spawn_blocking(move || {
            auth.authenticate(&l, &p, Service::Imap, Some(peer))
        })
        .await
        else {
            return reply::no(
                tag,
                Some(reply::code("SERVERBUG")),
                "Internal error, try again",
            );
        };
        if !result.delay.is_zero() {
            tokio::time::sleep(result.delay).await;
        }
        let text =
            self.shared
                .auth
                .message(&result.outcome, self.language(), &self.shared.password_url);
        match result.outcome {
            Outcome::Success { account, warning } => {
                let user = match blocking(|| self.open_mailbox(&account)) {
                    Ok(user) => user,
                    Err(e) => {
                        tracing::error!(error = %e, account = %account.address, "cannot open the mailbox");
                        return reply::no(
                            tag,
                            Some(reply::code("SERVERBUG")),
                            "Mailbox unavailable, try again later",
                        );
                    }
                };
                if warning.is_some() && blocking(|| self.shared.auth.take_daily_alert(&account)) {
                    d.server
                        .enqueue_status(reply::untagged_ok(Some(Code::Alert), &text));
                }
                tracing::info!(account = %account.address, "logged in");
                self.user = Some(user);
                let caps = self.capabilities(d.conn.info.tls.is_some(), true);
                reply::ok(tag, Some(Code::Capability(caps)), "Logged in")
            }
            Outcome::MustChange { .. } | Outcome::Expired { .. } => {
                d.server
                    .enqueue_status(reply::untagged_no(Some(Code::Alert), &text));
                reply::no(tag, Some(reply::code("EXPIRED")), &text)
            }
            Outcome::Disabled { .. } => {
                d.server
                    .enqueue_status(reply::untagged_no(Some(Code::Alert), &text));
                reply::no(tag, Some(reply::code("CONTACTADMIN")), &text)
            }
            Outcome::Locked { .. } | Outcome::BadCredentials => {
                reply::no(tag, Some(reply::code("AUTHENTICATIONFAILED")), &text)
            }
            Outcome::Throttled => reply::no(tag, Some(reply::code("UNAVAILABLE")), &text),
        }
    }

    fn open_mailbox(&self, account: &AccountRef) -> Result<User, String> {
        let stored = self
            .shared
            .auth
            .store()
            .account_by_id(account.id)
            .map_err(|e| e.to_string())?
            .ok_or("account vanished")?;
        let dir = surel_maildir::mailbox_dir(&self.shared.data_dir, &stored.domain, &stored.local);
        let quota = Quota {
            storage: stored.quota_bytes,
            messages: None,
        };
        let mailbox = Mailbox::open(&dir, quota).map_err(|e| e.to_string())?;
        let changes = mailbox.changes();
        Ok(User {
            account: account.clone(),
            mailbox,
            changes,
        })
    }
}
