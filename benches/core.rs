//! Core latency/throughput benchmark (custom harness): `cargo bench --bench core`.
//!
//! Everything runs in one process, on one disk: a temp dir under `<cwd>/target/` (not /tmp,
//! which may be tmpfs and would make every fsync free); its filesystem is printed.
//!
//! 0. Disk probe: 4 KiB overwrite + `fdatasync` (what the bundled SQLite calls, built
//!    with HAVE_FDATASYNC by `.cargo/config.toml`), and + `fsync`, on a plain file: context
//!    for the figures below.
//! 1. Raw SQLite baseline: one single-row INSERT + COMMIT per transaction, WAL,
//!    `synchronous=FULL`, journal-shaped table, 2,000 commits back to back.
//! 2. Scan → durable journal latency at 50 scans/s through the real engine
//!    (`EngineHandle::scan`), 1,506 scans of a realistic bench cycle (login once, then per
//!    parcel: unannounced waybill, kind, unpack, 2 products, visual ok, done). The reply is
//!    sent after the commit, so call → reply is scan → on disk. As a control, one raw
//!    commit (the database of 1) runs right after each reply, in the 20 ms gap: same disk,
//!    same seconds, so disk-wide stalls show up in both. Then, at the same pace, 500
//!    empty batches through the same engine (`EngineHandle::probe`): the hand-off floor
//!    every scan pays beside the control's commit — two thread wake-ups, BEGIN, an empty
//!    COMMIT.
//! 3. Sustained throughput with group commit: 64 concurrent benches, 20,000 scans.
//! 4. Two benches: a keeper scanning one code every 10 ms, alone (the baseline) and then
//!    beside a bench whose batch-upload scanner submits 400 scans at once, again and
//!    again; the keeper's p99 both ways and the bursting bench's.
//! 5. One wholesale return of 400 units scanned one by one: the engine thread's CPU per
//!    scan over the first 40 units and over the last 40.
//!
//! Diagnostics per phase, read from /proc without touching `src/`: other processes' CPU
//! share, the measured thread's on-CPU, kernel share and run-queue wait, bytes and write
//! syscalls per commit/scan (→ WAL frames per commit and checkpoint rate).
//!
//! Targets (PASS/FAIL printed, never a panic): scan p99 ≤ 2 ms, scan p99 ≤ 3× raw commit
//! p99 (of 1), ≥ 2,000 scans/s sustained, a keeper's scan p99 beside another bench's
//! 400-scan bursts ≤ 3× its p99 alone (fair group commit), the engine's CPU per scan at
//! item 400 ≤ 1.5× item 1's (p50). Exit 1 only if a reply was
//! not stored.
//! One `BENCH_JSON {…}` line carries every figure. `BENCH_CORE_DUMP=<file>` also writes the
//! paced run's per-scan latencies (and the control's) as CSV.

mod common;
#[path = "../tests/kit/mod.rs"]
mod kit;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use returnsd::engine::{EngineHandle, Reply};
use rusqlite::{Connection, params};
use serde_json::json;
use tokio::time::MissedTickBehavior;

use common::{cpu_model, host_cpu, mount_of, pass, proc_stat, round3};

const RAW_COMMITS: usize = 2_000;
const RAW_WARMUP: usize = 20;
const FSYNC_PROBES: usize = 500;
/// Parcels in the paced run: 1 login + 7 scans × 215 = 1,506 scans ≈ 30 s at 50/s.
const PACED_PARCELS: usize = 215;
const PACED_RATE_HZ: u64 = 50;
/// Empty batches through the engine after the paced scans (the hand-off floor), ≈10 s.
const PROBES: usize = 500;
const SUBMITTERS: usize = 64;
const SUSTAINED_SCANS: u64 = 20_000;

const TARGET_P99_MS: f64 = 2.0;
const TARGET_P99_VS_RAW: f64 = 3.0;
const TARGET_SCANS_PER_S: f64 = 2_000.0;
/// Issue #12's targets: the scan's p99 beside the raw commit measured interleaved with it,
/// the engine thread's CPU per scan at 50 scans/s, sustained group commit.
const TARGET12_P99_VS_INTERLEAVED: f64 = 1.5;
const TARGET12_CPU_US: f64 = 200.0;
const TARGET12_SCANS_PER_S: f64 = 10_000.0;

/// The two product scans of every parcel (valid EAN-13s; the second also matches the Yunda
/// waybill pattern, so it is classified as ambiguous and resolved by context).
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

// ---------------------------------------------------------------------------------------
// Environment

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

/// Counters read from /proc at one instant: host CPU, this process's CPU and I/O and,
/// optionally, one thread's scheduler statistics (`schedstat`: on-CPU ns, run-queue wait
/// ns). Diffed around a phase they say where the time went without touching `src/`.
#[derive(Clone, Copy)]
struct Snap {
    at: Instant,
    host_busy: u64,
    host_total: u64,
    self_cpu: u64,
    wchar: u64,
    syscw: u64,
    thread: Option<(u64, u64)>,
}

/// One phase's load figures, per operation (commit or scan) where it says so.
#[derive(Clone, Copy, Debug)]
struct Load {
    ops: u64,
    wall_s: f64,
    /// Share of all CPUs used by other processes (other builds and tests on this machine).
    others_busy_pct: f64,
    /// Share of all CPUs used by this process.
    self_cpu_pct: f64,
    wchar_per_op: f64,
    write_syscalls_per_op: f64,
    /// On-CPU time of the measured thread (the engine thread, or the raw loop's thread).
    thread_cpu_us_per_op: Option<f64>,
    /// Time the measured thread was runnable but waiting for a CPU.
    thread_runq_wait_us_per_op: Option<f64>,
}

fn read_u64s(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect()
}

