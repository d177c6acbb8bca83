//! Inbound checks on the MX (RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC)
//! with mail-auth: the results go into an Authentication-Results header
//! (RFC 8601), DMARC `p=reject` is honoured as configured, and a DNS
//! failure is a temporary 451 — never a silent pass.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimResult, DmarcResult, MessageAuthenticator,
    SpfResult,
};

use crate::reply::Reply;

/// What to do with mail that fails DMARC from a domain with `p=reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcAction {
    Reject,
    /// Deliver into the recipients' Junk folder.
    Quarantine,
    /// Deliver normally; the header tells the story.
    Mark,
}

pub struct InboundChecks {
    authenticator: MessageAuthenticator,
    hostname: String,
    dmarc_reject: DmarcAction,
}

/// The outcome for one message.
pub enum Verdict {
    /// Deliver, with this Authentication-Results field (CRLF included).
    Deliver {
        header: String,
        junk: bool,
    },
    Refuse(Reply),
}

impl InboundChecks {
    /// `dns`: a resolver to ask instead of the system's (tests, a local cache).
    pub fn new(
        hostname: &str,
        dns: Option<SocketAddr>,
        dmarc_reject: DmarcAction,
    ) -> Result<InboundChecks, String> {
        let authenticator = match dns {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                MessageAuthenticator::new(
                    ResolverConfig::from_parts(None, vec![], vec![server]),
                    ResolverOpts::default(),
                )
            }
            None => MessageAuthenticator::new_system_conf(),
        }
        .map_err(|e| format!("cannot start the DNS resolver for SPF/DKIM/DMARC: {e}"))?;
        Ok(InboundChecks {
            authenticator,
            hostname: hostname.to_string(),
            dmarc_reject,
        })
    }

    pub async fn check(
        &self,
        peer: IpAddr,
        helo: &str,
        mail_from: &str,
        message: &[u8],
    ) -> Verdict {
        let temp = || {
            Verdict::Refuse(Reply::new(
                451,
                "4.7.0",
                "Temporary DNS failure while checking SPF/DKIM/DMARC, try again later",
            ))
        };
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            return Verdict::Deliver {
                header: format!("Authentication-Results: {}; none\r\n", self.hostname),
                junk: false,
            };
        };
        let dkim = self.authenticator.verify_dkim(&parsed).await;
        let spf = if mail_from.is_empty() {
            self.authenticator
                .verify_spf(SpfParameters::verify_ehlo(peer, helo, &self.hostname))
                .await
        } else {
            self.authenticator
                .verify_spf(SpfParameters::verify_mail_from(
                    peer,
                    helo,
                    &self.hostname,
                    mail_from,
                ))
                .await
        };
        let mail_from_domain = mail_from.rsplit_once('@').map_or(helo, |(_, d)| d);
        let dmarc = self
            .authenticator
            .verify_dmarc(DmarcParameters::new(&parsed, &dkim, mail_from_domain, &spf))
            .await;
        let dns_trouble = spf.result() == SpfResult::TempError
            || dkim
                .iter()
                .any(|d| matches!(d.result(), DkimResult::TempError(_)))
            || matches!(dmarc.dkim_result(), DmarcResult::TempError(_))
            || matches!(dmarc.spf_result(), DmarcResult::TempError(_));
        if dns_trouble {
            return temp();
        }
        let from = parsed.from();
        let header_from = from.rsplit_once('@').map_or(from, |(_, d)| d);
        let mut results = AuthenticationResults::new(&self.hostname)
            .with_dkim_results(&dkim, header_from)
            .with_dmarc_result(&dmarc);
        results = if mail_from.is_empty() {
            results.with_spf_ehlo_result(&spf, peer, helo)
        } else {
            results.with_spf_mailfrom_result(&spf, peer, mail_from, helo)
        };
        let header = results.to_header();
        // Fails when the domain publishes DMARC and neither aligned DKIM nor
        // aligned SPF passes (None without a record).
        let dmarc_fails = matches!(dmarc.result(), DmarcResult::Fail(_));
        match (dmarc_fails, dmarc.policy()) {
            (true, Policy::Reject) => match self.dmarc_reject {
                DmarcAction::Reject => Verdict::Refuse(Reply::new(
                    550,
                    "5.7.1",
                    format!("Rejected by the DMARC policy of {header_from}"),
                )),
                DmarcAction::Quarantine => Verdict::Deliver { header, junk: true },
                DmarcAction::Mark => Verdict::Deliver {
                    header,
                    junk: false,
                },
            },
            (true, Policy::Quarantine) => Verdict::Deliver { header, junk: true },
            _ => Verdict::Deliver {
                header,
                junk: false,
            },
        }
    }
}
