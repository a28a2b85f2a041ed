//! The operator API as a client uses it, on the kit's HTTP client (`tests/kit/http.rs`,
//! re-exported here): a station whose operators have PINs, its listener's address, login
//! and sessions.

use serde_json::{Value, json};

pub use crate::kit::http::{JSON, Resp, http};
use crate::support::{Daemon, Station, request};

/// A session as a client holds it.
pub struct Sess {
    pub token: String,
    pub csrf: String,
}

impl Sess {
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
    pub fn cookie(&self) -> String {
        format!("returnsd_session={}", self.token)
    }
}

pub fn phc(pin: &str) -> String {
    use argon2::password_hash::PasswordHasher;
    // Small parameters keep the test fast; verification uses the hash's own parameters.
    let params = argon2::Params::new(1024, 1, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(pin.as_bytes())
        .unwrap()
        .to_string()
}

/// A station whose three operators have PINs 1111 (keeper 017), 2222 (inspector 021) and
/// 3333 (supervisor+keeper 001), with `http_extra` under `[http]`.
pub fn station(http_extra: &str) -> Station {
    let st = Station::new("");
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    for (role, pin) in [
        ("roles = [\"keeper\"]", "1111"),
        ("roles = [\"inspector\"]", "2222"),
        ("roles = [\"supervisor\", \"keeper\"]", "3333"),
    ] {
        text = text.replace(role, &format!("{role}\npin_hash = \"{}\"", phc(pin)));
    }
    text = text.replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:0\"\n{http_extra}"),
    );
    std::fs::write(&st.config, text).unwrap();
    st
}

pub fn addr(d: &Daemon) -> String {
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    ping["http"].as_str().unwrap().to_string()
}

pub fn login_resp(addr: &str, badge: &str, pin: &str) -> Resp {
    let body = json!({"badge": badge, "pin": pin}).to_string();
    http(addr, "POST", "/api/v1/session", &[JSON], body.as_bytes())
}

pub fn login(addr: &str, badge: &str, pin: &str) -> Sess {
    let r = login_resp(addr, badge, pin);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    Sess {
        token: v["token"].as_str().unwrap().to_string(),
        csrf: v["csrf_token"].as_str().unwrap().to_string(),
    }
}

pub fn get(addr: &str, s: &Sess, path: &str) -> Resp {
    http(addr, "GET", path, &[("Authorization", &s.bearer())], b"")
}

pub fn post(addr: &str, s: &Sess, path: &str, body: &Value) -> Resp {
    let b = body.to_string();
    http(
        addr,
        "POST",
        path,
        &[("Authorization", &s.bearer()), JSON],
        b.as_bytes(),
    )
}
