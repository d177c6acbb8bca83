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

/// One server under load: its label in the output, plain SMTP port, and
/// the recipient's maildir if delivery is to be waited for.
#[derive(Clone)]
pub struct Target {
    pub label: String,
    pub port: u16,
    pub maildir: Option<PathBuf>,
}

impl std::str::FromStr for Target {
    type Err = anyhow::Error;

    /// `LABEL,PORT[,MAILDIR]` (labels have colons: `postfix:1KB-1conn`).
    fn from_str(s: &str) -> anyhow::Result<Target> {
        let mut parts = s.splitn(3, ',');
        let (Some(label), Some(port)) = (parts.next(), parts.next()) else {
            bail!("expected LABEL,PORT[,MAILDIR], got {s}");
        };
        Ok(Target {
            label: label.to_string(),
            port: port.parse().context("PORT")?,
            maildir: parts.next().map(PathBuf::from),
        })
    }
}

pub struct SmtpLoad {
    /// Measured in turns: round r runs them in order when r is even and in
    /// reverse when odd (ABBA), so a slow spell of the disk falls on each
    /// alike instead of on whichever ran then.
    pub targets: Vec<Target>,
    pub rcpt: String,
    pub messages: usize,
    pub connections: usize,
    pub size: usize,
    pub rounds: usize,
}

/// One round against one server: `count` messages numbered from `first`.
struct Round {
    port: u16,
    rcpt: String,
    size: usize,
    first: usize,
    count: usize,
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

async fn one_connection(load: Arc<Round>, next: Arc<AtomicUsize>) -> anyhow::Result<Samples> {
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
        if n >= load.count {
            break;
        }
        let n = load.first + n;
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

/// What one server took over all its rounds.
#[derive(Default)]
struct Tally {
    samples: Samples,
    accepted: Duration,
    delivered: Duration,
}

/// Sends one round to `target` on `connections` connections and waits
/// until its messages are files in the maildir, if given.
async fn round(
    target: &Target,
    round: Round,
    connections: usize,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let before = target.maildir.as_deref().map(files_in).unwrap_or(0);
    let count = round.count;
    let round = Arc::new(round);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(one_connection(Arc::clone(&round), Arc::clone(&next))))
        .collect();
    for t in tasks {
        tally.samples.extend(t.await.context("SMTP task")??);
    }
    tally.accepted += started.elapsed();
    // Postfix answers 250 once the message is queued; it is in the maildir
    // only later. Count the files to compare like with like.
    if let Some(dir) = &target.maildir {
        let deadline = Instant::now() + Duration::from_secs(300);
        while files_in(dir) < before + count {
            if Instant::now() > deadline {
                bail!(
                    "only {} of {} messages arrived in {}",
                    files_in(dir) - before,
                    count,
                    dir.display()
                );
            }
            // Often enough that a server delivering after its 250 (Postfix)
            // is not charged much more than its own lag in each round.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    tally.delivered += started.elapsed();
    Ok(())
}

pub async fn run(load: SmtpLoad) -> anyhow::Result<()> {
    let rounds = load.rounds.clamp(1, load.messages.max(1));
    let mut tallies: Vec<Tally> = load.targets.iter().map(|_| Tally::default()).collect();
    for r in 0..rounds {
        // Messages r*m/R .. (r+1)*m/R: the rounds add up to `messages`.
        let first = r * load.messages / rounds;
        let count = (r + 1) * load.messages / rounds - first;
        let mut order: Vec<usize> = (0..load.targets.len()).collect();
        if r % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let target = &load.targets[i];
            let this = Round {
                port: target.port,
                rcpt: load.rcpt.clone(),
                size: load.size,
                first,
                count,
            };
            round(target, this, load.connections, &mut tallies[i]).await?;
        }
    }
    for (target, tally) in load.targets.iter().zip(&tallies) {
        report(
            &format!("smtp {}", target.label),
            &[
                ("messages", tally.samples.len() as f64),
                (
                    "accepted_per_s",
                    load.messages as f64 / tally.accepted.as_secs_f64(),
                ),
                (
                    "delivered_per_s",
                    load.messages as f64 / tally.delivered.as_secs_f64(),
                ),
                ("p50_ms", tally.samples.quantile_ms(0.5)),
                ("p99_ms", tally.samples.quantile_ms(0.99)),
            ],
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn a_target_is_label_port_and_maildir_split_at_commas() {
        let t: Target = "postfix:1KB-1conn,2525,/tmp/v/Maildir".parse().unwrap();
        assert_eq!((t.label.as_str(), t.port), ("postfix:1KB-1conn", 2525));
        assert_eq!(t.maildir.unwrap().to_str(), Some("/tmp/v/Maildir"));
        assert!("surel,2525".parse::<Target>().unwrap().maildir.is_none());
        assert!("surel:2525".parse::<Target>().is_err());
    }
}
