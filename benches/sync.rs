//! Central-sync drain benchmark (custom harness): `cargo bench --bench sync`.
//!
//! Target (from the issue): drain a backlog of 1,000,000 events to a test central on
//! loopback; report events/s and the daemon's peak RSS, beside the ceiling of the same
//! central measured in the same run with a plain client posting the same batches.
//! Targets: ≥ 20,000 events/s, ≥ 80 % of that ceiling (issue #12), peak RSS ≤ 48 MB.
//!
//! Everything lives under `<cwd>/target/bench-sync/` (not /tmp, which may be tmpfs and
//! would make every fsync free); the directory is wiped at start and left for inspection.
//!
//! 1. Station database: 1,000,000 journal events of a realistic mix (per parcel of 10:
//!    waybill scan, `return.received`, 2 × product scan + `item.scanned`, command scan,
//!    2 × `ledger.entry`, `label.printed`), appended through the real writer
//!    (`Store::begin` / `Batch::append` / `commit`) in 50,000-event transactions.
//! 2. The central: the test kit's double (`tests/kit/central.rs`), the one the integration
//!    tests hold to `shared/spec/central-sync.md`: bearer token compared in constant time,
//!    `Content-Encoding: gzip` bodies gunzipped (≤ 1 MiB of JSON, else 413), every event
//!    checked against the contract, stored durably in its own SQLite file (WAL,
//!    `synchronous=FULL`) in one transaction per batch, gaps answered `409`, a different id
//!    for a stored seq answered `409 seq_conflict`, `acked_through` committed before the
//!    `200` answer; the feed (empty here) is answered too. It runs on its own thread and
//!    runtime in this process and records each push's arrival and answer times.
//! 3. Ceiling: a plain client in a process of its own (this binary run again; reqwest,
//!    one request in flight) reads the same events in batches of 1,000, writes the same body (`{station_id, epoch, sent_at, events}`,
//!    event JSON written directly around the stored `data` text), gzips it with
//!    `Compression::fast()` and posts it. Since the daemon reads ahead (issue #12), the
//!    client prepares each next batch on a second thread while one is in flight (before,
//!    serially: the daemon then drained at 103–110 % of that "ceiling").
//! 4. Daemon: the real binary (`CARGO_BIN_EXE_returnsd`, built with the bench profile)
//!    `run`s against a fresh central (its `acked_through` reset to 0 first). Timed from ready (control socket answers `ping`) to
//!    the central's `acked_through` reaching 1,000,000; VmRSS sampled every 50 ms and
//!    VmHWM read before SIGTERM.
//! 5. Diagnostics: per-batch time split at the central (server time vs the client's time
//!    between an answer and its next request), the daemon's CPU per thread, and the
//!    daemon's own batch-building functions (`store::journal_after`,
//!    `sync::push::batch_body`, the photo scan's per-row parse, gzip) timed in-process on
//!    sample batches.
//!
//! `BENCH_SYNC_YEAR=1`: step 1 takes the year-sized station database instead (150,000
//! returns through the real engine, `benches/common/year.rs`, built once under
//! `target/bench-data/` as the history and footprint benches use it; `BENCH_YEAR_RETURNS`
//! as there), copied fresh before each round; its first 1,000,000 events are the backlog
//! (the daemon pushes on past them until it is stopped; the central is checked for seqs
//! 1..=n, against the year as built, since the daemon prunes what the central acknowledged).
//!
//! Steps 3 and 4 run in `BENCH_SYNC_ROUNDS` rounds (default 3), each ceiling right before
//! its daemon run, because this 2-core machine is shared: the figures are the medians, and
//! every round prints the share of the CPUs other processes took meanwhile.
//!
//! Every central's content is verified against the station journal (every seq 1..=N once,
//! with the station's id, type and data). Exit 1 only if a central's content is wrong;
//! target misses print FAIL. One `BENCH_JSON {…}` line carries every figure.
//! `BENCH_SYNC_EVENTS=<n>` shrinks the backlog for a quick try (figures then are not the
//! target's).

mod common;
#[path = "../tests/kit/mod.rs"]
mod kit;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use returnsd::store::{JOURNAL_COLUMNS, JournalRow};
use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Value, json};

use common::history::{STATION, build_station};
use common::{cpu_model, fsync_probe, host_cpu, mount_of, pass, proc_stat, round3};
use kit::central::{Central, CentralOptions, Push};
use kit::control::request;
use kit::daemon::{Daemon, Launch, status_kb};
use kit::poll::try_poll;

const DEFAULT_EVENTS: i64 = 1_000_000;
const BATCH: i64 = 1_000;
/// Contract: at most 1 MiB of JSON per batch before compression.
const MAX_JSON: usize = 1024 * 1024;
const TOKEN: &str = "bench-station-token-7f3a9c1e5b2d4e6f";
const DEFAULT_ROUNDS: i64 = 3;

const TARGET_EVENTS_PER_S: f64 = 20_000.0;
const TARGET_SHARE_OF_CEILING: f64 = 0.80;
const TARGET_RSS_MB: f64 = 48.0;

/// Whole drain must finish within this, or the run is reported as stalled.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(900);
const READY_TIMEOUT: Duration = Duration::from_secs(180);
const RSS_SAMPLE: Duration = Duration::from_millis(50);

fn now_str() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// p50 / p99 / mean of a set of millisecond samples.
fn pct(ms: &[f64]) -> (f64, f64, f64) {
    if ms.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.99), v.iter().sum::<f64>() / v.len() as f64)
}

fn dist_json(ms: &[f64]) -> Value {
    let (p50, p99, mean) = pct(ms);
    json!({"n": ms.len(), "p50_ms": round3(p50), "p99_ms": round3(p99), "mean_ms": round3(mean)})
}

// ---------------------------------------------------------------------------------------
// Environment

