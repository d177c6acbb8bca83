//! The outbound queue (RFC 5321 §4.5.4): messages for other domains wait
//! here on disk until delivered, bounced or dropped.
//!
//! Each message is two files in `<data_dir>/queue/`: `<id>.eml` (the
//! message, fsynced) and `<id>.json` (envelope and delivery state, replaced
//! atomically). A message exists for the queue once its `.json` does; the
//! `.eml` is always written and fsynced first, so a crash never leaves an
//! entry without its message. The SMTP session answers 250 only after both
//! are on disk.

pub mod bounce;
pub mod outbound;
pub mod runner;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where one recipient stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum RcptStatus {
    Pending,
    Delivered,
    /// Refused for good (5xx, or the queue lifetime ran out).
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRcpt {
    pub address: String,
    pub status: RcptStatus,
    /// DSN NOTIFY (RFC 3461) as smtp-proto flags; 0 when not given.
    #[serde(default)]
    pub notify: u64,
}

/// A queued message's envelope and delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// Envelope sender; "" is the null sender (bounces).
    pub sender: String,
    pub recipients: Vec<QueuedRcpt>,
    /// Seconds since the epoch.
    pub created: i64,
    pub attempts: u32,
    pub next_try: i64,
    pub last_error: Option<String>,
    #[serde(default)]
    pub delay_notified: bool,
    /// DSN RET=HDRS: bounces carry only the header.
    #[serde(default)]
    pub ret_headers_only: bool,
    #[serde(default)]
    pub size: u64,
}

impl Entry {
    pub fn pending(&self) -> impl Iterator<Item = &QueuedRcpt> {
        self.recipients
            .iter()
            .filter(|r| r.status == RcptStatus::Pending)
    }
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The queue directory and its files.
#[derive(Debug, Clone)]
pub struct QueueStore {
    dir: PathBuf,
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Queue ids: time-ordered and unique, safe as file names.
pub fn new_id() -> String {
    use rand::Rng;
    format!(
        "{:011X}{:05X}",
        now(),
        rand::rng().random::<u32>() & 0xFFFFF
    )
}

impl QueueStore {
    pub fn open(data_dir: &Path) -> std::io::Result<QueueStore> {
        let dir = data_dir.join("queue");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        Ok(QueueStore { dir })
    }

    fn eml(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.eml"))
    }

    fn json(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Stores a message for `recipients`; returns once it is on disk.
    pub fn enqueue(
        &self,
        sender: &str,
        recipients: &[(String, u64)],
        message: &[u8],
        ret_headers_only: bool,
    ) -> std::io::Result<Entry> {
        let id = new_id();
        write_atomically(&self.eml(&id), message)?;
        let entry = Entry {
            id: id.clone(),
            sender: sender.to_string(),
            recipients: recipients
                .iter()
                .map(|(address, notify)| QueuedRcpt {
                    address: address.clone(),
                    status: RcptStatus::Pending,
                    notify: *notify,
                })
                .collect(),
            created: now(),
            attempts: 0,
            next_try: now(),
            last_error: None,
            delay_notified: false,
            ret_headers_only,
            size: message.len() as u64,
        };
        self.save(&entry)?;
        sync_dir(&self.dir)?;
        Ok(entry)
    }

    pub fn save(&self, entry: &Entry) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?;
        write_atomically(&self.json(&entry.id), &json)
    }

    pub fn message(&self, id: &str) -> std::io::Result<Vec<u8>> {
        fs::read(self.eml(id))
    }

    pub fn load(&self, id: &str) -> std::io::Result<Entry> {
        let bytes = fs::read(self.json(id))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }

    /// Every entry, oldest first; unreadable ones are skipped with a warning.
    pub fn list(&self) -> std::io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for item in fs::read_dir(&self.dir)? {
            let path = item?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Some(id) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            match self.load(id) {
                Ok(entry) => entries.push(entry),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable queue entry")
                }
            }
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    /// Forgets a message (delivered, bounced or dropped).
    pub fn remove(&self, id: &str) -> std::io::Result<()> {
        fs::remove_file(self.json(id))?;
        let _ = fs::remove_file(self.eml(id));
        sync_dir(&self.dir)
    }

    /// Makes a message due now (`surel queue retry`).
    pub fn retry_now(&self, id: &str) -> std::io::Result<()> {
        let mut entry = self.load(id)?;
        entry.next_try = now();
        self.save(&entry)
    }

    /// Removes message files without an entry (a crash between the two
    /// writes of `enqueue`: never acknowledged) and stale temporary files.
    pub fn clean(&self) -> std::io::Result<()> {
        for item in fs::read_dir(&self.dir)? {
            let path = item?.path();
            let orphan = match path.extension().and_then(|e| e.to_str()) {
                Some("eml") => !path.with_extension("json").exists(),
                Some("tmp") => true,
                _ => false,
            };
            let old = fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default().as_secs() > 3600);
            if orphan && old {
                let _ = fs::remove_file(&path);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_orphans_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let q = QueueStore::open(dir.path()).unwrap();
        let e = q
            .enqueue(
                "budi@a.go.id",
                &[("x@b.org".into(), 0)],
                b"Subject: x\r\n\r\nhi\r\n",
                false,
            )
            .unwrap();
        assert_eq!(q.list().unwrap(), vec![e.clone()]);
        assert_eq!(q.message(&e.id).unwrap(), b"Subject: x\r\n\r\nhi\r\n");
        fs::write(dir.path().join("queue/ORPHAN.eml"), b"half").unwrap();
        assert_eq!(
            q.list().unwrap().len(),
            1,
            "a message without entry is not queued"
        );
        q.remove(&e.id).unwrap();
        assert!(q.list().unwrap().is_empty());
    }
}
