//! The station pushes to an `https://` central through rustls (ring provider, no OpenSSL),
//! trusting a private CA only when `sync.ca_file` names it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};

use crate::kit::central::{Central, CentralOptions};
use crate::support::{EVERY, Station, request, try_poll};

/// A TLS terminator on 127.0.0.1 in front of a plain-HTTP upstream, with a cert for
/// `localhost` signed by a private CA. Returns its address and the CA's PEM.
fn tls_front(upstream: SocketAddr) -> (SocketAddr, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca_cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            loop {
                let Ok((tcp, _)) = l.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
    });
    (rx.recv().unwrap(), ca_cert.pem())
}

fn station(central_url: &str, ca_file: Option<&std::path::Path>) -> Station {
    let ca = ca_file
        .map(|p| format!("ca_file = \"{}\"\n", p.display()))
        .unwrap_or_default();
    Station::new(&format!(
        "[sync]\ncentral_url = \"{central_url}\"\nstation_token = \"station-token\"\nbackoff_cap_s = 1\nrequest_timeout_s = 5\n{ca}"
    ))
}

fn sync_status(st: &Station) -> Value {
    request(&st.socket(), &json!({"op": "sync_status"})).unwrap()
}

/// With the private CA in `ca_file`, events reach the central over TLS, exactly once.
#[test]
fn pushes_over_tls_with_a_private_ca() {
    let central = Central::start(CentralOptions::default());
    let (front, ca_pem) = tls_front(central.addr());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let st = station(&format!("https://localhost:{}", front.port()), Some(&ca));
    let d = st.start();
    for i in 0..5 {
        request(
            &d.socket,
            &json!({"op": "scan", "code": format!("TLS-{i}")}),
        )
        .unwrap();
    }
    let epoch = request(&d.socket, &json!({"op": "ping"})).unwrap()["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    central.wait_until(Duration::from_secs(30), "5 events over TLS", |c| {
        c.acked_through(&epoch) == 5
    });
    assert_eq!(central.events(&epoch).len(), 5);
    d.stop();
}

/// Without the CA the certificate is not trusted: nothing is sent, everything is kept, and
/// the status names the TLS failure.
#[test]
fn untrusted_certificate_keeps_events_and_alarms() {
    let central = Central::start(CentralOptions::default());
    let (front, _) = tls_front(central.addr());
    let st = station(&format!("https://localhost:{}", front.port()), None);
    let d = st.start();
    request(&d.socket, &json!({"op": "scan", "code": "TLS-X"})).unwrap();
    let mut last = Value::Null;
    let status = try_poll(Duration::from_secs(30), EVERY, || {
        let s = sync_status(&st);
        if s["push"]["last_error"].is_string() {
            return Some(s);
        }
        last = s;
        None
    })
    .unwrap_or_else(|| panic!("no push error reported: {last}"));
    let err = status["push"]["last_error"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(
        err.contains("certificate") || err.contains("unknownissuer") || err.contains("tls"),
        "{err}"
    );
    assert_eq!(status["push"]["state"], "backoff");
    assert_eq!(status["backlog"], 1, "the event is kept");
    assert!(central.epochs().is_empty(), "nothing reached the central");
    d.stop();
}
