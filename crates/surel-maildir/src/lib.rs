//! surel-maildir owns mail on disk: Maildir++ folders under
//! `<data_dir>/mail/<domain>/<user>/`, UIDs, flags, modseq, quota, atomic
//! delivery and change notification for IDLE (SPEC §2, §7).
//!
//! It is the only code that reads or writes message files; IMAP and SMTP go
//! through [`Mailbox`]. It must not do networking, and must never
//! acknowledge a delivery before the message is fsynced.

mod checkpoint;
mod conns;
mod create;
mod deliver;
mod envelope;
mod error;
mod filename;
pub mod flags;
mod folders;
mod mailbox;
mod messages;
pub mod names;
pub mod notify;
pub mod parse;
mod pool;
mod scan;
mod schema;
mod staged;

pub use deliver::Appended;
pub use envelope::{Envelope, EnvelopeAddress};
pub use error::{Error, QuotaResource, Result};
pub use flags::Flags;
pub use folders::{FolderInfo, Status};
pub use mailbox::{Folder, Mailbox, MessageMeta, Quota, Usage};
pub use messages::{CacheParts, Copied, FlagChange, Stored};
pub use notify::{Change, Event};
pub use parse::{Cached, Fields, MimePart};
pub use pool::Pool;
pub use scan::Rescan;

use std::path::{Path, PathBuf};

/// Frees what is kept between sessions for the next one: idle index
/// connections (each with its page cache and prepared statements), and
/// the change channels and writer locks of mailboxes nobody has open. For
/// a server gone quiet; the next session opens what it needs again.
pub fn release_idle() {
    conns::close_idle();
    notify::forget_unused();
}

/// Where an account's maildir lives: `<data_dir>/mail/<domain>/<local>/`.
pub fn mailbox_dir(data_dir: &Path, domain: &str, local: &str) -> PathBuf {
    data_dir
        .join("mail")
        .join(domain.to_lowercase())
        .join(local.to_lowercase())
}

/// What an account's mail uses, from its index (zero before its first mail).
pub fn usage(data_dir: &Path, domain: &str, local: &str) -> Result<Usage> {
    let dir = mailbox_dir(data_dir, domain, local);
    if !dir.join(schema::INDEX_FILE).exists() {
        return Ok(Usage::default());
    }
    Mailbox::open(&dir, Quota::default())?.usage()
}
