//! The whole IMAP command path fed raw bytes: surel-imap's `ImapService`
//! (what the listener runs for each connection) over an in-memory pipe,
//! with the real account store and maildir underneath. Every input is one
//! connection from the greeting to the client closing it. Why: this is the
//! code that parses what anyone on the network sends — imap-next's codec,
//! our line and literal handling and client quirks, then every command
//! against real storage — and none of it may panic.
//!
//! The first byte picks how the rest is sent: mostly after a successful
//! LOGIN and SELECT INBOX, so the fuzzer works on selected-state commands
//! (FETCH, STORE, SEARCH, APPEND, IDLE, ...) from the start; one time in
//! four as it is, straight after the greeting (login, STARTTLS, syntax).

#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use surel_fuzz::{ADDRESS, MAX_MESSAGE, PASSWORD, World};
use surel_imap::{ImapConfig, ImapService};
use surel_net::Service;

struct Imap {
    world: World,
    service: Arc<dyn Service>,
    prefix: Vec<u8>,
}

static IMAP: LazyLock<Imap> = LazyLock::new(|| {
    let world = World::new("imap");
    // As serve.rs builds it from the config.
    let service: Arc<dyn Service> = Arc::new(ImapService::new(ImapConfig {
        auth: Arc::clone(&world.auth),
        data_dir: world.data_dir.clone(),
        language: surel_auth::Language::Id,
        password_url: "https://mail.kemenkeu.go.id/password".into(),
        max_message_size: MAX_MESSAGE as u32,
        allow_plaintext_loopback: true,
    }));
    let prefix = format!("a1 LOGIN {ADDRESS} {PASSWORD}\r\na2 SELECT INBOX\r\n").into_bytes();
    Imap {
        world,
        service,
        prefix,
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let imap = &*IMAP;
    let input = if mode % 4 == 0 {
        rest.to_vec()
    } else {
        [imap.prefix.as_slice(), rest].concat()
    };
    imap.world
        .exchange(Arc::clone(&imap.service), "imap", &input);
});
