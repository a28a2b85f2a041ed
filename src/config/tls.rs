//! `[http] tls`, `cert_file`, `key_file`: whether the station's listener speaks TLS and
//! with which certificate. Plain HTTP is the default only on a loopback address; anywhere
//! else it must be asked for with `tls = "off"`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// How the HTTP listener speaks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain HTTP.
    #[default]
    Off,
    /// A certificate the station makes on first start and keeps in `state_dir/tls/`.
    SelfSigned,
    /// The operator's certificate chain and private key (PEM).
    Files { cert: PathBuf, key: PathBuf },
}

impl TlsMode {
    pub fn is_on(&self) -> bool {
        !matches!(self, TlsMode::Off)
    }
}

/// Validate the TLS keys of `[http]`; `listen` is the parsed `http.listen` (None = off).
pub fn tls_mode(
    tls: Option<&str>,
    cert_file: Option<&Path>,
    key_file: Option<&Path>,
    listen: Option<SocketAddr>,
    base: &Path,
    bad: &mut impl FnMut(&str, String),
) -> TlsMode {
    let resolve = |p: &Path| {
        if p.is_relative() {
            base.join(p)
        } else {
            p.to_path_buf()
        }
    };
    let mode = match tls {
        None => match listen {
            Some(a) if !a.ip().is_loopback() => {
                bad(
                    "http.tls",
                    format!(
                        "plain HTTP on {a}, which is not a loopback address: set tls = \"self-signed\" or \"files\" (or tls = \"off\" to serve plain HTTP anyway)"
                    ),
                );
                TlsMode::Off
            }
            _ => TlsMode::Off,
        },
        Some("off") => TlsMode::Off,
        Some("self-signed") => TlsMode::SelfSigned,
        Some("files") => {
            let mut need = |key: &str, v: Option<&Path>| match v {
                None => {
                    bad(key, "required with tls = \"files\" (a PEM file)".into());
                    None
                }
                Some(p) => {
                    let p = resolve(p);
                    if !p.is_file() {
                        bad(key, format!("{} does not exist", p.display()));
                    }
                    Some(p)
                }
            };
            let cert = need("http.cert_file", cert_file);
            let key = need("http.key_file", key_file);
            match (cert, key) {
                (Some(cert), Some(key)) => TlsMode::Files { cert, key },
                _ => TlsMode::Off,
            }
        }
        Some(other) => {
            bad(
                "http.tls",
                format!("{other:?}: use \"self-signed\", \"files\" or \"off\""),
            );
            TlsMode::Off
        }
    };
    if !matches!(mode, TlsMode::Files { .. }) && tls != Some("files") {
        for (key, v) in [("http.cert_file", cert_file), ("http.key_file", key_file)] {
            if v.is_some() {
                bad(key, "only used with tls = \"files\"".into());
            }
        }
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        tls: Option<&str>,
        cert: Option<&str>,
        listen: &str,
    ) -> (TlsMode, Vec<(String, String)>) {
        let mut errs = Vec::new();
        let mut bad = |k: &str, p: String| errs.push((k.to_string(), p));
        let m = tls_mode(
            tls,
            cert.map(Path::new),
            cert.map(Path::new),
            listen.parse().ok(),
            Path::new("/nonexistent"),
            &mut bad,
        );
        (m, errs)
    }

    #[test]
    fn plain_http_only_on_loopback_or_when_asked() {
        assert_eq!(run(None, None, "127.0.0.1:8470"), (TlsMode::Off, vec![]));
        assert_eq!(run(None, None, "[::1]:8470"), (TlsMode::Off, vec![]));
        let (_, e) = run(None, None, "0.0.0.0:8470");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "http.tls");
        assert_eq!(
            run(Some("off"), None, "0.0.0.0:8470"),
            (TlsMode::Off, vec![])
        );
        assert_eq!(
            run(Some("self-signed"), None, "192.168.1.5:8470"),
            (TlsMode::SelfSigned, vec![])
        );
        let (_, e) = run(Some("on"), None, "127.0.0.1:1");
        assert_eq!(e[0].0, "http.tls");
        let (_, e) = run(Some("files"), None, "127.0.0.1:1");
        let keys: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["http.cert_file", "http.key_file"]);
        let (_, e) = run(Some("files"), Some("x.pem"), "127.0.0.1:1");
        assert!(e[0].1.contains("/nonexistent/x.pem"), "{e:?}");
        let (_, e) = run(Some("self-signed"), Some("x.pem"), "127.0.0.1:1");
        assert_eq!(e[0].0, "http.cert_file");
    }
}
