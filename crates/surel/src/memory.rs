//! Empties the caches kept for the next session when the server goes
//! quiet, so that what a busy spell freed can go back to the system.
//!
//! jemalloc's background thread gives freed memory back (1 s after it is
//! freed), but only whole pages: the idle SQLite connections and SMTP's
//! mailbox handles kept for reuse were allocated all through the busy
//! spell and held many pages that the rest of it freed. They are closed
//! at the start of each quiet spell (`release`) and opened again by the
//! next session that needs them. Not while busy: a session would open
//! them again at once.

use std::time::Duration;

/// How often the server's CPU time is looked at.
const TICK: Duration = Duration::from_millis(500);
/// Quiet: at most this much CPU time (in clock ticks, normally 10 ms) in
/// the last `TICK`.
const QUIET_TICKS: u64 = 2;

/// Starts the checks on the current tokio runtime; they stop with it.
/// `release` is run (on a blocking thread) once at the start of every
/// quiet spell.
pub fn spawn_releaser(release: impl Fn() + Send + Sync + 'static) {
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
            quiet_for = if quiet {
                quiet_for.saturating_add(1)
            } else {
                0
            };
            if quiet_for == 1 {
                let release = std::sync::Arc::clone(&release);
                let _ = tokio::task::spawn_blocking(move || release()).await;
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
