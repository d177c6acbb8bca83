//! The expiry notice mails (SPEC §3): at start-up and every hour, the
//! notices `surel-auth` finds due are written into each user's INBOX, in
//! the configured language, with the last valid day and the URL of the
//! password page. A notice is remembered only once it is on disk, so a
//! crash can repeat one but never lose one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use surel_auth::notices::DueNotice;
use surel_auth::{Authenticator, Language};
use surel_maildir::{Flags, Mailbox, Quota};

/// What the notices need to know.
pub struct NoticeConfig {
    pub auth: Arc<Authenticator>,
    pub data_dir: PathBuf,
    pub hostname: String,
    /// The password page, e.g. `https://mail.kemenkeu.go.id/password`.
    pub password_url: String,
    pub language: Language,
}

/// Sends due notices now and then every hour until shutdown.
pub async fn run(config: NoticeConfig, shutdown: CancellationToken) {
    let config = Arc::new(config);
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let config = Arc::clone(&config);
        match tokio::task::spawn_blocking(move || send_due(&config)).await {
            Ok(0) => {}
            Ok(sent) => info!(count = sent, "expiry notices delivered"),
            Err(e) => error!("expiry notices panicked: {e}"),
        }
    }
}

/// One pass: delivers every due notice; returns how many went out.
pub fn send_due(config: &NoticeConfig) -> usize {
    let due = match config.auth.due_notices() {
        Ok(due) => due,
        Err(e) => {
            error!("cannot list due expiry notices: {e}");
            return 0;
        }
    };
    let mut sent = 0;
    for notice in due {
        let address = notice.account.address();
        let message = compose(config, &notice);
        let dir = surel_maildir::mailbox_dir(
            &config.data_dir,
            &notice.account.domain,
            &notice.account.local,
        );
        // A notice about losing access is worth more than the quota: it
        // goes in even when the mailbox is full.
        let delivered = Mailbox::open(&dir, Quota::default())
            .and_then(|mut mb| mb.append("INBOX", &message, &Flags::new(), None));
        match delivered {
            Ok(_) => match config.auth.notice_delivered(&notice) {
                Ok(()) => {
                    sent += 1;
                    info!(target: "audit", account = %address, days_before = notice.days_before,
                        last_valid_day = %notice.last_valid_day, "expiry notice delivered");
                }
                Err(e) => {
                    error!(account = %address, "expiry notice delivered but not recorded: {e}")
                }
            },
            Err(e) => warn!(account = %address, "expiry notice not delivered, retrying later: {e}"),
        }
    }
    sent
}

/// The notice as an RFC 5322 message (UTF-8 text, 8bit).
pub fn compose(config: &NoticeConfig, notice: &DueNotice) -> Vec<u8> {
    let address = notice.account.address();
    let name = if notice.account.display_name.is_empty() {
        address.clone()
    } else {
        notice.account.display_name.clone()
    };
    let (left, last, url) = (
        notice.days_left,
        notice.last_valid_day.to_string(),
        &config.password_url,
    );
    let (subject, body) = match config.language {
        Language::Id => (
            format!("Kata sandi surel Anda berakhir dalam {left} hari kerja"),
            format!(
                "Yth. {name},\r\n\r\n\
Kata sandi akun surel {address} berlaku sampai {last} ({left} hari kerja lagi).\r\n\
Setelah tanggal itu Anda tidak dapat membaca atau mengirim surel sampai kata\r\n\
sandi diganti.\r\n\r\n\
Ganti kata sandi Anda sekarang di:\r\n\r\n    {url}\r\n\r\n\
Lalu masukkan kata sandi baru di Thunderbird atau Outlook saat diminta.\r\n\
Bila mengalami kesulitan, hubungi Service Desk.\r\n\r\n\
Pesan ini dikirim otomatis oleh server surel {host}; jangan dibalas.\r\n",
                host = config.hostname
            ),
        ),
        Language::En => (
            format!("Your mail password expires in {left} working days"),
            format!(
                "Dear {name},\r\n\r\n\
The password of the mail account {address} is valid until {last} ({left} working days left).\r\n\
After that day you cannot read or send mail until the password is changed.\r\n\r\n\
Change your password now at:\r\n\r\n    {url}\r\n\r\n\
Then enter the new password in Thunderbird or Outlook when they ask for it.\r\n\
If you need help, contact the service desk.\r\n\r\n\
This message was sent automatically by the mail server {host}; do not reply.\r\n",
                host = config.hostname
            ),
        ),
    };
    let date = jiff::Zoned::now()
        .strftime("%a, %d %b %Y %H:%M:%S %z")
        .to_string();
    format!(
        "Date: {date}\r\n\
From: Mail Server <postmaster@{domain}>\r\n\
To: <{address}>\r\n\
Subject: {subject}\r\n\
Message-ID: <expiry-{id}-{changed}-{mark}@{host}>\r\n\
Auto-Submitted: auto-generated\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n{body}",
        domain = notice.account.domain,
        id = notice.account.id,
        changed = notice.account.password_changed_at.as_second(),
        mark = notice.days_before,
        host = config.hostname,
    )
    .into_bytes()
}
