//! Core latency/throughput benchmark (custom harness): `cargo bench --bench core`.
//!
//! Everything runs in one process, on one disk: a temp dir under `<cwd>/target/` (not /tmp,
//! which may be tmpfs and would make every fsync free).
//!
//! 0. Disk probe: 4 KiB write + `fdatasync` on a plain file (context for the figures below).
//! 1. Raw SQLite baseline: one single-row INSERT + COMMIT per transaction, WAL,
//!    `synchronous=FULL`, journal-shaped table, 2,000 commits.
//! 2. Scan → durable journal latency at 50 scans/s through the real engine
//!    (`EngineHandle::scan`), ≥ 1,500 scans of a realistic bench cycle.
//! 3. Sustained throughput with group commit: 64 concurrent benches, 20,000 scans.
//!
//! Targets (PASS/FAIL printed, never a panic): scan p99 ≤ 2 ms, scan p99 ≤ 3× raw commit
//! p99, ≥ 2,000 scans/s sustained. Exit 1 only if a reply was not stored.
//! One `BENCH_JSON {…}` line carries every figure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use returnsd::engine::{EngineHandle, Reply};
use rusqlite::{Connection, params};
use serde_json::json;
use tokio::time::MissedTickBehavior;

const RAW_COMMITS: usize = 2_000;
const RAW_WARMUP: usize = 20;
const FSYNC_PROBES: usize = 500;
/// Parcels in the paced run: 1 login + 6 scans × 250 = 1,501 scans ≈ 30 s at 50/s.
const PACED_PARCELS: usize = 250;
const PACED_RATE_HZ: u64 = 50;
const SUBMITTERS: usize = 64;
const SUSTAINED_SCANS: u64 = 20_000;

const TARGET_P99_MS: f64 = 2.0;
const TARGET_P99_VS_RAW: f64 = 3.0;
const TARGET_SCANS_PER_S: f64 = 2_000.0;

/// The six scans per parcel after the waybill, and the feedback code each should get.
const PRODUCTS: [&str; 2] = ["6901234567892", "4006381333931"];

/// Feedback code expected for each position of the cycle (waybill first).
const CYCLE_CODES: [&str; 7] = [
    "received_unannounced",
    "kind_set",
    "unpacked",
    "item_unannounced",
    "item_unannounced",
    "visual_recorded",
    "first_check_done",
];

/// The scans of one parcel: a new unannounced waybill, kind, unpack, 2 products, visual ok,
/// done.
fn parcel(waybill: &str) -> [Vec<u8>; 7] {
    [
        waybill.as_bytes().to_vec(),
        b"CMD-KIND-CUSTOMER".to_vec(),
        b"CMD-UNPACK".to_vec(),
        PRODUCTS[0].as_bytes().to_vec(),
        PRODUCTS[1].as_bytes().to_vec(),
        b"CMD-VIS-OK".to_vec(),
        b"CMD-DONE".to_vec(),
    ]
}

/// `SF` + 13 digits, unique per (submitter, n).
fn waybill(submitter: u64, n: u64) -> String {
    format!("SF{:013}", submitter * 100_000_000 + n)
}

// ---------------------------------------------------------------------------------------
// Statistics