impl Snap {
    /// `thread`: a `/proc/…/task/<tid>` (or `/proc/thread-self`) directory whose schedstat
    /// and io counters to read; without it the I/O counters are the whole process's.
    fn take(thread: Option<&Path>) -> Snap {
        let (host_busy, host_total) = host_cpu();
        let self_cpu = proc_stat(Path::new("/proc/self/stat")).map_or(0, |x| x.1);
        let io_path = thread.map_or_else(|| PathBuf::from("/proc/self/io"), |t| t.join("io"));
        let io = std::fs::read_to_string(io_path).unwrap_or_default();
        let io_field = |name: &str| {
            io.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim_start_matches(':').trim().parse().ok())
                .unwrap_or(0)
        };
        let thread = thread.and_then(|t| {
            let v = read_u64s(&t.join("schedstat"));
            (v.len() >= 2).then(|| (v[0], v[1]))
        });
        Snap {
            at: Instant::now(),
            host_busy,
            host_total,
            self_cpu,
            wchar: io_field("wchar"),
            syscw: io_field("syscw"),
            thread,
        }
    }

    fn since(&self, b: &Snap, ops: u64) -> Load {
        let total = self.host_total.saturating_sub(b.host_total).max(1) as f64;
        let busy = self.host_busy.saturating_sub(b.host_busy) as f64;
        let mine = self.self_cpu.saturating_sub(b.self_cpu) as f64;
        let per = |x: u64, y: u64| x.saturating_sub(y) as f64 / ops.max(1) as f64;
        let th = self.thread.zip(b.thread);
        Load {
            ops,
            wall_s: self.at.duration_since(b.at).as_secs_f64(),
            others_busy_pct: ((busy - mine).max(0.0) / total) * 100.0,
            self_cpu_pct: (mine / total) * 100.0,
            wchar_per_op: per(self.wchar, b.wchar),
            write_syscalls_per_op: per(self.syscw, b.syscw),
            thread_cpu_us_per_op: th.map(|((a, _), (c, _))| per(a, c) / 1e3),
            thread_runq_wait_us_per_op: th.map(|((_, a), (_, c))| per(a, c) / 1e3),
        }
    }
}

impl Load {
    fn json(&self) -> serde_json::Value {
        json!({
            "ops": self.ops,
            "wall_s": round3(self.wall_s),
            "others_cpu_pct": round3(self.others_busy_pct),
            "self_cpu_pct": round3(self.self_cpu_pct),
            "write_bytes_per_op": self.wchar_per_op.round(),
            "write_syscalls_per_op": round3(self.write_syscalls_per_op),
            "thread_cpu_us_per_op": self.thread_cpu_us_per_op.map(round3),
            "thread_runq_wait_us_per_op": self.thread_runq_wait_us_per_op.map(round3),
        })
    }

    fn line(&self, unit: &str) -> String {
        let opt = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.0} µs"));
        format!(
            "other processes {:.0}% of CPUs, this process {:.0}%; per {unit}: {:.0} B written in {:.1} write syscalls, thread on-CPU {}, run-queue wait {}",
            self.others_busy_pct,
            self.self_cpu_pct,
            self.wchar_per_op,
            self.write_syscalls_per_op,
            opt(self.thread_cpu_us_per_op),
            opt(self.thread_runq_wait_us_per_op)
        )
    }
}

