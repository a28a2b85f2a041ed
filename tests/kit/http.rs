//! A plain HTTP/1.1 client over any byte stream, for the station's listener, the central
//! double, chromedriver and the benches: one request per connection ([`http`],
//! [`exchange`] for a stream the caller made, e.g. TLS) or many on a kept-alive [`Conn`].
//!
//! Answers are read by their framing (`Content-Length`, chunked, or to the end of the
//! stream), so a server that keeps the socket open after `Connection: close` does not hang
//! the client. Requests are written as given: a test of malformed requests still writes
//! its own bytes on a raw `TcpStream`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// How long a read may wait: bounds a server that hangs, far above any answer's time.
const READ_WITHIN: Duration = Duration::from_secs(30);

/// `Content-Type: application/json`, to put in a request's headers.
pub const JSON: (&str, &str) = ("Content-Type", "application/json");

/// One HTTP answer.
pub struct Resp {
    pub status: u16,
    /// The status line and the headers, as received (without the blank line).
    pub head: String,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON; panics showing the body if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as JSON, or `Null` when it is empty or not JSON.
    pub fn json_or_null(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value (name compared without case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Write one request. `Content-Length` is sent when there is a body or the method is
/// POST; `close` adds `Connection: close`.
fn write_request(
    w: &mut impl Write,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) -> std::io::Result<()> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    if close {
        req.push_str("Connection: close\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    w.write_all(&bytes)?;
    w.flush()
}

/// Read one answer: the head, then the body by its framing.
pub fn read_response(r: &mut impl BufRead) -> std::io::Result<Resp> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "no complete HTTP answer: {:?}",
                    String::from_utf8_lossy(&head)
                ),
            ));
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        head.extend_from_slice(&line);
    }
    let head = String::from_utf8_lossy(&head).trim_end().to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    let resp = |body| Resp {
        status,
        head: head.clone(),
        body,
    };
    let header = |name: &str| resp(Vec::new()).header(name);
    if status < 200 || status == 204 || status == 304 {
        return Ok(resp(Vec::new()));
    }
    if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0u8; n];
        r.read_exact(&mut body)?;
        return Ok(resp(body));
    }
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Ok(resp(read_chunked(r)?));
    }
    // Neither: the body ends with the stream. Its end may be abrupt (a TLS server that
    // closes without close_notify after `Connection: close`): what came is the body.
    let mut body = Vec::new();
    let _ = r.read_to_end(&mut body);
    Ok(resp(body))
}

/// A chunked body up to its last (empty) chunk and the trailer.
fn read_chunked(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(body);
        }
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|e| std::io::Error::other(format!("chunk size {line:?}: {e}")))?;
        if size == 0 {
            // Trailer fields, if any, up to the blank line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
    }
}

/// One request with `Connection: close` on a stream the caller opened (plain or TLS, its
/// read timeout set); `host` is the `Host` header. A failed write is not fatal: a server
/// may answer (413) and close before it has read the whole body.
pub fn exchange(
    stream: impl Read + Write,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = BufReader::new(stream);
    let _ = write_request(s.get_mut(), host, method, path, headers, body, true);
    read_response(&mut s).unwrap_or_else(|e| panic!("{method} {path} on {host}: {e}"))
}

/// One HTTP/1.1 request to `addr` (`host:port`) on a connection of its own.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(READ_WITHIN)).unwrap();
    exchange(s, addr, method, path, headers, body)
}

/// Read an open stream (an event stream, head and all) into `seen` until `needle` shows up;
/// panics after 20 s or if the stream closes first. Give the stream a short read timeout
/// so the deadline is checked between reads.
pub fn read_until(s: &mut TcpStream, seen: &mut String, needle: &str) {
    let mut buf = [0u8; 8192];
    // No pause between reads: the read timeout paces the loop.
    let found = super::poll::try_poll(Duration::from_secs(20), Duration::ZERO, || {
        if seen.contains(needle) {
            return Some(());
        }
        if let Ok(n) = s.read(&mut buf) {
            assert!(n > 0, "stream closed before {needle:?}: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        None
    });
    assert!(found.is_some(), "no {needle:?} in {seen}");
}

/// One kept-alive HTTP/1.1 connection (Nagle off: a bench times its round trips).
pub struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    pub fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(READ_WITHIN)).unwrap();
        Conn {
            stream: BufReader::new(s),
            host: addr.to_string(),
        }
    }

    /// One request on this connection and its answer.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        write_request(
            self.stream.get_mut(),
            &self.host,
            method,
            path,
            headers,
            body,
            false,
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        read_response(&mut self.stream).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}
