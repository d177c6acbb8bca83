//! One user's mail: the Maildir++ tree under `<data_dir>/mail/<domain>/<user>/`
//! and its index. Each session or delivery opens its own [`Mailbox`]; they
//! coordinate through SQLite transactions on the shared index and learn of
//! each other's changes through [`crate::notify`].
//!
//! Invariants:
//! - a message file is complete and fsynced before the index names it, and
//!   its directory entry is fsynced before the message is acknowledged;
//! - UIDs in a folder only grow and are never reused while its UIDVALIDITY
//!   stands (UIDNEXT is kept in the index, not derived from the messages);
//! - every path is built from a validated folder name (see `names`), so
//!   nothing reaches outside `root`.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::broadcast;

use crate::checkpoint;
use crate::conns;
use crate::create;
use crate::error::{Error, Result};
use crate::flags::Flags;
use crate::names;
use crate::notify::{self, Change, Event};
use crate::schema;

/// Limits of RFC 9208: bytes (STORAGE) and number of messages (MESSAGE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub storage: Option<u64>,
    pub messages: Option<u64>,
}

/// What an account uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub messages: u64,
}

/// A folder as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub(crate) id: i64,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highestmodseq: u64,
    pub subscribed: bool,
}

/// One message's metadata from the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    pub flags: Flags,
    pub modseq: u64,
    /// INTERNALDATE, seconds since the epoch.
    pub internal_date: i64,
    /// RFC822.SIZE: bytes with CRLF line ends.
    pub size: u64,
    /// Bytes as stored on disk (differs for LF-only imports).
    pub(crate) stored_size: u64,
    pub(crate) base: String,
    pub(crate) in_new: bool,
}

pub struct Mailbox {
    pub(crate) root: PathBuf,
    /// The index connection; None while parked (see `park`).
    pub(crate) conn: Option<Connection>,
    pub(crate) quota: Quota,
    pub(crate) changes: broadcast::Sender<Change>,
    /// Taken around every write transaction (see `notify::writer_lock`).
    pub(crate) writer: std::sync::Arc<std::sync::Mutex<()>>,
    /// The index file's inode when opened (see `index_is_current`).
    pub(crate) index_inode: u64,
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.park();
    }
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox").field("root", &self.root).finish()
    }
}

/// Creates `dir` with mode 0700 if it is missing.
pub(crate) fn make_dir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(Error::io(dir)(e)),
    }
}

/// Creates `file` (mode 0600) if missing, leaving its contents alone.
pub(crate) fn touch_private(file: &Path) -> Result<()> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .map(drop)
        .map_err(Error::io(file))
}

/// Makes a folder's `cur`, `new` and `tmp`.
pub(crate) fn make_folder_dirs(dir: &Path) -> Result<()> {
    for sub in ["cur", "new", "tmp"] {
        make_dir(&dir.join(sub))?;
    }
    Ok(())
}

/// An index connection as every handle uses it, to the index file
/// `index` with inode `inode`.
fn connect(index: &Path, inode: u64) -> Result<Connection> {
    configure(Connection::open(index)?, index, inode)
}

/// As `connect`, but fails rather than make the file when it is gone.
pub(crate) fn connect_existing(index: &Path, inode: u64) -> Result<Connection> {
    let flags = rusqlite::OpenFlags::default().difference(rusqlite::OpenFlags::SQLITE_OPEN_CREATE);
    configure(Connection::open_with_flags(index, flags)?, index, inode)
}

fn configure(mut db: Connection, index: &Path, inode: u64) -> Result<Connection> {
    db.busy_timeout(Duration::from_secs(30))?;
    set_wal(&db)?;
    db.pragma_update(None, "synchronous", "FULL")?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    // Every IMAP session holds a connection: keep its page cache small
    // (the OS caches the file anyway).
    db.pragma_update(None, "cache_size", -256)?;
    // When the last connection to an index closed (an IMAP LOGOUT, or IDLE
    // parking its session), SQLite checkpointed and deleted the WAL, and the
    // next session's first write created it again: four extra fsyncs (WAL
    // and database at close; WAL header and its directory at creation) in
    // every session that changed anything. The WAL now stays between
    // sessions and is checkpointed as it grows (see `checkpoint`).
    db.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    checkpoint::watch(&mut db, index, inode)?;
    Ok(db)
}

/// Whether `path` is (still) the file with inode `inode`.
pub(crate) fn is_file_with_inode(path: &Path, inode: u64) -> bool {
    fs::metadata(path).is_ok_and(|m| m.ino() == inode)
}