/// The engine thread's `/proc/self/task/<tid>` directory (the thread is named
/// `returnsd-engine`; the name is set by the new thread itself, so wait for it briefly).
fn engine_thread_dir() -> Option<PathBuf> {
    for _ in 0..100 {
        for e in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let p = e.path();
            if std::fs::read_to_string(p.join("comm")).is_ok_and(|c| c.trim() == "returnsd-engine")
            {
                return Some(p);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

// ---------------------------------------------------------------------------------------
// 0. Disk probe

/// The disk probe as a [`Summary`] (`common::fsync_probe`).
fn fsync_probe(dir: &Path, full: bool) -> Summary {
    Summary::of(&common::fsync_probe(dir, full, FSYNC_PROBES))
}

// ---------------------------------------------------------------------------------------
// 1. Raw SQLite baseline

/// A journal-shaped table in its own database file, one row per committed transaction.
struct RawDb {
    conn: Connection,
    next: i64,
}

impl RawDb {
    fn open(path: &Path) -> RawDb {
        let conn = Connection::open(path).expect("open raw.db");
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
        RawDb { conn, next: 1 }
    }

    /// One single-row INSERT + COMMIT; returns its duration (BEGIN to COMMIT returning).
    fn commit_one(&mut self) -> Duration {
        let seq = self.next;
        self.next += 1;
        let id = uuid::Uuid::now_v7().to_string();
        let return_id = format!("R-ST01-20260101-{}", seq / 7 + 1);
        let at = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        // ~200 bytes of JSON, like an item.scanned event.
        let data = json!({
            "bench": "bench-1",
            "code": format!("SF{seq:013}"),
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
        debug_assert!((150..=300).contains(&data.len()), "{} bytes", data.len());
        let t = Instant::now();
        let tx = self.conn.transaction().expect("begin");
        tx.prepare_cached(
            "INSERT INTO journal(seq, id, type, occurred_at, actor, return_id, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .expect("prepare")
        .execute(params![
            seq,
            id,
            "item.scanned",
            at,
            "keeper:017",
            return_id,
            data
        ])
        .expect("insert");
        tx.commit().expect("commit");
        t.elapsed()
    }
}

fn raw_sqlite(raw: &mut RawDb) -> (Summary, Load) {
    for _ in 0..RAW_WARMUP {
        raw.commit_one();
    }
    let me = Path::new("/proc/thread-self");
    let before = Snap::take(Some(me));
    let samples: Vec<Duration> = (0..RAW_COMMITS).map(|_| raw.commit_one()).collect();
    let load = Snap::take(Some(me)).since(&before, RAW_COMMITS as u64);
    (Summary::of(&samples), load)
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
    /// `what` names the scan; built only when there is something to report.
    fn check(&mut self, what: impl FnOnce() -> String, expected: &str, r: &Reply) {
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
                "{}: expected {expected}, got code={} ok={} stored={}",
                what(),
                r.code,
                r.ok,
                r.stored
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

/// A thread's `schedstat`: (ns on CPU, ns runnable but waiting for a CPU).
fn schedstat(thread: &Path) -> (u64, u64) {
    let v = read_u64s(&thread.join("schedstat"));
    (
        v.first().copied().unwrap_or(0),
        v.get(1).copied().unwrap_or(0),
    )
}

fn sched_delta_ms(a: (u64, u64), b: (u64, u64)) -> (f64, f64) {
    (
        b.0.saturating_sub(a.0) as f64 / 1e6,
        b.1.saturating_sub(a.1) as f64 / 1e6,
    )
}

/// One paced scan and the control commit after it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: f64,
    scan_ms: f64,
    engine_cpu_ms: f64,
    engine_runq_ms: f64,
    raw_ms: f64,
    raw_cpu_ms: f64,
    raw_runq_ms: f64,
}

/// Where the time of a set of samples went, as means: (n, total, on-CPU, run-queue wait).
/// The rest is time off CPU: blocked in write/fsync (I/O) and in thread hand-offs.
fn split(samples: &[&Sample], engine: bool) -> (usize, f64, f64, f64) {
    let n = samples.len().max(1) as f64;
    let sum = |f: &dyn Fn(&Sample) -> f64| samples.iter().map(|s| f(s)).sum::<f64>() / n;
    if engine {
        (
            samples.len(),
            sum(&|s| s.scan_ms),
            sum(&|s| s.engine_cpu_ms),
            sum(&|s| s.engine_runq_ms),
        )
    } else {
        (
            samples.len(),
            sum(&|s| s.raw_ms),
            sum(&|s| s.raw_cpu_ms),
            sum(&|s| s.raw_runq_ms),
        )
    }
}

/// The slowest 1% of samples by scan (`engine`) or control commit latency.
fn slowest(series: &[Sample], engine: bool) -> Vec<&Sample> {
    let mut v: Vec<&Sample> = series.iter().collect();
    let key = |s: &Sample| if engine { s.scan_ms } else { s.raw_ms };
    v.sort_by(|a, b| key(b).total_cmp(&key(a)));
    v.truncate(series.len().div_ceil(100));
    v
}

/// Scans whose control commit (within ±3 scans) stayed under 1 ms: the disk was quiet.
fn quiet_scans(series: &[Sample]) -> Vec<Duration> {
    (0..series.len())
        .filter(|&i| {
            let lo = i.saturating_sub(3);
            let hi = (i + 4).min(series.len());
            series[lo..hi].iter().all(|s| s.raw_ms < 1.0)
        })
        .map(|i| Duration::from_secs_f64(series[i].scan_ms / 1e3))
        .collect()
}

/// What-if experiment, off by default: `BENCH_CORE_BG_CHECKPOINT_MS=<ms>` runs a PASSIVE WAL
/// checkpoint from a second connection every <ms> during the paced run, so the WAL never
/// reaches SQLite's 1,000-frame auto-checkpoint inside an engine commit. It shows what
/// moving checkpoints off the commit path would do, without changing `src/`.
fn bg_checkpoint_ms() -> Option<u64> {
    std::env::var("BENCH_CORE_BG_CHECKPOINT_MS")
        .ok()?
        .parse()
        .ok()
        .filter(|&ms| ms > 0)
}

struct Checkpointer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    join: std::thread::JoinHandle<u64>,
}

impl Checkpointer {
    fn start(state_dir: &Path, every_ms: u64) -> Checkpointer {
        let path = state_dir.join("returnsd.db");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let join = std::thread::spawn(move || {
            let conn = Connection::open(&path).expect("checkpointer: open");
            conn.busy_timeout(Duration::from_secs(1))
                .expect("checkpointer: busy_timeout");
            let mut n = 0u64;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(every_ms));
                if conn
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    .is_ok()
                {
                    n += 1;
                }
            }
            n
        });
        Checkpointer { stop, join }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.join.join().unwrap_or(0)
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
    /// Latency per cycle step (CYCLE_CODES order).
    steps: Vec<Summary>,
    /// Latency of the first and the last fifth of the run (growth with the journal).
    first_fifth: Summary,
    last_fifth: Summary,
    /// Control: one raw commit right after each engine reply, same disk, same seconds.
    raw_interleaved: Summary,
    /// The hand-off floor: after the scans, at the same pace, a probe through the engine
    /// (an empty batch: the caller → engine thread → caller round trip, BEGIN and an empty
    /// COMMIT, no write, no sync), and the engine thread's CPU for it.
    probe: Summary,
    probe_cpu: Summary,
    load: Load,
    /// Per scan, with the control commit that followed it.
    series: Vec<Sample>,
    db: DbFacts,
}

fn paced(state_dir: &Path, raw: &mut RawDb) -> Paced {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let eng = start_engine(state_dir);
        let h = eng.handle.clone();
        let thread = engine_thread_dir();
        let checkpointer = bg_checkpoint_ms().map(|ms| Checkpointer::start(state_dir, ms));
        let mut check = ReplyCheck::default();
        let n = 1 + PACED_PARCELS * 7;
        let mut lat = Vec::with_capacity(n);
        let mut raw_lat = Vec::with_capacity(n);
        let mut probe_lat = Vec::with_capacity(PROBES);
        let mut probe_cpu = Vec::with_capacity(PROBES);
        let mut series = Vec::with_capacity(n);
        let mut steps: Vec<Vec<Duration>> =
            (0..7).map(|_| Vec::with_capacity(PACED_PARCELS)).collect();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / PACED_RATE_HZ));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let me = Path::new("/proc/thread-self");
        // The login, then every parcel's scans: (cycle step, bytes, parcel).
        let plan = std::iter::once((None, b"OP-017".to_vec(), 0)).chain(
            (0..PACED_PARCELS).flat_map(|p| {
                parcel(&waybill(1, p as u64))
                    .into_iter()
                    .enumerate()
                    .map(move |(i, b)| (Some(i), b, p))
            }),
        );
        let before = Snap::take(thread.as_deref());
        for (step, bytes, p) in plan {
            tick.tick().await;
            let at = before.at.elapsed();
            // The engine thread's schedstat is read outside the timed span; the engine is
            // idle between scans, so the delta is this scan's.
            let e0 = thread.as_deref().map(schedstat);
            let t = Instant::now();
            let r = h.scan("bench-1", bytes).await;
            let d = t.elapsed();
            let e1 = thread.as_deref().map(schedstat);
            lat.push(d);
            match step {
                None => check.check(|| "login".into(), "logged_in", &r),
                Some(i) => {
                    steps[i].push(d);
                    check.check(|| format!("parcel {p} scan {i}"), CYCLE_CODES[i], &r);
                }
            }
            let c0 = schedstat(me);
            let rd = raw.commit_one();
            let c1 = schedstat(me);
            raw_lat.push(rd);
            let (ecpu, ewait) = e0
                .zip(e1)
                .map_or((f64::NAN, f64::NAN), |(a, b)| sched_delta_ms(a, b));
            let (rcpu, rwait) = sched_delta_ms(c0, c1);
            series.push(Sample {
                at_ms: at.as_secs_f64() * 1e3,
                scan_ms: d.as_secs_f64() * 1e3,
                engine_cpu_ms: ecpu,
                engine_runq_ms: ewait,
                raw_ms: rd.as_secs_f64() * 1e3,
                raw_cpu_ms: rcpu,
                raw_runq_ms: rwait,
            });
        }
        let scans = h.stats.scans.load(Ordering::Relaxed);
        let load = Snap::take(thread.as_deref()).since(&before, scans);
        let batches = h.stats.batches.load(Ordering::Relaxed);
        // The hand-off floor, after the scans (their CPU figures stay the scans' own): the
        // same pace, the same engine, an empty batch each time.
        for _ in 0..PROBES {
            tick.tick().await;
            let p0 = thread.as_deref().map(schedstat);
            let t = Instant::now();
            h.probe().await.expect("probe through the engine");
            probe_lat.push(t.elapsed());
            if let Some((a, b)) = p0.zip(thread.as_deref().map(schedstat)) {
                probe_cpu.push(Duration::from_secs_f64(sched_delta_ms(a, b).0 / 1e3));
            }
        }
        drop(h);
        if let Some(c) = checkpointer {
            c.stop();
        }
        let effects = stop_engine(eng).await;
        let db = db_facts(&state_dir.join("returnsd.db"), scans);
        let fifth = lat.len() / 5;
        Paced {
            db,
            series,
            lat: Summary::of(&lat),
            scans,
            batches,
            wall: Duration::from_secs_f64(load.wall_s),
            effects,
            check,
            steps: steps.iter().map(|s| Summary::of(s)).collect(),
            first_fifth: Summary::of(&lat[..fifth]),
            last_fifth: Summary::of(&lat[lat.len() - fifth..]),
            raw_interleaved: Summary::of(&raw_lat),
            probe: Summary::of(&probe_lat),
            probe_cpu: Summary::of(&probe_cpu),
            load,
        }
    })
}

/// What one paced run left in the database: events and snapshot sizes per scan.
#[derive(Debug, Default, Clone, Copy)]
struct DbFacts {
    events_per_scan: f64,
    event_data_bytes: f64,
    return_snapshot_bytes: f64,
    page_size: i64,
    pages: i64,
}

fn db_facts(path: &Path, scans: u64) -> DbFacts {
    let Ok(c) = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return DbFacts::default();
    };
    let one = |sql: &str| -> f64 { c.query_row(sql, [], |r| r.get(0)).unwrap_or(f64::NAN) };
    let int = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap_or(0) };
    DbFacts {
        events_per_scan: one("SELECT CAST(COUNT(*) AS REAL) FROM journal") / scans.max(1) as f64,
        event_data_bytes: one("SELECT AVG(LENGTH(data)) FROM journal"),
        return_snapshot_bytes: one("SELECT AVG(LENGTH(state)) FROM returns"),
        page_size: int("PRAGMA page_size"),
        pages: int("PRAGMA page_count"),
    }
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
    load: Load,
}

