//! SMTP load: messages sent one after another on each of C connections to
//! a plain (MX-style) port, DATA→250 latency per message, and — given the
//! recipient's maildir — how long until every message is a file in it.
//!
//! A few lines of SMTP by hand rather than a client crate: the figure that
//! matters is the time between the final "." and the 250, which a client
//! library hides.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::stats::{Samples, report};

pub struct SmtpLoad {
    pub port: u16,
    pub rcpt: String,
    pub messages: usize,
    pub connections: usize,
    pub size: usize,
    pub maildir: Option<PathBuf>,
    pub label: String,
}

async fn reply(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> anyhow::Result<String> {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            bail!("connection closed");
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(line);
        }
    }
}

async fn expect(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    code: &str,
) -> anyhow::Result<()> {
    let line = reply(reader).await?;
    if !line.starts_with(code) {
        bail!("expected {code}, got {}", line.trim_end());
    }
    Ok(())
}

fn message(size: usize, n: usize) -> Vec<u8> {
    let mut m = format!(
        "From: beban@mitra.test\r\nTo: penerima@bench.test\r\nSubject: uji beban {n}\r\n\
         Message-ID: <beban-{n}-{}@mitra.test>\r\n\r\n",
        std::process::id()
    )
    .into_bytes();
    let line = b"Isi pesan uji beban, baris demi baris sampai ukurannya cukup.\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m.extend_from_slice(b".\r\n");
    m
}

async fn one_connection(load: Arc<SmtpLoad>, next: Arc<AtomicUsize>) -> anyhow::Result<Samples> {
    let stream = TcpStream::connect(("127.0.0.1", load.port)).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    expect(&mut reader, "220").await?;
    write.write_all(b"EHLO mitra.test\r\n").await?;
    expect(&mut reader, "250").await?;
    let mut samples = Samples::default();
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= load.messages {
            break;
        }
        write
            .write_all(
                format!(
                    "MAIL FROM:<beban@mitra.test>\r\nRCPT TO:<{}>\r\nDATA\r\n",
                    load.rcpt
                )
                .as_bytes(),
            )
            .await?;
        expect(&mut reader, "250").await?;
        expect(&mut reader, "250").await?;
        expect(&mut reader, "354").await?;
        write.write_all(&message(load.size, n)).await?;
        let sent = Instant::now();
        expect(&mut reader, "250").await?;
        samples.push(sent.elapsed());
    }
    write.write_all(b"QUIT\r\n").await?;
    Ok(samples)
}

fn files_in(maildir: &std::path::Path) -> usize {
    ["new", "cur"]
        .iter()
        .filter_map(|d| std::fs::read_dir(maildir.join(d)).ok())
        .map(|d| d.count())
        .sum()
}

pub async fn run(load: SmtpLoad) -> anyhow::Result<()> {
    let before = load.maildir.as_deref().map(files_in).unwrap_or(0);
    let load = Arc::new(load);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..load.connections)
        .map(|_| tokio::spawn(one_connection(Arc::clone(&load), Arc::clone(&next))))
        .collect();
    let mut samples = Samples::default();
    for t in tasks {
        samples.extend(t.await.context("SMTP task")??);
    }
    let accepted = started.elapsed();
    // Postfix answers 250 once the message is queued; it is in the maildir
    // only later. Count the files to compare like with like.
    let delivered = match &load.maildir {
        Some(dir) => {
            let deadline = Instant::now() + Duration::from_secs(300);
            while files_in(dir) < before + load.messages {
                if Instant::now() > deadline {
                    bail!(
                        "only {} of {} messages arrived in {}",
                        files_in(dir) - before,
                        load.messages,
                        dir.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            started.elapsed()
        }
        None => accepted,
    };
    report(
        &format!("smtp {}", load.label),
        &[
            ("messages", samples.len() as f64),
            (
                "accepted_per_s",
                load.messages as f64 / accepted.as_secs_f64(),
            ),
            (
                "delivered_per_s",
                load.messages as f64 / delivered.as_secs_f64(),
            ),
            ("p50_ms", samples.quantile_ms(0.5)),
            ("p99_ms", samples.quantile_ms(0.99)),
        ],
    );
    Ok(())
}
