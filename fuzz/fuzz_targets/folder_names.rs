//! Folder names: `surel_maildir::names` validation, canonical names, the
//! Maildir++ directory name and modified UTF-7 both ways. Why: folder
//! names come from IMAP clients (CREATE, RENAME, SELECT, APPEND) and from
//! directory names found on disk, and they become paths: nothing may
//! panic, and no name may lead outside the user's maildir.
//!
//! The input is used twice: as a directory name found on disk, and (when
//! it is UTF-8) as a folder name from a client.

#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use surel_maildir::names;

/// The directory of a valid folder is one plain path component directly
/// in the user's maildir: ".Name" or ".A.B", never "." or "..", no "/".
fn assert_safe_dir(name: &str, dir: &str) {
    assert!(dir.starts_with('.'), "{name:?} -> {dir:?}");
    assert!(
        !dir.contains('/') && !dir.contains('\0'),
        "{name:?} -> {dir:?}"
    );
    let levels: Vec<&str> = dir[1..].split('.').collect();
    assert!(
        levels.iter().all(|l| !l.is_empty()),
        "{name:?} -> {dir:?}: an empty level"
    );
    assert_eq!(levels.len(), name.split('/').count(), "{name:?} -> {dir:?}");
    let mut components = Path::new(dir).components();
    assert!(
        matches!(components.next(), Some(Component::Normal(c)) if c == dir),
        "{name:?} -> {dir:?} is not one plain path component"
    );
    assert!(components.next().is_none());
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // Modified UTF-7: decoding never panics, and what it decodes encodes
    // back to a string that decodes to the same text.
    if let Some(decoded) = names::decode_utf7(&text) {
        let again = names::encode_utf7(&decoded);
        assert_eq!(
            names::decode_utf7(&again).as_deref(),
            Some(decoded.as_str())
        );
    }
    // Any text encodes to printable ASCII that decodes back to it.
    let encoded = names::encode_utf7(&text);
    assert!(
        encoded.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "{text:?} -> {encoded:?}"
    );
    assert_eq!(
        names::decode_utf7(&encoded).as_deref(),
        Some(&*text),
        "{text:?} -> {encoded:?}"
    );

    // A directory name found on disk: a folder name or none, and a valid one.
    if let Some(name) = names::from_disk_name(&text) {
        assert!(names::validate(&name).is_ok(), "{text:?} -> {name:?}");
        if name != "INBOX" {
            assert_safe_dir(&name, &names::disk_name(&name));
        }
    }

    // A folder name from a client.
    let name = &*text;
    if names::validate(name).is_err() {
        assert!(names::canonical(name).is_err());
        return;
    }
    let canonical = names::canonical(name).expect("a valid name has a canonical form");
    assert!(
        names::validate(&canonical).is_ok(),
        "{name:?} -> {canonical:?}"
    );
    assert_eq!(
        names::canonical(&canonical).ok().as_deref(),
        Some(canonical.as_str()),
        "canonical is not idempotent"
    );
    if canonical == "INBOX" {
        assert_eq!(names::disk_name(&canonical), "");
        return;
    }
    let dir = names::disk_name(&canonical);
    assert_safe_dir(&canonical, &dir);
    // Read back from disk, the directory is the same folder.
    assert_eq!(
        names::from_disk_name(&dir).as_deref(),
        Some(canonical.as_str()),
        "{name:?} -> {dir:?}"
    );
    let _ = names::special_use(&canonical);
});
