//! Big-folder work: fill a folder with APPEND, time FETCH of UID, FLAGS
//! and ENVELOPE for all of it, and SEARCH TEXT over it.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};

use super::client::Imap;
use super::mix::mail;
use crate::stats::{Samples, report};

pub struct Folder {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub mailbox: String,
    pub label: String,
}

/// The folder's message count by STATUS (which also makes the server
/// look at its files).
async fn count(imap: &mut Imap, mailbox: &str) -> anyhow::Result<usize> {
    let status = imap
        .run(&format!("STATUS \"{mailbox}\" (MESSAGES)"))
        .await?;
    Ok(status
        .untagged
        .iter()
        .find_map(|l| {
            l.split("MESSAGES ")
                .nth(1)?
                .trim_end_matches(')')
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0usize))
}

/// Writes the missing messages as files into the folder's maildir, then
/// has the server index them: a 100,000-message folder in a minute or
/// two on any server (pipelined APPEND into Dovecot slows as the folder
/// grows). Timed: the writing and the indexing separately.
pub async fn fill_files(f: &Folder, messages: usize, maildir: &Path) -> anyhow::Result<()> {
    let mut imap = Imap::login(f.port, &f.user, &f.password).await?;
    imap.run(&format!("CREATE \"{}\"", f.mailbox)).await?;
    let have = count(&mut imap, &f.mailbox).await?;
    let new = maildir.join(format!(".{}", f.mailbox)).join("new");
    if !new.is_dir() {
        bail!("{} is not the folder's maildir", new.display());
    }
    let started = Instant::now();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    for n in have..messages {
        let path = new.join(format!("{stamp}.B{n}.bench"));
        std::fs::write(&path, mail(n, 20))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let written = started.elapsed();
    let started = Instant::now();
    let mut now = count(&mut imap, &f.mailbox).await?;
    if now < messages {
        // Servers that STATUS from their index alone see the files on SELECT.
        imap.run(&format!("EXAMINE \"{}\"", f.mailbox)).await?;
        now = count(&mut imap, &f.mailbox).await?;
    }
    let indexed = started.elapsed();
    if now < messages {
        bail!("{} holds {now} messages, not {messages}", f.mailbox);
    }
    let added = (messages - have) as f64;
    report(
        &format!("imap-fill {}", f.label),
        &[
            ("messages", messages as f64),
            ("written", added),
            ("written_per_s", added / written.as_secs_f64()),
            ("indexed_per_s", added / indexed.as_secs_f64()),
        ],
    );
    imap.run("LOGOUT").await?;
    Ok(())
}

/// Appends until the folder holds `messages`.
pub async fn fill(f: &Folder, messages: usize) -> anyhow::Result<()> {
    let mut imap = Imap::login(f.port, &f.user, &f.password).await?;
    imap.run(&format!("CREATE \"{}\"", f.mailbox)).await?;
    // STATUS, not EXAMINE: appending into the selected folder would also
    // measure the per-append update of that session.
    let have = count(&mut imap, &f.mailbox).await?;
    let started = Instant::now();
    let added = imap
        .append_many(&f.mailbox, (have..messages).map(|n| mail(n, 20)), 64)
        .await?;
    report(
        &format!("imap-fill {}", f.label),
        &[
            ("messages", messages as f64),
            ("appended", added as f64),
            (
                "appends_per_s",
                added as f64 / started.elapsed().as_secs_f64(),
            ),
        ],
    );
    imap.run("LOGOUT").await?;
    Ok(())
}

/// Runs `command` in the selected folder `runs` times; the median.
async fn timed(f: &Folder, command: &str, runs: usize) -> anyhow::Result<(Samples, usize)> {
    let mut imap = Imap::login(f.port, &f.user, &f.password).await?;
    let selected = imap.run(&format!("EXAMINE \"{}\"", f.mailbox)).await?;
    if !selected.ok() {
        bail!("EXAMINE {}: {}", f.mailbox, selected.tagged);
    }
    let mut samples = Samples::default();
    let mut lines = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let r = imap.run(command).await?;
        samples.push(started.elapsed());
        if !r.ok() {
            bail!("{command}: {}", r.tagged);
        }
        lines = r.untagged.len();
    }
    imap.run("LOGOUT").await?;
    Ok((samples, lines))
}

pub async fn fetch_all(f: &Folder, runs: usize) -> anyhow::Result<()> {
    let (samples, lines) = timed(f, "FETCH 1:* (UID FLAGS ENVELOPE)", runs).await?;
    report(
        &format!("imap-fetch-envelopes {}", f.label),
        &[
            ("messages", lines as f64),
            ("median_ms", samples.quantile_ms(0.5)),
            ("best_ms", samples.quantile_ms(0.0)),
        ],
    );
    Ok(())
}

pub async fn search_text(f: &Folder, text: &str, runs: usize) -> anyhow::Result<()> {
    let (samples, _) = timed(f, &format!("SEARCH TEXT \"{text}\""), runs).await?;
    report(
        &format!("imap-search-text {}", f.label),
        &[
            ("median_ms", samples.quantile_ms(0.5)),
            ("best_ms", samples.quantile_ms(0.0)),
        ],
    );
    Ok(())
}
