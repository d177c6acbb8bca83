//! TLS for every listener: TLS 1.2 and 1.3 only, certificates chosen by SNI,
//! reloaded on SIGHUP without dropping connections, and the self-signed
//! certificate made on first start.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{Context as _, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tracing::{info, warn};

use crate::config::TlsConfig;

/// The docs page that explains how to replace the self-signed certificate.
pub const CERT_DOCS: &str = "docs/en/certificates.md";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM chain and its key, and checks that they belong together.
pub fn load_pair(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        bail!(
            "{} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            cert.display()
        );
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
    CertifiedKey::from_der(chain, private, &provider()).with_context(|| {
        format!(
            "{} and {} do not make a usable certificate and key pair",
            cert.display(),
            key.display()
        )
    })
}

/// The certificates in force: the default and those picked by SNI.
pub struct CertStore {
    default: Arc<CertifiedKey>,
    by_sni: Vec<Arc<CertifiedKey>>,
}

impl CertStore {
    pub fn load(config: &TlsConfig) -> anyhow::Result<CertStore> {
        let default = Arc::new(load_pair(&config.cert, &config.key)?);
        let by_sni = config
            .sni
            .iter()
            .map(|pair| load_pair(&pair.cert, &pair.key).map(Arc::new))
            .collect::<anyhow::Result<_>>()?;
        Ok(CertStore { default, by_sni })
    }

    /// The certificate for the name a client asked for: the first extra
    /// certificate valid for it (wildcards included), else the default.
    fn pick(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        // Microsoft's cloud sends names with a trailing dot; they name the same host.
        let name = sni.map(|n| n.trim_end_matches('.').to_ascii_lowercase());
        let Some(name) = name.and_then(|n| ServerName::try_from(n).ok()) else {
            return Arc::clone(&self.default);
        };
        self.by_sni
            .iter()
            .find(|ck| valid_for(ck, &name))
            .cloned()
            .unwrap_or_else(|| Arc::clone(&self.default))
    }
}

fn valid_for(ck: &CertifiedKey, name: &ServerName<'_>) -> bool {
    ck.cert
        .first()
        .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
        .is_some_and(|ee| ee.verify_is_valid_for_subject_name(name).is_ok())
}

/// Chooses the certificate per handshake; its store is swapped on reload
/// while handshakes in progress keep the one they picked.
pub struct SniResolver {
    store: RwLock<Arc<CertStore>>,
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SniResolver")
    }
}

impl SniResolver {
    pub fn new(store: CertStore) -> Arc<Self> {
        Arc::new(SniResolver {
            store: RwLock::new(Arc::new(store)),
        })
    }

    /// Loads the certificates anew; on any error the old ones stay in force.
    pub fn reload(&self, config: &TlsConfig) -> anyhow::Result<()> {
        let store = CertStore::load(config)?;
        *self.store.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(store);
        Ok(())
    }

    fn current(&self) -> Arc<CertStore> {
        Arc::clone(&self.store.read().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().pick(hello.server_name()))
    }
}

/// The rustls config every listener uses: TLS 1.3 and 1.2, server's cipher order.
pub fn server_config(resolver: Arc<SniResolver>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// Writes a new self-signed certificate for `hostname` (and localhost) to
/// `cert` and `key`; the key file is created with mode 0600.
pub fn write_self_signed(hostname: &str, cert: &Path, key: &Path) -> anyhow::Result<()> {
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let make = || -> Result<(rcgen::Certificate, rcgen::KeyPair), rcgen::Error> {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, hostname);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, SELF_SIGNED_MARK);
        Ok((params.self_signed(&key)?, key))
    };
    let (certificate, signing_key) =
        make().with_context(|| format!("cannot make a certificate for {hostname:?}"))?;
    for path in [cert, key] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    write_new(key, signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert, certificate.pem().as_bytes(), 0o644)?;
    Ok(())
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // The umask may have removed bits, never added them; set exactly what we mean.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// On first start with `tls.self_signed = true`, makes the certificate and
/// warns loudly that clients will show a certificate error.
pub fn ensure_self_signed(config: &TlsConfig, hostname: &str) -> anyhow::Result<()> {
    if !config.self_signed || config.cert.exists() || config.key.exists() {
        return Ok(());
    }
    write_self_signed(hostname, &config.cert, &config.key)?;
    info!(cert = %config.cert.display(), key = %config.key.display(), "made a self-signed certificate");
    Ok(())
}

