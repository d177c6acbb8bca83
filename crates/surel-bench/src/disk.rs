//! The disk's own limit, so SMTP figures can be read against it: small
//! files created durably one after another, in the two orders the servers
//! use, taking turns so the disk's slow spells fall on both alike.
//!
//! - `maildir`: write, fsync, rename into place, fsync the directory, as
//!   surel delivers (two ordered flushes: the data must be on disk before
//!   the name that shows it, and the name before the 250).
//! - `queue-file`: write and fsync, as Postfix's cleanup makes its queue
//!   file before its 250 (one flush; the local delivery into the maildir
//!   comes after).
//!
//! Their latencies are the floor under each server's one-connection
//! DATA→250 figures.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::stats::Samples;

/// One order's figures.
pub struct Order {
    pub creations_per_s: f64,
    pub latency: Samples,
}

/// Creates `count` files in each order in `dir`, then removes `dir`.
pub fn fsync_creations(dir: &Path, count: usize) -> anyhow::Result<(Order, Order)> {
    let tmp = dir.join("tmp");
    let new = dir.join("new");
    let queue = dir.join("queue");
    for d in [&tmp, &new, &queue] {
        fs::create_dir_all(d)?;
    }
    let body = vec![b'x'; 1024];
    let (mut maildir, mut queue_file) = (Samples::default(), Samples::default());
    let (mut maildir_total, mut queue_total) = (Duration::ZERO, Duration::ZERO);
    for i in 0..count {
        let name = i.to_string();
        let maildir_op = || -> anyhow::Result<Duration> {
            let started = Instant::now();
            let from = tmp.join(&name);
            let mut f = File::create(&from)?;
            f.write_all(&body)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&from, new.join(&name))?;
            File::open(&new)?.sync_all()?;
            Ok(started.elapsed())
        };
        let queue_op = || -> anyhow::Result<Duration> {
            let started = Instant::now();
            let mut f = File::create(queue.join(&name))?;
            f.write_all(&body)?;
            f.sync_all()?;
            Ok(started.elapsed())
        };
        // ABBA: neither order always runs right after the other.
        let (m, q) = if i % 2 == 0 {
            let m = maildir_op()?;
            (m, queue_op()?)
        } else {
            let q = queue_op()?;
            (maildir_op()?, q)
        };
        maildir.push(m);
        maildir_total += m;
        queue_file.push(q);
        queue_total += q;
    }
    fs::remove_dir_all(dir)?;
    let rate = |total: Duration| count as f64 / total.as_secs_f64().max(f64::MIN_POSITIVE);
    Ok((
        Order {
            creations_per_s: rate(maildir_total),
            latency: maildir,
        },
        Order {
            creations_per_s: rate(queue_total),
            latency: queue_file,
        },
    ))
}
