//! Logins per second (cold: each user's first; repeated: the same users
//! again, which a login cache serves) and the memory of idle IDLE
//! sessions, measured as PSS so that a multi-process server (Dovecot) and
//! a single process (surel) are counted alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::client::Imap;
use crate::stats::report;

async fn login_logout(port: u16, user: &str, password: &str) -> anyhow::Result<()> {
    let mut imap = Imap::login(port, user, password).await?;
    imap.run("LOGOUT").await?;
    Ok(())
}

/// Each of `users` logs in `rounds` times over `clients` connections at once.
async fn logins_per_s(
    port: u16,
    users: &Arc<Vec<String>>,
    password: &Arc<String>,
    clients: usize,
    rounds: usize,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let total = users.len() * rounds;
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (users, password, next) =
                (Arc::clone(users), Arc::clone(password), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return anyhow::Ok(());
                    }
                    login_logout(port, &users[n % users.len()], &password).await?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

pub async fn logins(
    port: u16,
    users: Vec<String>,
    password: String,
    clients: usize,
    rounds: usize,
    label: &str,
) -> anyhow::Result<()> {
    let (users, password) = (Arc::new(users), Arc::new(password));
    let cold = logins_per_s(port, &users, &password, clients, 1).await?;
    let repeated = logins_per_s(port, &users, &password, clients, rounds).await?;
    report(
        &format!("imap-logins {label}"),
        &[
            ("users", users.len() as f64),
            ("cold_per_s", cold),
            ("repeated_per_s", repeated),
        ],
    );
    Ok(())
}

/// PSS in KiB of every process whose name is in `names`.
pub fn pss_kib(names: &[String]) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| names.iter().any(|n| n == c.trim()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("smaps_rollup")).ok())
        .filter_map(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Pss:")?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .sum()
}

pub async fn idle_memory(
    port: u16,
    user: String,
    password: String,
    connections: usize,
    names: Vec<String>,
    label: &str,
) -> anyhow::Result<()> {
    // At rest means after a rest: the previous workload's last sessions
    // may still be closing (Dovecot's imap processes exiting, surel's
    // blocking threads giving back their memory after 1 s idle).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let at_rest = pss_kib(&names);
    let mut held = Vec::with_capacity(connections);
    let step: usize = std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    for batch in 0..connections.div_ceil(step) {
        let opening: Vec<_> = (batch * step..((batch + 1) * step).min(connections))
            .map(|_| {
                let (user, password) = (user.clone(), password.clone());
                tokio::spawn(async move {
                    let mut imap = Imap::login(port, &user, &password).await?;
                    imap.run("SELECT INBOX").await?;
                    let tag = imap.idle().await?;
                    anyhow::Ok((imap, tag))
                })
            })
            .collect();
        for t in opening {
            held.push(t.await??);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = pss_kib(&names);
    report(
        &format!("imap-idle-memory {label}"),
        &[
            ("connections", held.len() as f64),
            ("rest_kib", at_rest as f64),
            ("loaded_kib", loaded as f64),
            (
                "per_conn_kib",
                loaded.saturating_sub(at_rest) as f64 / held.len().max(1) as f64,
            ),
        ],
    );
    for (mut imap, tag) in held {
        let _ = imap.done(&tag).await;
    }
    Ok(())
}