#[derive(Debug, Clone, Copy)]
struct Summary {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Summary {
    fn of(samples: &[Duration]) -> Summary {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let n = ms.len();
        let rank = |q: f64| -> f64 {
            if n == 0 {
                return f64::NAN;
            }
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            ms[i]
        };
        Summary {
            n,
            p50: rank(0.50),
            p99: rank(0.99),
            max: ms.last().copied().unwrap_or(f64::NAN),
            mean: if n == 0 {
                f64::NAN
            } else {
                ms.iter().sum::<f64>() / n as f64
            },
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "n": self.n,
            "p50_ms": round3(self.p50),
            "p99_ms": round3(self.p99),
            "max_ms": round3(self.max),
            "mean_ms": round3(self.mean),
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------
// Environment

/// The mount holding `path` (longest mount-point prefix in /proc/mounts):
/// (mount point, device, fs type, options).
fn mount_of(path: &Path) -> Option<(String, String, String, String)> {
    let canon = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let unescape = |s: &str| {
        s.replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\")
    };
    let mut best: Option<(String, String, String, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 4 {
            continue;
        }
        let mp = unescape(f[1]);
        if canon.starts_with(&mp) && best.as_ref().is_none_or(|b| mp.len() >= b.0.len()) {
            best = Some((mp, f[0].to_string(), f[2].to_string(), f[3].to_string()));
        }
    }
    best
}

/// `stat -f -c %T` as a cross-check of the /proc/mounts answer (None if unavailable).
fn stat_f_type(path: &Path) -> Option<String> {
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(path)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

// ---------------------------------------------------------------------------------------
// 0. Disk probe

fn fsync_probe(dir: &Path) -> Summary {
    use std::os::unix::fs::FileExt;
    let path = dir.join("fsync-probe.bin");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("create fsync probe file");
    let block = vec![0xA5u8; 4096];
    let mut samples = Vec::with_capacity(FSYNC_PROBES);
    for i in 0..FSYNC_PROBES + RAW_WARMUP {
        let t = Instant::now();
        f.write_at(&block, (i as u64) * 4096).expect("probe write");
        f.sync_data().expect("probe fdatasync");
        if i >= RAW_WARMUP {
            samples.push(t.elapsed());
        }
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    Summary::of(&samples)
}

// ---------------------------------------------------------------------------------------
// 1. Raw SQLite baseline

fn raw_sqlite(dir: &Path) -> Summary {
    let conn = Connection::open(dir.join("raw.db")).expect("open raw.db");
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal", "raw baseline could not switch to WAL");
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         CREATE TABLE journal (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            occurred_at TEXT NOT NULL,
            actor TEXT NOT NULL,
            return_id TEXT,
            data TEXT NOT NULL
         );
         CREATE INDEX journal_return ON journal(return_id);",
    )
    .expect("raw schema");
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .expect("synchronous");
    assert_eq!(sync, 2, "raw baseline is not synchronous=FULL");
    let mut conn = conn;
    let mut samples = Vec::with_capacity(RAW_COMMITS);
    for i in 0..RAW_WARMUP + RAW_COMMITS {
        let seq = i as i64 + 1;
        let id = uuid::Uuid::now_v7().to_string();
        let return_id = format!("R-ST01-20260101-{}", i / 7 + 1);
        let at = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        // ~200 bytes of JSON, like a scan.recorded / item.scanned event.
        let data = json!({
            "bench": "bench-1",
            "code": format!("SF{:013}", i),
            "class": "waybill",
            "accepted": true,
            "error": null,
            "item_no": 1,
            "sku": "6901234567892",
            "barcode": "6901234567892",
            "name": "Wireless earbuds, white, model X-200",
            "exception": "unannounced",
        })
        .to_string();
        let t = Instant::now();
        let tx = conn.transaction().expect("begin");
        tx.prepare_cached(
            "INSERT INTO journal(seq, id, type, occurred_at, actor, return_id, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .expect("prepare")
        .execute(params![
            seq,
            id,
            "scan.recorded",
            at,
            "keeper:017",
            return_id,
            data
        ])
        .expect("insert");
        tx.commit().expect("commit");
        if i >= RAW_WARMUP {
            samples.push(t.elapsed());
        }
        if i == RAW_WARMUP {
            // Sanity: the payload is ~200 bytes as specified.
            assert!(
                (150..=300).contains(&data.len()),
                "data is {} bytes",
                data.len()
            );
        }
    }
    Summary::of(&samples)
}

// ---------------------------------------------------------------------------------------
// Engine setup

fn engine_config(state_dir: &Path) -> Arc<returnsd::config::Config> {
    let text = format!(
        r#"
[station]
id = "ST01"
timezone = "Asia/Shanghai"
language = "en"

[storage]
state_dir = "{}"
database = "returnsd.db"

[scan]
double_read_window_ms = 0

[[operators]]
badge = "017"
name = "Keeper 17"
roles = ["keeper"]

[log]
level = "warn"
"#,
        state_dir.display()
    );
    let path = state_dir.join("bench.toml");
    // An empty environment: RETURNSD__* variables of the caller must not change the bench.
    let cfg = returnsd::config::parse(&text, "bench.toml", &path, &[])
        .unwrap_or_else(|e| panic!("bench config does not validate:\n{e}"));
    Arc::new(cfg)
}

struct Running {
    handle: EngineHandle,
    join: std::thread::JoinHandle<()>,
    effects: tokio::task::JoinHandle<u64>,
}

/// Start the real engine on a fresh state dir; must be called inside a runtime (it spawns
/// a task that drains the print effects, as the app does).
fn start_engine(state_dir: &Path) -> Running {
    std::fs::create_dir_all(state_dir).expect("state dir");
    let cfg = engine_config(state_dir);
    let (handle, mut effects_rx, join) =
        returnsd::engine::start(cfg, returnsd::engine::system_clock()).expect("engine start");
    let effects = tokio::spawn(async move {
        let mut n = 0u64;
        while effects_rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    Running {
        handle,
        join,
        effects,
    }
}

/// Stop the engine (drop every handle), wait for its thread; returns effects seen.
async fn stop_engine(r: Running) -> u64 {
    drop(r.handle);
    tokio::task::spawn_blocking(move || r.join.join().expect("engine thread panicked"))
        .await
        .expect("join");
    r.effects.await.unwrap_or(0)
}

/// Checks of the replies: not stored (fatal), unexpected feedback (cycle broken).
#[derive(Default)]
struct ReplyCheck {
    not_stored: u64,
    unexpected: u64,
    examples: Vec<String>,
}

impl ReplyCheck {
    fn check(&mut self, what: &str, expected: &str, r: &Reply) {
        let bad_store = !r.stored;
        let bad_code = r.code != expected;
        if bad_store {
            self.not_stored += 1;
        }
        if bad_code {
            self.unexpected += 1;
        }
        if (bad_store || bad_code) && self.examples.len() < 5 {
            self.examples.push(format!(
                "{what}: expected {expected}, got code={} ok={} stored={}",
                r.code, r.ok, r.stored
            ));
        }
    }

    fn merge(&mut self, o: ReplyCheck) {
        self.not_stored += o.not_stored;
        self.unexpected += o.unexpected;
        for e in o.examples {
            if self.examples.len() < 5 {
                self.examples.push(e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. Paced scan latency

struct Paced {
    lat: Summary,
    scans: u64,
    batches: u64,
    wall: Duration,
    effects: u64,
    check: ReplyCheck,
}

fn paced(state_dir: &Path) -> Paced {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let eng = start_engine(state_dir);
        let h = eng.handle.clone();
        let mut check = ReplyCheck::default();
        let mut lat = Vec::with_capacity(1 + PACED_PARCELS * 7);
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / PACED_RATE_HZ));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let started = Instant::now();

        tick.tick().await;
        let t = Instant::now();
        let r = h.scan("bench-1", b"OP-017".to_vec()).await;
        lat.push(t.elapsed());
        check.check("login", "logged_in", &r);

        for p in 0..PACED_PARCELS {
            let wb = waybill(1, p as u64);
            for (i, bytes) in parcel(&wb).into_iter().enumerate() {
                tick.tick().await;
                let t = Instant::now();
                let r = h.scan("bench-1", bytes).await;
                lat.push(t.elapsed());
                check.check(&format!("parcel {p} scan {i}"), CYCLE_CODES[i], &r);
            }
        }
        let wall = started.elapsed();
        let scans = h.stats.scans.load(Ordering::Relaxed);
        let batches = h.stats.batches.load(Ordering::Relaxed);
        drop(h);
        let effects = stop_engine(eng).await;
        Paced {
            lat: Summary::of(&lat),
            scans,
            batches,
            wall,
            effects,
            check,
        }
    })
}

// ---------------------------------------------------------------------------------------
// 3. Sustained throughput

struct Sustained {
    scans: u64,
    batches: u64,
    wall: Duration,
    lat: Summary,
    effects: u64,
    check: ReplyCheck,
}

async fn submitter(
    h: EngineHandle,
    n: usize,
    budget: Arc<AtomicU64>,
) -> (Vec<Duration>, ReplyCheck) {
    let bench = format!("bench-{n}");
    let mut lat = Vec::with_capacity(2 * SUSTAINED_SCANS as usize / SUBMITTERS);
    let mut check = ReplyCheck::default();
    let claim = || budget.fetch_add(1, Ordering::Relaxed) < SUSTAINED_SCANS;
    if !claim() {
        return (lat, check);
    }
    let t = Instant::now();
    let r = h.scan(&bench, b"OP-017".to_vec()).await;
    lat.push(t.elapsed());
    check.check(&format!("{bench} login"), "logged_in", &r);
    let mut p = 0u64;
    'outer: loop {
        let wb = waybill(n as u64 + 10, p);
        for (i, bytes) in parcel(&wb).into_iter().enumerate() {
            if !claim() {
                break 'outer;
            }
            let t = Instant::now();
            let r = h.scan(&bench, bytes).await;
            lat.push(t.elapsed());
            check.check(&format!("{bench} parcel {p} scan {i}"), CYCLE_CODES[i], &r);
        }
        p += 1;
    }
    (lat, check)
}

fn sustained(state_dir: &Path) -> Sustained {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let eng = start_engine(state_dir);
        let budget = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (1..=SUBMITTERS)
            .map(|n| tokio::spawn(submitter(eng.handle.clone(), n, budget.clone())))
            .collect();
        let mut lat = Vec::with_capacity(SUSTAINED_SCANS as usize);
        let mut check = ReplyCheck::default();
        for t in tasks {
            let (l, c) = t.await.expect("submitter panicked");
            lat.extend(l);
            check.merge(c);
        }
        let wall = started.elapsed();
        let scans = eng.handle.stats.scans.load(Ordering::Relaxed);
        let batches = eng.handle.stats.batches.load(Ordering::Relaxed);
        let effects = stop_engine(eng).await;
        Sustained {
            scans,
            batches,
            wall,
            lat: Summary::of(&lat),
            effects,
            check,
        }
    })
}

// ---------------------------------------------------------------------------------------

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let cwd = std::env::current_dir().expect("cwd");
    let target = cwd.join("target");
    std::fs::create_dir_all(&target).expect("target dir");
    let tmp = tempfile::Builder::new()
        .prefix("bench-core-")
        .tempdir_in(&target)
        .expect("temp dir under target/");
    let dir: PathBuf = tmp.path().to_path_buf();

    let (mp, dev, fstype, opts) =
        mount_of(&dir).unwrap_or_else(|| ("?".into(), "?".into(), "unknown".into(), String::new()));
    let stat_type = stat_f_type(&dir).unwrap_or_else(|| "n/a".into());
    let cpu = cpu_model();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("== returnsd core bench ==");
    println!("dir      : {}", dir.display());
    println!("fs       : {fstype} (stat -f: {stat_type}) on {dev}, mounted at {mp} [{opts}]");
    println!("cpu      : {cpu} × {cores}");
    println!("sqlite   : {}", rusqlite::version());
    if fstype == "tmpfs" || fstype == "ramfs" {
        println!(
            "WARNING  : bench dir is on {fstype}: fsync is free, figures are not disk figures"
        );
    }
    let _ = std::io::stdout().flush();

    println!("\n[0] disk probe: 4 KiB pwrite + fdatasync × {FSYNC_PROBES} …");
    let fsync = fsync_probe(&dir);
    println!(
        "    p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        fsync.p50, fsync.p99, fsync.max
    );

    println!("\n[1] raw SQLite: INSERT + COMMIT, WAL, synchronous=FULL × {RAW_COMMITS} …");
    let raw = raw_sqlite(&dir);
    println!(
        "    p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        raw.p50, raw.p99, raw.max
    );

    println!(
        "\n[2] engine scan → durable reply at {PACED_RATE_HZ} scans/s, {} scans (≈{} s) …",
        1 + PACED_PARCELS * 7,
        (1 + PACED_PARCELS * 7) as u64 / PACED_RATE_HZ
    );
    let _ = std::io::stdout().flush();
    let pc = paced(&dir.join("paced"));
    println!(
        "    p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  ({} scans, {} batches, {:.1} s, {:.1} scans/s offered)",
        pc.lat.p50,
        pc.lat.p99,
        pc.lat.max,
        pc.scans,
        pc.batches,
        pc.wall.as_secs_f64(),
        pc.scans as f64 / pc.wall.as_secs_f64()
    );

    println!("\n[3] sustained: {SUBMITTERS} benches back-to-back, {SUSTAINED_SCANS} scans …");
    let _ = std::io::stdout().flush();
    let su = sustained(&dir.join("sustained"));
    let su_rate = su.scans as f64 / su.wall.as_secs_f64();
    let su_batch = su.scans as f64 / su.batches.max(1) as f64;
    println!(
        "    {:.0} scans/s  ({} scans in {:.2} s, {} batches, mean batch {:.1} scans; latency p50 {:.3} ms p99 {:.3} ms max {:.3} ms)",
        su_rate,
        su.scans,
        su.wall.as_secs_f64(),
        su.batches,
        su_batch,
        su.lat.p50,
        su.lat.p99,
        su.lat.max
    );

    let ratio = pc.lat.p99 / raw.p99;
    let t1 = pc.lat.p99 <= TARGET_P99_MS;
    let t2 = ratio <= TARGET_P99_VS_RAW;
    let t3 = su_rate >= TARGET_SCANS_PER_S;
    let not_stored = pc.check.not_stored + su.check.not_stored;
    let unexpected = pc.check.unexpected + su.check.unexpected;

    println!("\n== results ({fstype} at {}) ==", dir.display());
    println!(
        "{:<44} {:>9} {:>9} {:>9}",
        "measurement", "p50 ms", "p99 ms", "max ms"
    );
    let row = |name: &str, s: &Summary| {
        println!("{:<44} {:>9.3} {:>9.3} {:>9.3}", name, s.p50, s.p99, s.max);
    };
    row("disk: 4 KiB write + fdatasync", &fsync);
    row("raw SQLite commit (WAL, sync=FULL)", &raw);
    row("engine scan → durable reply @50/s", &pc.lat);
    row("engine scan latency @64 benches (info)", &su.lat);
    println!(
        "{:<44} {:>9.0}   mean batch {:.1} scans ({} batches)",
        "sustained scans/s (64 benches)", su_rate, su_batch, su.batches
    );
    println!("\n== targets ==");
    println!(
        "{:<52} {:>10}  {}",
        format!("scan p99 ≤ {TARGET_P99_MS} ms"),
        format!("{:.3} ms", pc.lat.p99),
        pass(t1)
    );
    println!(
        "{:<52} {:>10}  {}",
        format!(
            "scan p99 ≤ {TARGET_P99_VS_RAW}× raw commit p99 ({:.3} ms)",
            raw.p99
        ),
        format!("{ratio:.2}×"),
        pass(t2)
    );
    println!(
        "{:<52} {:>10}  {}",
        format!("sustained ≥ {TARGET_SCANS_PER_S:.0} scans/s"),
        format!("{su_rate:.0}/s"),
        pass(t3)
    );
    println!(
        "{:<52} {:>10}  {}",
        "every reply stored",
        format!("{not_stored} not"),
        pass(not_stored == 0)
    );
    println!(
        "{:<52} {:>10}  {}",
        "every reply has the cycle's expected code",
        format!("{unexpected} off"),
        pass(unexpected == 0)
    );
    for e in pc.check.examples.iter().chain(su.check.examples.iter()) {
        println!("    {e}");
    }
    println!(
        "label print effects: paced {} (expect {PACED_PARCELS}), sustained {}",
        pc.effects, su.effects
    );

    let out = json!({
        "env": {
            "dir": dir.display().to_string(),
            "fs_type": fstype,
            "stat_f_type": stat_type,
            "device": dev,
            "mount_point": mp,
            "cpu": cpu,
            "cores": cores,
            "sqlite": rusqlite::version(),
        },
        "fsync_probe": fsync.json(),
        "raw_commit": raw.json(),
        "scan_paced": {
            "rate_hz": PACED_RATE_HZ,
            "scans": pc.scans,
            "batches": pc.batches,
            "wall_s": round3(pc.wall.as_secs_f64()),
            "latency": pc.lat.json(),
            "p99_vs_raw_p99": round3(ratio),
        },
        "sustained": {
            "submitters": SUBMITTERS,
            "scans": su.scans,
            "batches": su.batches,
            "wall_s": round3(su.wall.as_secs_f64()),
            "scans_per_s": su_rate.round(),
            "mean_batch": round3(su_batch),
            "latency": su.lat.json(),
        },
        "not_stored": not_stored,
        "unexpected_codes": unexpected,
        "targets": {
            "scan_p99_le_2ms": t1,
            "scan_p99_le_3x_raw": t2,
            "sustained_ge_2000_per_s": t3,
        },
    });
    println!("BENCH_JSON {out}");
    let _ = std::io::stdout().flush();

    drop(tmp);
    if not_stored > 0 {
        std::process::exit(1);
    }
}
