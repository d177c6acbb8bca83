//! `Mailbox` over real files and a real index: layout, delivery, flags,
//! copy/move/expunge, folders, names, Dovecot exports, rescans, quota,
//! notification, and many writers with many readers.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use surel_maildir::*;

const MSG: &[u8] = b"From: Budi <budi@example.go.id>\r\nTo: siti@example.go.id\r\nSubject: Rapat\r\nMessage-ID: <m1@example.go.id>\r\n\r\nRapat jam 9.\r\n";

fn open(dir: &Path) -> Mailbox {
    Mailbox::open(dir, Quota::default()).unwrap()
}

fn listing(dir: &Path, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join(sub))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_new_mailbox_has_inbox_and_the_special_folders() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = open(dir.path());
    for sub in [
        "cur",
        "new",
        "tmp",
        ".Sent/cur",
        ".Drafts/new",
        ".Junk/tmp",
        ".Trash/cur",
        ".Archive/cur",
    ] {
        assert!(dir.path().join(sub).is_dir(), "{sub}");
    }
    assert!(dir.path().join(".Sent/maildirfolder").is_file());
    let index = dir.path().join("surel-index.sqlite");
    assert_eq!(
        fs::metadata(&index).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Made in tmp/ and linked in whole: nothing is left there, and the
    // file is already in WAL mode (header bytes 18 and 19 are 2).
    assert!(listing(dir.path(), "tmp").is_empty());
    assert_eq!(&fs::read(&index).unwrap()[18..20], &[2, 2]);
    let folders = mb.list().unwrap();
    let names: Vec<(&str, Option<&str>)> = folders
        .iter()
        .map(|f| (f.name.as_str(), f.special_use))
        .collect();
    assert_eq!(
        names,
        [
            ("INBOX", None),
            ("Archive", Some("\\Archive")),
            ("Drafts", Some("\\Drafts")),
            ("Junk", Some("\\Junk")),
            ("Sent", Some("\\Sent")),
            ("Trash", Some("\\Trash")),
        ]
    );
    // Opening again changes nothing.
    let again = open(dir.path());
    assert_eq!(
        again.status("INBOX").unwrap().uidvalidity,
        mb.status("INBOX").unwrap().uidvalidity
    );
}

#[test]
fn delivery_writes_a_dovecot_named_file_and_indexes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = open(dir.path());
    let a = mb.deliver(MSG).unwrap();
    assert_eq!(a.uid, 1);
    let new = listing(dir.path(), "new");
    assert_eq!(new.len(), 1);
    assert!(
        new[0].ends_with(&format!(",S={},W={},U=1", MSG.len(), MSG.len())),
        "{}",
        new[0]
    );
    assert_eq!(mb.read("INBOX", 1).unwrap(), MSG);
    let cached = mb.cached("INBOX", 1).unwrap();
    assert_eq!(cached.fields.subject, "Rapat");
    assert!(cached.header.ends_with(b"\r\n\r\n"));
    let meta = mb.message("INBOX", 1).unwrap();
    assert_eq!(meta.size, MSG.len() as u64);
    let s = mb.status("INBOX").unwrap();
    assert_eq!((s.messages, s.unseen, s.uidnext), (1, 1, 2));
    assert!(mb.body_contains("INBOX", &meta, "JAM 9").unwrap());
    // With flags changed since (the file moved to cur/), the stale meta
    // still finds the message.
    let seen = Flags::from_names(["\\Seen"]);
    mb.store_flags("INBOX", &[1], FlagChange::Add, &seen, None)
        .unwrap();
    assert!(mb.body_contains("INBOX", &meta, "JAM 9").unwrap());

    // APPEND with flags and a date goes straight to cur/ with letters.
    let b = mb
        .append(
            "Sent Items",
            MSG,
            &Flags::from_names(["\\Seen", "$Forwarded"]),
            Some(1_700_000_000),
        )
        .unwrap();
    let cur = listing(&dir.path().join(".Sent"), "cur");
    assert!(cur[0].ends_with(":2,PS"), "{}", cur[0]);
    let meta = mb.message("Sent", b.uid).unwrap();
    assert_eq!(meta.internal_date, 1_700_000_000);
    assert!(meta.flags.is_seen());
}

