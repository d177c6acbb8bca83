//! Storage figures, printed, never asserted:
//! - appends/s with fsync for 1 KB messages (and the disk's own fsynced
//!   file creations/s, to read them against);
//! - time and peak RSS to open a 100,000-message folder and list UIDs and
//!   flags, and to read every envelope's header block from the cache.
//!
//! Run: `cargo bench -p surel-maildir --bench maildir [-- APPENDS MESSAGES]`
//! (defaults 10000 100000).

use std::fs;
use std::io::Write;
use std::time::Instant;

use surel_maildir::{Mailbox, Quota};

fn message(i: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Pegawai {i} <pegawai{i}@example.go.id>\r\nTo: kepala@example.go.id\r\n\
         Subject: Laporan harian nomor {i}\r\nDate: Mon, 05 Jan 2026 09:00:00 +0700\r\n\
         Message-ID: <{i}@example.go.id>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    .into_bytes();
    while m.len() < 1024 {
        m.extend_from_slice(b"Isi laporan harian kantor pemerintah.\r\n");
    }
    m.truncate(1022);
    m.extend_from_slice(b"\r\n");
    m
}

fn peak_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    if let Some(root) = std::env::var_os("BENCH_OPEN") {
        return open_and_list(std::path::Path::new(&root));
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let appends = args.first().copied().unwrap_or(10_000);
    let big = args.get(1).copied().unwrap_or(100_000);
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();

    // The disk's limit: create, write 1 KB, fsync file, fsync directory.
    let probe = dir.path().join("probe");
    fs::create_dir(&probe).unwrap();
    let n = 1000.min(appends.max(100));
    let started = Instant::now();
    for i in 0..n {
        let mut f = fs::File::create(probe.join(i.to_string())).unwrap();
        f.write_all(&message(i)).unwrap();
        f.sync_all().unwrap();
        fs::File::open(&probe).unwrap().sync_all().unwrap();
    }
    let disk = n as f64 / started.elapsed().as_secs_f64();
    println!("disk: {disk:.0} fsynced 1 KB file creations/s (file + directory fsync)");

    let root = dir.path().join("append");
    let mut mb = Mailbox::open(&root, Quota::default()).unwrap();
    let started = Instant::now();
    for i in 0..appends {
        mb.deliver(&message(i)).unwrap();
    }
    let rate = appends as f64 / started.elapsed().as_secs_f64();
    println!(
        "append: {appends} x 1 KB with fsync: {rate:.0} messages/s ({:.2} of the disk's limit)",
        rate / disk
    );

    // A big folder, made the way a copied-in export arrives: files first,
    // then one rescan indexes them.
    let root = dir.path().join("big");
    let mut mb = Mailbox::open(&root, Quota::default()).unwrap();
    let started = Instant::now();
    for i in 0..big {
        fs::write(
            root.join("cur")
                .join(format!("{:010}.M{i}P1.bench:2,S", 1_700_000_000 + i)),
            message(i),
        )
        .unwrap();
    }
    mb.rescan("INBOX").unwrap();
    println!(
        "index: {big} messages indexed by a rescan in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(mb);

    // Measured in a fresh process, so the peak RSS is that of a session
    // opening the folder, not of this one that built it.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BENCH_OPEN", &root)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A session's view: open the mailbox, list UIDs and flags, read envelopes.
fn open_and_list(root: &std::path::Path) {
    let rss_at_start = peak_rss_kib();
    let started = Instant::now();
    let mut mb = Mailbox::open(root, Quota::default()).unwrap();
    mb.sync("INBOX").unwrap();
    let opened = started.elapsed();
    let list = mb.messages("INBOX").unwrap();
    let listed = started.elapsed();
    let seen = list.iter().filter(|m| m.flags.is_seen()).count();
    println!(
        "open {:.0} ms; list {} UIDs+flags {:.0} ms ({} seen); peak RSS {:.1} MiB (process start {:.1} MiB)",
        opened.as_secs_f64() * 1000.0,
        list.len(),
        (listed - opened).as_secs_f64() * 1000.0,
        seen,
        peak_rss_kib() as f64 / 1024.0,
        rss_at_start as f64 / 1024.0,
    );
    drop(list);
    let started = Instant::now();
    let mut bytes = 0usize;
    let mut count = 0usize;
    mb.for_each_cached("INBOX", 1, u32::MAX, |_, c| {
        bytes += c.header.len() + c.fields.subject.len() + c.fields.from.len();
        count += 1;
    })
    .unwrap();
    println!(
        "envelopes: {count} header blocks ({:.1} MiB) from the cache in {:.0} ms; peak RSS {:.1} MiB",
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64() * 1000.0,
        peak_rss_kib() as f64 / 1024.0,
    );
    let started = Instant::now();
    let scan = mb.rescan("INBOX").unwrap();
    println!(
        "full rescan of the unchanged folder (readdir + compare): {:.0} ms, {} changes",
        started.elapsed().as_secs_f64() * 1000.0,
        scan.added.len() + scan.removed.len() + scan.reflagged.len()
    );
}
