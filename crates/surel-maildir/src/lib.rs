//! surel-maildir owns mail on disk: Maildir++ folders under
//! `<data_dir>/mail/<domain>/<user>/`, UIDs, flags, modseq, quota, atomic
//! delivery and change notification for IDLE (SPEC §2, §7).
//!
//! It is the only code that reads or writes message files; IMAP and SMTP go
//! through [`Mailbox`]. It must not do networking, and must never
//! acknowledge a delivery before the message is fsynced.

mod deliver;
mod error;
mod filename;
pub mod flags;
mod folders;
mod mailbox;
mod messages;
pub mod names;
pub mod notify;
pub mod parse;
mod scan;
mod schema;

pub use deliver::Appended;
pub use error::{Error, QuotaResource, Result};
pub use flags::Flags;
pub use folders::{FolderInfo, Status};
pub use mailbox::{Folder, Mailbox, MessageMeta, Quota, Usage};
pub use messages::{Copied, FlagChange, Stored};
pub use notify::{Change, Event};
pub use parse::{Cached, Fields, MimePart};
pub use scan::Rescan;

use std::path::{Path, PathBuf};

/// Where an account's maildir lives: `<data_dir>/mail/<domain>/<local>/`.
pub fn mailbox_dir(data_dir: &Path, domain: &str, local: &str) -> PathBuf {
    data_dir
        .join("mail")
        .join(domain.to_lowercase())
        .join(local.to_lowercase())
}

/// Bytes used by an account's mail (0 when it has none yet).
pub fn usage(data_dir: &Path, domain: &str, local: &str) -> std::io::Result<u64> {
    fn walk(dir: &Path) -> std::io::Result<u64> {
        let mut total = 0;
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                total += walk(&entry.path())?;
            } else if kind.is_file() {
                total += entry.metadata()?.len();
            }
        }
        Ok(total)
    }
    walk(&mailbox_dir(data_dir, domain, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_sums_the_mail_files() {
        let dir = std::env::temp_dir().join(format!("surel-usage-{}", std::process::id()));
        let cur = mailbox_dir(&dir, "Example.go.id", "Budi").join("cur");
        std::fs::create_dir_all(&cur).unwrap();
        std::fs::write(cur.join("1.msg"), [0u8; 100]).unwrap();
        std::fs::create_dir_all(cur.parent().unwrap().join(".Sent/cur")).unwrap();
        std::fs::write(cur.parent().unwrap().join(".Sent/cur/2.msg"), [0u8; 50]).unwrap();
        assert_eq!(usage(&dir, "example.go.id", "budi").unwrap(), 150);
        assert_eq!(usage(&dir, "example.go.id", "nobody").unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
