//! The errors at the sync seams. Their `Display` is the text operators read in
//! `sync status` (`last_error`), so it is worded for them and pinned by the integration
//! tests.

use std::path::PathBuf;

/// Why the HTTP client for the central cannot be built; the workers then stay `rejected`
/// with this text until the config is fixed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("sync.ca_file {}: {source}", path.display())]
    CaFileUnreadable {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("sync.ca_file {}: {source}", path.display())]
    CaCertRefused {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("sync.ca_file {}: no certificate in it", path.display())]
    CaFileEmpty { path: PathBuf },
    #[error("TLS setup: {0}")]
    Tls(rustls::Error),
    #[error("HTTP client: {0}")]
    Http(reqwest::Error),
}
