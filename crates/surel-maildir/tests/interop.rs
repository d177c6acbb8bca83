//! Other tools read surel's maildirs and surel reads theirs: Python's
//! `mailbox` module (a Maildir++ implementation nobody here wrote) on the
//! same directory.

use std::process::Command;

use surel_maildir::*;

const MSG: &[u8] = b"From: a@example.go.id\r\nSubject: Dari surel\r\n\r\nisi\r\n";

fn python(script: &str, dir: &std::path::Path) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("python3 must be installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn python_mailbox_reads_what_surel_writes_and_surel_reads_what_python_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut mb = Mailbox::open(dir.path(), Quota::default()).unwrap();
    mb.deliver(MSG).unwrap();
    mb.append(
        "Sent",
        MSG,
        &Flags::from_names(["\\Seen", "\\Answered"]),
        None,
    )
    .unwrap();
    mb.create_folder("Laporan/2026").unwrap();

    let seen = python(
        r#"
import mailbox, sys
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
print(sorted(md.list_folders()))
print(len(md), [m['subject'] for m in md])
sent = md.get_folder('Sent')
print([(m['subject'], m.get_flags()) for m in sent])
md.add(mailbox.MaildirMessage(b"From: py@example.org\nSubject: Dari Python\n\nhalo\n"))
"#,
        dir.path(),
    );
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(
        lines[0],
        "['Archive', 'Drafts', 'Junk', 'Laporan', 'Laporan.2026', 'Sent', 'Trash']"
    );
    assert_eq!(lines[1], "1 ['Dari surel']");
    assert_eq!(lines[2], "[('Dari surel', 'RS')]");

    // Python's message arrives behind surel's back: the next sync indexes it.
    let added = mb.sync("INBOX").unwrap().added;
    assert_eq!(added, vec![2]);
    assert_eq!(mb.cached("INBOX", 2).unwrap().fields.subject, "Dari Python");
    assert_eq!(
        mb.message("INBOX", 2).unwrap().size,
        52,
        "RFC822.SIZE counts CRLF"
    );
}
