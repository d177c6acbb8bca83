//! The disk's own limit: how many small files per second can be created
//! durably (write, fsync, rename into place, fsync the directory), the
//! way a maildir delivery does. SMTP figures are read against it.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

pub fn fsync_creations(dir: &Path, count: usize) -> anyhow::Result<f64> {
    let tmp = dir.join("tmp");
    let new = dir.join("new");
    fs::create_dir_all(&tmp)?;
    fs::create_dir_all(&new)?;
    let body = vec![b'x'; 1024];
    let started = Instant::now();
    for i in 0..count {
        let from = tmp.join(i.to_string());
        let mut f = File::create(&from)?;
        f.write_all(&body)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&from, new.join(i.to_string()))?;
        File::open(&new)?.sync_all()?;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    fs::remove_dir_all(dir)?;
    Ok(rate)
}
