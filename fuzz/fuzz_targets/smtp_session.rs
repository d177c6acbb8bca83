//! The SMTP session fed raw bytes, message bodies included: surel-smtp's
//! `SmtpService` (what the listeners run) over an in-memory pipe, with the
//! real account store, maildir delivery and outbound queue underneath.
//! Why: SMTP is open to the whole internet on port 25, and DATA and BDAT
//! hand arbitrary bytes and sizes to our code (dot-stuffing, chunk sizes,
//! size limits, Received stamping, DKIM signing for the queue, delivery).
//!
//! The first byte picks the listener role and how far the session gets
//! before the fuzzer's bytes: as is, or after EHLO, MAIL and an accepted
//! RCPT (MX), or after EHLO, AUTH PLAIN, MAIL and RCPT (submission), so
//! DATA and BDAT are reachable from the first input.

#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use surel_fuzz::{ADDRESS, HOSTNAME, MAX_MESSAGE, World};
use surel_net::Service;
use surel_smtp::{Role, SmtpConfig, SmtpService};

/// `AUTH PLAIN` of budi@kemenkeu.go.id with the fuzz world's password.
const PLAIN: &str = "AGJ1ZGlAa2VtZW5rZXUuZ28uaWQASHVqYW4tU29yZS03Nw==";

struct Smtp {
    world: World,
    mx: Arc<dyn Service>,
    submission: Arc<dyn Service>,
    mx_prefix: Vec<u8>,
    submission_prefix: Vec<u8>,
}

static SMTP: LazyLock<Smtp> = LazyLock::new(|| {
    use std::time::Duration;
    use surel_smtp::queue::outbound::OutboundConfig;
    use surel_smtp::queue::runner::{Queue, Schedule};

    let world = World::new("smtp");
    // The queue is real but its runner is not started: nothing leaves.
    let queue = Queue::new(
        surel_smtp::queue::QueueStore::open(&world.data_dir).expect("queue store"),
        OutboundConfig {
            hostname: HOSTNAME.into(),
            routes: Default::default(),
            relay: None,
            require_tls: Vec::new(),
            timeout: Duration::from_secs(1),
            dns_server: None,
        },
        Schedule {
            retry: vec![Duration::from_secs(300)],
            max_age: Duration::from_secs(3600),
            delay_notice: Duration::from_secs(600),
        },
    );
    // As serve.rs builds it from the config, with no greet pause (the
    // fuzzer talks at once) and no SPF/DKIM/DMARC (no DNS here).
    let shared = Arc::new(SmtpConfig {
        auth: Arc::clone(&world.auth),
        data_dir: world.data_dir.clone(),
        hostname: HOSTNAME.into(),
        language: surel_auth::Language::Id,
        password_url: "https://mail.kemenkeu.go.id/password".into(),
        max_message_size: MAX_MESSAGE,
        max_recipients: 20,
        max_errors: 10,
        greet_pause: Duration::ZERO,
        allow_plaintext_loopback: true,
        rate_limit: surel_smtp::RateLimit::new(0),
        queue: Some(Arc::new(queue)),
        checks: None,
        mailboxes: surel_maildir::Pool::new(4),
    });
    let mx_prefix = format!(
        "EHLO relay.example.org\r\nMAIL FROM:<pengirim@example.org>\r\nRCPT TO:<{ADDRESS}>\r\n"
    );
    let submission_prefix = format!(
        "EHLO [127.0.0.1]\r\nAUTH PLAIN {PLAIN}\r\nMAIL FROM:<{ADDRESS}>\r\nRCPT TO:<{ADDRESS}>\r\n"
    );
    Smtp {
        world,
        mx: Arc::new(SmtpService::new(Role::Mx, Arc::clone(&shared))),
        submission: Arc::new(SmtpService::new(Role::Submission, shared)),
        mx_prefix: mx_prefix.into_bytes(),
        submission_prefix: submission_prefix.into_bytes(),
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let smtp = &*SMTP;
    let (service, role, prefix): (&Arc<dyn Service>, _, &[u8]) = match mode % 4 {
        0 => (&smtp.mx, "smtp", b""),
        1 => (&smtp.mx, "smtp", &smtp.mx_prefix),
        2 => (&smtp.submission, "submission", &smtp.submission_prefix),
        _ => (&smtp.submission, "submission", b""),
    };
    let input = [prefix, rest].concat();
    smtp.world.exchange(Arc::clone(service), role, &input);
});
