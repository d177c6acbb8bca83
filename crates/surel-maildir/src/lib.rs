//! surel-maildir owns mail on disk: Maildir++ folders under
//! `<data_dir>/mail/<domain>/<user>/`, UIDs, flags, modseq, quota, atomic
//! delivery and change notification for IDLE (SPEC §2, §7).
//!
//! It is the only code that reads or writes message files; IMAP and SMTP go
//! through it. It must not do networking, and must never acknowledge a
//! delivery before the message is fsynced.
//!
//! The storage itself arrives with issue 4; this crate fixes its place in the
//! workspace so the dependency direction (protocols → storage) holds from the
//! start.
