//! One delivery attempt to another domain: where to connect (a static
//! route, the smarthost, or the domain's MX hosts per RFC 5321 §5), then an
//! SMTP transaction with opportunistic STARTTLS (mail-send's client).

use std::collections::HashMap;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use mail_send::smtp::tls::build_tls_connector;
use mail_send::{Credentials, SmtpClient};
use smtp_proto::{EXT_8BIT_MIME, EXT_PIPELINING, EXT_SMTP_UTF8, EXT_START_TLS};
use tokio::io::{AsyncRead, AsyncWrite};

/// How to use TLS towards a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS when offered, without checking the certificate (RFC 7435).
    Opportunistic,
    /// STARTTLS required, certificate checked.
    Required,
    /// TLS from the first byte (port 465), certificate checked.
    Implicit,
    None,
}

/// The smarthost all mail goes through (`[smtp.relay]`).
#[derive(Debug, Clone)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Our name in EHLO.
    pub hostname: String,
    /// Domain → "host:port", for partners and tests (before relay and MX).
    pub routes: HashMap<String, String>,
    pub relay: Option<Relay>,
    /// Domains whose mail must go over checked TLS.
    pub require_tls: Vec<String>,
    pub timeout: Duration,
    /// A DNS server for MX lookups instead of the system's (`smtp.dns_server`).
    pub dns_server: Option<std::net::SocketAddr>,
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptResult {
    Delivered,
    Temporary(String),
    Permanent(String),
}

struct Target {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<(String, String)>,
}

fn describe(e: &mail_send::Error) -> (bool, String) {
    match e {
        mail_send::Error::UnexpectedReply(r) | mail_send::Error::AuthenticationFailed(r) => {
            let esc = if r.esc[0] > 0 {
                format!(" {}.{}.{}", r.esc[0], r.esc[1], r.esc[2])
            } else {
                String::new()
            };
            (
                r.code >= 500,
                format!("{}{esc} {}", r.code, r.message.replace('\n', " ")),
            )
        }
        mail_send::Error::Timeout => (false, "the remote server did not answer in time".into()),
        mail_send::Error::Io(io) => (false, format!("connection failed: {io}")),
        mail_send::Error::Tls(tls) => (false, format!("TLS failed: {tls}")),
        other => (false, other.to_string()),
    }
}

/// A mail-send error as a recipient outcome.
fn fail(e: mail_send::Error) -> RcptResult {
    let (permanent, text) = describe(&e);
    if permanent {
        RcptResult::Permanent(text)
    } else {
        RcptResult::Temporary(text)
    }
}

/// Where to connect for `domain`, in order of preference.
async fn targets(
    cfg: &OutboundConfig,
    resolver: &TokioResolver,
    domain: &str,
) -> Result<Vec<Target>, RcptResult> {
    let tls = if cfg
        .require_tls
        .iter()
        .any(|d| d.eq_ignore_ascii_case(domain))
    {
        TlsMode::Required
    } else {
        TlsMode::Opportunistic
    };
    if let Some(route) = cfg.routes.get(&domain.to_lowercase()) {
        let (host, port) = route.rsplit_once(':').unwrap_or((route, "25"));
        return Ok(vec![Target {
            host: host.to_string(),
            port: port.parse().unwrap_or(25),
            tls,
            credentials: None,
        }]);
    }
    if let Some(relay) = &cfg.relay {
        return Ok(vec![Target {
            host: relay.host.clone(),
            port: relay.port,
            tls: relay.tls,
            credentials: relay.credentials.clone(),
        }]);
    }
    match resolver.mx_lookup(format!("{domain}.")).await {
        Ok(lookup) => {
            let mut mx: Vec<(u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange.to_utf8().trim_end_matches('.').to_string(),
                    )),
                    _ => None,
                })
                .collect();
            mx.sort();
            // RFC 7505: a "null MX" says the domain takes no mail.
            if mx.len() == 1 && (mx[0].1.is_empty() || mx[0].1 == ".") {
                return Err(RcptResult::Permanent(format!(
                    "{domain} accepts no mail (null MX)"
                )));
            }
            Ok(mx
                .into_iter()
                .map(|(_, host)| Target {
                    host,
                    port: 25,
                    tls,
                    credentials: None,
                })
                .collect())
        }
        // RFC 5321 §5.1: no MX records, the domain itself is the host.
        Err(e) if e.is_no_records_found() => Ok(vec![Target {
            host: domain.to_string(),
            port: 25,
            tls,
            credentials: None,
        }]),
        Err(e) if e.is_nx_domain() => Err(RcptResult::Permanent(format!(
            "the domain {domain} does not exist"
        ))),
        Err(e) => Err(RcptResult::Temporary(format!(
            "DNS lookup for {domain} failed: {e}"
        ))),
    }
}