async fn submitter(
    h: EngineHandle,
    n: usize,
    budget: Arc<AtomicU64>,
) -> (Vec<Duration>, ReplyCheck) {
    let bench = format!("bench-{n}");
    let mut lat = Vec::with_capacity(2 * SUSTAINED_SCANS as usize / SUBMITTERS);
    let mut check = ReplyCheck::default();
    // Every scan (the login too) takes one unit of the shared budget of 20,000.
    let claim = || budget.fetch_add(1, Ordering::Relaxed) < SUSTAINED_SCANS;
    if !claim() {
        return (lat, check);
    }
    let t = Instant::now();
    let r = h.scan(&bench, b"OP-017".to_vec()).await;
    lat.push(t.elapsed());
    check.check(|| format!("{bench} login"), "logged_in", &r);
    parcels(
        &h,
        &bench,
        n as u64 + 10,
        None,
        &mut lat,
        &mut check,
        |_| claim(),
    )
    .await;
    (lat, check)
}

/// Whole parcels scanned at `bench` one code at a time, each sent when the previous one is
/// answered (and, with `tick`, when the pace allows), while `more(scans so far)` says so;
/// each scan's latency goes to `lat`, its answer to `check`.
async fn parcels(
    h: &EngineHandle,
    bench: &str,
    id: u64,
    mut tick: Option<&mut tokio::time::Interval>,
    lat: &mut Vec<Duration>,
    check: &mut ReplyCheck,
    mut more: impl FnMut(usize) -> bool,
) {
    for p in 0u64.. {
        for (i, bytes) in parcel(&waybill(id, p)).into_iter().enumerate() {
            if !more(lat.len()) {
                return;
            }
            if let Some(t) = tick.as_mut() {
                t.tick().await;
            }
            let t = Instant::now();
            let r = h.scan(bench, bytes).await;
            lat.push(t.elapsed());
            check.check(
                || format!("{bench} parcel {p} scan {i}"),
                CYCLE_CODES[i],
                &r,
            );
        }
    }
}

