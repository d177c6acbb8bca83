//! Folder operations IMAP needs: LIST (with subscriptions, special-use and
//! children), CREATE, RENAME (with children; INBOX per RFC 9051 §6.3.6),
//! DELETE, SUBSCRIBE, STATUS.

use std::fs;

use rusqlite::params;

use crate::create;
use crate::error::{Error, Result};
use crate::mailbox::{Mailbox, make_dir, sync_dir};
use crate::names;

/// A folder as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    pub name: String,
    /// RFC 6154 attribute, e.g. `\Sent`.
    pub special_use: Option<&'static str>,
    pub subscribed: bool,
    pub has_children: bool,
}

/// STATUS counters (RFC 9051 §6.3.11, RFC 7162, RFC 8438).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    pub messages: u32,
    pub unseen: u32,
    pub deleted: u32,
    pub uidnext: u32,
    pub uidvalidity: u32,
    pub highestmodseq: u64,
    /// Sum of RFC822.SIZE.
    pub size: u64,
}

impl Mailbox {
    /// Every folder, after adding any that other tools created on disk.
    pub fn list(&mut self) -> Result<Vec<FolderInfo>> {
        self.discover_folders()?;
        let mut stmt = self
            .db()?
            .prepare("SELECT name, subscribed FROM folders ORDER BY name = 'INBOX' DESC, name")?;
        let rows: Vec<(String, bool)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
        Ok(rows
            .iter()
            .map(|(name, subscribed)| FolderInfo {
                special_use: names::special_use(name),
                has_children: names.iter().any(|n| {
                    n.len() > name.len() + 1
                        && n.starts_with(name.as_str())
                        && n.as_bytes()[name.len()] == b'/'
                }),
                subscribed: *subscribed,
                name: name.clone(),
            })
            .collect())
    }

    /// Indexes `.Name` directories that are not known yet (a copied-in
    /// Dovecot or Zimbra export, another tool).
    fn discover_folders(&mut self) -> Result<()> {
        let entries = fs::read_dir(&self.root).map_err(Error::io(&self.root))?;
        for entry in entries {
            let entry = entry.map_err(Error::io(&self.root))?;
            let Some(dir) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            if let Some(name) = names::from_disk_name(&dir)
                && names::disk_name(&name) == dir
                && self.find_folder(&name)?.is_none()
            {
                self.ensure_folder(&name)?;
            }
        }
        Ok(())
    }

    /// Creates a folder and any missing parents (RFC 9051 §6.3.4).
    pub fn create_folder(&mut self, name: &str) -> Result<()> {
        let name = names::canonical(name)?;
        if self.find_folder(&name)?.is_some() {
            return Err(Error::FolderExists(name));
        }
        let mut path = String::new();
        for part in name.split('/') {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(part);
            if self.find_folder(&path)?.is_none() {
                self.ensure_folder(&path)?;
                create::sync_folder(&self.root, &path)?;
            }
        }
        sync_dir(&self.root)
    }

    /// Renames a folder with its children; renaming INBOX moves its
    /// messages into a new folder and leaves INBOX empty.
    pub fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        let source = self.folder(from)?;
        let to = names::canonical(to)?;
        if self.find_folder(&to)?.is_some() {
            return Err(Error::FolderExists(to));
        }
        if to == "INBOX" || to.starts_with(&format!("{}/", source.name)) {
            return Err(Error::NotAllowed(format!(
                "cannot rename {} to {to}",
                source.name
            )));
        }
        if source.name == "INBOX" {
            self.create_folder(&to)?;
            let uids: Vec<u32> = self.messages("INBOX")?.iter().map(|m| m.uid).collect();
            self.move_messages("INBOX", &uids, &to)?;
            return Ok(());
        }
        // Parents of the new name, as CREATE would make them.
        if let Some((parent, _)) = to.rsplit_once('/')
            && self.find_folder(parent)?.is_none()
        {
            self.create_folder(parent)?;
        }
        let prefix = format!("{}/", source.name);
        let moving: Vec<String> = self
            .list()?
            .into_iter()
            .map(|f| f.name)
            .filter(|n| *n == source.name || n.starts_with(&prefix))
            .collect();
        let mut done: Vec<(String, String)> = Vec::new();
        for old in &moving {
            let new = format!("{to}{}", &old[source.name.len()..]);
            names::validate(&new)?;
            let (a, b) = (self.folder_dir(old), self.folder_dir(&new));
            if let Err(e) = fs::rename(&a, &b) {
                for (o, n) in done.iter().rev() {
                    let _ = fs::rename(self.folder_dir(n), self.folder_dir(o));
                }
                return Err(Error::io(a)(e));
            }
            done.push((old.clone(), new));
        }
        sync_dir(&self.root)?;
        self.write(|tx| {
            for (old, new) in &done {
                tx.execute(
                    "UPDATE folders SET name = ?2 WHERE name = ?1",
                    params![old, new],
                )?;
            }
            Ok(())
        })
    }

    /// Deletes a folder and its messages. INBOX, and folders that still
    /// have children, cannot be deleted.
    pub fn delete_folder(&mut self, name: &str) -> Result<()> {
        let folder = self.folder(name)?;
        if folder.name == "INBOX" {
            return Err(Error::NotAllowed("INBOX cannot be deleted".into()));
        }
        if self
            .list()?
            .iter()
            .any(|f| f.name == folder.name && f.has_children)
        {
            return Err(Error::NotAllowed(format!(
                "{} has subfolders: delete them first",
                folder.name
            )));
        }
        // Move it out of sight first (one rename), then forget it, then
        // remove the files: a crash in between leaves only garbage in tmp.
        let dir = self.folder_dir(&folder.name);
        let trash = self
            .root
            .join("tmp")
            .join(format!(".deleting-{}", crate::filename::new_base(0, 0)));
        make_dir(&self.root.join("tmp"))?;
        fs::rename(&dir, &trash).map_err(Error::io(&dir))?;
        self.db()?
            .execute("DELETE FROM folders WHERE id = ?1", [folder.id])?;
        let _ = fs::remove_dir_all(&trash);
        Ok(())
    }

    pub fn subscribe(&mut self, name: &str, subscribed: bool) -> Result<()> {
        let folder = self.folder(name)?;
        self.db()?.execute(
            "UPDATE folders SET subscribed = ?2 WHERE id = ?1",
            params![folder.id, subscribed],
        )?;
        Ok(())
    }

    pub fn status(&self, name: &str) -> Result<Status> {
        let f = self.folder(name)?;
        let (messages, unseen, deleted, size): (i64, i64, i64, i64) = self
            .db()?
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(sys & 1 = 0), 0), COALESCE(SUM(sys & 8 <> 0), 0), COALESCE(SUM(vsize), 0)
                 FROM messages WHERE folder_id = ?1",
            )?
            .query_row([f.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(Status {
            messages: messages as u32,
            unseen: unseen as u32,
            deleted: deleted as u32,
            uidnext: f.uidnext,
            uidvalidity: f.uidvalidity,
            highestmodseq: f.highestmodseq,
            size: size as u64,
        })
    }
}