/// Delivers `message` from `sender` to `rcpts` (all in one domain).
pub async fn deliver(
    cfg: &OutboundConfig,
    resolver: &TokioResolver,
    domain: &str,
    sender: &str,
    rcpts: &[String],
    message: &[u8],
) -> Vec<RcptResult> {
    let targets = match targets(cfg, resolver, domain).await {
        Ok(t) => t,
        Err(result) => return vec![result; rcpts.len()],
    };
    let mut last = RcptResult::Temporary(format!("no host to deliver to for {domain}"));
    for target in targets {
        match attempt(cfg, resolver, &target, sender, rcpts, message).await {
            Ok(results) => return results,
            Err(result) => {
                tracing::info!(host = %target.host, port = target.port, reason = ?result, "delivery attempt failed");
                last = result;
            }
        }
    }
    vec![last; rcpts.len()]
}

/// One host: Ok with per-recipient results once the server answered
/// MAIL FROM, Err when the host could not be used at all.
async fn attempt(
    cfg: &OutboundConfig,
    resolver: &TokioResolver,
    target: &Target,
    sender: &str,
    rcpts: &[String],
    message: &[u8],
) -> Result<Vec<RcptResult>, RcptResult> {
    // Names are resolved with the same resolver as the MX records.
    let ip = match target.host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip,
        Err(_) => resolver
            .lookup_ip(format!("{}.", target.host.trim_end_matches('.')))
            .await
            .map_err(|e| RcptResult::Temporary(format!("cannot resolve {}: {e}", target.host)))?
            .iter()
            .next()
            .ok_or_else(|| RcptResult::Temporary(format!("{} has no address", target.host)))?,
    };
    let addr = std::net::SocketAddr::new(ip, target.port);
    let verify = matches!(target.tls, TlsMode::Required | TlsMode::Implicit);
    let connector = build_tls_connector(!verify).map_err(RcptResult::Temporary)?;
    let client = SmtpClient::connect(addr, cfg.timeout).await.map_err(fail)?;
    if target.tls == TlsMode::Implicit {
        let mut client = client
            .into_tls(&connector, &target.host)
            .await
            .map_err(fail)?;
        client.read().await.map_err(fail)?;
        return transaction(cfg, &mut client, target, sender, rcpts, message).await;
    }
    let mut client = client;
    let greeting = client.read().await.map_err(fail)?;
    if greeting.code() >= 400 {
        return Err(fail(mail_send::Error::UnexpectedReply(greeting)));
    }
    let ehlo = client.ehlo(&cfg.hostname).await.map_err(fail)?;
    if target.tls != TlsMode::None && ehlo.has_capability(EXT_START_TLS) {
        let mut client = client
            .start_tls(&connector, &target.host)
            .await
            .map_err(fail)?;
        return transaction(cfg, &mut client, target, sender, rcpts, message).await;
    }
    if target.tls == TlsMode::Required {
        return Err(RcptResult::Temporary(format!(
            "{} does not offer STARTTLS, which is required",
            target.host
        )));
    }
    transaction(cfg, &mut client, target, sender, rcpts, message).await
}

