//! The HTTP client for the central: rustls with the `ring` provider (no OpenSSL, no C-built
//! crypto), the system's CA certificates plus an optional extra CA file, explicit timeouts.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::error::ClientError;
use super::settings::{CentralSettings, Token};

/// What a sync worker needs to talk to the central.
pub struct Central {
    /// `central_url`, without the `/v1/…` paths.
    pub base_url: String,
    pub token: Token,
    pub http: reqwest::Client,
}

impl Central {
    pub fn connect(s: &CentralSettings) -> Result<Central, ClientError> {
        Ok(Central {
            base_url: s.base_url.clone(),
            token: s.token.clone(),
            http: build(s)?,
        })
    }
}

/// Longest wait for a connection, whatever the request timeout.
const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(10);
/// Idle connections are dropped after this (the central may sit behind a NAT or proxy).
const POOL_IDLE: Duration = Duration::from_secs(30);

pub fn build(s: &CentralSettings) -> Result<reqwest::Client, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        let _ = roots.add(c);
    }
    if let Some(path) = &s.ca_file {
        let unreadable = |source| ClientError::CaFileUnreadable {
            path: path.clone(),
            source,
        };
        let mut n = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(unreadable)? {
            roots
                .add(cert.map_err(unreadable)?)
                .map_err(|source| ClientError::CaCertRefused {
                    path: path.clone(),
                    source,
                })?;
            n += 1;
        }
        if n == 0 {
            return Err(ClientError::CaFileEmpty { path: path.clone() });
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(s.request_timeout)
        .connect_timeout(s.request_timeout.min(CONNECT_TIMEOUT_MAX))
        .pool_idle_timeout(POOL_IDLE)
        .user_agent(concat!("returnsd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(ClientError::Http)
}

/// A transport error with all its causes: reqwest's own text alone ("error sending
/// request") does not say whether it was TLS, DNS or a reset.
pub fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(ca_file: Option<std::path::PathBuf>) -> CentralSettings {
        CentralSettings {
            base_url: "http://127.0.0.1:1".into(),
            token: Token::Inline("t".into()),
            ca_file,
            request_timeout: Duration::from_secs(5),
        }
    }

    /// A CA file without a certificate is refused with the key and path operators need.
    #[test]
    fn ca_file_errors_name_the_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let e = build(&settings(Some(empty.clone()))).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("sync.ca_file {}: no certificate in it", empty.display())
        );
        let missing = dir.path().join("missing.pem");
        let e = build(&settings(Some(missing.clone()))).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("sync.ca_file {}: ", missing.display())),
            "{e}"
        );
        assert!(build(&settings(None)).is_ok());
    }
}