pub fn warn_self_signed(hostname: &str) {
    warn!(
        "USING A SELF-SIGNED CERTIFICATE for {hostname}: Outlook, Thunderbird and browsers will \
         show a certificate error, and users must never be taught to click through it. Install \
         a real certificate (e.g. from Let's Encrypt) before production: see {CERT_DOCS}"
    );
}

/// The organization name surel writes into the certificates it makes, so
/// that it can tell them apart from real ones at every start.
const SELF_SIGNED_MARK: &str = "surel self-signed";

/// True when the certificate is one that surel made itself.
fn is_self_signed(ck: &CertifiedKey) -> bool {
    let mark = SELF_SIGNED_MARK.as_bytes();
    ck.cert.len() == 1 && ck.cert[0].windows(mark.len()).any(|w| w == mark)
}

/// Checks the certificates for `config check`; returns a note to show when
/// all is well but worth saying (a self-signed certificate).
pub fn check(config: &TlsConfig, hostname: &str) -> anyhow::Result<Option<String>> {
    if config.self_signed && !config.cert.exists() && !config.key.exists() {
        return Ok(Some(format!(
            "note: {} does not exist yet: `surel serve` will make a self-signed certificate for {hostname}; \
             clients will warn about it until a real one is installed (see {CERT_DOCS})",
            config.cert.display()
        )));
    }
    let store = CertStore::load(config).map_err(|e| {
        anyhow::anyhow!(
            "tls: {e:#}; point tls.cert and tls.key to your certificate, or run \
             `surel cert self-signed --hostname HOST`"
        )
    })?;
    Ok(store.default_is_self_signed().then(|| {
        format!(
            "note: {} is self-signed: clients will warn about it (see {CERT_DOCS})",
            config.cert.display()
        )
    }))
}

impl CertStore {
    pub fn default_is_self_signed(&self) -> bool {
        is_self_signed(&self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CertPair;

    fn pair(dir: &Path, host: &str) -> CertPair {
        let cert = dir.join(format!("{host}.crt"));
        let key = dir.join(format!("{host}.key"));
        write_self_signed(host, &cert, &key).unwrap();
        CertPair { cert, key }
    }

    fn names(ck: &CertifiedKey) -> bool {
        valid_for(ck, &ServerName::try_from("b.example.go.id").unwrap())
    }

    #[test]
    fn sni_picks_the_matching_certificate_with_or_without_trailing_dot() {
        let dir = tempfile::tempdir().unwrap();
        let a = pair(dir.path(), "a.example.go.id");
        let b = pair(dir.path(), "b.example.go.id");
        let config = TlsConfig {
            cert: a.cert.clone(),
            key: a.key.clone(),
            self_signed: false,
            sni: vec![b],
        };
        let store = CertStore::load(&config).unwrap();
        assert!(store.default_is_self_signed());
        assert!(names(&store.pick(Some("b.example.go.id"))));
        assert!(names(&store.pick(Some("B.Example.Go.Id."))));
        assert!(!names(&store.pick(Some("a.example.go.id"))));
        assert!(!names(&store.pick(Some("other.example"))));
        assert!(!names(&store.pick(None)));
    }

    #[test]
    fn keys_are_written_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = pair(dir.path(), "mail.example.go.id");
        let mode = fs::metadata(&p.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(write_self_signed("mail.example.go.id", &p.cert, &p.key).is_err());
    }

    #[test]
    fn a_key_that_does_not_match_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = pair(dir.path(), "a.example.go.id");
        let b = pair(dir.path(), "b.example.go.id");
        let err = load_pair(&a.cert, &b.key).unwrap_err();
        assert!(
            format!("{err:#}").contains("do not make a usable"),
            "{err:#}"
        );
        fs::write(&a.cert, "garbage").unwrap();
        assert!(load_pair(&a.cert, &a.key).is_err());
    }
}
