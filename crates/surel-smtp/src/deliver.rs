//! From an accepted message to files in maildirs: the From: check of
//! submission, the trace and missing header fields, and local delivery.

use mail_parser::MessageParser;

use surel_auth::{Account, Store};
use surel_maildir::Quota;
use surel_net::ConnInfo;

use crate::Role;
use crate::recipients;
use crate::reply::Reply;
use crate::session::Shared;

/// Submission: every From: address must be the user's or an alias of theirs.
pub fn check_from(store: &Store, user: &Account, message: &[u8]) -> Option<Reply> {
    let parsed = MessageParser::new().parse_headers(message)?;
    let mut any = false;
    for addr in parsed
        .from()
        .map(|f| f.iter().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        any = true;
        let Some(email) = addr.address() else {
            continue;
        };
        if !recipients::owns(store, user, email).unwrap_or(false) {
            return Some(Reply::new(
                550,
                "5.7.1",
                format!(
                    "The From: header may name only {} or one of your aliases, not {email}",
                    user.address()
                ),
            ));
        }
    }
    if !any {
        // A message without From: gets none added; it is the user's mail client's to write.
        return None;
    }
    None
}

fn has_header(message: &[u8], name: &str) -> bool {
    let header_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |i| i + 2);
    message[..header_end].split(|&b| b == b'\n').any(|line| {
        line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && line[name.len()] == b':'
    })
}

fn rfc5322_date() -> String {
    jiff::Zoned::now()
        .strftime("%a, %d %b %Y %H:%M:%S %z")
        .to_string()
}

/// Adds the Received: trace field (RFC 5321 §4.4), and for submission a
/// Message-ID and Date when the client left them out (RFC 6409 §8).
#[allow(clippy::too_many_arguments)]
pub fn stamp(
    hostname: &str,
    role: Role,
    helo: Option<&str>,
    info: &ConnInfo,
    user: Option<&Account>,
    rcpts: &[String],
    id: &str,
    message: Vec<u8>,
) -> Vec<u8> {
    let with = match (info.tls.is_some(), user.is_some()) {
        (true, true) => "ESMTPSA",
        (true, false) => "ESMTPS",
        (false, true) => "ESMTPA",
        (false, false) => "ESMTP",
    };
    let tls = info
        .tls
        .as_ref()
        .map(|t| format!("\r\n\t(using {} with cipher {})", t.version, t.cipher))
        .unwrap_or_default();
    let auth = user
        .map(|u| format!("\r\n\t(authenticated sender: {})", u.address()))
        .unwrap_or_default();
    let helo: String = helo
        .unwrap_or("unknown")
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let rcpt = if rcpts.len() == 1 {
        format!("\r\n\tfor <{}>", rcpts[0])
    } else {
        String::new()
    };
    let mut out = format!(
        "Received: from {helo} ({ip}){tls}{auth}\r\n\tby {hostname} (surel) with {with} id {id}{rcpt};\r\n\t{date}\r\n",
        ip = info.peer.ip(),
        date = rfc5322_date(),
    )
    .into_bytes();
    if role == Role::Submission {
        if !has_header(&message, "Message-ID") {
            out.extend_from_slice(
                format!(
                    "Message-ID: <{}.{id}@{hostname}>\r\n",
                    jiff::Timestamp::now().as_second()
                )
                .as_bytes(),
            );
        }
        if !has_header(&message, "Date") {
            out.extend_from_slice(format!("Date: {}\r\n", rfc5322_date()).as_bytes());
        }
    }
    out.extend_from_slice(&message);
    out
}

/// The domain of the first From: address.
pub fn from_domain(message: &[u8]) -> Option<String> {
    let parsed = MessageParser::new().parse_headers(message)?;
    let from = parsed.from()?.first()?.address()?.to_string();
    from.rsplit_once('@').map(|(_, d)| d.to_lowercase())
}

/// The Message-ID of a message, for the log.
pub fn message_id(message: &[u8]) -> String {
    MessageParser::new()
        .parse_headers(message)
        .and_then(|m| m.message_id().map(str::to_string))
        .unwrap_or_default()
}

/// Delivers into each account's INBOX; one result per account.
pub fn to_maildirs(
    shared: &Shared,
    accounts: &[Account],
    message: &[u8],
) -> Vec<(String, surel_maildir::Result<()>)> {
    to_maildirs_folder(shared, accounts, message, "INBOX")
}

/// Delivers into `folder` of each account (INBOX, or Junk for quarantine).
pub fn to_maildirs_folder(
    shared: &Shared,
    accounts: &[Account],
    message: &[u8],
    folder: &str,
) -> Vec<(String, surel_maildir::Result<()>)> {
    accounts
        .iter()
        .map(|account| {
            let dir = surel_maildir::mailbox_dir(&shared.data_dir, &account.domain, &account.local);
            let quota = Quota {
                storage: account.quota_bytes,
                messages: None,
            };
            let result = shared.mailboxes.with(&dir, quota, |mb| {
                mb.append(folder, message, &surel_maildir::Flags::new(), None)
                    .map(|_| ())
            });
            (account.address(), result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_presence_is_found_in_the_header_only() {
        let m = b"Subject: x\r\nmessage-id: <a@b>\r\n\r\nDate: in the body\r\n";
        assert!(has_header(m, "Message-ID"));
        assert!(!has_header(m, "Date"));
    }
}