#[test]
fn flags_change_with_modseq_and_unchangedsince() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = open(dir.path());
    mb.deliver(MSG).unwrap();
    mb.deliver(MSG).unwrap();
    let before = mb.status("INBOX").unwrap().highestmodseq;
    let seen = Flags::from_names(["\\Seen", "Penting"]);
    let r = mb
        .store_flags("INBOX", &[1], FlagChange::Add, &seen, None)
        .unwrap();
    assert_eq!(r.updated[0].flags.names(), ["\\Seen", "Penting"]);
    assert!(r.updated[0].modseq > before);
    // The file moved to cur/ with the S letter; the keyword lives in the index.
    assert!(listing(dir.path(), "cur")[0].ends_with(":2,S"));
    let m1 = r.updated[0].modseq;
    // UNCHANGEDSINCE older than the message's modseq: refused as MODIFIED.
    let r = mb
        .store_flags(
            "INBOX",
            &[1, 2],
            FlagChange::Add,
            &Flags::from_names(["\\Flagged"]),
            Some(m1 - 1),
        )
        .unwrap();
    assert_eq!(r.modified, vec![1]);
    assert_eq!(r.updated.len(), 1);
    let r = mb
        .store_flags(
            "INBOX",
            &[1],
            FlagChange::Remove,
            &Flags::from_names(["penting"]),
            Some(m1),
        )
        .unwrap();
    assert_eq!(r.updated[0].flags.names(), ["\\Seen"]);
    let r = mb
        .store_flags("INBOX", &[1], FlagChange::Set, &Flags::new(), None)
        .unwrap();
    assert!(r.updated[0].flags.names().is_empty());
    assert_eq!(
        mb.read("INBOX", 1).unwrap(),
        MSG,
        "the file is still readable after renames"
    );
}

#[test]
fn copy_move_and_expunge_keep_every_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = open(dir.path());
    for _ in 0..3 {
        mb.deliver(MSG).unwrap();
    }
    let copied = mb.copy("INBOX", &[1, 3], "Archive").unwrap();
    assert_eq!(copied.uids, vec![(1, 1), (3, 2)]);
    assert_eq!(
        copied.uidvalidity,
        mb.status("Archive").unwrap().uidvalidity
    );
    assert_eq!(mb.read("Archive", 2).unwrap(), MSG);
    assert_eq!(mb.status("INBOX").unwrap().messages, 3);

    let moved = mb
        .move_messages("INBOX", &[2, 99], "Deleted Items")
        .unwrap();
    assert_eq!(moved.uids, vec![(2, 1)]);
    assert_eq!(mb.status("INBOX").unwrap().messages, 2);
    assert_eq!(mb.read("Trash", 1).unwrap(), MSG);
    assert!(matches!(mb.read("INBOX", 2), Err(Error::NoSuchMessage(2))));
    assert_eq!(mb.expunged_since("INBOX", 0).unwrap(), vec![2]);

    mb.store_flags(
        "INBOX",
        &[1, 3],
        FlagChange::Add,
        &Flags::from_names(["\\Deleted"]),
        None,
    )
    .unwrap();
    assert_eq!(mb.expunge("INBOX", Some(&[3])).unwrap(), vec![3]);
    assert_eq!(mb.expunge("INBOX", None).unwrap(), vec![1]);
    assert_eq!(mb.status("INBOX").unwrap().messages, 0);
    assert!(listing(dir.path(), "cur").is_empty() && listing(dir.path(), "new").is_empty());
    // UIDs are never reused.
    assert_eq!(mb.deliver(MSG).unwrap().uid, 4);
}

