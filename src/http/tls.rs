//! The station's own TLS: the certificate the listener presents (made on first start with
//! `tls = "self-signed"` and kept in `state_dir/tls/`, or the operator's `cert_file` and
//! `key_file`), its SHA-256 fingerprint for pairing a handheld, and the rustls server
//! configuration (ring provider). Key material never reaches a log line or `Debug`.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::config::{Config, TlsMode};

/// File names under `state_dir/tls/` for the self-signed certificate.
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";

/// What the listener needs to speak TLS.
#[derive(Clone)]
pub struct ServerTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// SHA-256 of the leaf certificate, colon-separated upper-case hex.
    pub fingerprint: String,
    /// Where the certificate (PEM) is.
    pub cert_path: PathBuf,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("fingerprint", &self.fingerprint)
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of `der` as browsers show it: `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The listener's TLS for `cfg` (None with `tls = "off"`); makes the self-signed
/// certificate on first start. `listen` is the bound address (for the certificate's names).
pub fn setup(cfg: &Config, listen: SocketAddr) -> Result<Option<ServerTls>, String> {
    let (cert_path, key_path) = match &cfg.http.tls {
        TlsMode::Off => return Ok(None),
        TlsMode::Files { cert, key } => (cert.clone(), key.clone()),
        TlsMode::SelfSigned => {
            let dir = cfg.storage.state_dir.join("tls");
            let paths = (dir.join(CERT_FILE), dir.join(KEY_FILE));
            ensure_self_signed(&dir, &paths.0, &paths.1, cfg.station.id.as_str(), listen)?;
            paths
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("http TLS certificate {}: {e}", cert_path.display()))?;
    let Some(leaf) = certs.first() else {
        return Err(format!(
            "http TLS certificate {}: no certificate in the file",
            cert_path.display()
        ));
    };
    let fingerprint = fingerprint(leaf.as_ref());
    // The key's parse error names the file only: its text may quote key bytes.
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|_| {
        format!(
            "http TLS key {}: not a readable PEM private key",
            key_path.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("http TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "http TLS certificate {} and key {} do not make a usable pair: {e}",
                cert_path.display(),
                key_path.display()
            )
        })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(ServerTls {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        fingerprint,
        cert_path,
    }))
}

/// This machine's host name (empty when unknown).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The names the self-signed certificate is good for.
fn subject_names(listen: SocketAddr) -> Vec<String> {
    let mut names = Vec::new();
    let host = host_name();
    if !host.is_empty() && host != "localhost" {
        names.push(host);
    }
    names.push("localhost".to_string());
    names.push("127.0.0.1".to_string());
    let ip = listen.ip();
    if !ip.is_unspecified() && ip.to_string() != "127.0.0.1" {
        names.push(ip.to_string());
    }
    names
}

/// Reuse the certificate and key in `dir`, or make both when neither exists. One without
/// the other is refused rather than overwritten.
fn ensure_self_signed(
    dir: &Path,
    cert: &Path,
    key: &Path,
    station: &str,
    listen: SocketAddr,
) -> Result<(), String> {
    match (cert.exists(), key.exists()) {
        (true, true) => return Ok(()),
        (false, false) => {}
        (has_cert, _) => {
            let (there, missing) = if has_cert { (cert, key) } else { (key, cert) };
            return Err(format!(
                "http TLS: {} exists but {} is missing; restore it, or remove {} to make a new certificate",
                there.display(),
                missing.display(),
                dir.display()
            ));
        }
    }
    let names = subject_names(listen);
    let mut params = rcgen::CertificateParams::new(names)
        .map_err(|e| format!("http TLS: certificate names: {e}"))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("returnsd {station}"));
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "returnsd station");
    let year = chrono::Datelike::year(&chrono::Utc::now());
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 20, 1, 1);
    let pair = rcgen::KeyPair::generate().map_err(|e| format!("http TLS: key pair: {e}"))?;
    let made = params
        .self_signed(&pair)
        .map_err(|e| format!("http TLS: self-signed certificate: {e}"))?;
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("http TLS: {}: {e}", dir.display()))?;
    }
    write_new(key, pair.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert, made.pem().as_bytes(), 0o644)?;
    tracing::info!(cert = %cert.display(), "made a self-signed TLS certificate");
    Ok(())
}

/// Write `bytes` to a temporary file created with `mode`, sync it, rename it into place.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let fail = |e: std::io::Error| format!("http TLS: {}: {e}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_colon_hex() {
        let f = fingerprint(b"abc");
        assert_eq!(f.len(), 32 * 3 - 1);
        assert!(f.starts_with("BA:78:16:BF:"), "{f}");
    }

    #[test]
    fn names_cover_loopback_and_the_listen_ip() {
        let n = subject_names("0.0.0.0:8470".parse().unwrap());
        assert!(n.contains(&"localhost".to_string()));
        assert!(n.contains(&"127.0.0.1".to_string()));
        assert!(!n.contains(&"0.0.0.0".to_string()));
        let n = subject_names("192.168.7.2:8470".parse().unwrap());
        assert!(n.contains(&"192.168.7.2".to_string()));
    }

    #[test]
    fn made_once_then_reused_with_a_private_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let (c, k) = (tls.join(CERT_FILE), tls.join(KEY_FILE));
        let addr = "127.0.0.1:1".parse().unwrap();
        ensure_self_signed(&tls, &c, &k, "ST01", addr).unwrap();
        let mode = std::fs::metadata(&k).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = std::fs::read(&c).unwrap();
        ensure_self_signed(&tls, &c, &k, "ST01", addr).unwrap();
        assert_eq!(std::fs::read(&c).unwrap(), first);
        std::fs::remove_file(&k).unwrap();
        let e = ensure_self_signed(&tls, &c, &k, "ST01", addr).unwrap_err();
        assert!(e.contains("missing"), "{e}");
    }
}