/// The runtime the concurrent phases run their benches on.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn sustained(state_dir: &Path) -> Sustained {
    runtime().block_on(async {
        let eng = start_engine(state_dir);
        let thread = engine_thread_dir();
        let budget = Arc::new(AtomicU64::new(0));
        let before = Snap::take(thread.as_deref());
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
        let load = Snap::take(thread.as_deref()).since(&before, scans);
        let batches = eng.handle.stats.batches.load(Ordering::Relaxed);
        let effects = stop_engine(eng).await;
        Sustained {
            scans,
            batches,
            wall,
            lat: Summary::of(&lat),
            effects,
            check,
            load,
        }
    })
}

// ---------------------------------------------------------------------------------------
// 4. Two benches, one bursting (fair group commit)

/// Scans of the bench that bursts: a batch-upload scanner dumping `BURST` scans at once,
/// again and again, while the keeper at the other bench scans one code at a time.
const BURST: usize = 400;
/// The keeper's scans, one every `KEEPER_EVERY_MS`, alone and then beside the bursts.
const KEEPER_SCANS: usize = 350;
const KEEPER_EVERY_MS: u64 = 10;
/// The keeper's p99 beside the bursts may be at most this many times its p99 alone.
const TARGET_KEEPER_RATIO: f64 = 3.0;

struct Burst {
    keeper_alone: Summary,
    keeper_beside: Summary,
    /// The bursting bench's scans, each from its submission to its answer.
    burst: Summary,
    bursts: usize,
    mean_batch: f64,
    check: ReplyCheck,
}

/// One keeper at `bench`: log in, then `KEEPER_SCANS` scans of whole parcels, each sent
/// when the previous is answered and the pace's tick comes; returns each scan's latency.
async fn keeper(h: EngineHandle, bench: &str, id: u64) -> (Vec<Duration>, ReplyCheck) {
    let mut check = ReplyCheck::default();
    let r = h.scan(bench, b"OP-017".to_vec()).await;
    check.check(|| format!("{bench} login"), "logged_in", &r);
    let mut tick = tokio::time::interval(Duration::from_millis(KEEPER_EVERY_MS));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut lat = Vec::with_capacity(KEEPER_SCANS);
    let more = |n| n < KEEPER_SCANS;
    parcels(&h, bench, id, Some(&mut tick), &mut lat, &mut check, more).await;
    (lat, check)
}

fn burst(state_dir: &Path) -> Burst {
    runtime().block_on(async {
        let eng = start_engine(state_dir);
        let h = eng.handle.clone();
        let (alone, mut check) = keeper(h.clone(), "bench-keeper", 70).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let burster = {
            let h = h.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut check = ReplyCheck::default();
                let r = h.scan("bench-burst", b"OP-017".to_vec()).await;
                check.check(|| "burst login".into(), "logged_in", &r);
                let mut lat = Vec::new();
                let mut bursts = 0;
                let mut p = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut sent = Vec::with_capacity(BURST);
                    while sent.len() < BURST {
                        for (i, bytes) in parcel(&waybill(71, p)).into_iter().enumerate() {
                            let t = Instant::now();
                            sent.push((t, i, h.submit_scan("bench-burst", bytes, None).await));
                        }
                        p += 1;
                    }
                    for (t, i, s) in sent {
                        let r = s.reply().await;
                        lat.push(t.elapsed());
                        check.check(|| format!("burst scan {i}"), CYCLE_CODES[i], &r);
                    }
                    bursts += 1;
                }
                (lat, check, bursts)
            })
        };
        let batches = h.stats.batches.load(Ordering::Relaxed);
        let scans = h.stats.scans.load(Ordering::Relaxed);
        let (beside, c) = keeper(h.clone(), "bench-keeper", 72).await;
        check.merge(c);
        stop.store(true, Ordering::Relaxed);
        let (burst_lat, c, bursts) = burster.await.expect("burster panicked");
        check.merge(c);
        let batches = h.stats.batches.load(Ordering::Relaxed) - batches;
        let scans = h.stats.scans.load(Ordering::Relaxed) - scans;
        drop(h);
        stop_engine(eng).await;
        Burst {
            keeper_alone: Summary::of(&alone),
            keeper_beside: Summary::of(&beside),
            burst: Summary::of(&burst_lat),
            bursts,
            mean_batch: scans as f64 / batches.max(1) as f64,
            check,
        }
    })
}

// ---------------------------------------------------------------------------------------
// 5. One large return: the engine's CPU per scan at item 1 and at item 400

/// Units of the wholesale return, and how many scans at each end are compared.
const LARGE_ITEMS: u32 = 400;
const LARGE_WINDOW: usize = 40;
/// The engine's CPU per scan at the last items may be at most this many times the first's.
const TARGET_LARGE_RATIO: f64 = 1.5;

struct Large {
    /// Engine-thread CPU per scan (ms), items 1..=40 and 361..=400.
    first: Summary,
    last: Summary,
    check: ReplyCheck,
}

