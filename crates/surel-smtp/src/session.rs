//! The pre-protocol SMTP session: greeting, EHLO/HELO, STARTTLS (RFC 3207),
//! NOOP, RSET, QUIT; every transaction is deferred with 451. Issue 6
//! replaces it with smtp-proto; what stays is the shape: one loop, shutdown
//! and idle timeouts answered with 421.

use tokio::io::{AsyncWriteExt, BufReader};
use tracing::{debug, info};

use surel_net::{Conn, Next, next_line};

use crate::Role;

/// RFC 5321 §4.5.3.1.4 allows 512 for a command line; extensions add to it.
const MAX_LINE: usize = 4096;

enum End {
    Close,
    StartTls,
}

pub async fn run(mut conn: Conn, role: Role) {
    let mut greeted = false;
    loop {
        match lines(&mut conn, role, greeted).await {
            Ok(End::Close) => return conn.close().await,
            Err(_) => return,
            Ok(End::StartTls) => {
                conn = match conn.start_tls().await {
                    Ok(conn) => conn,
                    Err(e) => {
                        info!(error = %e, "STARTTLS handshake failed");
                        return;
                    }
                };
                greeted = true;
            }
        }
    }
}

async fn lines(conn: &mut Conn, role: Role, greeted: bool) -> std::io::Result<End> {
    let tls = conn.info.tls.is_some();
    let ctx = conn.ctx.clone();
    let host = ctx.hostname.as_str();
    let mut reader = BufReader::new(&mut conn.stream);
    if !greeted {
        let greeting = format!("220 {host} ESMTP surel\r\n");
        reader.get_mut().write_all(greeting.as_bytes()).await?;
    }
    let mut line = Vec::new();
    loop {
        let idle = ctx.timeouts.idle;
        let reply = match next_line(&mut reader, &mut line, MAX_LINE, idle, &ctx.shutdown).await {
            Next::Line => {
                let text = String::from_utf8_lossy(&line);
                let verb = text
                    .split_ascii_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                debug!(%verb, ?role, "command");
                match verb.as_str() {
                    "EHLO" if tls => format!("250-{host}\r\n250 ENHANCEDSTATUSCODES\r\n"),
                    "EHLO" => format!("250-{host}\r\n250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n"),
                    "HELO" => format!("250 {host}\r\n"),
                    "NOOP" => "250 2.0.0 OK\r\n".into(),
                    "RSET" => "250 2.0.0 OK\r\n".into(),
                    "QUIT" => {
                        let bye = format!("221 2.0.0 {host} closing connection\r\n");
                        reader.get_mut().write_all(bye.as_bytes()).await?;
                        return Ok(End::Close);
                    }
                    "STARTTLS" if tls => "503 5.5.1 TLS already active\r\n".into(),
                    "STARTTLS" => {
                        // Commands pipelined after STARTTLS would be taken as
                        // if sent over TLS (CVE-2011-0411): refuse them.
                        if !reader.buffer().is_empty() {
                            reader
                                .get_mut()
                                .write_all(b"554 5.5.1 Data sent after STARTTLS\r\n")
                                .await?;
                            return Ok(End::Close);
                        }
                        reader
                            .get_mut()
                            .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                            .await?;
                        return Ok(End::StartTls);
                    }
                    "MAIL" | "RCPT" | "DATA" | "BDAT" | "AUTH" => {
                        "451 4.3.2 Mail service not enabled yet, try again later\r\n".into()
                    }
                    _ => "500 5.5.2 Command not recognized\r\n".into(),
                }
            }
            Next::TooLong => "500 5.5.6 Line too long\r\n".into(),
            Next::Timeout => {
                let bye = format!("421 4.4.2 {host} Idle for too long, closing connection\r\n");
                reader.get_mut().write_all(bye.as_bytes()).await?;
                return Ok(End::Close);
            }
            Next::Shutdown => {
                let bye = format!("421 4.3.2 {host} Service shutting down\r\n");
                reader.get_mut().write_all(bye.as_bytes()).await?;
                return Ok(End::Close);
            }
            Next::Closed => return Ok(End::Close),
        };
        reader.get_mut().write_all(reply.as_bytes()).await?;
    }
}