#[test]
fn folders_are_created_renamed_with_children_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = open(dir.path());
    mb.create_folder("Proyek/2026/Januari").unwrap();
    assert!(dir.path().join(".Proyek.2026.Januari/cur").is_dir());
    assert!(matches!(
        mb.create_folder("Proyek"),
        Err(Error::FolderExists(_))
    ));
    assert!(
        matches!(mb.create_folder("Sent Items"), Err(Error::FolderExists(_))),
        "no duplicate of Sent"
    );
    mb.append("Proyek/2026", MSG, &Flags::new(), None).unwrap();
    let uidvalidity = mb.status("Proyek/2026").unwrap().uidvalidity;

    mb.rename_folder("Proyek", "Arsip Proyek").unwrap();
    let names: Vec<String> = mb.list().unwrap().into_iter().map(|f| f.name).collect();
    assert!(
        names.contains(&"Arsip Proyek/2026/Januari".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("Proyek")), "{names:?}");
    assert_eq!(mb.read("Arsip Proyek/2026", 1).unwrap(), MSG);
    assert_eq!(
        mb.status("Arsip Proyek/2026").unwrap().uidvalidity,
        uidvalidity
    );

    assert!(
        matches!(mb.delete_folder("Arsip Proyek"), Err(Error::NotAllowed(_))),
        "has children"
    );
    mb.delete_folder("Arsip Proyek/2026/Januari").unwrap();
    assert!(!dir.path().join(".Arsip Proyek.2026.Januari").exists());
    assert!(matches!(
        mb.delete_folder("INBOX"),
        Err(Error::NotAllowed(_))
    ));

    // Renaming INBOX moves its messages and leaves it empty (RFC 9051 §6.3.6).
    mb.deliver(MSG).unwrap();
    mb.rename_folder("inbox", "Lama").unwrap();
    assert_eq!(mb.status("INBOX").unwrap().messages, 0);
    assert_eq!(mb.status("Lama").unwrap().messages, 1);

    mb.subscribe("Lama", false).unwrap();
    assert!(
        !mb.list()
            .unwrap()
            .iter()
            .find(|f| f.name == "Lama")
            .unwrap()
            .subscribed
    );
}

#[test]
fn no_name_can_reach_outside_the_mailbox() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("user");
    let mut mb = open(&root);
    let bad = [
        "..",
        "../x",
        "a/../../x",
        "/etc",
        "a//b",
        "a/",
        ".",
        "a/./b",
        "x\0y",
        "x\ny",
        "..\\x",
        " x",
        &"a/".repeat(20),
    ];
    for name in bad {
        assert!(
            matches!(mb.create_folder(name), Err(Error::InvalidName { .. })),
            "create {name:?}"
        );
        assert!(
            mb.append(name, MSG, &Flags::new(), None).is_err(),
            "append {name:?}"
        );
        assert!(
            mb.rename_folder("Sent", name).is_err(),
            "rename to {name:?}"
        );
        assert!(mb.status(name).is_err(), "status {name:?}");
        assert!(mb.delete_folder(name).is_err(), "delete {name:?}");
    }
    let outside: Vec<String> = fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(outside, ["user"], "nothing was made beside the mailbox");
}

