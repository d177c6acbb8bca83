//! Inputs that crashed the IMAP session under the fuzz target
//! `fuzz/fuzz_targets/imap_session.rs` (issue 10), replayed through
//! `ImapService` — what the listener runs — over an in-memory pipe, with a
//! real account store and maildir. Each input is also kept in
//! `fuzz/corpus/imap_session/`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use surel_auth::store::NewAccount;
use surel_auth::{AuthConfig, Authenticator, Policy, PolicyConfig, Store, StoredState};
use surel_imap::{ImapConfig, ImapService};
use surel_net::{Conn, ConnInfo, Context, Service, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// No certificate: these inputs never get as far as a TLS handshake.
#[derive(Debug)]
struct NoCertificate;

impl rustls::server::ResolvesServerCert for NoCertificate {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        None
    }
}

fn service(dir: &std::path::Path) -> Arc<dyn Service> {
    let store = Arc::new(Store::open_in(dir).unwrap());
    let config = AuthConfig {
        argon2_memory_kib: 256,
        argon2_iterations: 1,
        ..AuthConfig::default()
    };
    let policy = Policy::new(PolicyConfig::default()).unwrap();
    let auth = Arc::new(Authenticator::new(Arc::clone(&store), policy, config).unwrap());
    let now = auth.now();
    store.add_domain("kemenkeu.go.id", None, None, now).unwrap();
    store
        .add_account(
            &NewAccount {
                local: "budi".into(),
                domain: "kemenkeu.go.id".into(),
                display_name: "Budi Santoso".into(),
                password_hash: auth.hasher().hash("Hujan-Sore-77"),
                state: StoredState::Active,
                password_changed_at: now,
                quota_bytes: None,
            },
            now,
        )
        .unwrap();
    Arc::new(ImapService::new(ImapConfig {
        auth,
        data_dir: dir.to_path_buf(),
        language: surel_auth::Language::En,
        password_url: "https://mail.kemenkeu.go.id/password".into(),
        max_message_size: 16 * 1024,
        allow_plaintext_loopback: true,
    }))
}

/// Sends `input`, closes the client's side and returns all the server said;
/// fails if the session panics or does not end.
async fn talk(service: Arc<dyn Service>, input: &[u8]) -> String {
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_cert_resolver(Arc::new(NoCertificate));
    let ctx = Arc::new(Context {
        hostname: "mail.kemenkeu.go.id".into(),
        tls: tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
        timeouts: Timeouts::default(),
        shutdown: Default::default(),
    });
    let (client, server) = tokio::io::duplex(64 * 1024);
    let conn = Conn {
        stream: Box::new(server),
        info: ConnInfo {
            id: 1,
            role: "imap",
            local: SocketAddr::from((Ipv4Addr::LOCALHOST, 143)),
            peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
            tls: None,
        },
        ctx,
    };
    let session = tokio::spawn(service.serve(conn));
    let (mut from_server, mut to_server) = tokio::io::split(client);
    to_server.write_all(input).await.unwrap();
    to_server.shutdown().await.unwrap();
    let mut said = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), from_server.read_to_end(&mut said))
        .await
        .expect("the session ends when the client closes")
        .unwrap();
    session.await.expect("the session does not panic");
    String::from_utf8_lossy(&said).into_owned()
}

/// fuzz/corpus/imap_session/crash_rename_invalid_utf7: a mailbox name
/// whose modified base64 does not decode ("&I-": six bits, no byte)
/// panicked in the utf7-imap crate. It is refused now, and the session
/// goes on; so are the other malformed names, in every command that
/// takes one, and in LIST patterns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_modified_utf7_names_are_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let said = talk(
        service(dir.path()),
        b"a1 LOGIN budi@kemenkeu.go.id Hujan-Sore-77\r\na2 SELECT INBOX\r\n\
          c RENAME \"&I-\" \"\"\r\n\
          c2 CREATE &A-\r\nc3 SELECT \"&!!-\"\r\nc4 STATUS &2D0- (MESSAGES)\r\n\
          c5 LIST \"\" \"&A-*\"\r\nc6 LIST \"&I-\" \"*\"\r\nc7 COPY 1 &A-\r\n\
          z LOGOUT\r\n",
    )
    .await;
    for tag in ["c", "c2", "c3", "c4", "c7"] {
        assert!(
            said.contains(&format!("\r\n{tag} NO [CANNOT] Invalid mailbox name")),
            "{tag}: {said}"
        );
    }
    assert!(said.contains("\r\nc5 OK"), "{said}");
    assert!(said.contains("\r\nc6 OK"), "{said}");
    assert!(said.contains("\r\nz OK"), "{said}");
    assert!(!dir.path().join("kemenkeu.go.id/budi/.&A-").exists());
}
