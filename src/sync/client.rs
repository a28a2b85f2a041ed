//! The HTTP client for the central: rustls with the `ring` provider (no OpenSSL, no C-built
//! crypto), the system's CA certificates plus an optional extra CA file, explicit timeouts.

use crate::config::SyncConfig;

/// What a sync worker needs to talk to the central: its base URL, the station token and a
/// client. `Ok(None)` when no central is configured; `Err` when the client cannot be built.
pub fn for_worker(
    cfg: &SyncConfig,
) -> Result<Option<(String, crate::config::Secret, reqwest::Client)>, String> {
    let (Some(base), Some(token)) = (cfg.central_url.clone(), cfg.station_token.clone()) else {
        return Ok(None);
    };
    Ok(Some((base, token, build(cfg)?)))
}

pub fn build(cfg: &SyncConfig) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        let _ = roots.add(c);
    }
    if let Some(path) = &cfg.ca_file {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut n = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("sync.ca_file {}: {e}", path.display()))?
        {
            let cert = cert.map_err(|e| format!("sync.ca_file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("sync.ca_file {}: {e}", path.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!(
                "sync.ca_file {}: no certificate in it",
                path.display()
            ));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(cfg.request_timeout)
        .connect_timeout(cfg.request_timeout.min(std::time::Duration::from_secs(10)))
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("returnsd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}
