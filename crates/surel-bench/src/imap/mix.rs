//! A Thunderbird-like session mix: log in, select, append new mail, fetch
//! the new headers, mark read, move to Trash, delete and expunge, poll
//! with NOOP, IDLE, log out — over and over on C clients for S seconds.
//! Every step is one operation; ops/s and p99 over all of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::client::Imap;
use crate::stats::{Samples, report};

pub struct Mix {
    pub port: u16,
    pub users: Vec<String>,
    pub password: String,
    pub clients: usize,
    pub seconds: u64,
    pub label: String,
}

pub fn mail(n: usize, body_lines: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Siti <siti@bench.test>\r\nTo: Budi <budi@bench.test>\r\n\
         Subject: Laporan kegiatan {n}\r\nDate: Mon, 23 Nov 2026 09:00:00 +0700\r\n\
         Message-ID: <laporan-{n}@bench.test>\r\n\r\n"
    )
    .into_bytes();
    for i in 0..body_lines {
        m.extend_from_slice(format!("Baris {i} laporan kegiatan nomor {n}.\r\n").as_bytes());
    }
    m
}

/// Each user gets a Trash folder and 20 messages in INBOX.
async fn prepare(port: u16, user: &str, password: &str) -> anyhow::Result<()> {
    let mut imap = Imap::login(port, user, password).await?;
    imap.run("CREATE Trash").await?; // NO when it exists: fine
    let selected = imap.run("SELECT INBOX").await?;
    let have = Imap::exists(&selected) as usize;
    if have < 20 {
        imap.append_many("INBOX", (have..20).map(|n| mail(n, 20)), 8)
            .await?;
    }
    imap.run("LOGOUT").await?;
    Ok(())
}

async fn client(mix: Arc<Mix>, n: usize, until: Instant) -> anyhow::Result<Samples> {
    let user = &mix.users[n % mix.users.len()];
    let mut samples = Samples::default();
    let mut round = 0usize;
    while Instant::now() < until {
        round += 1;
        let mut timed = Instant::now();
        let mut lap = |samples: &mut Samples| {
            samples.push(timed.elapsed());
            timed = Instant::now();
        };
        let mut imap = Imap::login(mix.port, user, &mix.password).await?;
        lap(&mut samples);
        let selected = imap.run("SELECT INBOX").await?;
        lap(&mut samples);
        let exists = Imap::exists(&selected);
        imap.append_many(
            "INBOX",
            (0..2).map(|i| mail(n * 1_000_000 + round * 2 + i, 20)),
            1,
        )
        .await?;
        lap(&mut samples);
        let from = exists.saturating_sub(8).max(1);
        let steps = [
            format!(
                "FETCH {from}:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])"
            ),
            format!("STORE {from}:* +FLAGS (\\Seen)"),
            "MOVE 1 Trash".to_string(),
            "STORE 1 +FLAGS.SILENT (\\Deleted)".to_string(),
            "EXPUNGE".to_string(),
            "NOOP".to_string(),
        ];
        for step in &steps {
            let r = imap.run(step).await?;
            if !r.ok() {
                bail!("{step}: {}", r.tagged);
            }
            lap(&mut samples);
        }
        let tag = imap.idle().await?;
        imap.done(&tag).await?;
        lap(&mut samples);
        imap.run("LOGOUT").await?;
        lap(&mut samples);
    }
    Ok(samples)
}

pub async fn run(mix: Mix) -> anyhow::Result<()> {
    for user in &mix.users[..mix.users.len().min(mix.clients)] {
        prepare(mix.port, user, &mix.password).await?;
    }
    let mix = Arc::new(mix);
    let started = Instant::now();
    let until = started + Duration::from_secs(mix.seconds);
    let tasks: Vec<_> = (0..mix.clients)
        .map(|n| tokio::spawn(client(Arc::clone(&mix), n, until)))
        .collect();
    let mut samples = Samples::default();
    for t in tasks {
        samples.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    report(
        &format!("imap-mix {}", mix.label),
        &[
            ("clients", mix.clients as f64),
            ("ops", samples.len() as f64),
            ("ops_per_s", samples.len() as f64 / elapsed),
            ("p50_ms", samples.quantile_ms(0.5)),
            ("p99_ms", samples.quantile_ms(0.99)),
        ],
    );
    Ok(())
}
