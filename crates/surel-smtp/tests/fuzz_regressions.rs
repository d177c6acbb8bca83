//! Inputs that crashed the SMTP session under the fuzz target
//! `fuzz/fuzz_targets/smtp_session.rs` (issue 10), replayed through
//! `SmtpService` — what the listener runs — over an in-memory pipe, with a
//! real account store and maildir. Each input is also kept in
//! `fuzz/corpus/smtp_session/`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use surel_auth::store::NewAccount;
use surel_auth::{AuthConfig, Authenticator, Policy, PolicyConfig, Store, StoredState};
use surel_net::{Conn, ConnInfo, Context, Service, Timeouts};
use surel_smtp::{Role, SmtpConfig, SmtpService};
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

fn service(dir: &std::path::Path, role: Role) -> Arc<dyn Service> {
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
    let shared = Arc::new(SmtpConfig {
        auth,
        data_dir: dir.to_path_buf(),
        hostname: "mail.kemenkeu.go.id".into(),
        language: surel_auth::Language::En,
        password_url: "https://mail.kemenkeu.go.id/password".into(),
        max_message_size: 16 * 1024,
        max_recipients: 20,
        max_errors: 10,
        greet_pause: Duration::ZERO,
        allow_plaintext_loopback: true,
        rate_limit: surel_smtp::RateLimit::new(0),
        queue: None,
        checks: None,
        mailboxes: surel_maildir::Pool::new(2),
    });
    Arc::new(SmtpService::new(role, shared))
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
            role: "smtp",
            local: SocketAddr::from((Ipv4Addr::LOCALHOST, 25)),
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

/// fuzz/corpus/smtp_session/crash_bdat_size_overflow: a BDAT chunk size
/// near usize::MAX after a first chunk overflowed `received + chunk_size`
/// (a panic in debug builds; in release a wrapped sum let the chunk be
/// kept in memory however long it was).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bdat_size_near_usize_max_is_too_big_not_an_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let said = talk(
        service(dir.path(), Role::Mx),
        b"EHLO relay.example.org\r\nMAIL FROM:<pengirim@example.org>\r\n\
          RCPT TO:<budi@kemenkeu.go.id>\r\nBDAT 5\r\nhelloBDAT 18446744073709551614 LAST\r\nxyz",
    )
    .await;
    assert!(said.contains("250 2.0.0 5 octets received"), "{said}");
    assert!(!said.contains("queued as"), "{said}");

    // The same with a first chunk of one byte, the size not LAST.
    let dir = tempfile::tempdir().unwrap();
    let said = talk(
        service(dir.path(), Role::Mx),
        b"EHLO relay.example.org\r\nMAIL FROM:<pengirim@example.org>\r\n\
          RCPT TO:<budi@kemenkeu.go.id>\r\nBDAT 1\r\naBDAT 18446744073709551614\r\n",
    )
    .await;
    assert!(said.contains("250 2.0.0 1 octets received"), "{said}");
}
