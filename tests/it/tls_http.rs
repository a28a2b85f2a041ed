//! The station's own listener over TLS (`http.tls`): a self-signed certificate made on
//! first start and reused, its fingerprint in `ping` and the kiosk snapshot, `Secure`
//! cookies, the operator's own files, plain HTTP refused off loopback, and handshakes that
//! never start stalling nobody.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use sha2::Digest;

use crate::api_client::{self, Resp};
use crate::kit::http::exchange;
use crate::support::{Daemon, Station, request};

/// A client config that trusts exactly the certificate in `pem`.
fn client_for(pem: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pem).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// One HTTPS/1.1 request to `addr` as `localhost`.
fn https(
    client: &Arc<rustls::ClientConfig>,
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let tcp = TcpStream::connect(addr).unwrap();
    // Below the handshake timeout: `silent_clients_do_not_block_the_accept_loop` counts on it.
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(client.clone(), name).unwrap();
    let s = rustls::StreamOwned::new(conn, tcp);
    let port = addr.rsplit(':').next().unwrap();
    let r = exchange(s, &format!("localhost:{port}"), method, path, headers, body);
    assert!(
        !r.head.to_ascii_lowercase().contains("chunked"),
        "chunked answer: {}",
        r.head
    );
    r
}

fn sha256_colon(der: &[u8]) -> String {
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ping(d: &Daemon) -> Value {
    request(&d.socket, &json!({"op": "ping"})).unwrap()
}

/// The fingerprint of the first certificate in `pem`.
fn pem_fingerprint(pem: &Path) -> String {
    let c = CertificateDer::pem_file_iter(pem)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    sha256_colon(c.as_ref())
}

/// A plain-HTTP request to the TLS port gets no HTTP answer: the connection is closed.
fn plain_http_is_refused(addr: &str) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let mut out = Vec::new();
    let r = s.read_to_end(&mut out);
    if let Err(e) = &r {
        assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "not closed");
    }
    assert!(
        !String::from_utf8_lossy(&out).contains("HTTP/1.1"),
        "plain HTTP answered: {}",
        String::from_utf8_lossy(&out)
    );
}

/// Self-signed: made on first start in `state_dir/tls/` (key 0600), trusted by a client
/// that reads it from there; its fingerprint is the one `ping` and the kiosk show; login
/// sets a `Secure` cookie; plain HTTP is refused; a restart reuses the same certificate.
#[test]
fn self_signed_certificate_serves_and_is_reused() {
    use std::os::unix::fs::PermissionsExt;
    let st = api_client::station("tls = \"self-signed\"");
    let d = st.start();
    let cert = st.state_dir().join("tls/cert.pem");
    let key = st.state_dir().join("tls/key.pem");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode");
    let client = client_for(&cert);
    let addr = api_client::addr(&d);
    let r = https(&client, &addr, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"ok": true}));
    let fp = pem_fingerprint(&cert);
    assert_eq!(ping(&d)["tls_fingerprint"], json!(fp));
    assert_eq!(fp.len(), 95, "{fp}");
    // `returnsd ping` prints it for people (the config's language is English).
    let out = st.cli(&["ping"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("Certificate fingerprint (SHA-256): {fp}")),
        "{text}"
    );
    assert!(text.contains(&format!("https://{addr}")), "{text}");
    // The kiosk snapshot (loopback peer, loopback host) names it too.
    let k = https(&client, &addr, "GET", "/api/v1/kiosk/state", &[], b"");
    assert_eq!(k.status, 200, "{}", String::from_utf8_lossy(&k.body));
    assert_eq!(k.json()["station"]["tls_fingerprint"], json!(fp));
    // The kiosk page has the line for it, in both languages.
    let page = https(&client, &addr, "GET", "/kiosk", &[], b"");
    assert!(String::from_utf8_lossy(&page.body).contains("id=\"tls-fingerprint\""));
    for (lang, word) in [("zh-CN", "证书指纹"), ("en", "Certificate fingerprint")] {
        let r = https(
            &client,
            &addr,
            "GET",
            &format!("/api/v1/i18n?lang={lang}"),
            &[],
            b"",
        );
        assert_eq!(r.json()["strings"]["kiosk.tls_fingerprint"], json!(word));
    }
    // Login over HTTPS: the session cookie is Secure.
    let body = json!({"badge": "017", "pin": "1111"}).to_string();
    let r = https(
        &client,
        &addr,
        "POST",
        "/api/v1/session",
        &[api_client::JSON],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    plain_http_is_refused(&addr);
    // The key never reaches the log.
    let key_pem = std::fs::read_to_string(&key).unwrap();
    let key_line = key_pem.lines().nth(1).unwrap().to_string();
    let first = std::fs::read(&cert).unwrap();
    d.stop();
    let d = st.start();
    assert_eq!(std::fs::read(&cert).unwrap(), first, "certificate reused");
    assert_eq!(ping(&d)["tls_fingerprint"], json!(fp));
    let addr = api_client::addr(&d);
    assert_eq!(
        https(&client, &addr, "GET", "/healthz", &[], b"").status,
        200
    );
    let log = d.stop();
    assert!(log.contains(&fp), "fingerprint logged at start: {log}");
    assert!(!log.contains(&key_line), "key material in the log");
}