#[test]
fn a_dovecot_export_copied_in_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let lf = b"From: a@example.org\nSubject: lama\n\nisi\n";
    let arsip = dir.path().join(".Arsip.2024");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(arsip.join(sub)).unwrap();
        fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let name = format!(
        "1700000000.M1P2.oldhost,S={},W={}:2,RS",
        lf.len(),
        lf.len() + 4
    );
    fs::write(arsip.join("cur").join(&name), lf).unwrap();
    fs::write(dir.path().join("new/1700000001.M2P3.oldhost"), MSG).unwrap();
    // A Dovecot name in modified UTF-7.
    fs::create_dir_all(dir.path().join(".&ANw-bersicht/cur")).unwrap();

    let mut mb = open(dir.path());
    let names: Vec<String> = mb.list().unwrap().into_iter().map(|f| f.name).collect();
    assert!(names.contains(&"Arsip/2024".to_string()), "{names:?}");
    assert!(names.contains(&"Übersicht".to_string()), "{names:?}");
    assert_eq!(mb.sync("Arsip/2024").unwrap().added, vec![1]);
    let meta = mb.message("Arsip/2024", 1).unwrap();
    assert_eq!(meta.flags.names(), ["\\Seen", "\\Answered"]);
    assert_eq!(meta.size, lf.len() as u64 + 4, "RFC822.SIZE from W=");
    assert_eq!(mb.read("Arsip/2024", 1).unwrap(), lf);
    assert_eq!(mb.cached("Arsip/2024", 1).unwrap().fields.subject, "lama");
    assert_eq!(mb.sync("INBOX").unwrap().added, vec![1]);
    assert!(
        mb.sync("INBOX").unwrap().added.is_empty(),
        "unchanged directories are not rescanned"
    );
}

#[test]
fn a_rescan_follows_changes_behind_our_back_without_renumbering() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = open(dir.path());
    for n in 1..=3 {
        mb.deliver(format!("Subject: {n}\r\n\r\nbody\r\n").as_bytes())
            .unwrap();
    }
    // File names need not sort in delivery order: find each by content.
    let mut new = listing(dir.path(), "new");
    new.sort_by_key(|name| fs::read(dir.path().join("new").join(name)).unwrap());
    // Another tool deletes message 2, marks message 3 seen, adds one.
    fs::remove_file(dir.path().join("new").join(&new[1])).unwrap();
    fs::rename(
        dir.path().join("new").join(&new[2]),
        dir.path().join("cur").join(format!("{}:2,S", new[2])),
    )
    .unwrap();
    fs::write(dir.path().join("new/9999999999.M1P1.other"), MSG).unwrap();
    let scan = mb.rescan("INBOX").unwrap();
    assert_eq!(scan.removed, vec![2]);
    assert_eq!(scan.reflagged, vec![3]);
    assert_eq!(scan.added, vec![4]);
    let uids: Vec<u32> = mb
        .messages("INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(uids, vec![1, 3, 4]);
    assert!(mb.message("INBOX", 3).unwrap().flags.is_seen());
}

#[test]
fn quota_refuses_with_its_resource() {
    let dir = tempfile::tempdir().unwrap();
    let quota = Quota {
        storage: Some(MSG.len() as u64 * 2),
        messages: None,
    };
    let mut mb = Mailbox::open(dir.path(), quota).unwrap();
    mb.deliver(MSG).unwrap();
    mb.deliver(MSG).unwrap();
    let err = mb.deliver(MSG).unwrap_err();
    assert!(
        matches!(
            err,
            Error::OverQuota {
                resource: QuotaResource::Storage
            }
        ),
        "{err}"
    );
    assert!(!err.is_temporary());
    assert!(matches!(
        mb.copy("INBOX", &[1], "Archive"),
        Err(Error::OverQuota { .. })
    ));
    mb.set_quota(Quota {
        storage: None,
        messages: Some(2),
    });
    assert!(matches!(
        mb.deliver(MSG),
        Err(Error::OverQuota {
            resource: QuotaResource::Message
        })
    ));
    assert_eq!(
        mb.usage().unwrap(),
        Usage {
            bytes: MSG.len() as u64 * 2,
            messages: 2
        }
    );
}

#[tokio::test]
async fn other_sessions_hear_of_changes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let reader = open(dir.path());
    let mut events = reader.changes();
    let root = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let mut writer = open(&root);
        writer.deliver(MSG).unwrap();
        writer
            .store_flags(
                "INBOX",
                &[1],
                FlagChange::Add,
                &Flags::from_names(["\\Seen"]),
                None,
            )
            .unwrap();
    });
    let first = tokio::time::timeout(Duration::from_secs(1), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first,
        Change {
            folder: "INBOX".into(),
            event: Event::New { uid: 1 }
        }
    );
    let second = tokio::time::timeout(Duration::from_secs(1), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(second.event, Event::Flags { uid: 1, .. }));
}