async fn transaction<T: AsyncRead + AsyncWrite + Unpin>(
    cfg: &OutboundConfig,
    client: &mut SmtpClient<T>,
    target: &Target,
    sender: &str,
    rcpts: &[String],
    message: &[u8],
) -> Result<Vec<RcptResult>, RcptResult> {
    let ehlo = client.ehlo(&cfg.hostname).await.map_err(fail)?;
    if let Some((user, pass)) = &target.credentials {
        let creds = Credentials::new(user.clone(), pass.clone());
        client.authenticate(&creds, &ehlo).await.map_err(fail)?;
    }
    // RFC 6152 / RFC 6531: 8-bit bodies and non-ASCII addresses only go to
    // servers that take them (surel does not downgrade: the sender is told).
    let eight_bit = message.iter().any(|&b| b >= 0x80);
    let utf8 = !sender.is_ascii() || rcpts.iter().any(|r| !r.is_ascii());
    if utf8 && !ehlo.has_capability(EXT_SMTP_UTF8) {
        let why = format!(
            "550 5.6.7 {} does not accept internationalized addresses (SMTPUTF8)",
            target.host
        );
        return Ok(vec![RcptResult::Permanent(why); rcpts.len()]);
    }
    if eight_bit && !ehlo.has_capability(EXT_8BIT_MIME) {
        let why = format!(
            "554 5.6.3 {} does not accept 8-bit messages (8BITMIME)",
            target.host
        );
        return Ok(vec![RcptResult::Permanent(why); rcpts.len()]);
    }
    let mut mail = format!("MAIL FROM:<{sender}>");
    if eight_bit {
        mail.push_str(" BODY=8BITMIME");
    }
    if utf8 {
        mail.push_str(" SMTPUTF8");
    }
    mail.push_str("\r\n");
    let mut commands = vec![mail];
    commands.extend(rcpts.iter().map(|r| format!("RCPT TO:<{r}>\r\n")));
    // RFC 2920: MAIL and every RCPT in one write when the server pipelines.
    let replies = if ehlo.has_capability(EXT_PIPELINING) {
        client.cmds(&commands).await.map_err(fail)?
    } else {
        let mut replies = Vec::with_capacity(commands.len());
        for command in &commands {
            let reply = client.cmd(command).await.map_err(fail)?;
            let refused_sender = replies.is_empty() && reply.code >= 400;
            replies.push(reply);
            if refused_sender {
                break;
            }
        }
        replies
    };
    let class = |r: &smtp_proto::Response<String>| {
        if r.code < 400 {
            RcptResult::Delivered
        } else {
            fail(mail_send::Error::UnexpectedReply(r.clone()))
        }
    };
    let mail_reply = replies
        .first()
        .ok_or_else(|| RcptResult::Temporary("no reply to MAIL FROM".into()))?;
    if mail_reply.code >= 400 {
        return Ok(vec![class(mail_reply); rcpts.len()]);
    }
    let mut results: Vec<RcptResult> = replies.iter().skip(1).map(class).collect();
    results.resize(
        rcpts.len(),
        RcptResult::Temporary("no reply to RCPT TO".into()),
    );
    let accepted = results
        .iter()
        .filter(|r| **r == RcptResult::Delivered)
        .count();
    if accepted > 0 {
        // mail-send ends the data with "\r\n.\r\n" itself: without our final
        // CRLF the message arrives byte for byte.
        let body = message.strip_suffix(b"\r\n").unwrap_or(message);
        if let Err(e) = client.data(body).await {
            let outcome = fail(e);
            for r in results.iter_mut().filter(|r| **r == RcptResult::Delivered) {
                *r = outcome.clone();
            }
        }
    }
    let _ = client.rset().await;
    Ok(results)
}