fn ticks_per_s() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU ticks per thread name of a process (threads of the same name summed).
fn threads_cpu(pid: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in rd.flatten() {
            if let Some((comm, t)) = proc_stat(&e.path().join("stat")) {
                *out.entry(comm).or_insert(0) += t;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// 1. Station database

// The generator is `common::history` (shared with the footprint bench).

// ---------------------------------------------------------------------------------------
// 2. The central: the test kit's double (`tests/kit/central.rs`)

/// A fresh central on its own SQLite file `db`, expecting this bench's station and token.
fn start_central(db: &Path) -> Central {
    Central::start(CentralOptions {
        station_id: STATION.into(),
        station_token: TOKEN.into(),
        db_path: Some(db.to_path_buf()),
        ..CentralOptions::default()
    })
}

/// Per answered push: (the central's time for it, the client's time from the previous
/// answer to this request), in ms.
fn split(pushes: &[Push]) -> (Vec<f64>, Vec<f64>) {
    let ok: Vec<&Push> = pushes.iter().filter(|p| p.status == 200).collect();
    let server = ok
        .iter()
        .map(|p| (p.answered - p.arrived).as_secs_f64() * 1e3)
        .collect();
    let client = ok
        .windows(2)
        .map(|w| {
            w[1].arrived
                .saturating_duration_since(w[0].answered)
                .as_secs_f64()
                * 1e3
        })
        .collect();
    (server, client)
}

/// What the central saw: pushes by answer, events, sizes, feed polls.
fn stats_json(central: &Central, pushes: &[Push]) -> Value {
    let n = pushes.len().max(1) as f64;
    let count = |f: &dyn Fn(&Push) -> bool| pushes.iter().filter(|p| f(p)).count();
    let sum = |f: &dyn Fn(&Push) -> usize| pushes.iter().map(f).sum::<usize>() as f64;
    json!({
        "requests": pushes.len(),
        "events_received": pushes.iter().filter(|p| p.status == 200).map(|p| p.events).sum::<usize>(),
        "gaps_409": count(&|p| p.status == 409),
        "rejected": count(&|p| p.status != 200 && p.status != 409),
        "feed_polls": central.feed_gets(),
        "violations": central.violations().len(),
        "mean_gzip_body_bytes": (sum(&|p| p.body_bytes) / n).round(),
        "mean_json_bytes": (sum(&|p| p.json_bytes) / n).round(),
        "mean_server_ms": round3(
            pushes.iter().map(|p| (p.answered - p.arrived).as_secs_f64() * 1e3).sum::<f64>() / n
        ),
    })
}

/// What a central holds for (station, epoch), checked against the station's journal.
#[derive(Debug)]
struct Check {
    count: i64,
    min: Option<i64>,
    max: Option<i64>,
    distinct: i64,
    matching: i64,
    other_keys: i64,
    ok: bool,
}

impl Check {
    fn json(&self) -> Value {
        json!({"ok": self.ok, "count": self.count, "min": self.min, "max": self.max,
               "distinct": self.distinct, "matching_station": self.matching,
               "other_keys": self.other_keys})
    }
}

fn verify_central(central_db: &Path, station_db: &Path, epoch: &str, n: i64) -> Check {
    let c = Connection::open_with_flags(central_db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open central db");
    let (count, min, max, distinct): (i64, Option<i64>, Option<i64>, i64) = c
        .query_row(
            "SELECT COUNT(*), MIN(seq), MAX(seq), COUNT(DISTINCT seq) FROM events
             WHERE station_id = ?1 AND epoch = ?2 AND seq <= ?3",
            params![STATION, epoch, n],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("central counts");
    let other_keys: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM events WHERE station_id != ?1 OR epoch != ?2",
            params![STATION, epoch],
            |r| r.get(0),
        )
        .expect("other keys");
    // The connection is read-only, and so is the attached station database.
    c.execute(
        "ATTACH DATABASE ?1 AS st",
        [station_db.display().to_string()],
    )
    .expect("attach station db");
    let matching: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM events e JOIN st.journal j ON j.seq = e.seq
             WHERE e.station_id = ?1 AND e.epoch = ?2 AND e.seq <= ?3 AND j.id = e.id
               AND j.type = e.type AND j.occurred_at = e.occurred_at AND j.actor = e.actor
               AND j.return_id IS e.return_id AND j.data = e.data",
            params![STATION, epoch, n],
            |r| r.get(0),
        )
        .expect("central vs station");
    let ok = count == n
        && distinct == n
        && min == Some(1)
        && max == Some(n)
        && matching == n
        && other_keys == 0;
    Check {
        count,
        min,
        max,
        distinct,
        matching,
        other_keys,
        ok,
    }
}

// ---------------------------------------------------------------------------------------
// 3. Ceiling: a plain client

/// A reqwest client for http:// (rustls with ring, as the station builds it; no roots are
/// needed on loopback).
fn http_client() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("tls versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// The batch body, written directly: the stored `data` text is already JSON.
fn lean_body(station: &str, epoch: &str, rows: &[JournalRow]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(rows.len() * 420 + 256);
    let s = |out: &mut Vec<u8>, v: &str| serde_json::to_writer(out, v).expect("write str");
    out.extend_from_slice(b"{\"station_id\":");
    s(&mut out, station);
    out.extend_from_slice(b",\"epoch\":");
    s(&mut out, epoch);
    out.extend_from_slice(b",\"sent_at\":");
    s(&mut out, &now_str());
    out.extend_from_slice(b",\"events\":[");
    let mut n = 0;
    for r in rows {
        let mark = out.len();
        if n > 0 {
            out.push(b',');
        }
        write!(out, "{{\"seq\":{},\"id\":", r.seq).expect("write");
        s(&mut out, &r.id);
        out.extend_from_slice(b",\"type\":");
        s(&mut out, &r.ty);
        out.extend_from_slice(b",\"occurred_at\":");
        s(&mut out, &r.occurred_at);
        out.extend_from_slice(b",\"actor\":");
        s(&mut out, &r.actor);
        out.extend_from_slice(b",\"return_id\":");
        match &r.return_id {
            Some(x) => s(&mut out, x),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(r.data.as_bytes());
        out.push(b'}');
        if n > 0 && out.len() + 2 > MAX_JSON {
            out.truncate(mark);
            break;
        }
        n += 1;
    }
    out.extend_from_slice(b"]}");
    (out, n)
}

fn gzip_fast(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn read_rows(conn: &Connection, after: i64, limit: i64) -> Vec<JournalRow> {
    let mut q = conn
        .prepare_cached(&format!(
            "SELECT {JOURNAL_COLUMNS} FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))
        .expect("prepare");
    q.query_map(params![after, limit], JournalRow::from_row)
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

struct ClientRun {
    events: i64,
    requests: u64,
    wall_s: f64,
    read_ms: Vec<f64>,
    build_ms: Vec<f64>,
    gzip_ms: Vec<f64>,
    http_ms: Vec<f64>,
    cpu_s: f64,
}

/// The plain client in a process of its own (this bench binary run again with
/// `BENCH_SYNC_CEILING_CLIENT` set): it shares nothing with the central's runtime, as the
/// daemon does not. Its figures come back as one JSON line on its standard output.
fn ceiling_process(station_db: &Path, epoch: &str, url: &str, n: i64) -> ClientRun {
    let args = json!({"db": station_db, "epoch": epoch, "url": url, "n": n});
    let out = Command::new(std::env::current_exe().expect("bench binary"))
        .env("BENCH_SYNC_CEILING_CLIENT", args.to_string())
        .output()
        .expect("run the ceiling client");
    assert!(
        out.status.success(),
        "ceiling client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = text
        .lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("CEILING_JSON ")
                .and_then(|j| serde_json::from_str(j).ok())
        })
        .unwrap_or_else(|| panic!("ceiling client said: {text}"));
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    let list = |k: &str| -> Vec<f64> {
        v[k].as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    ClientRun {
        events: v["events"].as_i64().unwrap_or(0),
        requests: v["requests"].as_u64().unwrap_or(0),
        wall_s: f("wall_s"),
        read_ms: list("read_ms"),
        build_ms: list("build_ms"),
        gzip_ms: list("gzip_ms"),
        http_ms: list("http_ms"),
        cpu_s: f("cpu_s"),
    }
}

/// The ceiling client's process: run [`ceiling`] and print its figures.
fn ceiling_client_main(args: &str) {
    let a: Value = serde_json::from_str(args).expect("client args");
    let db = PathBuf::from(a["db"].as_str().expect("db"));
    let run = ceiling(
        &db,
        a["epoch"].as_str().expect("epoch"),
        a["url"].as_str().expect("url"),
        a["n"].as_i64().expect("n"),
    );
    let cpu = proc_stat(Path::new("/proc/self/stat")).map_or(0, |x| x.1);
    println!(
        "CEILING_JSON {}",
        json!({"events": run.events, "requests": run.requests, "wall_s": run.wall_s,
               "read_ms": run.read_ms, "build_ms": run.build_ms, "gzip_ms": run.gzip_ms,
               "http_ms": run.http_ms, "cpu_s": cpu as f64 / ticks_per_s()})
    );
}

/// One batch the ceiling client prepared: the last seq in it, its events, the gzipped
/// body, and how long reading, building and gzipping took (ms).
struct Prepared {
    last: i64,
    sent: usize,
    gz: Vec<u8>,
    read_ms: f64,
    build_ms: f64,
    gzip_ms: f64,
}

/// The plain client: batches of `BATCH` events posted one in flight, each next batch read,
/// built and gzipped on a thread of its own while the one before is in flight (as the
/// daemon reads ahead since issue #12), so its ceiling is what the central takes from one
/// client, not the client's own serial work. The bench's central acknowledges whole
/// batches; a partial answer ends the run (the daemon's resend path is the integration
/// tests' subject).
fn ceiling(station_db: &Path, epoch: &str, url: &str, n: i64) -> ClientRun {
    let conn = Connection::open_with_flags(station_db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open station db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let client = http_client();
    let url = format!("{url}/v1/stations/{STATION}/events");
    let mut run = ClientRun {
        events: 0,
        requests: 0,
        wall_s: 0.0,
        read_ms: Vec::new(),
        build_ms: Vec::new(),
        gzip_ms: Vec::new(),
        http_ms: Vec::new(),
        cpu_s: 0.0,
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Prepared>(1);
    let epoch_owned = epoch.to_string();
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        let mut after = 0;
        while after < n {
            let t0 = Instant::now();
            let rows = read_rows(&conn, after, BATCH);
            assert!(!rows.is_empty(), "journal ended at {after}");
            let t1 = Instant::now();
            let (body, sent) = lean_body(STATION, &epoch_owned, &rows);
            let t2 = Instant::now();
            let gz = gzip_fast(&body);
            let t3 = Instant::now();
            let last = rows[sent - 1].seq;
            let p = Prepared {
                last,
                sent,
                gz,
                read_ms: (t1 - t0).as_secs_f64() * 1e3,
                build_ms: (t2 - t1).as_secs_f64() * 1e3,
                gzip_ms: (t3 - t2).as_secs_f64() * 1e3,
            };
            if tx.send(p).is_err() {
                return;
            }
            after = last;
        }
    });
    let mut after = 0;
    while after < n {
        let p = rx.recv().expect("the ceiling client's reader ended early");
        let t3 = Instant::now();
        let (code, text) = rt.block_on(async {
            let r = client
                .post(&url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(p.gz)
                .send()
                .await
                .expect("ceiling post");
            let code = r.status().as_u16();
            (code, r.text().await.expect("ceiling answer"))
        });
        let t4 = Instant::now();
        assert_eq!(code, 200, "ceiling: central answered {code}: {text}");
        let v: Value = serde_json::from_str(&text).expect("ceiling answer json");
        let through = v["acked_through"].as_i64().expect("acked_through");
        assert_eq!(
            through, p.last,
            "ceiling: the central acknowledged part of a batch"
        );
        after = through;
        run.events += p.sent as i64;
        run.requests += 1;
        run.read_ms.push(p.read_ms);
        run.build_ms.push(p.build_ms);
        run.gzip_ms.push(p.gzip_ms);
        run.http_ms.push((t4 - t3).as_secs_f64() * 1e3);
    }
    run.wall_s = start.elapsed().as_secs_f64();
    producer.join().expect("the ceiling client's reader");
    run
}

// ---------------------------------------------------------------------------------------
// 4. The daemon

struct DaemonRun {
    ready_s: f64,
    acked_at_ready: i64,
    drain_s: f64,
    drain_from_spawn_s: f64,
    peak_rss_kb: u64,
    hwm_kb: Option<u64>,
    rss_at_ready_kb: u64,
    rss_samples: usize,
    cpu_by_thread_s: BTreeMap<String, f64>,
    cpu_total_s: f64,
    bench_cpu_s: f64,
    exit: String,
    stop_s: f64,
    station_acked_after: Option<i64>,
    stderr_tail: String,
    log_warnings: usize,
    error: Option<String>,
}

fn daemon_config(dir: &Path, central: &str) -> (PathBuf, String) {
    let text = format!(
        r#"[station]
id = "{STATION}"

[storage]
state_dir = "{dir}"
database = "returnsd.db"

[http]
listen = "127.0.0.1:0"

[sync]
central_url = "{central}"
station_token = "{TOKEN}"

[log]
level = "info"
"#,
        dir = dir.display()
    );
    let path = dir.join("station.toml");
    std::fs::write(&path, &text).expect("write station.toml");
    // Validate it with the daemon's own parser (empty environment) before starting.
    returnsd::config::parse(&text, "station.toml", &path, &[])
        .unwrap_or_else(|e| panic!("bench station config does not validate:\n{e}"));
    (path, text)
}

/// Year mode: a fresh copy of the year (and its WAL, if any) as the station database.
/// The copy is this bench's own station database where it lies, not a database moved in
/// from elsewhere, so its recorded file identity is set to the copy's (else the daemon
/// would hold the push until a supervisor confirms a restore, contract 1.1).
fn year_copy(pristine: &Path, station_db: &Path) {
    use std::os::unix::fs::MetadataExt;
    let side = |p: &Path, suffix: &str| PathBuf::from(format!("{}{suffix}", p.display()));
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(side(station_db, suffix));
    }
    std::fs::copy(pristine, station_db).expect("copy the year");
    if side(pristine, "-wal").exists() {
        std::fs::copy(side(pristine, "-wal"), side(station_db, "-wal")).expect("copy its WAL");
    }
    let meta = std::fs::metadata(station_db).expect("the copy");
    Connection::open(station_db)
        .and_then(|c| {
            c.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'identity_file'",
                [format!("{}:{}", meta.dev(), meta.ino())],
            )
        })
        .expect("the copy's identity");
}

fn tail(path: &Path, lines: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// SIGTERM, then SIGKILL after 30 s: how it ended and how long that took. The log file is
/// complete when this returns.
fn stop_daemon(mut d: Daemon) -> (String, f64) {
    let t = Instant::now();
    d.sigterm();
    let exit = match d.wait_exit(Duration::from_secs(30)) {
        Some(st) => st.to_string(),
        None => {
            let _ = d.child.kill();
            let st = d.child.wait().map(|s| s.to_string()).unwrap_or_default();
            format!("killed after 30 s ({st})")
        }
    };
    let secs = t.elapsed().as_secs_f64();
    d.finish_log();
    (exit, secs)
}

fn run_daemon(dir: &Path, central: &Central, epoch: &str, n: i64) -> DaemonRun {
    let (cfg_path, _) = daemon_config(dir, &central.url());
    let err_path = dir.join("daemon.stderr");
    let spawned = Instant::now();
    let mut d = Launch::new(&cfg_path, &dir.join("returnsd.sock"))
        .env_remove("RETURNSD_LOG")
        .log_to(&err_path)
        .spawn();
    let pid = d.child.id();

    // RSS sampler.
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak, samples) = (stop.clone(), peak.clone(), samples.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kb) = status_kb(pid, "VmRSS") {
                    peak.fetch_max(kb, Ordering::Relaxed);
                    samples.fetch_add(1, Ordering::Relaxed);
                }
                // The sampling period (the measurement), not a wait.
                std::thread::sleep(RSS_SAMPLE);
            }
        })
    };
    let mut run = DaemonRun {
        ready_s: 0.0,
        acked_at_ready: 0,
        drain_s: f64::NAN,
        drain_from_spawn_s: f64::NAN,
        peak_rss_kb: 0,
        hwm_kb: None,
        rss_at_ready_kb: 0,
        rss_samples: 0,
        cpu_by_thread_s: BTreeMap::new(),
        cpu_total_s: 0.0,
        bench_cpu_s: 0.0,
        exit: String::new(),
        stop_s: 0.0,
        station_acked_after: None,
        stderr_tail: String::new(),
        log_warnings: 0,
        error: None,
    };

    // Ready: the control socket answers ping.
    run.error = d.wait_ready(READY_TIMEOUT).err();
    if run.error.is_none() {
        let ready = Instant::now();
        run.ready_s = (ready - spawned).as_secs_f64();
        run.acked_at_ready = central.acked_through(epoch);
        run.rss_at_ready_kb = status_kb(pid, "VmRSS").unwrap_or(0);
        let cpu0 = threads_cpu(pid);
        let me0 = proc_stat(Path::new("/proc/self/stat")).map_or(0, |x| x.1);
        let mut last_report = Instant::now();
        // Looked at every 5 ms: the moment it sees the last ack ends the timed drain.
        let drained = try_poll(DRAIN_TIMEOUT, Duration::from_millis(5), || {
            let acked = central.acked_through(epoch);
            if acked >= n {
                return Some(Ok(Instant::now()));
            }
            if let Ok(Some(st)) = d.child.try_wait() {
                return Some(Err(format!("returnsd exited during the drain: {st}")));
            }
            if last_report.elapsed() > Duration::from_secs(10) {
                println!(
                    "    … {acked} acked after {:.0} s",
                    ready.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
            None
        });
        match drained {
            Some(Ok(done)) => {
                run.drain_s = (done - ready).as_secs_f64();
                run.drain_from_spawn_s = (done - spawned).as_secs_f64();
            }
            Some(Err(e)) => run.error = Some(e),
            None => {
                run.error = Some(format!(
                    "drain stalled at {} after {DRAIN_TIMEOUT:?}",
                    central.acked_through(epoch)
                ));
            }
        }
        let cpu1 = threads_cpu(pid);
        let me1 = proc_stat(Path::new("/proc/self/stat")).map_or(0, |x| x.1);
        let tps = ticks_per_s();
        for (k, v) in &cpu1 {
            let d = v.saturating_sub(cpu0.get(k).copied().unwrap_or(0));
            run.cpu_by_thread_s.insert(k.clone(), d as f64 / tps);
        }
        run.cpu_total_s = run.cpu_by_thread_s.values().sum();
        run.bench_cpu_s = me1.saturating_sub(me0) as f64 / tps;
        if let Ok(v) = request(&d.socket, &json!({"op": "sync_status"})) {
            println!(
                "    daemon sync status: push {}, feed {}, acked_through {}, backlog {}",
                v["push"]["state"], v["feed"]["state"], v["acked_through"], v["backlog"]
            );
        }
    }
    run.hwm_kb = status_kb(pid, "VmHWM");
    stop.store(true, Ordering::Relaxed);
    (run.exit, run.stop_s) = stop_daemon(d);
    let _ = sampler.join();
    run.peak_rss_kb = peak.load(Ordering::Relaxed);
    run.rss_samples = samples.load(Ordering::Relaxed) as usize;
    run.station_acked_after = returnsd::store::Reader::open(&dir.join("returnsd.db"))
        .ok()
        .and_then(|c| returnsd::store::acked_through(&c).ok());
    let log = std::fs::read_to_string(&err_path).unwrap_or_default();
    run.log_warnings = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .count();
    run.stderr_tail = tail(&err_path, 8);
    run
}

// ---------------------------------------------------------------------------------------
// 5. The daemon's own batch building, timed in-process

struct StationPath {
    batches: usize,
    read_ms: Vec<f64>,
    build_ms: Vec<f64>,
    photo_scan_ms: Vec<f64>,
    gzip_ms: Vec<f64>,
    lean_build_ms: Vec<f64>,
    body_bytes: f64,
    lean_body_bytes: f64,
}

/// `store::journal_after` + `sync::push::batch_body` + a parse of every row's data (what
/// the push worker's photo scan does) + gzip, on `k` batches spread over the journal.
fn station_path(station_db: &Path, epoch: &str, n: i64, k: i64) -> StationPath {
    let conn = returnsd::store::Reader::open(station_db).expect("reader");
    let mut p = StationPath {
        batches: 0,
        read_ms: Vec::new(),
        build_ms: Vec::new(),
        photo_scan_ms: Vec::new(),
        gzip_ms: Vec::new(),
        lean_build_ms: Vec::new(),
        body_bytes: 0.0,
        lean_body_bytes: 0.0,
    };
    let batches = (n / BATCH).max(1);
    for i in 0..k.min(batches) {
        let after = (i * batches / k.min(batches)) * BATCH;
        let t0 = Instant::now();
        let rows = returnsd::store::journal_after(&conn, after, BATCH).expect("journal_after");
        let t1 = Instant::now();
        let (body, _) = returnsd::sync::push::batch_body(STATION, epoch, &rows, MAX_JSON);
        let t2 = Instant::now();
        let photos: usize = rows
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(&r.data)
                    .ok()
                    .and_then(|v| v.get("photos").map(|_| 1))
                    .unwrap_or(0)
            })
            .sum();
        let t3 = Instant::now();
        let gz = gzip_fast(&body);
        let t4 = Instant::now();
        let (lean, _) = lean_body(STATION, epoch, &rows);
        let t5 = Instant::now();
        // The synthetic backlog names no photo; the year's inspections do.
        std::hint::black_box((&gz, photos));
        p.read_ms.push((t1 - t0).as_secs_f64() * 1e3);
        p.build_ms.push((t2 - t1).as_secs_f64() * 1e3);
        p.photo_scan_ms.push((t3 - t2).as_secs_f64() * 1e3);
        p.gzip_ms.push((t4 - t3).as_secs_f64() * 1e3);
        p.lean_build_ms.push((t5 - t4).as_secs_f64() * 1e3);
        p.body_bytes += body.len() as f64;
        p.lean_body_bytes += lean.len() as f64;
        p.batches += 1;
    }
    p.body_bytes /= p.batches.max(1) as f64;
    p.lean_body_bytes /= p.batches.max(1) as f64;
    p
}

// ---------------------------------------------------------------------------------------

fn self_ticks() -> u64 {
    proc_stat(Path::new("/proc/self/stat")).map_or(0, |x| x.1)
}

/// Share of all CPUs (%) used by processes other than this bench (and `daemon_ticks`).
fn others_pct(h0: (u64, u64), h1: (u64, u64), ours: u64) -> f64 {
    let total = h1.1.saturating_sub(h0.1).max(1) as f64;
    let busy = h1.0.saturating_sub(h0.0) as f64;
    ((busy - ours as f64).max(0.0) / total) * 100.0
}

struct CeilingRound {
    rate: f64,
    ok: bool,
    json: Value,
}

fn ceiling_round(
    root: &Path,
    station_db: &Path,
    epoch: &str,
    n: i64,
    round: usize,
) -> CeilingRound {
    let db = root.join(format!("central-ceiling-{round}.db"));
    let central = start_central(&db);
    println!(
        "  ceiling: plain client → central at {} (batches of {BATCH}, gzip fast, 1 in flight) …",
        central.url()
    );
    let _ = std::io::stdout().flush();
    let (me0, h0) = (self_ticks(), host_cpu());
    let run = ceiling_process(station_db, epoch, &central.url(), n);
    let (me1, h1) = (self_ticks(), host_cpu());
    let client_ticks = (run.cpu_s * ticks_per_s()) as u64;
    let others = others_pct(h0, h1, me1 - me0 + client_ticks);
    let rate = n as f64 / run.wall_s;
    let pushes = central.pushes();
    let (server, gap) = split(&pushes);
    let stats = stats_json(&central, &pushes);
    drop(central); // stops it and closes its database
    println!(
        "    {} events in {} requests, {:.2} s → {:.0} events/s; bench process CPU {:.1} s (client process {:.1} s); other processes {:.0}% of CPUs",
        run.events,
        run.requests,
        run.wall_s,
        rate,
        (me1 - me0) as f64 / ticks_per_s(),
        run.cpu_s,
        others
    );
    let m = |v: &[f64]| pct(v).2;
    println!(
        "    client per batch (mean ms): read {:.2}, build {:.2}, gzip {:.2}, HTTP round trip {:.2}; central per request {:.2} (p99 {:.2}); answer → next request {:.2}",
        m(&run.read_ms),
        m(&run.build_ms),
        m(&run.gzip_ms),
        m(&run.http_ms),
        m(&server),
        pct(&server).1,
        m(&gap),
    );
    println!("    central: {stats}");
    let check = verify_central(&db, station_db, epoch, n);
    println!(
        "    central content: {} ({check:?})",
        if check.ok { "OK" } else { "WRONG" }
    );
    remove_db(&db);
    CeilingRound {
        rate,
        ok: check.ok,
        json: json!({
            "events_per_s": rate.round(),
            "wall_s": round3(run.wall_s),
            "requests": run.requests,
            "client_cpu_s": round3(run.cpu_s),
            "others_cpu_pct": round3(others),
            "read": dist_json(&run.read_ms),
            "build": dist_json(&run.build_ms),
            "gzip": dist_json(&run.gzip_ms),
            "http_round_trip": dist_json(&run.http_ms),
            "central_per_request": dist_json(&server),
            "client_gap": dist_json(&gap),
            "central": stats,
            "content": check.json(),
        }),
    }
}

struct DaemonRound {
    rate: f64,
    peak_mb: f64,
    ok: bool,
    gap_mean_ms: f64,
    json: Value,
}

fn daemon_round(
    root: &Path,
    station_dir: &Path,
    epoch: &str,
    n: i64,
    round: usize,
    source_db: &Path,
) -> DaemonRound {
    let station_db = station_dir.join("returnsd.db");
    // Every round drains the whole backlog: the station forgets earlier acks.
    {
        let c = Connection::open(&station_db).expect("station db");
        c.execute(
            "UPDATE sync_state SET value = '0' WHERE key = 'acked_through'",
            [],
        )
        .expect("reset acked_through");
    }
    let db = root.join(format!("central-daemon-{round}.db"));
    let central = start_central(&db);
    println!(
        "  daemon: returnsd run → fresh central at {} …",
        central.url()
    );
    let _ = std::io::stdout().flush();
    let (me0, h0) = (self_ticks(), host_cpu());
    let d = run_daemon(station_dir, &central, epoch, n);
    let (me1, h1) = (self_ticks(), host_cpu());
    let tps = ticks_per_s();
    let daemon_ticks = (d.cpu_total_s * tps) as u64;
    // The daemon's CPU is only counted over the drain; over the whole phase (start-up,
    // stop) it is a little more, so "others" is an upper bound.
    let others = others_pct(h0, h1, (me1 - me0) + daemon_ticks);
    let pushes = central.pushes();
    let (server, gap) = split(&pushes);
    let stats = stats_json(&central, &pushes);
    drop(central); // stops it and closes its database
    let rate = if d.drain_s.is_finite() {
        (n - d.acked_at_ready) as f64 / d.drain_s
    } else {
        0.0
    };
    if let Some(e) = &d.error {
        println!("    ERROR: {e}");
        println!("    daemon stderr (tail):\n{}", d.stderr_tail);
    }
    let hwm_mb = d.hwm_kb.map(|k| k as f64 / 1024.0);
    let peak_mb = (d.peak_rss_kb as f64 / 1024.0).max(hwm_mb.unwrap_or(0.0));
    println!(
        "    ready after {:.2} s ({} already acked then); drained in {:.2} s → {:.0} events/s ({:.2} s from spawn); other processes ≤ {:.0}% of CPUs",
        d.ready_s, d.acked_at_ready, d.drain_s, rate, d.drain_from_spawn_s, others
    );
    println!(
        "    RSS peak {:.1} MB over {} samples (at ready {:.1} MB), VmHWM {}; SIGTERM → exit in {:.2} s: {}",
        d.peak_rss_kb as f64 / 1024.0,
        d.rss_samples,
        d.rss_at_ready_kb as f64 / 1024.0,
        hwm_mb.map_or("n/a".into(), |m| format!("{m:.1} MB")),
        d.stop_s,
        d.exit
    );
    println!(
        "    daemon CPU during drain {:.1} s ({:.0}% of one core): {}; central (bench process) {:.1} s",
        d.cpu_total_s,
        100.0 * d.cpu_total_s / d.drain_s,
        d.cpu_by_thread_s
            .iter()
            .filter(|(_, v)| **v > 0.0)
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect::<Vec<_>>()
            .join(", "),
        d.bench_cpu_s
    );
    let m = |v: &[f64]| pct(v).2;
    println!(
        "    central per request {:.2} ms (p99 {:.2}); answer → next request {:.2} ms (p50 {:.2}, p99 {:.2}); station acked_through after stop {:?}; {} WARN/ERROR log lines",
        m(&server),
        pct(&server).1,
        m(&gap),
        pct(&gap).0,
        pct(&gap).1,
        d.station_acked_after,
        d.log_warnings
    );
    println!("    central: {stats}");
    let check = verify_central(&db, source_db, epoch, n);
    println!(
        "    central content: {} ({check:?})",
        if check.ok { "OK" } else { "WRONG" }
    );
    remove_db(&db);
    DaemonRound {
        rate,
        peak_mb,
        ok: check.ok,
        gap_mean_ms: m(&gap),
        json: json!({
            "events_per_s": rate.round(),
            "ready_s": round3(d.ready_s),
            "acked_at_ready": d.acked_at_ready,
            "drain_s": round3(d.drain_s),
            "drain_from_spawn_s": round3(d.drain_from_spawn_s),
            "others_cpu_pct_max": round3(others),
            "peak_rss_mb": round3(d.peak_rss_kb as f64 / 1024.0),
            "vm_hwm_mb": hwm_mb.map(round3),
            "rss_at_ready_mb": round3(d.rss_at_ready_kb as f64 / 1024.0),
            "rss_samples": d.rss_samples,
            "cpu_s": round3(d.cpu_total_s),
            "cpu_by_thread_s": d.cpu_by_thread_s.iter().map(|(k, v)| (k.clone(), json!(round3(*v)))).collect::<serde_json::Map<_, _>>(),
            "bench_process_cpu_s": round3(d.bench_cpu_s),
            "exit": d.exit,
            "stop_s": round3(d.stop_s),
            "station_acked_after": d.station_acked_after,
            "log_warn_error_lines": d.log_warnings,
            "error": d.error,
            "central_per_request": dist_json(&server),
            "client_gap": dist_json(&gap),
            "central": stats,
            "content": check.json(),
        }),
    }
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn main() {
    if let Ok(args) = std::env::var("BENCH_SYNC_CEILING_CLIENT") {
        ceiling_client_main(&args);
        return;
    }
    // `cargo bench` passes `--bench` (and maybe a filter): accepted and ignored.
    let env_num = |k: &str, d: i64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&v: &i64| v > 0)
            .unwrap_or(d)
    };
    let n = env_num("BENCH_SYNC_EVENTS", DEFAULT_EVENTS);
    let rounds = env_num("BENCH_SYNC_ROUNDS", DEFAULT_ROUNDS) as usize;
    let cwd = std::env::current_dir().expect("cwd");
    let root = cwd.join("target").join("bench-sync");
    let _ = std::fs::remove_dir_all(&root);
    let station_dir = root.join("station");
    std::fs::create_dir_all(&station_dir).expect("bench dir under target/");
    let station_db = station_dir.join("returnsd.db");

    let (mp, dev, fstype, _) = mount_of(&root)
        .unwrap_or_else(|| ("?".into(), "?".into(), "unknown".into(), String::new()));
    let cpu = cpu_model();
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    println!("== returnsd central-sync drain bench ==");
    println!("dir      : {}", root.display());
    println!("fs       : {fstype} on {dev}, mounted at {mp}");
    println!("cpu      : {cpu} × {cores}; load average {loadavg}");
    println!("sqlite   : {} (bundled)", rusqlite::version());
    println!("daemon   : {}", env!("CARGO_BIN_EXE_returnsd"));
    println!("rounds   : {rounds} × (ceiling, daemon); figures are the medians");
    if n != DEFAULT_EVENTS {
        println!("NOTE     : BENCH_SYNC_EVENTS={n}: not the target's backlog of {DEFAULT_EVENTS}");
    }
    if fstype == "tmpfs" || fstype == "ramfs" {
        println!("WARNING  : bench dir is on {fstype}: fsync is free");
    }
    let fsync: Vec<f64> = fsync_probe(&root, true, 200)
        .into_iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    let (fsync_p50, fsync_p99, _) = pct(&fsync);
    println!("disk     : 4 KiB overwrite + fsync p50 {fsync_p50:.3} ms, p99 {fsync_p99:.3} ms");
    let _ = std::io::stdout().flush();

    // 1.
    let year_mode = std::env::var_os("BENCH_SYNC_YEAR").is_some();
    let (epoch, pristine, station_json) = if year_mode {
        let returns = env_num("BENCH_YEAR_RETURNS", 150_000) as usize;
        println!(
            "\n[1] station database: the year ({returns} returns through the real engine, benches/common/year.rs), copied fresh before each round; its first {n} events drained …"
        );
        let y = common::year::year(&cwd.join("target").join("bench-data"), returns);
        assert!(
            y.events >= n,
            "the year holds {} events, fewer than {n}",
            y.events
        );
        let epoch: String = Connection::open_with_flags(&y.db, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                    r.get(0)
                })
            })
            .expect("the year's epoch");
        println!(
            "    {} returns, {} events, {:.0} MB; epoch {epoch}",
            y.returns,
            y.events,
            y.db_bytes as f64 / 1e6
        );
        let station_json = json!({
            "year": true,
            "returns": y.returns,
            "events": y.events,
            "bytes": y.db_bytes,
        });
        (epoch, Some(y.db), station_json)
    } else {
        println!("\n[1] station database: {n} events through Store::begin/append/commit …");
        let built = build_station(&station_db, n);
        println!(
            "    {:.1} s; {:.0} MB; data JSON mean {:.0} B (max {}), event JSON mean {:.0} B; epoch {}",
            built.secs,
            built.db_bytes as f64 / 1e6,
            built.mean_data_bytes,
            built.max_data_bytes,
            built.mean_event_json_bytes,
            built.epoch
        );
        let station_json = json!({
            "year": false,
            "build_s": round3(built.secs),
            "bytes": built.db_bytes,
            "mean_data_bytes": built.mean_data_bytes.round(),
            "max_data_bytes": built.max_data_bytes,
            "mean_event_json_bytes": built.mean_event_json_bytes.round(),
        });
        (built.epoch.clone(), None, station_json)
    };
    // What the central's content is checked against: the year as built (the daemon's copy
    // prunes what the central acknowledged), else the station database itself.
    let source_db = pristine.clone().unwrap_or_else(|| station_db.clone());

    // 2 + 3, in rounds: each ceiling right before its daemon run.
    let mut ceilings = Vec::new();
    let mut daemons = Vec::new();
    for r in 1..=rounds {
        println!("\n[2.{r}] round {r} of {rounds}");
        if let Some(p) = &pristine {
            year_copy(p, &station_db);
        }
        ceilings.push(ceiling_round(&root, &station_db, &epoch, n, r));
        daemons.push(daemon_round(&root, &station_dir, &epoch, n, r, &source_db));
    }

    // 4.
    println!("\n[3] where a daemon batch's client-side time goes (ms per batch of {BATCH}) …");
    let sp = station_path(&source_db, &epoch, n, 100);
    let m = |v: &[f64]| pct(v).2;
    let station_cpu = m(&sp.read_ms) + m(&sp.build_ms) + m(&sp.photo_scan_ms) + m(&sp.gzip_ms);
    let gap = median(&daemons.iter().map(|d| d.gap_mean_ms).collect::<Vec<_>>());
    println!(
        "    daemon's functions in-process ({} batches): journal_after {:.2}, batch_body {:.2} ({:.0} B), photo-scan parse of every row {:.2}, gzip {:.2} = {:.2}",
        sp.batches,
        m(&sp.read_ms),
        m(&sp.build_ms),
        sp.body_bytes,
        m(&sp.photo_scan_ms),
        m(&sp.gzip_ms),
        station_cpu,
    );
    println!(
        "    the same body written directly (the plain client's way): {:.2} ({:.0} B)",
        m(&sp.lean_build_ms),
        sp.lean_body_bytes
    );
    println!(
        "    daemon's answer → next request (median of rounds' means) {gap:.2}; not explained by the above (engine ack round trip, feed poll, scheduling): {:.2}",
        gap - station_cpu
    );

    // Results.
    let ceil_rate = median(&ceilings.iter().map(|c| c.rate).collect::<Vec<_>>());
    let dm_rate = median(&daemons.iter().map(|d| d.rate).collect::<Vec<_>>());
    let shares: Vec<f64> = ceilings
        .iter()
        .zip(&daemons)
        .map(|(c, d)| d.rate / c.rate)
        .collect();
    let share = median(&shares);
    let peak_mb = daemons.iter().map(|d| d.peak_mb).fold(0.0, f64::max);
    let content_ok = ceilings.iter().all(|c| c.ok) && daemons.iter().all(|d| d.ok);
    let t_rate = dm_rate >= TARGET_EVENTS_PER_S;
    let t_share = share >= TARGET_SHARE_OF_CEILING;
    let t_rss = peak_mb > 0.0 && peak_mb <= TARGET_RSS_MB;
    println!("\n== results ({n} events, {fstype}, {cpu} × {cores}) ==");
    println!(
        "{:<34} {:>12} {:>12} {:>10} {:>10}",
        "round", "ceiling ev/s", "daemon ev/s", "ratio", "peak RSS"
    );
    for (i, (c, d)) in ceilings.iter().zip(&daemons).enumerate() {
        println!(
            "{:<34} {:>12.0} {:>12.0} {:>9.1}% {:>7.1} MB",
            format!("round {}", i + 1),
            c.rate,
            d.rate,
            100.0 * d.rate / c.rate,
            d.peak_mb
        );
    }
    println!(
        "{:<34} {:>12.0} {:>12.0} {:>9.1}% {:>7.1} MB",
        "median (ratio: of rounds; RSS: max)",
        ceil_rate,
        dm_rate,
        share * 100.0,
        peak_mb
    );
    println!("\n== targets ==");
    let tgt = |name: String, value: String, ok: bool| {
        println!("{name:<44} {value:>14}  {}", pass(ok));
    };
    tgt(
        format!("≥ {TARGET_EVENTS_PER_S:.0} events/s"),
        format!("{dm_rate:.0}/s"),
        t_rate,
    );
    tgt(
        format!("≥ {:.0} % of the ceiling", TARGET_SHARE_OF_CEILING * 100.0),
        format!("{:.1} %", share * 100.0),
        t_share,
    );
    tgt(
        format!("peak RSS ≤ {TARGET_RSS_MB:.0} MB"),
        format!("{peak_mb:.1} MB"),
        t_rss,
    );
    tgt(
        "every central holds 1..=N once, as sent".into(),
        format!(
            "{}/{}",
            ceilings.iter().filter(|c| c.ok).count() + daemons.iter().filter(|d| d.ok).count(),
            2 * rounds
        ),
        content_ok,
    );

    let out = json!({
        "env": {
            "dir": root.display().to_string(),
            "fs_type": fstype,
            "device": dev,
            "cpu": cpu,
            "cores": cores,
            "loadavg_at_start": loadavg,
            "sqlite": rusqlite::version(),
            "fsync_p50_ms": round3(fsync_p50),
            "fsync_p99_ms": round3(fsync_p99),
        },
        "events": n,
        "rounds": rounds,
        "station_db": station_json,
        "ceiling_events_per_s": ceil_rate.round(),
        "daemon_events_per_s": dm_rate.round(),
        "share_of_ceiling": round3(share),
        "peak_rss_mb": round3(peak_mb),
        "ceiling_rounds": ceilings.iter().map(|c| c.json.clone()).collect::<Vec<_>>(),
        "daemon_rounds": daemons.iter().map(|d| d.json.clone()).collect::<Vec<_>>(),
        "station_path_ms": {
            "batches": sp.batches,
            "journal_after": dist_json(&sp.read_ms),
            "batch_body": dist_json(&sp.build_ms),
            "photo_scan_parse": dist_json(&sp.photo_scan_ms),
            "gzip": dist_json(&sp.gzip_ms),
            "lean_body": dist_json(&sp.lean_build_ms),
            "batch_body_bytes": sp.body_bytes.round(),
            "lean_body_bytes": sp.lean_body_bytes.round(),
        },
        "content_ok": content_ok,
        "targets": {
            "events_per_s_ge_20000": t_rate,
            "share_ge_50pct": t_share,
            "peak_rss_le_64mb": t_rss,
        },
    });
    println!("BENCH_JSON {out}");
    let _ = std::io::stdout().flush();
    if !content_ok {
        std::process::exit(1);
    }
}