#[test]
fn eight_writers_and_eight_readers_keep_uids_unique_and_increasing() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path());
    let per_writer = 40;
    std::thread::scope(|s| {
        for w in 0..8 {
            let root = dir.path();
            s.spawn(move || {
                let mut mb = open(root);
                for i in 0..per_writer {
                    let raw = format!("Subject: w{w} m{i}\r\n\r\nbody {w} {i}\r\n");
                    mb.deliver(raw.as_bytes()).unwrap();
                }
            });
        }
        for _ in 0..8 {
            let root = dir.path();
            s.spawn(move || {
                let mb = open(root);
                let mut last_len = 0;
                for _ in 0..50 {
                    let uids: Vec<u32> = mb
                        .messages("INBOX")
                        .unwrap()
                        .iter()
                        .map(|m| m.uid)
                        .collect();
                    assert!(uids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
                    assert!(uids.len() >= last_len, "messages never vanish");
                    last_len = uids.len();
                    if let Some(&uid) = uids.last() {
                        assert!(mb.read("INBOX", uid).unwrap().starts_with(b"Subject: w"));
                    }
                }
            });
        }
    });
    let mb = open(dir.path());
    let uids: Vec<u32> = mb
        .messages("INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(uids, (1..=8 * per_writer).collect::<Vec<_>>());
    assert_eq!(listing(dir.path(), "new").len(), 8 * per_writer as usize);
}

/// 50 first logins at once each open the brand-new mailbox: every one
/// must succeed (the schema is made once, not raced).
#[test]
fn many_sessions_can_open_a_new_mailbox_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("baru");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (root, barrier) = (root.clone(), std::sync::Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                Mailbox::open(&root, Quota::default()).map(|mb| mb.messages("INBOX").unwrap().len())
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), 0);
    }
    // The indexes the losers built are gone; all share the winner's.
    assert!(listing(&root, "tmp").is_empty());
    let mut one = Mailbox::open(&root, Quota::default()).unwrap();
    one.deliver(MSG).unwrap();
    assert_eq!(open(&root).messages("INBOX").unwrap().len(), 1);
}

/// A parked handle (IMAP IDLE) holds no index connection: its operations
/// fail cleanly, other handles' changes still reach it, and after
/// `unpark` it sees them.
#[test]
fn a_parked_handle_hears_changes_and_reads_them_after_unpark() {
    let dir = tempfile::tempdir().unwrap();
    let mut idle = Mailbox::open(dir.path(), Quota::default()).unwrap();
    let mut changes = idle.changes();
    idle.park();
    assert!(matches!(idle.messages("INBOX"), Err(Error::Parked)));
    let mut other = Mailbox::open(dir.path(), Quota::default()).unwrap();
    other.deliver(MSG).unwrap();
    assert_eq!(changes.try_recv().unwrap().folder, "INBOX");
    idle.unpark().unwrap();
    idle.unpark().unwrap();
    assert_eq!(idle.messages("INBOX").unwrap().len(), 1);
}

/// A crash inside MOVE (after the index moved the message, before the
/// source file was removed) leaves a second link of the file behind; the
/// rescan removes it rather than showing the message twice. A file linked
/// only from unindexed places (a maildir copied in) is still indexed.
#[test]
fn the_leftover_link_of_an_interrupted_move_is_not_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
    mb.create_folder("Lemari").unwrap();
    mb.deliver(MSG).unwrap();
    let before: Vec<_> = fs::read_dir(dir.path().join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let kept = dir.path().join("kept-link");
    fs::hard_link(&before[0], &kept).unwrap();
    mb.move_messages("INBOX", &[1], "Lemari").unwrap();
    // As if the process died before unlinking the source.
    fs::hard_link(&kept, &before[0]).unwrap();
    fs::remove_file(&kept).unwrap();
    let scan = mb.rescan("INBOX").unwrap();
    assert!(scan.added.is_empty(), "{scan:?}");
    assert!(!before[0].exists(), "the leftover link is removed");
    assert_eq!(mb.messages("Lemari").unwrap().len(), 1);

    // Two links that no row names: mail copied in from elsewhere.
    let a = dir.path().join("new").join("1700000000.A.host");
    fs::write(&a, MSG).unwrap();
    fs::hard_link(&a, dir.path().join("new").join("1700000001.B.host")).unwrap();
    assert_eq!(mb.rescan("INBOX").unwrap().added.len(), 2);
}

