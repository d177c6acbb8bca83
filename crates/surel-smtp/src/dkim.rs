//! DKIM (RFC 6376, RFC 8463) for outgoing mail, with mail-auth: each domain
//! has an Ed25519 and an RSA-2048 key under `<data_dir>/dkim/<domain>/`, and
//! mail leaving for other domains carries one signature of each.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use mail_auth::dkim::generate::DkimKeyPair;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

/// Header fields signed (RFC 6376 §5.4.1 recommendations).
const SIGNED: [&str; 10] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
];

fn dir(data_dir: &Path, domain: &str) -> PathBuf {
    data_dir.join("dkim").join(domain.to_lowercase())
}

/// A new key pair for `domain`: files `<selector>-ed25519.key` and
/// `<selector>-rsa.key` (DER, mode 0600). Returns the DNS TXT records to publish.
pub fn generate(data_dir: &Path, domain: &str, selector: &str) -> Result<Vec<String>, String> {
    let dir = dir(data_dir, domain);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let pairs = [
        (
            "ed25519",
            DkimKeyPair::generate_ed25519().map_err(|e| e.to_string())?,
        ),
        (
            "rsa",
            DkimKeyPair::generate_rsa(2048).map_err(|e| e.to_string())?,
        ),
    ];
    let mut records = Vec::new();
    for (kind, pair) in pairs {
        let path = dir.join(format!("{selector}-{kind}.key"));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("{}: {e} (choose another --selector)", path.display()))?;
        file.write_all(pair.private_key())
            .and_then(|()| file.sync_all())
            .map_err(|e| e.to_string())?;
        let value = format!("v=DKIM1; k={kind}; p={}", pair.encoded_public_key());
        // DNS TXT strings hold 255 bytes each.
        let quoted: Vec<String> = value
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        records.push(format!(
            "{selector}-{kind}._domainkey.{domain}. IN TXT {}",
            quoted.join(" ")
        ));
    }
    Ok(records)
}

fn sign_with<K: mail_auth::common::crypto::SigningKey>(
    key: K,
    domain: &str,
    selector: &str,
    message: &[u8],
) -> Result<mail_auth::dkim::Signature, String> {
    DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(SIGNED)
        .sign(message)
        .map_err(|e| e.to_string())
}

/// DKIM-Signature fields for `message` from `domain`, one per key found;
/// nothing when the domain has no keys.
pub fn sign(data_dir: &Path, domain: &str, message: &[u8]) -> Vec<u8> {
    let Ok(entries) = fs::read_dir(dir(data_dir, domain)) else {
        return Vec::new();
    };
    let mut out = String::new();
    let mut keys: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    keys.sort();
    for path in keys {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".key"))
        else {
            continue;
        };
        let Ok(der) = fs::read(&path) else { continue };
        let signature = if name.ends_with("-ed25519") {
            Ed25519Key::from_pkcs8_der(&der)
                .map_err(|e| e.to_string())
                .and_then(|key| sign_with(key, domain, name, message))
        } else if name.ends_with("-rsa") {
            RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(
                der.as_slice(),
            )))
            .map_err(|e| e.to_string())
            .and_then(|key| sign_with(key, domain, name, message))
        } else {
            continue;
        };
        match signature {
            Ok(signature) => out.push_str(&signature.to_header()),
            Err(e) => tracing::warn!(key = %path.display(), error = %e, "DKIM signing failed"),
        }
    }
    out.into_bytes()
}
