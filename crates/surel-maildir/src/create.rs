//! A new account's maildir and index, made whole before anyone sees them.
//!
//! Built in place, the index cost a first login nine fsyncs: SQLite's
//! rollback journal to switch the new file to WAL, the WAL's creation and
//! one commit each for the schema, the standard folders and the boot id.
//! Now it is built in `tmp/` with neither journal nor fsync, fsynced once
//! and linked into place, its directory fsynced: two. Linking never
//! replaces: of sessions making one account's index at the same moment,
//! the first link wins and the others open that one. An index is only
//! ever seen complete, with every folder it names already made.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::mailbox::{make_folder_dirs, now_secs, sync_dir, touch_private};
use crate::{filename, names, schema};

/// Makes `name`'s directories in the maildir at `root`.
pub(crate) fn make_folder(root: &Path, name: &str) -> Result<()> {
    let dir = root.join(names::disk_name(name));
    make_folder_dirs(&dir)?;
    if name != "INBOX" {
        // The Maildir++ marker other tools look for.
        touch_private(&dir.join("maildirfolder"))?;
    }
    Ok(())
}

/// Makes the directories of folder `name`, made by `make_folder`, durable
/// (all but their entry in `root`, which the caller syncs once). Until
/// then the first message fsynced into the folder would write them out
/// (ext4 without a journal syncs a new file's new parents with it) and
/// answer its APPEND a millisecond late; and a crash could lose a folder
/// whose CREATE was answered OK.
pub(crate) fn sync_folder(root: &Path, name: &str) -> Result<()> {
    let dir = root.join(names::disk_name(name));
    for sub in ["cur", "new", "tmp"] {
        sync_dir(&dir.join(sub))?;
    }
    sync_dir(&dir)
}

/// Adds index rows for the folders `names`, each with a UIDVALIDITY above
/// every other one.
pub(crate) fn insert_folders(tx: &rusqlite::Transaction<'_>, names: &[&str]) -> Result<()> {
    for name in names {
        let last: Option<i64> =
            tx.query_row("SELECT MAX(uidvalidity) FROM folders", [], |r| r.get(0))?;
        let uidvalidity = now_secs().max(last.unwrap_or(0) + 1).min(u32::MAX as i64);
        tx.execute(
            "INSERT OR IGNORE INTO folders (name, uidvalidity) VALUES (?1, ?2)",
            rusqlite::params![name, uidvalidity],
        )?;
    }
    Ok(())
}

/// Makes the maildir at `root` with the folders `names` and, unless
/// another session got there first, its index `index` recording them and
/// this `boot`.
pub(crate) fn create(root: &Path, index: &Path, names: &[&str], boot: &str) -> Result<()> {
    for name in names {
        make_folder(root, name)?;
    }
    // A name no other thread or process picks; debris of an interrupted
    // creation is cleared from tmp/ like any other (see `scan`).
    let tmp = root.join("tmp").join(format!(
        "{}.{}",
        schema::INDEX_FILE,
        filename::new_base(0, 0)
    ));
    let built = build(&tmp, names, boot).and_then(|()| {
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(Error::io(&tmp))
    });
    let linked = built.and_then(|()| match fs::hard_link(&tmp, index) {
        Ok(()) => sync_dir(root),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io(index)(e)),
    });
    let _ = fs::remove_file(&tmp);
    linked
}

/// Writes the whole index into the new file `tmp`, in WAL mode as every
/// connection expects it.
fn build(tmp: &Path, names: &[&str], boot: &str) -> Result<()> {
    // SQLite gives a file it makes mode 0644 and its WAL the file's mode.
    touch_private(tmp)?;
    let mut db = Connection::open(tmp)?;
    // Nobody else can see the file, and it is fsynced whole before it is
    // linked in: a journal or a sync per commit would buy nothing.
    db.pragma_update_and_check(None, "journal_mode", "OFF", |_| Ok(()))?;
    db.pragma_update(None, "synchronous", "OFF")?;
    schema::migrate(&mut db)?;
    let tx = db.transaction()?;
    insert_folders(&tx, names)?;
    tx.execute("INSERT INTO meta (key, value) VALUES ('boot', ?1)", [boot])?;
    tx.commit()?;
    db.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
    db.close().map_err(|(_, e)| e.into())
}
