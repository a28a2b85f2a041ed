//! A fault-injecting HTTP/1.1 proxy for loopback tests: put it between a client and an
//! upstream server (e.g. the central double) and switch its [`FaultMode`] at run time.
//!
//! It is HTTP-aware: it reads each request on a client connection (keep-alive included),
//! decides what to do with it, and forwards it to the upstream on a fresh connection with
//! `Connection: close`. Faults that end a client connection reset it (`SO_LINGER` 0), so
//! the client's pooled keep-alive connection is gone too.
//!
//! Not supported: `Expect: 100-continue`, upgrades, HTTP/2 (reqwest speaks HTTP/1.1 over
//! `http://` unless told otherwise).

// The double's API is wider than what any one test uses.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// What the proxy does with the requests it receives.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultMode {
    /// Forward every request and its response unchanged.
    Pass,
    /// Reset every new connection as soon as it is accepted, and every kept-alive one when
    /// its next request arrives. Nothing reaches the upstream.
    Refuse,
    /// Hold each request this long, then forward it. A request whose client hangs up
    /// meanwhile is never forwarded.
    Delay(Duration),
    /// Answer every request with this status (JSON body `{"error":"injected by proxy"}`),
    /// never forwarding it.
    Status(u16),
    /// Forward the request, read the upstream's whole response (so the upstream has done
    /// its work), then reset the client connection without sending any of it.
    ResetAfterUpstream,
    /// Forward, then send the response `bytes_per_tick` bytes every `tick`.
    SlowDrip {
        bytes_per_tick: usize,
        tick: Duration,
    },
    /// Forward with `Authorization: Bearer wrong-token-from-proxy`.
    WrongToken,
    /// For each request, with probability `p_fault` (deterministic from `seed` and the
    /// request's ordinal) reset it unforwarded, answer 500, reset after the upstream, or
    /// delay it 50–300 ms; otherwise pass it.
    Random { seed: u64, p_fault: f64 },
}

/// What the proxy did with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Forwarded,
    /// Reset without forwarding (Refuse on a kept-alive connection, or Random).
    Refused,
    /// Forwarded after this delay.
    Delayed(Duration),
    /// The client hung up during the delay; not forwarded.
    DroppedDuringDelay,
    Status(u16),
    ResetAfterUpstream,
    SlowDrip,
    WrongToken,
    /// The upstream could not be reached; answered 502.
    BadGateway,
}

/// One request the proxy read.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyRecord {
    /// 1-based ordinal among all requests this proxy read.
    pub n: u64,
    pub method: String,
    pub target: String,
    pub action: Action,
}

/// The proxy. Dropping it stops it and drops every connection.
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    mode: Mutex<FaultMode>,
    upstream: Mutex<SocketAddr>,
    requests: AtomicU64,
    connections: AtomicU64,
    refused: AtomicU64,
    log: Mutex<Vec<ProxyRecord>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const WRONG_TOKEN: &str = "Bearer wrong-token-from-proxy";
const MAX_HEAD: usize = 64 << 10;
const MAX_BODY: usize = 64 << 20;
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

impl FaultProxy {
    /// Bind `127.0.0.1:0` and proxy to `upstream` (a loopback address) in `Pass` mode.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        assert!(
            upstream.ip().is_loopback(),
            "proxy: upstream {upstream} is not a loopback address"
        );
        let shared = Arc::new(Shared {
            mode: Mutex::new(FaultMode::Pass),
            upstream: Mutex::new(upstream),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("proxy: set listener non-blocking");
        let addr = listener.local_addr().expect("proxy: local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("proxy: build tokio runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener)
                        .expect("proxy: register listener with tokio");
                    tokio::select! {
                        _ = accept_loop(sh, listener) => {}
                        _ = stopped => {}
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(2));
            })
            .expect("proxy: spawn thread");
        FaultProxy {
            shared,
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switch the mode; it applies to every request read from now on.
    pub fn set(&self, mode: FaultMode) {
        if let FaultMode::Random { p_fault, .. } = mode {
            assert!(
                (0.0..=1.0).contains(&p_fault),
                "proxy: p_fault {p_fault} is not within 0..=1"
            );
        }
        *lock(&self.shared.mode) = mode;
    }

    pub fn mode(&self) -> FaultMode {
        lock(&self.shared.mode).clone()
    }

    /// Proxy to another upstream from the next request on.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        assert!(
            upstream.ip().is_loopback(),
            "proxy: upstream {upstream} is not a loopback address"
        );
        *lock(&self.shared.upstream) = upstream;
    }

    /// HTTP requests read from clients, whatever was done with them (connections reset on
    /// accept in `Refuse` mode carry no request and are counted by [`Self::refused`]).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Client connections accepted (including those reset at once).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections reset on accept in `Refuse` mode.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Every request read, in order, with what was done with it.
    pub fn log(&self) -> Vec<ProxyRecord> {
        lock(&self.shared.log).clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            eprintln!("proxy: thread panicked");
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("proxy: accept failed: {e}");
                // The proxy's own back-off (out of descriptors must not spin), not a wait.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        if *lock(&shared.mode) == FaultMode::Refuse {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            reset(stream);
            continue;
        }
        tokio::spawn(serve_connection(shared.clone(), stream));
    }
}

