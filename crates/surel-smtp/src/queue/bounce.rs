//! Delivery status notifications (RFC 3464): a multipart/report to the
//! sender when a message fails for good, or is still waiting after the
//! delay-notice time. The human part is in the configured language.

use surel_auth::Language;

use super::Entry;

/// What the notice reports.
pub enum Notice<'a> {
    /// Recipients that failed for good, with the reason.
    Failed(&'a [(String, String)]),
    /// Recipients still being tried, with the last reason.
    Delayed(&'a [(String, String)]),
}

fn rfc5322_date() -> String {
    jiff::Zoned::now()
        .strftime("%a, %d %b %Y %H:%M:%S %z")
        .to_string()
}

/// "550 5.1.1 no such user" → "5.1.1"; a default by class otherwise.
fn status_of(reason: &str, permanent: bool) -> String {
    reason
        .split_whitespace()
        .nth(1)
        .filter(|s| s.split('.').count() == 3 && s.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_string)
        .unwrap_or_else(|| {
            if permanent {
                "5.0.0".into()
            } else {
                "4.0.0".into()
            }
        })
}

fn human(language: Language, notice: &Notice<'_>, hostname: &str) -> String {
    let list = |rcpts: &[(String, String)]| {
        rcpts
            .iter()
            .map(|(a, r)| format!("  <{a}>: {r}"))
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    match (language, notice) {
        (Language::Id, Notice::Failed(r)) => format!(
            "Ini pesan otomatis dari server surel {hostname}.\r\n\r\nSurat Anda tidak dapat dikirim ke penerima berikut:\r\n\r\n{}\r\n\r\nSurat aslinya terlampir.\r\n",
            list(r)
        ),
        (Language::En, Notice::Failed(r)) => format!(
            "This is an automatic message from the mail server {hostname}.\r\n\r\nYour message could not be delivered to:\r\n\r\n{}\r\n\r\nThe original message is attached.\r\n",
            list(r)
        ),
        (Language::Id, Notice::Delayed(r)) => format!(
            "Ini pesan otomatis dari server surel {hostname}.\r\n\r\nSurat Anda belum dapat dikirim ke penerima berikut. Server masih mencoba; Anda tidak perlu mengirim ulang.\r\n\r\n{}\r\n",
            list(r)
        ),
        (Language::En, Notice::Delayed(r)) => format!(
            "This is an automatic message from the mail server {hostname}.\r\n\r\nYour message has not yet been delivered to the recipients below. The server keeps trying; you need not send it again.\r\n\r\n{}\r\n",
            list(r)
        ),
    }
}

/// Builds the notice for `entry`'s sender.
pub fn build(
    hostname: &str,
    language: Language,
    entry: &Entry,
    notice: &Notice<'_>,
    original: &[u8],
) -> Vec<u8> {
    let boundary = format!("surel-{}-{}", entry.id, entry.attempts);
    let (subject, action, permanent, rcpts) = match notice {
        Notice::Failed(r) => (
            match language {
                Language::Id => "Surat tidak terkirim / Undelivered Mail Returned to Sender",
                Language::En => "Undelivered Mail Returned to Sender",
            },
            "failed",
            true,
            *r,
        ),
        Notice::Delayed(r) => (
            match language {
                Language::Id => "Surat tertunda / Delayed Mail (still being retried)",
                Language::En => "Delayed Mail (still being retried)",
            },
            "delayed",
            false,
            *r,
        ),
    };
    let mut out = String::new();
    out.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n"
    ));
    out.push_str(&format!("To: <{}>\r\n", entry.sender));
    out.push_str(&format!("Subject: {subject}\r\n"));
    out.push_str(&format!("Date: {}\r\n", rfc5322_date()));
    out.push_str(&format!(
        "Message-ID: <{}.{action}@{hostname}>\r\n",
        entry.id
    ));
    out.push_str("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
    out.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n"
    ));
    out.push_str(&format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"));
    out.push_str(&human(language, notice, hostname));
    out.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
    ));
    out.push_str(&format!(
        "Reporting-MTA: dns; {hostname}\r\nX-Queue-ID: {}\r\n",
        entry.id
    ));
    for (address, reason) in rcpts {
        out.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {address}\r\nAction: {action}\r\nStatus: {}\r\nDiagnostic-Code: smtp; {}\r\n",
            status_of(reason, permanent),
            reason.replace(['\r', '\n'], " ")
        ));
    }
    let headers_only = entry.ret_headers_only || matches!(notice, Notice::Delayed(_));
    let mut bytes = out.into_bytes();
    if headers_only {
        let end = original
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(original.len(), |i| i + 4);
        bytes.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n").as_bytes(),
        );
        bytes.extend_from_slice(&original[..end]);
    } else {
        bytes.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes(),
        );
        bytes.extend_from_slice(original);
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_come_from_the_reply() {
        assert_eq!(status_of("550 5.1.1 no such user", true), "5.1.1");
        assert_eq!(status_of("connection failed", true), "5.0.0");
        assert_eq!(status_of("451 try later", false), "4.0.0");
    }
}