/// A kept connection to the index file `index` (inode `inode`) if there is
/// one (see `conns`), else a new one.
fn index_connection(index: &Path, inode: u64) -> Result<Connection> {
    match conns::take(index, inode) {
        Some(conn) => Ok(conn),
        None => connect(index, inode),
    }
}

/// Puts the index in WAL mode (it stays so). Switching needs the database
/// to itself, and SQLite answers BUSY at once rather than waiting when
/// other sessions open the same new index at that moment: try again.
fn set_wal(db: &Connection) -> Result<()> {
    let mut tries = 0;
    loop {
        let mode: rusqlite::Result<String> =
            db.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0));
        match mode {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 500 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// fsynced (`synchronous = FULL`), as every connection is set.
    Synced,
    /// Not fsynced (`synchronous = NORMAL`): only for changes the files on
    /// disk can rebuild after a system crash (see `deliver`), or followed
    /// by `Mailbox::sync_wal` before anyone relies on them.
    Unsynced,
}

/// Runs `work` in one write transaction on `conn` and commits it. The
/// caller holds the writer's turn.
pub(crate) fn commit<T>(
    conn: &mut Connection,
    durability: Durability,
    work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let unsynced = durability == Durability::Unsynced;
    if unsynced {
        // Only settable outside a transaction.
        conn.prepare_cached("PRAGMA synchronous = NORMAL")?
            .execute([])?;
    }
    let result = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(Error::from)
        .and_then(|tx| {
            let out = work(&tx)?;
            tx.commit()?;
            Ok(out)
        });
    if unsynced {
        conn.prepare_cached("PRAGMA synchronous = FULL")?
            .execute([])?;
    }
    result
}

/// This kernel boot's random id (Linux; empty elsewhere, where every open
/// then counts as the same boot).
fn boot_id() -> &'static str {
    static BOOT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|id| id.trim().to_string())
            .unwrap_or_default()
    })
}

/// fsyncs a directory, so a rename or create in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

pub(crate) const META_COLUMNS: &str =
    "uid, sys, keywords, modseq, internal_date, vsize, size, base, in_new";

pub(crate) fn meta_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageMeta> {
    meta_row_at(r, 0)
}

/// A `META_COLUMNS` row whose first column is at `at`.
pub(crate) fn meta_row_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<MessageMeta> {
    let sys: u8 = r.get(at + 1)?;
    let keywords: String = r.get(at + 2)?;
    Ok(MessageMeta {
        uid: r.get(at)?,
        flags: Flags::from_parts(sys, &keywords),
        modseq: r.get::<_, i64>(at + 3)? as u64,
        internal_date: r.get(at + 4)?,
        size: r.get::<_, i64>(at + 5)? as u64,
        stored_size: r.get::<_, i64>(at + 6)? as u64,
        base: r.get(at + 7)?,
        in_new: r.get(at + 8)?,
    })
}

