//! Gives the memory freed after a busy spell back to the system.
//!
//! mimalloc returns freed memory to the operating system ("purges" it) once
//! it has been free for its purge delay (1 s), but only when some thread
//! next does allocator work: a thread ending, or a page given back. A
//! server that goes quiet after a burst (a FETCH of a big folder, the
//! morning's logins) has no such thread, and kept what the burst freed:
//! 72-110 MiB after the benchmark's workloads, of which about 40 were in
//! use. A thread started and ended at once does that work: as it ends,
//! mimalloc purges whatever has passed its delay. It is started only when
//! the server was quiet for the last half second: purging while busy gave
//! back memory the next command took again, page by page (a FETCH of
//! 100,000 messages repeated took 25% more CPU). (mimalloc's own
//! `mi_collect` would do this directly, but only through unsafe FFI, which
//! the workspace forbids.)
//!
//! At the start of each quiet spell, the caches kept for the next session
//! are emptied first (`release`): idle SQLite connections and mailbox
//! handles. What they hold was allocated all through the busy spell and
//! pinned the allocator's pages that the rest of it freed.

use std::time::Duration;

/// How often the server's CPU time is looked at.
const TICK: Duration = Duration::from_millis(500);
/// Quiet: at most this much CPU time (in clock ticks, normally 10 ms) in
/// the last `TICK`.
const QUIET_TICKS: u64 = 2;
/// Quiet ticks in a row after which purging stops until the next busy spell.
const QUIET_PURGES: u32 = 6;

/// Starts the checks on the current tokio runtime; they stop with it.
/// `release` is run (on a blocking thread) once at the start of every
/// quiet spell.
pub fn spawn_purger(release: impl Fn() + Send + Sync + 'static) {
    let release = std::sync::Arc::new(release);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = cpu_ticks();
        let mut quiet_for = 0u32;
        loop {
            tick.tick().await;
            let now = cpu_ticks();
            let quiet = match (last, now) {
                (Some(a), Some(b)) => b.saturating_sub(a) <= QUIET_TICKS,
                _ => false,
            };
            last = now;
            quiet_for = if quiet { quiet_for + 1 } else { 0 };
            // What the burst freed passes its delay within the first
            // seconds of quiet (idle blocking threads end after 1 s, their
            // memory 1 s later); after that nothing new is freed.
            if quiet_for == 1 {
                let release = std::sync::Arc::clone(&release);
                let _ = tokio::task::spawn_blocking(move || release()).await;
            }
            if (1..=QUIET_PURGES).contains(&quiet_for) {
                // The thread must allocate for mimalloc to set it up, and
                // so to collect when it ends. A failed spawn skips a tick.
                let _ = std::thread::Builder::new()
                    .name("surel-purge".into())
                    .stack_size(64 << 10)
                    .spawn(|| drop(std::hint::black_box(vec![0u8; 64])));
            }
        }
    });
}

/// CPU time (user + system) the whole process has used, in clock ticks.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may
    // itself contain spaces; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_cpu_time_is_read() {
        let before = super::cpu_ticks().expect("/proc/self/stat");
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(60) {
            std::hint::black_box(spin.elapsed());
        }
        let after = super::cpu_ticks().unwrap();
        assert!(after > before, "{before} -> {after}");
    }
}