/// Close with RST rather than FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// One HTTP/1.x request as read from the client; `body` is raw (still chunked if it was).
struct Request {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The client wants the connection closed after the response.
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read one CRLF- (or LF-) terminated line, without the terminator; `None` at EOF.
async fn read_line(
    conn: &mut BufReader<TcpStream>,
    budget: &mut usize,
) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = (&mut *conn)
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget || !line.ends_with(b"\n") {
        return Err(std::io::Error::other("request head too long or truncated"));
    }
    *budget -= n;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| std::io::Error::other("request head is not UTF-8"))
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::other(what.to_string())
}

/// Read the next request; `Ok(None)` when the client closed the connection between requests.
async fn read_request(conn: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut budget = MAX_HEAD;
    // RFC 9112 §2.2: ignore empty lines before the request line.
    let request_line = loop {
        match read_line(conn, &mut budget).await? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn, &mut budget)
            .await?
            .ok_or_else(|| bad("EOF inside the request head"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("malformed header"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
        body: Vec::new(),
        close: false,
    };
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    req.close = if req.version == "HTTP/1.0" {
        !connection.contains("keep-alive")
    } else {
        connection.split(',').any(|t| t.trim() == "close")
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked(conn).await?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(bad("request body too large for the proxy"));
        }
        let mut body = vec![0; len];
        conn.read_exact(&mut body).await?;
        req.body = body;
    }
    Ok(Some(req))
}

/// The raw bytes of a chunked body, through its last chunk and trailers.
async fn read_chunked(conn: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let mut budget = MAX_HEAD;
        let line = read_line(conn, &mut budget)
            .await?
            .ok_or_else(|| bad("EOF inside a chunked body"))?;
        raw.extend_from_slice(line.as_bytes());
        raw.extend_from_slice(b"\r\n");
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let t = read_line(conn, &mut budget)
                    .await?
                    .ok_or_else(|| bad("EOF inside chunk trailers"))?;
                raw.extend_from_slice(t.as_bytes());
                raw.extend_from_slice(b"\r\n");
                if t.is_empty() {
                    return Ok(raw);
                }
            }
        }
        if raw.len() + size > MAX_BODY {
            return Err(bad("request body too large for the proxy"));
        }
        let mut chunk = vec![0; size + 2];
        conn.read_exact(&mut chunk).await?;
        raw.extend_from_slice(&chunk);
    }
}

/// Per-request decision, with `Random` resolved.
enum Plan {
    Pass,
    Refuse,
    Delay(Duration),
    Status(u16),
    ResetAfterUpstream,
    SlowDrip {
        bytes_per_tick: usize,
        tick: Duration,
    },
    WrongToken,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn plan(mode: &FaultMode, n: u64) -> Plan {
    match *mode {
        FaultMode::Pass => Plan::Pass,
        FaultMode::Refuse => Plan::Refuse,
        FaultMode::Delay(d) => Plan::Delay(d),
        FaultMode::Status(s) => Plan::Status(s),
        FaultMode::ResetAfterUpstream => Plan::ResetAfterUpstream,
        FaultMode::SlowDrip {
            bytes_per_tick,
            tick,
        } => Plan::SlowDrip {
            bytes_per_tick: bytes_per_tick.max(1),
            tick,
        },
        FaultMode::WrongToken => Plan::WrongToken,
        FaultMode::Random { seed, p_fault } => {
            let x = splitmix64(seed ^ splitmix64(n));
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            if u >= p_fault {
                return Plan::Pass;
            }
            let y = splitmix64(x);
            match y % 4 {
                0 => Plan::Refuse,
                1 => Plan::Status(500),
                2 => Plan::ResetAfterUpstream,
                _ => Plan::Delay(Duration::from_millis(50 + (y >> 32) % 251)),
            }
        }
    }
}

async fn serve_connection(shared: Arc<Shared>, stream: TcpStream) {
    let mut conn = BufReader::new(stream);
    loop {
        let req = match read_request(&mut conn).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                eprintln!("proxy: dropping a connection: {e}");
                reset(conn.into_inner());
                return;
            }
        };
        let n = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let mode = lock(&shared.mode).clone();
        let record = |action: Action| {
            lock(&shared.log).push(ProxyRecord {
                n,
                method: req.method.clone(),
                target: req.target.clone(),
                action,
            });
        };
        let upstream = *lock(&shared.upstream);
        let response = match plan(&mode, n) {
            Plan::Refuse => {
                record(Action::Refused);
                reset(conn.into_inner());
                return;
            }
            Plan::Status(s) => {
                record(Action::Status(s));
                status_response(s, req.close)
            }
            Plan::Delay(d) => {
                if !wait_unless_hung_up(&mut conn, d).await {
                    record(Action::DroppedDuringDelay);
                    return;
                }
                match forward(upstream, &req, None).await {
                    Some(r) => {
                        record(Action::Delayed(d));
                        client_response(&r, req.close)
                    }
                    None => {
                        record(Action::BadGateway);
                        status_response(502, req.close)
                    }
                }
            }
            Plan::ResetAfterUpstream => {
                let r = forward(upstream, &req, None).await;
                record(if r.is_some() {
                    Action::ResetAfterUpstream
                } else {
                    Action::BadGateway
                });
                reset(conn.into_inner());
                return;
            }
            Plan::SlowDrip {
                bytes_per_tick,
                tick,
            } => {
                let Some(r) = forward(upstream, &req, None).await else {
                    record(Action::BadGateway);
                    if conn
                        .get_mut()
                        .write_all(&status_response(502, true))
                        .await
                        .is_ok()
                    {
                        let _ = conn.get_mut().shutdown().await;
                    }
                    return;
                };
                record(Action::SlowDrip);
                let bytes = client_response(&r, req.close);
                for (i, piece) in bytes.chunks(bytes_per_tick).enumerate() {
                    if i > 0 {
                        // The fault itself: one piece per tick.
                        tokio::time::sleep(tick).await;
                    }
                    if conn.get_mut().write_all(piece).await.is_err()
                        || conn.get_mut().flush().await.is_err()
                    {
                        return;
                    }
                }
                if req.close {
                    let _ = conn.get_mut().shutdown().await;
                    return;
                }
                continue;
            }
            Plan::Pass | Plan::WrongToken => {
                let wrong = matches!(mode, FaultMode::WrongToken);
                match forward(upstream, &req, wrong.then_some(WRONG_TOKEN)).await {
                    Some(r) => {
                        record(if wrong {
                            Action::WrongToken
                        } else {
                            Action::Forwarded
                        });
                        client_response(&r, req.close)
                    }
                    None => {
                        record(Action::BadGateway);
                        status_response(502, req.close)
                    }
                }
            }
        };
        if conn.get_mut().write_all(&response).await.is_err()
            || conn.get_mut().flush().await.is_err()
        {
            return;
        }
        if req.close {
            let _ = conn.get_mut().shutdown().await;
            return;
        }
    }
}