fn large(state_dir: &Path) -> Large {
    runtime().block_on(async {
        let eng = start_engine(state_dir);
        let h = eng.handle.clone();
        let thread = engine_thread_dir();
        let mut check = ReplyCheck::default();
        for (code, want) in [
            ("OP-017", "logged_in"),
            ("SF9000000000400", "received_unannounced"),
            ("CMD-KIND-CUSTOMER", "kind_set"),
            ("CMD-UNPACK", "unpacked"),
        ] {
            let r = h.scan("bench-large", code.as_bytes().to_vec()).await;
            check.check(|| code.to_string(), want, &r);
        }
        let mut cpu = Vec::with_capacity(LARGE_ITEMS as usize);
        for n in 1..=LARGE_ITEMS {
            // Paced as a keeper scans, so the checkpointer's work falls between scans.
            tokio::time::sleep(Duration::from_millis(5)).await;
            let c0 = thread.as_deref().map(schedstat);
            let r = h
                .scan("bench-large", kit::codes::ean13(n).into_bytes())
                .await;
            let c1 = thread.as_deref().map(schedstat);
            check.check(|| format!("item {n}"), "item_unannounced", &r);
            if let (Some(a), Some(b)) = (c0, c1) {
                cpu.push(Duration::from_nanos(b.0.saturating_sub(a.0)));
            }
        }
        drop(h);
        stop_engine(eng).await;
        let w = LARGE_WINDOW.min(cpu.len());
        Large {
            first: Summary::of(&cpu[..w]),
            last: Summary::of(&cpu[cpu.len() - w..]),
            check,
        }
    })
}

// ---------------------------------------------------------------------------------------