/// `tls = "files"`: the operator's certificate and key (made here with rcgen).
#[test]
fn certificate_from_files() {
    let pair = rcgen::KeyPair::generate().unwrap();
    let made = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    let st = Station::new("");
    let cert = st.dir.path().join("site.crt");
    std::fs::write(&cert, made.pem()).unwrap();
    std::fs::write(st.dir.path().join("site.key"), pair.serialize_pem()).unwrap();
    let text = std::fs::read_to_string(&st.config).unwrap().replace(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:0\"\ntls = \"files\"\ncert_file = \"site.crt\"\nkey_file = \"site.key\"",
    );
    std::fs::write(&st.config, text).unwrap();
    let d = st.start();
    let addr = api_client::addr(&d);
    let r = https(&client_for(&cert), &addr, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(ping(&d)["tls_fingerprint"], json!(pem_fingerprint(&cert)));
    assert!(
        !st.state_dir().join("tls").exists(),
        "no self-signed certificate made"
    );
    d.stop();
}

/// Plain HTTP off loopback only when the config says `tls = "off"`.
#[test]
fn non_loopback_listen_needs_tls_or_an_explicit_off() {
    let with = |http: &str| {
        let st = Station::new("");
        let text = std::fs::read_to_string(&st.config)
            .unwrap()
            .replace("listen = \"127.0.0.1:0\"", http);
        std::fs::write(&st.config, text).unwrap();
        let out = st.cli(&["check-config"]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = with("listen = \"0.0.0.0:0\"");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("station.toml") && err.contains("http.tls"),
        "{err}"
    );
    for ok in [
        "listen = \"0.0.0.0:0\"\ntls = \"off\"",
        "listen = \"0.0.0.0:0\"\ntls = \"self-signed\"",
    ] {
        let (code, err) = with(ok);
        assert_eq!(code, Some(0), "{ok}: {err}");
    }
    let (code, err) = with("listen = \"127.0.0.1:0\"\ntls = \"files\"");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("http.cert_file"), "{err}");
}

/// Clients that connect and never start a handshake hold no one up: another client is
/// served while they sit there.
#[test]
fn silent_clients_do_not_block_the_accept_loop() {
    let st = api_client::station("tls = \"self-signed\"");
    let d = st.start();
    let addr = api_client::addr(&d);
    let client = client_for(&st.state_dir().join("tls/cert.pem"));
    let silent: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // Each request is bounded by its socket timeout (10 s, below the handshake timeout
    // the silent ones are held to); all must be answered while the silent ones wait.
    let deadline = Instant::now() + Duration::from_secs(8);
    for _ in 0..3 {
        let r = https(&client, &addr, "GET", "/healthz", &[], b"");
        assert_eq!(r.status, 200);
    }
    assert!(
        Instant::now() < deadline,
        "served only after the silent clients"
    );
    // The silent connections are still open (not yet timed out) at this point.
    for s in &silent {
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        match (&*s).read(&mut b) {
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            Ok(n) => panic!("silent connection closed early ({n} bytes)"),
        }
    }
    // Then the handshake timeout (10 s) closes them and frees their slots.
    let deadline = Instant::now() + Duration::from_secs(30);
    for s in &silent {
        s.set_nonblocking(false).unwrap();
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut b = [0u8; 64];
        match (&*s).read(&mut b) {
            Ok(n) => assert_eq!(n, 0, "the server said something to a silent client"),
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "silent connection never closed"
            ),
        }
    }
    d.stop();
}
