//! A test double for the central server of the station ⇄ central sync contract
//! (`shared/spec/central-sync.md`, version 1): event push, blob upload and the feed, stored
//! durably in its own SQLite file and served by axum on `127.0.0.1:0`.
//!
//! It runs on a dedicated thread with its own multi-thread tokio runtime, so plain `#[test]`s
//! and `#[tokio::test]`s can both use it. The port is bound before [`Central::start`]
//! returns, so [`Central::url`] is ready to take connections.
//!
//! Besides answering the contract it records every contract breach it sees from the station
//! (malformed bodies, wrong time formats, a photo referenced before its blob was uploaded,
//! a `seq` reused with another `id`, …) in [`Central::violations`], so station tests can
//! assert that list is empty, and every push's timing in [`Central::pushes`].
//!
//! Epochs (contract 1.1): a station may push under a new epoch at any time (a wiped or
//! restored database); each epoch is numbered from 1. An event re-sent under a new epoch
//! with `restored_from: {epoch, seq}` and an `id` the central already holds is recognised
//! as the same event: stored as a copy (not a *primary* record), checked to be the same
//! event, never refused as a duplicate. An `id` the central never saw becomes primary.
//! [`Central::primary_ids`] lets a test check every event is held exactly once as primary.
//!
//! Lost photos (contract 1.1): a photo entry marked `"lost": true` needs no blob — a
//! supervisor at the station acknowledged that it can no longer be uploaded, and a
//! `photo.lost` event (`{sha256, reason}`) follows the events that reference it. An entry
//! without the mark still needs its blob first; a `lost` that is not `true`/`false`, or a
//! `photo.lost` without its sha256 and reason, is a violation.
//!
//! It is the only central double: the integration tests and the sync bench
//! (`benches/sync.rs`) both use it; `tests/it/central_selftest.rs` holds it to the contract.

// Handlers pass early answers (`Response`, large) up as `Err` on purpose.
#![allow(clippy::result_large_err)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Value, json};
use sha2::Digest;

use super::poll::{poll_within, try_poll};

/// At most this many events in one push.
pub const MAX_EVENTS: usize = 1000;
/// At most this many bytes of (uncompressed) JSON in one push.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// At most this many bytes in one blob.
pub const MAX_BLOB_BYTES: usize = 10 << 20;
/// Feed page size when the request names none.
pub const DEFAULT_FEED_LIMIT: usize = 100;
/// Feed page size is clamped to this.
pub const MAX_FEED_LIMIT: usize = 1000;
/// The content types a blob may have.
pub const BLOB_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// How to start a [`Central`].
#[derive(Debug, Clone)]
pub struct CentralOptions {
    /// The one station this central serves; other station ids in a path answer 403.
    pub station_id: String,
    /// The bearer token the station must send (rotate with [`Central::set_token`]).
    pub station_token: String,
    /// The token this central would use towards the station (kept for tests to read).
    pub central_token: String,
    /// The SQLite file; `None` puts it in a temp dir that the `Central` owns.
    pub db_path: Option<PathBuf>,
}

impl Default for CentralOptions {
    fn default() -> Self {
        CentralOptions {
            station_id: "ST01".into(),
            station_token: "station-token".into(),
            central_token: "central-token".into(),
            db_path: None,
        }
    }
}

/// One event as the central stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub ty: String,
    pub occurred_at: String,
    pub actor: Option<String>,
    pub return_id: Option<String>,
    pub data: Value,
    /// `(epoch, seq)` the station says the event had before a restore.
    pub restored_from: Option<(String, i64)>,
    /// Whether this is the event's primary record (false: a restored copy of an event the
    /// central already held under another epoch).
    pub primary: bool,
}

/// One event push as the central served it (the benches split a push's time with it).
#[derive(Debug, Clone, Copy)]
pub struct Push {
    /// When its body had arrived.
    pub arrived: Instant,
    /// When its answer was ready (after the commit).
    pub answered: Instant,
    /// The answer's status.
    pub status: u16,
    /// Events in the batch (0 when refused before it was parsed).
    pub events: usize,
    /// Bytes as sent, and of JSON after gunzip (0 when refused before).
    pub body_bytes: usize,
    pub json_bytes: usize,
}

/// The central server double. Dropping it stops the server (the SQLite file stays if it
/// was passed in).
pub struct Central {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: Option<Server>,
    _dir: Option<tempfile::TempDir>,
}

struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

struct Inner {
    station_id: String,
    central_token: String,
    db_path: PathBuf,
    db: Mutex<Connection>,
    knobs: Mutex<Knobs>,
    posts: AtomicU64,
    blob_puts: AtomicU64,
    feed_gets: AtomicU64,
    violations: Mutex<Vec<String>>,
    pushes: Mutex<Vec<Push>>,
}

