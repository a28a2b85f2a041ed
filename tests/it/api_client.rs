//! A plain HTTP/1.1 client over `std::net::TcpStream` for the API tests, and a station
//! whose operators have PINs.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Daemon, Station, request};

pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn decode_chunked(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
}

/// One HTTP/1.1 request; `headers` are sent as given.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes());
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {}", String::from_utf8_lossy(&out)));
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let mut body = out[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = decode_chunked(&body);
    }
    Resp { status, head, body }
}

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

pub const JSON: (&str, &str) = ("Content-Type", "application/json");

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
