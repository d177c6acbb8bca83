//! The pre-protocol IMAP session: greeting, CAPABILITY, NOOP, STARTTLS
//! (RFC 3501 §6.2.1) and LOGOUT. Issue 5 replaces it with the full protocol
//! on imap-codec; what stays is the shape: one loop, shutdown and idle
//! timeouts answered with `* BYE`.

use tokio::io::{AsyncWriteExt, BufReader};
use tracing::{debug, info};

use surel_net::{Conn, Next, next_line};

/// Longest command line accepted; RFC 7162 §4 asks for at least 8192.
const MAX_LINE: usize = 8192;

enum End {
    Close,
    StartTls,
}

pub async fn run(mut conn: Conn) {
    let mut greeted = false;
    loop {
        match lines(&mut conn, greeted).await {
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

fn capability(conn: &Conn) -> &'static str {
    if conn.info.tls.is_some() {
        "IMAP4rev1"
    } else {
        "IMAP4rev1 STARTTLS LOGINDISABLED"
    }
}

async fn lines(conn: &mut Conn, greeted: bool) -> std::io::Result<End> {
    let caps = capability(conn);
    let ctx = conn.ctx.clone();
    let mut reader = BufReader::new(&mut conn.stream);
    if !greeted {
        let greeting = format!(
            "* OK [CAPABILITY {caps}] {} surel IMAP ready\r\n",
            ctx.hostname
        );
        reader.get_mut().write_all(greeting.as_bytes()).await?;
    }
    let mut line = Vec::new();
    loop {
        let idle = ctx.timeouts.idle;
        let reply = match next_line(&mut reader, &mut line, MAX_LINE, idle, &ctx.shutdown).await {
            Next::Line => {
                let text = String::from_utf8_lossy(&line);
                let mut words = text.split_ascii_whitespace();
                let tag = words.next().unwrap_or("*").to_string();
                let command = words.next().unwrap_or("").to_ascii_uppercase();
                debug!(%command, "command");
                match command.as_str() {
                    "CAPABILITY" => {
                        format!("* CAPABILITY {caps}\r\n{tag} OK CAPABILITY completed\r\n")
                    }
                    "NOOP" => format!("{tag} OK NOOP completed\r\n"),
                    "LOGOUT" => {
                        let bye = format!("* BYE Logging out\r\n{tag} OK LOGOUT completed\r\n");
                        reader.get_mut().write_all(bye.as_bytes()).await?;
                        return Ok(End::Close);
                    }
                    "STARTTLS" if !caps.contains("STARTTLS") => {
                        format!("{tag} BAD TLS is already active\r\n")
                    }
                    "STARTTLS" => {
                        // Bytes pipelined after STARTTLS would be read as if
                        // they came over TLS (CVE-2011-0411): refuse them.
                        if !reader.buffer().is_empty() {
                            let bye = format!("{tag} BAD Data sent after STARTTLS\r\n");
                            reader.get_mut().write_all(bye.as_bytes()).await?;
                            return Ok(End::Close);
                        }
                        let ok = format!("{tag} OK Begin TLS negotiation now\r\n");
                        reader.get_mut().write_all(ok.as_bytes()).await?;
                        return Ok(End::StartTls);
                    }
                    "LOGIN" | "AUTHENTICATE" if caps.contains("LOGINDISABLED") => {
                        format!("{tag} NO [PRIVACYREQUIRED] Use STARTTLS first\r\n")
                    }
                    "LOGIN" | "AUTHENTICATE" => format!(
                        "{tag} NO [UNAVAILABLE] Mailbox access is not enabled on this server yet\r\n"
                    ),
                    "" => "* BAD Empty command line\r\n".to_string(),
                    _ => format!("{tag} BAD Unknown command\r\n"),
                }
            }
            Next::TooLong => {
                reader
                    .get_mut()
                    .write_all(b"* BYE Command line too long\r\n")
                    .await?;
                return Ok(End::Close);
            }
            Next::Timeout => {
                reader
                    .get_mut()
                    .write_all(b"* BYE Autologout; idle for too long\r\n")
                    .await?;
                return Ok(End::Close);
            }
            Next::Shutdown => {
                reader
                    .get_mut()
                    .write_all(b"* BYE [UNAVAILABLE] Server shutting down\r\n")
                    .await?;
                return Ok(End::Close);
            }
            Next::Closed => return Ok(End::Close),
        };
        reader.get_mut().write_all(reply.as_bytes()).await?;
    }
}