struct Knobs {
    token: String,
    offset: chrono::Duration,
    partial_ack: Option<usize>,
    fail_next: usize,
    fail_status: u16,
}

/// Lock a mutex; a panic elsewhere while holding it does not cascade here.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS epochs (
    station_id    TEXT NOT NULL,
    epoch         TEXT NOT NULL,
    acked_through INTEGER NOT NULL,
    first_seen    INTEGER NOT NULL,
    PRIMARY KEY (station_id, epoch)
);
CREATE TABLE IF NOT EXISTS events (
    station_id  TEXT NOT NULL,
    epoch       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,
    type        TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor       TEXT,
    return_id   TEXT,
    data        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    restored_from_epoch TEXT,
    restored_from_seq   INTEGER,
    -- 1: the first record of this id; 0: a restored copy of an id already held.
    primary_record      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (station_id, epoch, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_primary_id ON events(id) WHERE primary_record = 1;
CREATE INDEX IF NOT EXISTS events_id ON events(id);
CREATE TABLE IF NOT EXISTS blobs (
    station_id   TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (station_id, sha256)
);
CREATE TABLE IF NOT EXISTS feed (
    n    INTEGER PRIMARY KEY AUTOINCREMENT,
    item TEXT NOT NULL
);
";

fn open_db(path: &Path) -> Connection {
    let db = Connection::open(path)
        .unwrap_or_else(|e| panic!("central: open SQLite {}: {e}", path.display()));
    db.execute_batch(SCHEMA)
        .unwrap_or_else(|e| panic!("central: create schema in {}: {e}", path.display()));
    db
}

/// `2026-11-25T08:30:00.123Z`: RFC 3339, UTC, milliseconds.
pub fn contract_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Whether `s` is a time exactly as the contract writes them (RFC 3339 UTC with ms).
pub fn is_contract_time(s: &str) -> bool {
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

fn now() -> String {
    contract_time(chrono::Utc::now())
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compare in time that depends only on the lengths, not on where the bytes differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

fn reply(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status)
        .unwrap_or_else(|_| panic!("central: {status} is not an HTTP status"));
    (status, axum::Json(body)).into_response()
}

fn cursor_of(n: i64) -> String {
    format!("c-{n:06}")
}

fn parse_cursor(s: &str) -> Option<i64> {
    if s.is_empty() {
        return Some(0);
    }
    let digits = s.strip_prefix("c-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Central {
    /// Open (or create) the database, bind `127.0.0.1:0` and serve in the background.
    pub fn start(opts: CentralOptions) -> Central {
        let (dir, db_path) = match opts.db_path {
            Some(p) => (None, p),
            None => {
                let dir = tempfile::tempdir().expect("central: create temp dir for its database");
                let p = dir.path().join("central.db");
                (Some(dir), p)
            }
        };
        let inner = Arc::new(Inner {
            station_id: opts.station_id,
            central_token: opts.central_token,
            db: Mutex::new(open_db(&db_path)),
            db_path,
            knobs: Mutex::new(Knobs {
                token: opts.station_token,
                offset: chrono::Duration::zero(),
                partial_ack: None,
                fail_next: 0,
                fail_status: 503,
            }),
            posts: AtomicU64::new(0),
            blob_puts: AtomicU64::new(0),
            feed_gets: AtomicU64::new(0),
            violations: Mutex::new(Vec::new()),
            pushes: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("central: bind 127.0.0.1:0 for the central double");
        let addr = listener.local_addr().expect("central: local address");
        let server = serve(inner.clone(), listener);
        Central {
            inner,
            addr,
            server: Some(server),
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn station_id(&self) -> &str {
        &self.inner.station_id
    }

    pub fn central_token(&self) -> &str {
        &self.inner.central_token
    }

    pub fn db_path(&self) -> &Path {
        &self.inner.db_path
    }

    /// Stop serving (dropping every open connection), reopen the SQLite file and serve
    /// again on the same port. Knobs and counters are kept. A client's kept-alive connection
    /// from before is gone: its next request on it may fail like any reset.
    pub fn restart(&mut self) {
        self.stop_server();
        *lock(&self.inner.db) = open_db(&self.inner.db_path);
        // The old server's sockets may linger a moment after its runtime is gone.
        let listener = try_poll(Duration::from_secs(10), Duration::from_millis(50), || {
            std::net::TcpListener::bind(self.addr)
                .map_err(|e| eprintln!("central: rebinding {} failed ({e}), retrying", self.addr))
                .ok()
        })
        .unwrap_or_else(|| panic!("central: could not rebind {} after restart", self.addr));
        self.server = Some(serve(self.inner.clone(), listener));
    }

    fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            if server.thread.join().is_err() {
                eprintln!("central: server thread panicked");
            }
        }
    }

    // ---- inspection -------------------------------------------------------------------

    /// The events stored for `epoch` (of this central's station), in `seq` order.
    pub fn events(&self, epoch: &str) -> Vec<StoredEvent> {
        let db = lock(&self.inner.db);
        let mut stmt = db
            .prepare(
                "SELECT seq, id, type, occurred_at, actor, return_id, data, restored_from_epoch,
                        restored_from_seq, primary_record FROM events
                 WHERE station_id = ?1 AND epoch = ?2 ORDER BY seq",
            )
            .expect("central: prepare events query");
        let rows = stmt
            .query_map(params![self.inner.station_id, epoch], |r| {
                let data: String = r.get(6)?;
                Ok(StoredEvent {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    ty: r.get(2)?,
                    occurred_at: r.get(3)?,
                    actor: r.get(4)?,
                    return_id: r.get(5)?,
                    data: serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("central: stored data is not JSON: {e}")),
                    restored_from: match (r.get::<_, Option<String>>(7)?, r.get(8)?) {
                        (Some(e), Some(s)) => Some((e, s)),
                        _ => None,
                    },
                    primary: r.get(9)?,
                })
            })
            .expect("central: query events");
        rows.map(|r| r.expect("central: read event row")).collect()
    }

    /// How many primary records each event id has, over every epoch of this station: a
    /// central that stores each event exactly once has 1 for every id it ever received.
    pub fn primary_ids(&self) -> std::collections::BTreeMap<String, i64> {
        let db = lock(&self.inner.db);
        let mut stmt = db
            .prepare("SELECT id, SUM(primary_record) FROM events WHERE station_id = ?1 GROUP BY id")
            .expect("central: prepare primary ids query");
        stmt.query_map([&self.inner.station_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("central: query primary ids")
            .map(|r| r.expect("central: read primary id row"))
            .collect()
    }

    /// Every epoch this station has pushed, in the order they were first seen.
    pub fn epochs(&self) -> Vec<String> {
        let db = lock(&self.inner.db);
        let mut stmt = db
            .prepare("SELECT epoch FROM epochs WHERE station_id = ?1 ORDER BY first_seen")
            .expect("central: prepare epochs query");
        stmt.query_map([&self.inner.station_id], |r| r.get(0))
            .expect("central: query epochs")
            .map(|r| r.expect("central: read epoch row"))
            .collect()
    }

    /// The contiguous high-water mark of `epoch`: every seq `1..=N` is stored (0: none).
    pub fn acked_through(&self, epoch: &str) -> i64 {
        acked(&lock(&self.inner.db), &self.inner.station_id, epoch)
            .expect("central: read acked_through")
    }

    /// `(content_type, bytes)` of a stored blob.
    pub fn blob(&self, sha256: &str) -> Option<(String, Vec<u8>)> {
        lock(&self.inner.db)
            .query_row(
                "SELECT content_type, bytes FROM blobs WHERE station_id = ?1 AND sha256 = ?2",
                params![self.inner.station_id, sha256],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .expect("central: query blob")
    }

    /// Event pushes received (every `POST …/events`, whatever it was answered).
    pub fn posts(&self) -> u64 {
        self.inner.posts.load(Ordering::SeqCst)
    }

    /// Blob uploads received (every `PUT …/blobs/…`, whatever it was answered).
    pub fn blob_puts(&self) -> u64 {
        self.inner.blob_puts.load(Ordering::SeqCst)
    }

    /// Feed reads received (every `GET …/feed`, whatever it was answered).
    pub fn feed_gets(&self) -> u64 {
        self.inner.feed_gets.load(Ordering::SeqCst)
    }

    /// Every event push received, in order: when, what it carried, how it was answered.
    pub fn pushes(&self) -> Vec<Push> {
        lock(&self.inner.pushes).clone()
    }

    /// Contract breaches seen from the client, oldest first.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.inner.violations).clone()
    }

    /// Wait (the kit's [`poll_within`]) until `pred` holds; panic naming `what` after
    /// `timeout`. Blocks the calling thread.
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&Central) -> bool,
    ) {
        poll_within(timeout, &format!("central: {what}"), || {
            pred(self).then_some(())
        });
    }

    // ---- knobs ------------------------------------------------------------------------

    /// `server_time` in push and feed answers is the real time plus `offset`.
    pub fn set_server_time_offset(&self, offset: chrono::Duration) {
        lock(&self.inner.knobs).offset = offset;
    }

    /// Acknowledge (and store) at most this many *new* events of each push.
    pub fn set_partial_ack(&self, max_new: Option<usize>) {
        lock(&self.inner.knobs).partial_ack = max_new;
    }

    /// Answer the next `n` event pushes with `status` (body `{"error":"injected"}`),
    /// before checking the token or touching storage.
    pub fn set_fail_next(&self, n: usize, status: u16) {
        assert!(
            StatusCode::from_u16(status).is_ok(),
            "central: set_fail_next: {status} is not an HTTP status"
        );
        let mut k = lock(&self.inner.knobs);
        k.fail_next = n;
        k.fail_status = status;
    }

    /// How many of the injected failures of `set_fail_next` are still to be answered.
    pub fn fail_next_pending(&self) -> usize {
        lock(&self.inner.knobs).fail_next
    }

    /// From now on only `Bearer <station_token>` is accepted.
    pub fn set_token(&self, station_token: &str) {
        lock(&self.inner.knobs).token = station_token.to_string();
    }

    // ---- feed -------------------------------------------------------------------------

    /// Append a feed item `{cursor, type, key, version, data}`; returns its cursor.
    /// `data: None` publishes a delete (`"data": null`).
    pub fn publish(&self, ty: &str, key: &str, version: i64, data: Option<Value>) -> String {
        let db = lock(&self.inner.db);
        let n = insert_feed(&db, "{}");
        let cursor = cursor_of(n);
        let item = json!({
            "cursor": cursor, "type": ty, "key": key, "version": version,
            "data": data.unwrap_or(Value::Null),
        });
        db.execute(
            "UPDATE feed SET item = ?1 WHERE n = ?2",
            params![item.to_string(), n],
        )
        .expect("central: store feed item");
        cursor
    }

    /// Append `item` to the feed verbatim (no cursor is added to it); returns the cursor
    /// of its position, which `next_after` will name when it is the last of a page.
    pub fn publish_raw(&self, item: Value) -> String {
        cursor_of(insert_feed(&lock(&self.inner.db), &item.to_string()))
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        self.stop_server();
    }
}

fn insert_feed(db: &Connection, item: &str) -> i64 {
    db.execute("INSERT INTO feed (item) VALUES (?1)", [item])
        .expect("central: insert feed item");
    db.last_insert_rowid()
}

fn acked(db: &Connection, station: &str, epoch: &str) -> rusqlite::Result<i64> {
    db.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM events WHERE station_id = ?1 AND epoch = ?2",
        params![station, epoch],
        |r| r.get(0),
    )
}

fn serve(inner: Arc<Inner>, listener: std::net::TcpListener) -> Server {
    listener
        .set_nonblocking(true)
        .expect("central: set listener non-blocking");
    let app = Router::new()
        .route("/v1/stations/{station_id}/events", post(post_events))
        .route("/v1/stations/{station_id}/blobs/{sha256}", put(put_blob))
        .route("/v1/stations/{station_id}/feed", get(get_feed))
        // Our own limits answer 413 with a JSON body; this one only bounds memory.
        .layer(DefaultBodyLimit::max(MAX_BLOB_BYTES + (4 << 20)))
        .with_state(inner);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("central-double".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("central: build tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .expect("central: register listener with tokio");
                tokio::select! {
                    r = axum::serve(listener, app) => {
                        if let Err(e) = r {
                            eprintln!("central: server stopped: {e}");
                        }
                    }
                    _ = stopped => {}
                }
            });
            // Drops every connection task without waiting for keep-alive clients.
            rt.shutdown_timeout(Duration::from_secs(2));
        })
        .expect("central: spawn server thread");
    Server { stop, thread }
}

// ---- handlers ---------------------------------------------------------------------------

impl Inner {
    fn violation(&self, what: String) {
        eprintln!("central: contract violation: {what}");
        lock(&self.violations).push(what);
    }

    /// Reject with `status` and record why as a contract breach.
    fn reject(&self, status: u16, error: &str, detail: String) -> Response {
        self.violation(format!("{status} {error}: {detail}"));
        reply(status, json!({ "error": error, "detail": detail }))
    }

    fn authorize(&self, station: &str, headers: &HeaderMap) -> Result<(), Response> {
        let expected = format!("Bearer {}", lock(&self.knobs).token);
        let got = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .unwrap_or(b"");
        if !ct_eq(got, expected.as_bytes()) {
            let mut r = reply(401, json!({ "error": "unauthorized" }));
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Err(r);
        }
        if station != self.station_id {
            return Err(reply(403, json!({ "error": "unknown_station" })));
        }
        Ok(())
    }

    fn server_time(&self) -> String {
        let offset = lock(&self.knobs).offset;
        contract_time(chrono::Utc::now() + offset)
    }
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn content_encoding(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
}

/// The uncompressed push body, or the answer refusing it.
fn decode_batch_body(c: &Inner, headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, Response> {
    let too_large = |n: String| {
        c.reject(
            413,
            "too_large",
            format!("{n} bytes of JSON; at most {MAX_BATCH_BYTES}"),
        )
    };
    match content_encoding(headers).as_deref() {
        None | Some("identity") => {
            if body.len() > MAX_BATCH_BYTES {
                return Err(too_large(body.len().to_string()));
            }
            Ok(body.to_vec())
        }
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(MAX_BATCH_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| c.reject(400, "bad_gzip", e.to_string()))?;
            if out.len() > MAX_BATCH_BYTES {
                return Err(too_large("more than".to_string()));
            }
            Ok(out)
        }
        Some(other) => Err(c.reject(
            415,
            "unsupported_encoding",
            format!("Content-Encoding {other:?}"),
        )),
    }
}

/// One event of a push, checked against the contract.
struct WireEvent {
    seq: i64,
    id: String,
    ty: String,
    occurred_at: String,
    actor: Option<String>,
    return_id: Option<String>,
    data: Value,
    /// `restored_from` (contract 1.1): where the event was before a restore.
    restored_from: Option<(String, i64)>,
}

fn parse_event(i: usize, v: &Value) -> Result<WireEvent, String> {
    let at = |f: &str| format!("events[{i}].{f}");
    let obj = v
        .as_object()
        .ok_or_else(|| format!("events[{i}] is not an object"))?;
    let field = |f: &str| obj.get(f).ok_or_else(|| format!("{} is missing", at(f)));
    let string = |f: &str| -> Result<String, String> {
        field(f)?
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{} is not a string", at(f)))
    };
    let nullable = |f: &str| -> Result<Option<String>, String> {
        match field(f)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(format!("{} is neither a string nor null", at(f))),
        }
    };
    let seq = field("seq")?
        .as_i64()
        .filter(|s| *s >= 1)
        .ok_or_else(|| format!("{} is not an integer >= 1", at("seq")))?;
    let id = string("id")?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(format!("{} {id:?} is not a UUID", at("id")));
    }
    let ty = string("type")?;
    if ty.is_empty() {
        return Err(format!("{} is empty", at("type")));
    }
    let occurred_at = string("occurred_at")?;
    if !is_contract_time(&occurred_at) {
        return Err(format!(
            "{} {occurred_at:?} is not RFC 3339 UTC with milliseconds",
            at("occurred_at")
        ));
    }
    let actor = nullable("actor")?;
    let return_id = nullable("return_id")?;
    let data = field("data")?.clone();
    if !data.is_object() {
        return Err(format!("{} is not an object", at("data")));
    }
    let restored_from = match obj.get("restored_from") {
        None => None,
        Some(r) => {
            let epoch = r
                .get("epoch")
                .and_then(Value::as_str)
                .filter(|e| uuid::Uuid::parse_str(e).is_ok())
                .ok_or_else(|| format!("{}.epoch is not a UUID", at("restored_from")))?;
            let seq = r
                .get("seq")
                .and_then(Value::as_i64)
                .filter(|s| *s >= 1)
                .ok_or_else(|| format!("{}.seq is not an integer >= 1", at("restored_from")))?;
            Some((epoch.to_string(), seq))
        }
    };
    Ok(WireEvent {
        seq,
        id,
        ty,
        occurred_at,
        actor,
        return_id,
        data,
        restored_from,
    })
}

/// `(epoch, events)` of a push body, or why it breaks the contract.
fn parse_batch(c: &Inner, station: &str, raw: &[u8]) -> Result<(String, Vec<WireEvent>), Response> {
    let bad = |detail: String| c.reject(400, "bad_request", detail);
    let body: Value =
        serde_json::from_slice(raw).map_err(|e| c.reject(400, "bad_json", e.to_string()))?;
    let obj = body
        .as_object()
        .ok_or_else(|| bad("the body is not a JSON object".into()))?;
    match obj.get("station_id").and_then(Value::as_str) {
        Some(s) if s == station => {}
        other => {
            return Err(bad(format!(
                "station_id {other:?} does not match the path's {station:?}"
            )));
        }
    }
    let epoch = obj
        .get("epoch")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("epoch is missing or not a string".into()))?;
    if uuid::Uuid::parse_str(epoch).is_err() {
        return Err(bad(format!("epoch {epoch:?} is not a UUID")));
    }
    match obj.get("sent_at").and_then(Value::as_str) {
        Some(t) if is_contract_time(t) => {}
        other => {
            return Err(bad(format!(
                "sent_at {other:?} is not RFC 3339 UTC with milliseconds"
            )));
        }
    }
    let list = obj
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("events is missing or not an array".into()))?;
    if list.len() > MAX_EVENTS {
        return Err(c.reject(
            413,
            "too_many_events",
            format!("{} events; at most {MAX_EVENTS}", list.len()),
        ));
    }
    let events = list
        .iter()
        .enumerate()
        .map(|(i, v)| parse_event(i, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    for (i, e) in events.iter().enumerate() {
        if e.restored_from.as_ref().is_some_and(|(ep, _)| ep == epoch) {
            return Err(bad(format!(
                "events[{i}].restored_from names the batch's own epoch {epoch}"
            )));
        }
    }
    if let Some(first) = events.first() {
        for (i, e) in events.iter().enumerate() {
            if e.seq != first.seq + i as i64 {
                return Err(bad(format!(
                    "events are not contiguous and ascending: events[{i}].seq is {} after {} at events[0]",
                    e.seq, first.seq
                )));
            }
        }
    }
    Ok((epoch.to_string(), events))
}

async fn post_events(
    State(c): State<Arc<Inner>>,
    UrlPath(station): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    c.posts.fetch_add(1, Ordering::SeqCst);
    let mut push = Push {
        arrived,
        answered: arrived,
        status: 0,
        events: 0,
        body_bytes: body.len(),
        json_bytes: 0,
    };
    let r = serve_push(&c, &station, &headers, &body, &mut push);
    push.answered = Instant::now();
    push.status = r.status().as_u16();
    lock(&c.pushes).push(push);
    r
}

/// An event push, start to answer; notes the sizes it saw in `push`.
fn serve_push(
    c: &Inner,
    station: &str,
    headers: &HeaderMap,
    body: &[u8],
    push: &mut Push,
) -> Response {
    {
        let mut k = lock(&c.knobs);
        if k.fail_next > 0 {
            k.fail_next -= 1;
            return reply(k.fail_status, json!({ "error": "injected" }));
        }
    }
    if let Err(r) = c.authorize(station, headers) {
        return r;
    }
    let raw = match decode_batch_body(c, headers, body) {
        Ok(raw) => raw,
        Err(r) => return r,
    };
    push.json_bytes = raw.len();
    let ty = media_type(headers);
    if ty != "application/json" {
        return c.reject(
            415,
            "unsupported_media_type",
            format!("Content-Type {ty:?}; events are application/json"),
        );
    }
    let (epoch, events) = match parse_batch(c, station, &raw) {
        Ok(b) => b,
        Err(r) => return r,
    };
    push.events = events.len();
    store_batch(c, station, &epoch, &events)
}

/// One transaction: check the batch against what is stored, insert the new events, commit;
/// only then answer.
fn store_batch(c: &Inner, station: &str, epoch: &str, events: &[WireEvent]) -> Response {
    let partial = lock(&c.knobs).partial_ack;
    let mut db = lock(&c.db);
    let tx = db
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("central: begin transaction");
    let n = acked(&tx, station, epoch).expect("central: read acked_through");
    let Some(first) = events.first() else {
        return reply(
            200,
            json!({ "acked_through": n, "server_time": c.server_time() }),
        );
    };
    if first.seq > n + 1 {
        return reply(409, json!({ "acked_through": n, "error": "gap" }));
    }
    for e in events.iter().filter(|e| e.seq <= n) {
        let stored: String = tx
            .prepare_cached(
                "SELECT id FROM events WHERE station_id = ?1 AND epoch = ?2 AND seq = ?3",
            )
            .and_then(|mut q| q.query_row(params![station, epoch, e.seq], |r| r.get(0)))
            .expect("central: stored events are contiguous from 1");
        if stored != e.id {
            c.violation(format!(
                "409 seq_conflict: epoch {epoch} seq {} holds id {stored}, the push has {}",
                e.seq, e.id
            ));
            return reply(409, json!({ "acked_through": n, "error": "seq_conflict" }));
        }
    }
    let new = events
        .iter()
        .filter(|e| e.seq > n)
        .take(partial.unwrap_or(usize::MAX));
    let received_at = now();
    let mut high = n;
    for e in new {
        let elsewhere: Option<(String, String, i64)> = tx
            .prepare_cached(
                "SELECT station_id, epoch, seq FROM events WHERE id = ?1 AND primary_record = 1",
            )
            .and_then(|mut q| {
                q.query_row([&e.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .expect("central: look up event id");
        let primary = match (&elsewhere, &e.restored_from) {
            (None, _) => true,
            // A restored copy of an event already held: the same event, stored once more
            // as a copy, never a second primary record.
            (Some((s, ep, q)), Some(_)) => {
                check_restored_copy(c, &tx, station, epoch, e, (s, ep, *q));
                false
            }
            (Some((s, ep, q)), None) => {
                drop(tx);
                return c.reject(
                    422,
                    "duplicate_id",
                    format!(
                        "event id {} (epoch {epoch} seq {}) is already stored as {s}/{ep}/{q}",
                        e.id, e.seq
                    ),
                );
            }
        };
        check_photos(c, &tx, station, epoch, e);
        // Cached: a bench pushes a million events through here.
        tx.prepare_cached(
            "INSERT INTO events
                 (station_id, epoch, seq, id, type, occurred_at, actor, return_id, data, received_at,
                  restored_from_epoch, restored_from_seq, primary_record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (station_id, epoch, seq) DO NOTHING",
        )
        .and_then(|mut q| {
            q.execute(params![
                station,
                epoch,
                e.seq,
                e.id,
                e.ty,
                e.occurred_at,
                e.actor,
                e.return_id,
                e.data.to_string(),
                received_at,
                e.restored_from.as_ref().map(|r| &r.0),
                e.restored_from.as_ref().map(|r| r.1),
                primary
            ])
        })
        .expect("central: insert event");
        high = e.seq;
    }
    tx.execute(
        "INSERT INTO epochs (station_id, epoch, acked_through, first_seen)
         VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(first_seen), 0) + 1 FROM epochs))
         ON CONFLICT (station_id, epoch) DO UPDATE SET acked_through = excluded.acked_through",
        params![station, epoch, high],
    )
    .expect("central: record epoch");
    tx.commit().expect("central: commit push");
    drop(db);
    reply(
        200,
        json!({ "acked_through": high, "server_time": c.server_time() }),
    )
}

/// A restored copy must be the event the central holds under that id (same station, type,
/// time, actor, return and data), and its `restored_from` must not name a seq that holds
/// another event. Breaches are violations; the copy is stored either way.
fn check_restored_copy(
    c: &Inner,
    db: &Connection,
    station: &str,
    epoch: &str,
    e: &WireEvent,
    held: (&str, &str, i64),
) {
    let (s, ep, q) = held;
    let here = format!("epoch {epoch} seq {} (id {})", e.seq, e.id);
    if s != station {
        c.violation(format!("{here}: restored copy of station {s}'s event"));
        return;
    }
    let stored: (String, String, Option<String>, Option<String>, String) = db
        .query_row(
            "SELECT type, occurred_at, actor, return_id, data FROM events
             WHERE station_id = ?1 AND epoch = ?2 AND seq = ?3",
            params![s, ep, q],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .expect("central: read the primary record");
    let data: Value = serde_json::from_str(&stored.4).unwrap_or(Value::Null);
    if (
        stored.0.as_str(),
        stored.1.as_str(),
        &stored.2,
        &stored.3,
        &data,
    ) != (
        e.ty.as_str(),
        e.occurred_at.as_str(),
        &e.actor,
        &e.return_id,
        &e.data,
    ) {
        c.violation(format!(
            "{here}: restored copy differs from the event held at epoch {ep} seq {q}"
        ));
    }
    if let Some((rep, rseq)) = &e.restored_from {
        let at_old: Option<String> = db
            .query_row(
                "SELECT id FROM events WHERE station_id = ?1 AND epoch = ?2 AND seq = ?3",
                params![station, rep, rseq],
                |r| r.get(0),
            )
            .optional()
            .expect("central: look up restored_from");
        if at_old.as_ref().is_some_and(|id| id != &e.id) {
            c.violation(format!(
                "{here}: restored_from epoch {rep} seq {rseq} holds another event {}",
                at_old.unwrap_or_default()
            ));
        }
    }
}

/// A photo must be uploaded before the event that references it is pushed — unless the
/// event marks it `"lost": true` (contract 1.1). A `photo.lost` names the photo and why.
fn check_photos(c: &Inner, db: &Connection, station: &str, epoch: &str, e: &WireEvent) {
    if e.ty == "photo.lost" {
        let sha = e.data.get("sha256").and_then(Value::as_str).unwrap_or("");
        let reason = e.data.get("reason").and_then(Value::as_str).unwrap_or("");
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) || reason.is_empty() {
            c.violation(format!(
                "epoch {epoch} seq {}: photo.lost needs data.sha256 (64 hex) and a data.reason, got {}",
                e.seq, e.data
            ));
        }
    }
    let Some(photos) = e.data.get("photos") else {
        return;
    };
    let Some(photos) = photos.as_array() else {
        c.violation(format!(
            "epoch {epoch} seq {}: data.photos is not an array",
            e.seq
        ));
        return;
    };
    for (i, p) in photos.iter().enumerate() {
        let Some(sha) = p.get("sha256").and_then(Value::as_str) else {
            c.violation(format!(
                "epoch {epoch} seq {}: data.photos[{i}].sha256 is missing",
                e.seq
            ));
            continue;
        };
        match p.get("lost") {
            None | Some(Value::Bool(false)) => {}
            // Acknowledged lost at the station: the central does not expect the blob.
            Some(Value::Bool(true)) => continue,
            Some(other) => {
                c.violation(format!(
                    "epoch {epoch} seq {}: data.photos[{i}].lost is {other}, not a boolean",
                    e.seq
                ));
                continue;
            }
        }
        let stored: Option<(String, i64)> = db
            .query_row(
                "SELECT content_type, length(bytes) FROM blobs WHERE station_id = ?1 AND sha256 = ?2",
                params![station, sha],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .expect("central: look up blob");
        match stored {
            None => c.violation(format!(
                "epoch {epoch} seq {}: photo {sha} is referenced before it was uploaded",
                e.seq
            )),
            Some((ty, len)) => {
                if p.get("bytes").and_then(Value::as_i64) != Some(len) {
                    c.violation(format!(
                        "epoch {epoch} seq {}: photo {sha} says bytes {:?}, stored {len}",
                        e.seq,
                        p.get("bytes")
                    ));
                }
                if p.get("content_type").and_then(Value::as_str) != Some(ty.as_str()) {
                    c.violation(format!(
                        "epoch {epoch} seq {}: photo {sha} says content_type {:?}, stored {ty}",
                        e.seq,
                        p.get("content_type")
                    ));
                }
            }
        }
    }
}

async fn put_blob(
    State(c): State<Arc<Inner>>,
    UrlPath((station, sha256)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    c.blob_puts.fetch_add(1, Ordering::SeqCst);
    if let Err(r) = c.authorize(&station, &headers) {
        return r;
    }
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return c.reject(
            400,
            "bad_sha256",
            format!("{sha256:?} is not 64 lower-case hex digits"),
        );
    }
    if body.len() > MAX_BLOB_BYTES {
        return c.reject(
            413,
            "too_large",
            format!("{} bytes; at most {MAX_BLOB_BYTES}", body.len()),
        );
    }
    if let Some(enc) = content_encoding(&headers).filter(|e| e != "identity") {
        return c.reject(
            415,
            "unsupported_encoding",
            format!("Content-Encoding {enc:?} on a blob"),
        );
    }
    let ty = media_type(&headers);
    if !BLOB_TYPES.contains(&ty.as_str()) {
        return c.reject(
            415,
            "unsupported_media_type",
            format!("Content-Type {ty:?}; blobs are one of {BLOB_TYPES:?}"),
        );
    }
    let actual = sha256_hex(&body);
    if actual != sha256 {
        return reply(409, json!({ "error": "hash_mismatch", "sha256": actual }));
    }
    let db = lock(&c.db);
    let added = db
        .execute(
            "INSERT INTO blobs (station_id, sha256, content_type, bytes, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (station_id, sha256) DO NOTHING",
            params![station, sha256, ty, body.as_ref(), now()],
        )
        .expect("central: store blob");
    drop(db);
    let status = if added == 1 { 201 } else { 200 };
    reply(status, json!({ "sha256": sha256, "bytes": body.len() }))
}

async fn get_feed(
    State(c): State<Arc<Inner>>,
    UrlPath(station): UrlPath<String>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    c.feed_gets.fetch_add(1, Ordering::SeqCst);
    if let Err(r) = c.authorize(&station, &headers) {
        return r;
    }
    let param = |k: &str| {
        q.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    let after_text = param("after");
    let Some(after) = parse_cursor(after_text.unwrap_or("")) else {
        return c.reject(400, "bad_cursor", format!("after={after_text:?}"));
    };
    let limit = match param("limit") {
        None => DEFAULT_FEED_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(MAX_FEED_LIMIT),
            _ => return c.reject(400, "bad_limit", format!("limit={s:?}")),
        },
    };
    let db = lock(&c.db);
    let mut stmt = db
        .prepare("SELECT n, item FROM feed WHERE n > ?1 ORDER BY n LIMIT ?2")
        .expect("central: prepare feed query");
    let rows: Vec<(i64, String)> = stmt
        .query_map(params![after, limit as i64 + 1], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("central: query feed")
        .map(|r| r.expect("central: read feed row"))
        .collect();
    drop(stmt);
    drop(db);
    let more = rows.len() > limit;
    let page = &rows[..rows.len().min(limit)];
    let next_after = match page.last() {
        Some((n, _)) => cursor_of(*n),
        None => match after_text {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => cursor_of(0),
        },
    };
    let items: Vec<Value> = page
        .iter()
        .map(|(_, item)| {
            serde_json::from_str(item)
                .unwrap_or_else(|e| panic!("central: stored feed item is not JSON: {e}"))
        })
        .collect();
    reply(
        200,
        json!({ "items": items, "next_after": next_after, "more": more,
                "server_time": c.server_time() }),
    )
}
