//! A bare IMAP client for load: tagged commands over plain TCP on
//! loopback, responses read whole (literals included) up to the tagged
//! reply. Hand-written because a load tool must control pipelining and
//! see every byte's cost; it parses only what the workloads need.

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub struct Imap {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_tag: u64,
}

/// A response: the untagged lines (literals inlined) and the tagged line.
pub struct Response {
    pub untagged: Vec<String>,
    pub tagged: String,
}

impl Response {
    pub fn ok(&self) -> bool {
        self.tagged.split(' ').nth(1) == Some("OK")
    }
}

impl Imap {
    pub async fn connect(port: u16) -> anyhow::Result<Imap> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .with_context(|| format!("connect to 127.0.0.1:{port}"))?;
        stream.set_nodelay(true)?;
        let (read, writer) = stream.into_split();
        let mut imap = Imap {
            reader: BufReader::with_capacity(64 * 1024, read),
            writer,
            next_tag: 0,
        };
        let greeting = imap.line().await?;
        if !greeting.starts_with("* OK") {
            bail!("greeting: {greeting}");
        }
        Ok(imap)
    }

    pub async fn login(port: u16, user: &str, password: &str) -> anyhow::Result<Imap> {
        let mut imap = Imap::connect(port).await?;
        let r = imap
            .run(&format!("LOGIN \"{user}\" \"{password}\""))
            .await?;
        if !r.ok() {
            bail!("LOGIN {user}: {}", r.tagged);
        }
        Ok(imap)
    }

    /// One line, with any literal it announces appended.
    async fn line(&mut self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            if self.reader.read_until(b'\n', &mut line).await? == 0 {
                bail!("connection closed");
            }
            out.extend_from_slice(&line);
            let trimmed = line.strip_suffix(b"\r\n").unwrap_or(&line);
            let literal = trimmed
                .strip_suffix(b"}")
                .and_then(|t| t.iter().rposition(|&b| b == b'{').map(|at| &t[at + 1..]))
                .and_then(|n| {
                    std::str::from_utf8(n)
                        .ok()?
                        .trim_end_matches('+')
                        .parse::<usize>()
                        .ok()
                });
            match literal {
                Some(n) => {
                    let mut buf = vec![0u8; n];
                    self.reader.read_exact(&mut buf).await?;
                    out.extend_from_slice(&buf);
                }
                None => return Ok(String::from_utf8_lossy(&out).trim_end().to_string()),
            }
        }
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("b{}", self.next_tag)
    }

    /// Sends `command` and reads up to its tagged reply.
    pub async fn run(&mut self, command: &str) -> anyhow::Result<Response> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        self.until(&tag).await
    }

    async fn until(&mut self, tag: &str) -> anyhow::Result<Response> {
        let mut untagged = Vec::new();
        loop {
            let line = self.line().await?;
            if line.starts_with(tag) && line.as_bytes().get(tag.len()) == Some(&b' ') {
                return Ok(Response {
                    untagged,
                    tagged: line,
                });
            }
            untagged.push(line);
        }
    }

    /// APPENDs with non-synchronizing literals (LITERAL+), keeping up to
    /// `window` in flight; fails on the first NO.
    pub async fn append_many(
        &mut self,
        mailbox: &str,
        messages: impl Iterator<Item = Vec<u8>>,
        window: usize,
    ) -> anyhow::Result<usize> {
        let mut in_flight = std::collections::VecDeque::new();
        let mut count = 0;
        for m in messages {
            let tag = self.tag();
            let mut cmd = format!("{tag} APPEND \"{mailbox}\" {{{}+}}\r\n", m.len()).into_bytes();
            cmd.extend_from_slice(&m);
            cmd.extend_from_slice(b"\r\n");
            self.writer.write_all(&cmd).await?;
            in_flight.push_back(tag);
            if in_flight.len() >= window {
                let tag = in_flight.pop_front().expect("not empty");
                let r = self.until(&tag).await?;
                if !r.ok() {
                    bail!("APPEND: {}", r.tagged);
                }
            }
            count += 1;
        }
        while let Some(tag) = in_flight.pop_front() {
            let r = self.until(&tag).await?;
            if !r.ok() {
                bail!("APPEND: {}", r.tagged);
            }
        }
        Ok(count)
    }

    /// IDLE until the server's continuation; `done` ends it.
    pub async fn idle(&mut self) -> anyhow::Result<String> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} IDLE\r\n").as_bytes())
            .await?;
        loop {
            let line = self.line().await?;
            if line.starts_with('+') {
                return Ok(tag);
            }
            if line.starts_with(&tag) {
                bail!("IDLE refused: {line}");
            }
        }
    }

    pub async fn done(&mut self, tag: &str) -> anyhow::Result<Response> {
        self.writer.write_all(b"DONE\r\n").await?;
        self.until(tag).await
    }

    /// The number in `* N EXISTS` from a SELECT.
    pub fn exists(r: &Response) -> u32 {
        r.untagged
            .iter()
            .find_map(|l| l.strip_prefix("* ")?.strip_suffix(" EXISTS")?.parse().ok())
            .unwrap_or(0)
    }
}