/// All messages of the folder `folder_id`, in UID order.
pub(crate) fn folder_messages(db: &Connection, folder_id: i64) -> Result<Vec<MessageMeta>> {
    let mut stmt = db.prepare_cached(&format!(
        "SELECT {META_COLUMNS} FROM messages WHERE folder_id = ?1 ORDER BY uid"
    ))?;
    let rows = stmt
        .query_map([folder_id], meta_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

impl MessageMeta {
    /// True when the file has CRLF line ends (as surel writes them); LF-only
    /// files (some imports) must be converted when served over IMAP.
    pub fn is_crlf(&self) -> bool {
        self.stored_size == self.size
    }
}

impl Mailbox {
    /// Opens the mailbox at `root`, creating the maildir, its index and the
    /// special-use folders (Sent, Drafts, Junk, Trash, Archive) when missing.
    pub fn open(root: &Path, quota: Quota) -> Result<Mailbox> {
        let standard: Vec<&str> = std::iter::once("INBOX")
            .chain(names::SPECIAL.iter().map(|(name, _)| *name))
            .collect();
        let index = root.join(schema::INDEX_FILE);
        // With a log left from an index that was removed (the WAL stays
        // between sessions), SQLite would replay it onto a new index that
        // has pages; onto an empty one made in place it drops it.
        let stale_wal = root.join(format!("{}-wal", schema::INDEX_FILE)).exists();
        if !index.exists() && !stale_wal {
            create::create(root, &index, &standard, boot_id())?;
        }
        make_folder_dirs(root)?;
        touch_private(&index)?;
        fs::set_permissions(&index, fs::Permissions::from_mode(0o600))
            .map_err(Error::io(&index))?;
        let index_inode = fs::metadata(&index).map_err(Error::io(&index))?.ino();
        let mut db = index_connection(&index, index_inode)?;
        schema::migrate(&mut db)?;
        let mut mailbox = Mailbox {
            index_inode,
            changes: notify::sender(root),
            writer: notify::writer_lock(root),
            root: root.to_path_buf(),
            conn: Some(db),
            quota,
        };
        mailbox.ensure_folders(&standard)?;
        mailbox.recover_after_reboot()?;
        Ok(mailbox)
    }

    /// New messages are indexed without fsync (see `deliver`), so an
    /// operating-system crash or power loss, and only that, can cost the
    /// index its last commits while their files are safe on disk. Those
    /// always lie between two boots: the first open in a new boot rescans
    /// every folder, which indexes them again under the UIDs their file
    /// names record, before anything can take those UIDs. One query
    /// otherwise.
    fn recover_after_reboot(&mut self) -> Result<()> {
        let boot = boot_id();
        let last: Option<String> = self
            .db()?
            .prepare_cached("SELECT value FROM meta WHERE key = 'boot'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        if last.as_deref() == Some(boot) {
            return Ok(());
        }
        // A new index has nothing to recover; one made by a release
        // before unsynced commits has nothing lost.
        if last.is_some() {
            let folders: Vec<String> = self
                .db()?
                .prepare("SELECT name FROM folders")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for name in folders {
                let found = self.rescan(&name)?;
                if !found.added.is_empty() {
                    tracing::warn!(root = %self.root.display(), folder = %name, messages = found.added.len(),
                        "indexed again after a system crash: messages whose index entry was not yet on disk");
                }
            }
        }
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('boot', ?1)",
                [boot],
            )?;
            Ok(())
        })
    }

    /// Lets go of the index connection while the session only waits (IMAP
    /// IDLE): an open SQLite connection costs ~35 KiB (schema, lookaside,
    /// page cache), most of an idle session's memory. A few are kept open
    /// for the next handle (see `conns`); the rest close. Until `unpark`,
    /// every operation fails with `Error::Parked`; change notifications
    /// still arrive.
    pub fn park(&mut self) {
        if let Some(conn) = self.conn.take() {
            conns::give_back(&self.root.join(schema::INDEX_FILE), self.index_inode, conn);
        }
    }

    /// Opens the index connection again after `park` (a no-op otherwise).
    pub fn unpark(&mut self) -> Result<()> {
        if self.conn.is_none() {
            let index = self.root.join(schema::INDEX_FILE);
            self.conn = Some(index_connection(&index, self.index_inode)?);
        }
        Ok(())
    }

    /// Runs `f` in this user's writer turn (see `notify::writer_lock`)
    /// with the index connection, for writes that span more than one
    /// transaction or file changes after a commit.
    pub(crate) fn with_turn<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        let writer = std::sync::Arc::clone(&self.writer);
        let _turn = writer.lock().unwrap_or_else(|p| p.into_inner());
        f(self.conn.as_mut().ok_or(Error::Parked)?)
    }

    /// Runs `work` in one write transaction, in this user's writer turn,
    /// and commits it with fsync.
    pub(crate) fn write<T>(
        &mut self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        self.with_turn(|conn| commit(conn, Durability::Synced, work))
    }

    /// fsyncs the index's write-ahead log: makes commits made `Unsynced`
    /// before it durable.
    pub(crate) fn sync_wal(&self) -> Result<()> {
        let wal = self.root.join(format!("{}-wal", schema::INDEX_FILE));
        match fs::File::open(&wal).and_then(|f| f.sync_data()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(wal)(e)),
            _ => Ok(()),
        }
    }

    pub(crate) fn db(&self) -> Result<&Connection> {
        self.conn.as_ref().ok_or(Error::Parked)
    }

    /// Holds one read snapshot of the index until the guard drops: many
    /// reads in a row (SEARCH over a folder) then share one lock instead of
    /// taking one each. Nothing that writes may run while it is held.
    pub fn snapshot(&self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self.db()?.unchecked_transaction()?)
    }

    /// Whether the index this handle has open is still the one at its
    /// path (not removed, or removed and made again, since it was opened).
    pub fn index_is_current(&self) -> bool {
        is_file_with_inode(&self.root.join(schema::INDEX_FILE), self.index_inode)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn set_quota(&mut self, quota: Quota) {
        self.quota = quota;
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Changes made by any session of this user, from now on.
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    pub(crate) fn notify(&self, folder: &str, event: Event) {
        let _ = self.changes.send(Change {
            folder: folder.to_string(),
            event,
        });
    }

    /// The directory of a canonical folder name.
    pub(crate) fn folder_dir(&self, name: &str) -> PathBuf {
        self.root.join(names::disk_name(name))
    }

    /// The current path of a message file.
    pub(crate) fn message_path(&self, folder: &str, meta: &MessageMeta) -> PathBuf {
        message_path_in(&self.root, folder, meta)
    }
}

/// The current path of a message file in the maildir at `root`.
pub(crate) fn message_path_in(root: &Path, folder: &str, meta: &MessageMeta) -> PathBuf {
    let dir = root.join(names::disk_name(folder));
    if meta.in_new {
        dir.join("new").join(&meta.base)
    } else {
        dir.join("cur")
            .join(format!("{}:2,{}", meta.base, meta.flags.maildir_letters()))
    }
}

impl Mailbox {
    /// Makes a folder (directories and index row) unless it exists.
    pub(crate) fn ensure_folder(&mut self, name: &str) -> Result<Folder> {
        if let Some(folder) = self.find_folder(name)? {
            return Ok(folder);
        }
        self.ensure_folders(&[name])?;
        self.find_folder(name)?
            .ok_or_else(|| Error::NoSuchFolder(name.to_string()))
    }

    /// Makes the folders of `names` that do not exist yet, in one index
    /// commit: a new account's six standard folders cost one fsync, not six.
    fn ensure_folders(&mut self, names: &[&str]) -> Result<()> {
        let mut missing = Vec::new();
        for &name in names {
            if self.find_folder(name)?.is_none() {
                missing.push(name);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        for &name in &missing {
            create::make_folder(&self.root, name)?;
        }
        self.write(|tx| create::insert_folders(tx, &missing))
    }

    pub(crate) fn find_folder(&self, canonical: &str) -> Result<Option<Folder>> {
        Ok(self
            .db()?
            .prepare_cached(
                "SELECT id, name, uidvalidity, uidnext, highestmodseq, subscribed FROM folders WHERE name = ?1",
            )?
            .query_row(
                [canonical],
                |r| {
                    Ok(Folder {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        uidvalidity: r.get::<_, i64>(2)? as u32,
                        uidnext: r.get::<_, i64>(3)? as u32,
                        highestmodseq: r.get::<_, i64>(4)? as u64,
                        subscribed: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// The folder a client's name refers to (any case of INBOX, other
    /// clients' names for the special folders).
    pub fn folder(&self, name: &str) -> Result<Folder> {
        let canonical = names::canonical(name)?;
        if let Some(folder) = self.find_folder(&canonical)? {
            return Ok(folder);
        }
        // "Sent Items" maps to "Sent" unless a real "Sent Items" exists.
        if canonical != name
            && let Some(folder) = self.find_folder(name)?
        {
            return Ok(folder);
        }
        Err(Error::NoSuchFolder(name.to_string()))
    }

    /// All messages of a folder, in UID order.
    pub fn messages(&self, folder: &str) -> Result<Vec<MessageMeta>> {
        let f = self.folder(folder)?;
        folder_messages(self.db()?, f.id)
    }

    /// One message's metadata.
    pub fn message(&self, folder: &str, uid: u32) -> Result<MessageMeta> {
        let f = self.folder(folder)?;
        self.meta(f.id, uid)?.ok_or(Error::NoSuchMessage(uid))
    }

    pub(crate) fn meta(&self, folder_id: i64, uid: u32) -> Result<Option<MessageMeta>> {
        let mut stmt = self.db()?.prepare_cached(&format!(
            "SELECT {META_COLUMNS} FROM messages WHERE folder_id = ?1 AND uid = ?2"
        ))?;
        Ok(stmt
            .query_row(rusqlite::params![folder_id, uid], meta_row)
            .optional()?)
    }

    /// Bytes and messages stored over all folders.
    pub fn usage(&self) -> Result<Usage> {
        let (bytes, messages): (i64, i64) = self.db()?.query_row(
            "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Usage {
            bytes: bytes as u64,
            messages: messages as u64,
        })
    }

    /// Refuses adding `messages` totalling `bytes` beyond the quota.
    pub(crate) fn check_quota(&self, bytes: u64, messages: u64) -> Result<()> {
        if self.quota == Quota::default() {
            return Ok(());
        }
        let used = self.usage()?;
        if self
            .quota
            .storage
            .is_some_and(|limit| used.bytes + bytes > limit)
        {
            return Err(Error::OverQuota {
                resource: crate::error::QuotaResource::Storage,
            });
        }
        if self
            .quota
            .messages
            .is_some_and(|limit| used.messages + messages > limit)
        {
            return Err(Error::OverQuota {
                resource: crate::error::QuotaResource::Message,
            });
        }
        Ok(())
    }
}