#[test]
fn envelope_fields_are_stored_copied_and_worked_out_for_older_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = open(dir.path());
    mb.deliver(MSG).unwrap();
    mb.copy("INBOX", &[1], "Archive").unwrap();
    let want = CacheParts {
        envelope: true,
        ..CacheParts::default()
    };
    let expected = Envelope::of_header(&mb.cached("INBOX", 1).unwrap().header);
    assert_eq!(expected.subject.as_deref(), Some("Rapat"));
    assert_eq!(expected.from[0].name.as_deref(), Some("Budi"));
    for folder in ["INBOX", "Archive"] {
        let mut got = mb.cached_many(folder, &[1], want).unwrap();
        let cached = got[0].as_mut().unwrap();
        assert!(
            cached.header.is_empty(),
            "{folder}: stored fields need no header"
        );
        assert_eq!(cached.envelope.as_ref(), Some(&expected), "{folder}");
    }
    // A row indexed before the column existed: the header stands in.
    let index = rusqlite::Connection::open(dir.path().join("surel-index.sqlite")).unwrap();
    index
        .execute("UPDATE messages SET envelope = NULL", [])
        .unwrap();
    let mut got = mb.cached_many("INBOX", &[1], want).unwrap();
    let cached = got[0].as_mut().unwrap();
    assert_eq!(cached.envelope, None);
    assert_eq!(cached.take_envelope(), expected);
}

/// The index removed by hand while its write-ahead log stays (it is kept
/// between sessions): the mailbox opens again, is indexed again from its
/// files, and the new index is sound.
#[test]
fn an_index_removed_without_its_log_is_made_again_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut mb = open(dir.path());
        mb.deliver(MSG).unwrap();
        let seen = Flags::from_names(["\\Seen"]);
        mb.store_flags("INBOX", &[1], FlagChange::Add, &seen, None)
            .unwrap();
    }
    // As with the server stopped: no connection kept open.
    release_idle();
    let index = dir.path().join("surel-index.sqlite");
    assert!(dir.path().join("surel-index.sqlite-wal").exists());
    fs::remove_file(&index).unwrap();
    let mut mb = open(dir.path());
    // As SELECT does: the folder's files are indexed again.
    assert_eq!(mb.sync("INBOX").unwrap().added.len(), 1);
    mb.deliver(MSG).unwrap();
    assert_eq!(mb.messages("INBOX").unwrap().len(), 2);
    let check: String = rusqlite::Connection::open(&index)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// A folder the index knows whose directories are gone (a crash soon
/// after they were made, or removed by hand) takes messages again.
#[test]
fn append_and_move_make_a_known_folders_missing_directories_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = open(dir.path());
    fs::remove_dir_all(dir.path().join(".Sent")).unwrap();
    mb.append("Sent", MSG, &Flags::new(), None).unwrap();
    assert_eq!(mb.messages("Sent").unwrap().len(), 1);
    assert!(dir.path().join(".Sent/maildirfolder").is_file());
    // And COPY or MOVE into one.
    fs::remove_dir_all(dir.path().join(".Trash")).unwrap();
    mb.deliver(MSG).unwrap();
    mb.move_messages("INBOX", &[1], "Trash").unwrap();
    assert_eq!(mb.messages("Trash").unwrap().len(), 1);
}