/// Wait `d` (the `Delay` fault itself); false if the client hung up meanwhile.
async fn wait_unless_hung_up(conn: &mut BufReader<TcpStream>, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    tokio::select! {
        _ = tokio::time::sleep_until(deadline) => true,
        r = conn.fill_buf() => match r {
            Ok([]) | Err(_) => false,
            Ok(_) => {
                // A pipelined request: leave it buffered and wait out the delay.
                tokio::time::sleep_until(deadline).await;
                true
            }
        },
    }
}

fn reason(status: u16) -> &'static str {
    axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}

fn status_response(status: u16, close: bool) -> Vec<u8> {
    let body = br#"{"error":"injected by proxy"}"#;
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        reason(status),
        body.len()
    );
    if close {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Send `req` to `upstream` on a fresh connection and read the whole response (the
/// upstream closes after it); `None` if the upstream cannot be reached or fails.
async fn forward(upstream: SocketAddr, req: &Request, token: Option<&str>) -> Option<Vec<u8>> {
    let exchange = async {
        let mut up = TcpStream::connect(upstream).await?;
        let mut head = format!("{} {} {}\r\n", req.method, req.target, req.version);
        let hop_by_hop = [
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "upgrade",
        ];
        let mut saw_auth = false;
        for (name, value) in &req.headers {
            let lower = name.to_ascii_lowercase();
            if hop_by_hop.contains(&lower.as_str()) {
                continue;
            }
            if lower == "authorization" && token.is_some() {
                saw_auth = true;
                head.push_str(&format!("{name}: {}\r\n", token.unwrap_or_default()));
                continue;
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let (Some(t), false) = (token, saw_auth) {
            head.push_str(&format!("Authorization: {t}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        up.write_all(head.as_bytes()).await?;
        up.write_all(&req.body).await?;
        up.flush().await?;
        let mut response = Vec::new();
        up.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    match tokio::time::timeout(UPSTREAM_TIMEOUT, exchange).await {
        Ok(Ok(r)) if !r.is_empty() => Some(r),
        Ok(Ok(_)) => {
            eprintln!("proxy: upstream {upstream} closed without a response");
            None
        }
        Ok(Err(e)) => {
            eprintln!("proxy: upstream {upstream}: {e}");
            None
        }
        Err(_) => {
            eprintln!("proxy: upstream {upstream} timed out");
            None
        }
    }
}

/// The upstream's response re-framed for a kept-alive client: its `Connection` header
/// dropped, a `Content-Length` added when it was delimited by the upstream's close.
fn client_response(upstream: &[u8], close: bool) -> Vec<u8> {
    let Some(split) = upstream.windows(4).position(|w| w == b"\r\n\r\n") else {
        return status_response(502, true);
    };
    let head = String::from_utf8_lossy(&upstream[..split]);
    let body = &upstream[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("HTTP/1.1 502 Bad Gateway");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let mut out = format!("{status_line}\r\n");
    let mut framed = false;
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if name == "connection" || name == "keep-alive" {
            continue;
        }
        if name == "content-length" || name == "transfer-encoding" {
            framed = true;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    let bodiless = status < 200 || status == 204 || status == 304;
    if !framed && !bodiless {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    if close {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}
