//! QUOTA (RFC 9208): one quota root, "", holding the account's storage
//! limit. Limits are the service desk's to set (`surel user add --quota`).

use imap_next::imap_types::core::{AString, Tag};
use imap_next::imap_types::extensions::quota::{QuotaGet, Resource};
use imap_next::imap_types::response::Data;

use crate::cmd::select::storage_error;
use crate::driver::Driver;
use crate::reply;
use crate::session::{Session, blocking};

fn root() -> AString<'static> {
    AString::try_from("").expect("empty quoted string")
}

impl Session {
    /// The QUOTA response for the account, if it has a limit.
    fn quota_data(&mut self) -> Result<Option<Data<'static>>, surel_maildir::Error> {
        let Some(user) = self.user.as_mut() else {
            return Ok(None);
        };
        let Some(limit) = user.mailbox.quota().storage else {
            return Ok(None);
        };
        let used = blocking(|| user.mailbox.usage())?;
        // STORAGE is counted in units of 1024 octets (RFC 9208 §5.1).
        let quota = QuotaGet::new(Resource::Storage, used.bytes.div_ceil(1024), limit / 1024);
        Ok(Some(Data::Quota {
            root: root(),
            quotas: vec![quota].try_into().expect("one"),
        }))
    }

    /// RFC 9208 §4.3.2
    pub fn get_quota_root(&mut self, d: &mut Driver, tag: &Tag<'static>, name: &str) {
        let exists = self
            .user
            .as_mut()
            .map(|u| blocking(|| u.mailbox.folder(name)));
        let canonical = match exists {
            Some(Ok(folder)) => folder.name,
            Some(Err(e)) => {
                d.server.enqueue_status(storage_error(tag, &e));
                return;
            }
            None => return,
        };
        match self.quota_data() {
            Ok(quota) => {
                d.server.enqueue_data(Data::QuotaRoot {
                    mailbox: reply::wire_mailbox(&canonical),
                    roots: if quota.is_some() {
                        vec![root()]
                    } else {
                        vec![]
                    },
                });
                if let Some(quota) = quota {
                    d.server.enqueue_data(quota);
                }
                d.server
                    .enqueue_status(reply::ok(tag, None, "GETQUOTAROOT completed"));
            }
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
            }
        }
    }

    /// RFC 9208 §4.3.1
    pub fn get_quota(&mut self, d: &mut Driver, tag: &Tag<'static>, asked: &AString<'_>) {
        if !asked.as_ref().is_empty() {
            d.server.enqueue_status(reply::no(
                tag,
                Some(reply::code("NONEXISTENT")),
                "No such quota root",
            ));
            return;
        }
        match self.quota_data() {
            Ok(Some(quota)) => {
                d.server.enqueue_data(quota);
                d.server
                    .enqueue_status(reply::ok(tag, None, "GETQUOTA completed"));
            }
            Ok(None) => {
                d.server.enqueue_status(reply::no(
                    tag,
                    Some(reply::code("NONEXISTENT")),
                    "No quota on this account",
                ));
            }
            Err(e) => {
                d.server.enqueue_status(storage_error(tag, &e));
            }
        }
    }

    /// RFC 9208 §4.2: limits are set by the service desk, not by clients.
    pub fn set_quota(&mut self, d: &mut Driver, tag: &Tag<'static>) {
        d.server.enqueue_status(reply::no(
            tag,
            Some(reply::code("NOPERM")),
            "Quotas are set by the service desk",
        ));
    }
}