fn main() {
    // `cargo bench` passes `--bench` (and maybe a filter): accepted and ignored.
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
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loadavg = loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    println!("== returnsd core bench ==");
    println!("dir      : {}", dir.display());
    println!("fs       : {fstype} (stat -f: {stat_type}) on {dev}, mounted at {mp} [{opts}]");
    println!("cpu      : {cpu} × {cores}; load average {loadavg}");
    println!("sqlite   : {} (bundled)", rusqlite::version());
    if fstype == "tmpfs" || fstype == "ramfs" {
        println!(
            "WARNING  : bench dir is on {fstype}: fsync is free, figures are not disk figures"
        );
    }
    let _ = std::io::stdout().flush();

    println!("\n[0] disk probe: 4 KiB overwrite + sync × {FSYNC_PROBES} …");
    let fdatasync = fsync_probe(&dir, false);
    let fsync = fsync_probe(&dir, true);
    println!(
        "    fdatasync p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        fdatasync.p50, fdatasync.p99, fdatasync.max
    );
    println!(
        "    fsync     p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        fsync.p50, fsync.p99, fsync.max
    );

    println!("\n[1] raw SQLite: INSERT + COMMIT, WAL, synchronous=FULL × {RAW_COMMITS} …");
    let mut rawdb = RawDb::open(&dir.join("raw.db"));
    let (raw, raw_load) = raw_sqlite(&mut rawdb);
    println!(
        "    p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        raw.p50, raw.p99, raw.max
    );
    println!("    {}", raw_load.line("commit"));

    let paced_n = 1 + PACED_PARCELS * 7;
    if let Some(ms) = bg_checkpoint_ms() {
        println!(
            "\nWHAT-IF   : BENCH_CORE_BG_CHECKPOINT_MS={ms}: a second connection checkpoints the engine's WAL every {ms} ms during [2]"
        );
    }
    println!(
        "\n[2] engine scan → durable reply at {PACED_RATE_HZ} scans/s, {paced_n} scans (≈{} s) …",
        paced_n as u64 / PACED_RATE_HZ
    );
    let _ = std::io::stdout().flush();
    let pc = paced(&dir.join("paced"), &mut rawdb);
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
    println!("    {}", pc.load.line("scan"));
    // Each WAL frame is a page plus a 24-byte header; SQLite checkpoints (inside the
    // commit that crosses it) every 1,000 frames by default. The thread's bytes include the
    // checkpoint's copy-back into the database file, so this slightly overstates frames.
    let frame = (pc.db.page_size.max(512) + 24) as f64;
    let frames_scan = pc.load.wchar_per_op / frame;
    let frames_raw = raw_load.wchar_per_op / frame;
    let checkpoints = if bg_checkpoint_ms().is_some() {
        "auto-checkpoint pre-empted by the what-if checkpointer".to_string()
    } else {
        format!(
            "a checkpoint every ≈{:.0} scans ({:.2}% of scans) vs every ≈{:.0} raw commits",
            1000.0 / frames_scan,
            frames_scan / 10.0,
            1000.0 / frames_raw
        )
    };
    println!(
        "    {:.2} events/scan, {:.0} B/event, return snapshot {:.0} B; ≈{:.1} pages written/scan vs ≈{:.1}/raw commit → {checkpoints}",
        pc.db.events_per_scan,
        pc.db.event_data_bytes,
        pc.db.return_snapshot_bytes,
        frames_scan,
        frames_raw,
    );
    for (code, s) in CYCLE_CODES.iter().zip(&pc.steps) {
        println!(
            "      step {code:<22} p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            s.p50, s.p99, s.max
        );
    }
    println!(
        "      first fifth of the run   p50 {:.3} ms  p99 {:.3} ms; last fifth p50 {:.3} ms  p99 {:.3} ms",
        pc.first_fifth.p50, pc.first_fifth.p99, pc.last_fifth.p50, pc.last_fifth.p99
    );
    println!(
        "      control: raw commit after each reply p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        pc.raw_interleaved.p50, pc.raw_interleaved.p99, pc.raw_interleaved.max
    );
    println!(
        "      floor: empty engine batch at the same pace p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms (engine CPU p50 {:.0} µs)",
        pc.probe.p50,
        pc.probe.p99,
        pc.probe.max,
        pc.probe_cpu.p50 * 1e3
    );
    let all: Vec<&Sample> = pc.series.iter().collect();
    let parts = [
        ("all scans", split(&all, true)),
        (
            "slowest 1% of scans",
            split(&slowest(&pc.series, true), true),
        ),
        ("all control commits", split(&all, false)),
        (
            "slowest 1% of control commits",
            split(&slowest(&pc.series, false), false),
        ),
    ];
    println!("    where the time went (means; off-CPU = blocked in write/fsync + hand-offs):");
    for (name, (n, total, cpu, runq)) in parts {
        println!(
            "      {name:<30} n={n:<5} {total:.3} ms = on-CPU {cpu:.3} + run-queue wait {runq:.3} + off-CPU {:.3}",
            total - cpu - runq
        );
    }
    let quiet = Summary::of(&quiet_scans(&pc.series));
    println!(
        "    scans while the disk was quiet (control < 1 ms within ±3 scans): n={} p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        quiet.n, quiet.p50, quiet.p99, quiet.max
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
    println!("    {}", su.load.line("scan"));

    println!(
        "\n[4] two benches: a keeper scanning every {KEEPER_EVERY_MS} ms, alone and beside bursts of {BURST} …"
    );
    let _ = std::io::stdout().flush();
    let bu = burst(&dir.join("burst"));
    let keeper_ratio = bu.keeper_beside.p99 / bu.keeper_alone.p99;
    println!(
        "    keeper alone p50 {:.3} ms p99 {:.3} ms; beside {} bursts p50 {:.3} ms p99 {:.3} ms ({keeper_ratio:.2}×); burst scans p50 {:.3} ms p99 {:.3} ms; mean batch {:.1}",
        bu.keeper_alone.p50,
        bu.keeper_alone.p99,
        bu.bursts,
        bu.keeper_beside.p50,
        bu.keeper_beside.p99,
        bu.burst.p50,
        bu.burst.p99,
        bu.mean_batch
    );
    let t4 = keeper_ratio <= TARGET_KEEPER_RATIO;

    println!(
        "\n[5] one return of {LARGE_ITEMS} units: engine CPU per scan, first and last {LARGE_WINDOW} …"
    );
    let _ = std::io::stdout().flush();
    let lg = large(&dir.join("large"));
    let large_ratio = lg.last.p50 / lg.first.p50;
    println!(
        "    engine CPU per scan: items 1–{LARGE_WINDOW} p50 {:.3} ms p99 {:.3} ms; items {}–{LARGE_ITEMS} p50 {:.3} ms p99 {:.3} ms ({large_ratio:.2}×)",
        lg.first.p50,
        lg.first.p99,
        LARGE_ITEMS as usize - LARGE_WINDOW + 1,
        lg.last.p50,
        lg.last.p99
    );
    let t5 = large_ratio <= TARGET_LARGE_RATIO;

    let ratio = pc.lat.p99 / raw.p99;
    let ratio_ctl = pc.lat.p99 / pc.raw_interleaved.p99;
    let t1 = pc.lat.p99 <= TARGET_P99_MS;
    let t2 = ratio <= TARGET_P99_VS_RAW;
    let t3 = su_rate >= TARGET_SCANS_PER_S;
    let not_stored =
        pc.check.not_stored + su.check.not_stored + bu.check.not_stored + lg.check.not_stored;
    let unexpected =
        pc.check.unexpected + su.check.unexpected + bu.check.unexpected + lg.check.unexpected;

    println!("\n== results ({fstype} at {}) ==", dir.display());
    println!(
        "{:<46} {:>9} {:>9} {:>9}",
        "measurement", "p50 ms", "p99 ms", "max ms"
    );
    let row = |name: &str, s: &Summary| {
        println!("{:<46} {:>9.3} {:>9.3} {:>9.3}", name, s.p50, s.p99, s.max);
    };
    row("disk: 4 KiB overwrite + fdatasync", &fdatasync);
    row("disk: 4 KiB overwrite + fsync", &fsync);
    row("[1] raw SQLite commit (WAL, sync=FULL)", &raw);
    row("[2] engine scan → durable reply @50/s", &pc.lat);
    row(
        "    control: raw commit interleaved with [2]",
        &pc.raw_interleaved,
    );
    row("[3] engine scan latency, 64 benches (info)", &su.lat);
    row("[4] keeper scan alone (baseline)", &bu.keeper_alone);
    row("[4] keeper scan beside 400-scan bursts", &bu.keeper_beside);
    row("[4] bursting bench's scans", &bu.burst);
    row("[5] engine CPU per scan, items 1–40", &lg.first);
    row("[5] engine CPU per scan, items 361–400", &lg.last);
    println!(
        "{:<46} {:>9.0}   mean batch {:.1} scans ({} batches)",
        "[3] sustained scans/s (64 benches)", su_rate, su_batch, su.batches
    );
    println!(
        "ratio [2] p99 / [1] raw p99 = {ratio:.2}×;  [2] p99 / interleaved raw p99 = {ratio_ctl:.2}× (control)"
    );
    println!("\n== targets ==");
    let tgt = |name: String, value: String, ok: bool| {
        println!("{name:<54} {value:>10}  {}", pass(ok));
    };
    tgt(
        format!("scan p99 ≤ {TARGET_P99_MS} ms"),
        format!("{:.3} ms", pc.lat.p99),
        t1,
    );
    tgt(
        format!(
            "scan p99 ≤ {TARGET_P99_VS_RAW}× raw commit p99 ({:.3} ms)",
            raw.p99
        ),
        format!("{ratio:.2}×"),
        t2,
    );
    tgt(
        format!("sustained ≥ {TARGET_SCANS_PER_S:.0} scans/s"),
        format!("{su_rate:.0}/s"),
        t3,
    );
    tgt(
        format!("keeper p99 beside bursts ≤ {TARGET_KEEPER_RATIO}× alone"),
        format!("{keeper_ratio:.2}×"),
        t4,
    );
    tgt(
        format!("engine CPU per scan at item 400 ≤ {TARGET_LARGE_RATIO}× item 1 (p50)"),
        format!("{large_ratio:.2}×"),
        t5,
    );
    // Issue #12 ("A year on the floor"): the scan path close to one fsync.
    let cpu_us = pc.load.thread_cpu_us_per_op.unwrap_or(f64::NAN);
    let t6 = ratio_ctl <= TARGET12_P99_VS_INTERLEAVED;
    let t7 = cpu_us <= TARGET12_CPU_US;
    let t8 = su_rate >= TARGET12_SCANS_PER_S;
    tgt(
        format!(
            "#12: scan p99 ≤ {TARGET12_P99_VS_INTERLEAVED}× interleaved raw p99 ({:.3} ms)",
            pc.raw_interleaved.p99
        ),
        format!("{ratio_ctl:.2}×"),
        t6,
    );
    tgt(
        format!(
            "#12: engine CPU per scan @50/s ≤ {TARGET12_CPU_US:.0} µs (raw commit's: {:.0} µs)",
            raw_load.thread_cpu_us_per_op.unwrap_or(f64::NAN)
        ),
        format!("{cpu_us:.0} µs"),
        t7,
    );
    tgt(
        format!("#12: sustained ≥ {TARGET12_SCANS_PER_S:.0} scans/s, 64 benches"),
        format!("{su_rate:.0}/s"),
        t8,
    );
    tgt(
        "every reply stored".into(),
        format!("{not_stored} not"),
        not_stored == 0,
    );
    tgt(
        "every reply has the cycle's expected code".into(),
        format!("{unexpected} off"),
        unexpected == 0,
    );
    for e in pc
        .check
        .examples
        .iter()
        .chain(su.check.examples.iter())
        .chain(bu.check.examples.iter())
        .chain(lg.check.examples.iter())
    {
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
            "mount_options": opts,
            "cpu": cpu,
            "cores": cores,
            "loadavg_at_start": loadavg,
            "sqlite": rusqlite::version(),
        },
        "disk_fdatasync": fdatasync.json(),
        "disk_fsync": fsync.json(),
        "raw_commit": raw.json(),
        "raw_commit_load": raw_load.json(),
        "scan_paced": {
            "rate_hz": PACED_RATE_HZ,
            "bg_checkpoint_ms": bg_checkpoint_ms(),
            "scans": pc.scans,
            "batches": pc.batches,
            "wall_s": round3(pc.wall.as_secs_f64()),
            "latency": pc.lat.json(),
            "p99_vs_raw_p99": round3(ratio),
            "raw_interleaved": pc.raw_interleaved.json(),
            "empty_batch_interleaved": pc.probe.json(),
            "empty_batch_engine_cpu": pc.probe_cpu.json(),
            "quiet_disk": quiet.json(),
            "split_ms": parts
                .iter()
                .map(|(name, (n, total, cpu, runq))| {
                    (
                        name.to_string(),
                        json!({
                            "n": n,
                            "total": round3(*total),
                            "on_cpu": round3(*cpu),
                            "runq_wait": round3(*runq),
                            "off_cpu": round3(total - cpu - runq),
                        }),
                    )
                })
                .collect::<serde_json::Map<_, _>>(),
            "p99_vs_raw_interleaved_p99": round3(ratio_ctl),
            "steps": CYCLE_CODES
                .iter()
                .zip(&pc.steps)
                .map(|(c, s)| (c.to_string(), s.json()))
                .collect::<serde_json::Map<_, _>>(),
            "first_fifth": pc.first_fifth.json(),
            "last_fifth": pc.last_fifth.json(),
            "load": pc.load.json(),
            "events_per_scan": round3(pc.db.events_per_scan),
            "event_data_bytes": pc.db.event_data_bytes.round(),
            "return_snapshot_bytes": pc.db.return_snapshot_bytes.round(),
            "db_pages": pc.db.pages,
            "pages_written_per_scan_est": round3(frames_scan),
            "pages_written_per_raw_commit_est": round3(frames_raw),
        },
        "sustained": {
            "submitters": SUBMITTERS,
            "scans": su.scans,
            "batches": su.batches,
            "wall_s": round3(su.wall.as_secs_f64()),
            "scans_per_s": su_rate.round(),
            "mean_batch": round3(su_batch),
            "latency": su.lat.json(),
            "load": su.load.json(),
        },
        "two_benches": {
            "burst": BURST,
            "keeper_every_ms": KEEPER_EVERY_MS,
            "keeper_alone": bu.keeper_alone.json(),
            "keeper_beside_bursts": bu.keeper_beside.json(),
            "keeper_p99_ratio": round3(keeper_ratio),
            "burst_scans": bu.burst.json(),
            "bursts": bu.bursts,
            "mean_batch": round3(bu.mean_batch),
        },
        "large_return": {
            "items": LARGE_ITEMS,
            "engine_cpu_first": lg.first.json(),
            "engine_cpu_last": lg.last.json(),
            "p50_ratio": round3(large_ratio),
        },
        "not_stored": not_stored,
        "unexpected_codes": unexpected,
        "targets": {
            "scan_p99_le_2ms": t1,
            "scan_p99_le_3x_raw": t2,
            "sustained_ge_2000_per_s": t3,
            "keeper_p99_beside_bursts_le_3x_alone": t4,
            "engine_cpu_item_400_le_1_5x_item_1": t5,
            "i12_scan_p99_le_1_5x_interleaved_raw": t6,
            "i12_engine_cpu_per_scan_le_200us": t7,
            "i12_sustained_ge_10000_per_s": t8,
        },
    });
    println!("BENCH_JSON {out}");
    let _ = std::io::stdout().flush();

    // BENCH_CORE_DUMP=<file>: the paced run's per-scan series as CSV, for plotting.
    if let Some(path) = std::env::var_os("BENCH_CORE_DUMP") {
        let mut csv = String::from(
            "t_ms,scan_ms,engine_cpu_ms,engine_runq_ms,raw_ms,raw_cpu_ms,raw_runq_ms\n",
        );
        for x in &pc.series {
            csv.push_str(&format!(
                "{:.3},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}\n",
                x.at_ms,
                x.scan_ms,
                x.engine_cpu_ms,
                x.engine_runq_ms,
                x.raw_ms,
                x.raw_cpu_ms,
                x.raw_runq_ms
            ));
        }
        match std::fs::write(&path, csv) {
            Ok(()) => println!("per-scan series written to {}", Path::new(&path).display()),
            Err(e) => println!("cannot write {}: {e}", Path::new(&path).display()),
        }
    }

    drop(tmp);
    if not_stored > 0 {
        std::process::exit(1);
    }
}
