//! Footprint benchmark (custom harness): `cargo bench --bench footprint`.
//!
//! Issue #14's figures, for the real binary (`CARGO_BIN_EXE_returnsd`, bench profile):
//! - **startup to READY**: from spawning `returnsd run` to its `READY=1` on a notify socket
//!   the bench holds (as systemd would), on an empty database (the baseline) and on one
//!   with 1,000,000 journal events (`common::history`: the real writer, a realistic event
//!   mix; events only, no return projections), interleaved, `BENCH_FOOTPRINT_ROUNDS`
//!   rounds (default 7);
//! - **idle RSS**: `VmRSS` three seconds after the integrity check that follows READY has
//!   passed (nothing scanned), same runs;
//! - **binary size** of the release binary, and how much of it the largest crates take
//!   is left to `cargo bloat` (not installed here).
//!
//! Targets (issue #14): idle RSS ≤ 20 MB, startup ≤ 200 ms with 1,000,000 events. Printed
//! beside the empty database's figures from the same run; a miss prints FAIL.
//! Everything lives under `<cwd>/target/bench-footprint/` (a real disk, not tmpfs).
//! `BENCH_FOOTPRINT_EVENTS=<n>` shrinks the history for a quick try.

mod common;
#[path = "../tests/kit/mod.rs"]
mod kit;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use common::history::{STATION, build_station};
use common::{dist, ms, pass, pct, round3};
use kit::daemon::{BIN, Launch, status_kb};

const DEFAULT_EVENTS: i64 = 1_000_000;
const TARGET_RSS_MB: f64 = 32.0;
/// Idle RSS with a year's history at most this many times the empty database's.
const TARGET_RSS_RATIO: f64 = 1.2;
/// Returns in the year database (issue #12: ≥ 150,000 returns, ≥ 3,000,000 events).
const DEFAULT_YEAR_RETURNS: usize = 150_000;
const TARGET_READY_MS: f64 = 200.0;
/// How long the daemon idles after its integrity check before its RSS is read.
const SETTLE: Duration = Duration::from_secs(3);

/// One station directory: its config and control socket.
struct Bench {
    name: &'static str,
    config: PathBuf,
    socket: PathBuf,
    notify: PathBuf,
}

impl Bench {
    fn new(root: &Path, name: &'static str) -> Bench {
        let dir = root.join(name);
        let state = dir.join("state");
        std::fs::create_dir_all(&state).expect("state dir");
        let config = dir.join("station.toml");
        std::fs::write(
            &config,
            format!(
                "[station]\nid = \"{STATION}\"\n\n[storage]\nstate_dir = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[log]\nlevel = \"info\"\n",
                state.display()
            ),
        )
        .expect("config");
        Bench {
            name,
            config,
            socket: state.join("returnsd.sock"),
            notify: dir.join("notify.sock"),
        }
    }

    /// The year-sized station (`common::year`), run with its own config plus a listener.
    fn year(root: &Path, y: &common::year::Year) -> Bench {
        let dir = root.join("year");
        std::fs::create_dir_all(&dir).expect("year bench dir");
        let config = dir.join("station.toml");
        std::fs::write(
            &config,
            common::year::config_text(
                &y.db.with_file_name(""),
                "\n[http]\nlisten = \"127.0.0.1:0\"\n\n[log]\nlevel = \"info\"\n",
            ),
        )
        .expect("config");
        Bench {
            name: "year",
            config,
            socket: y.db.with_file_name("returnsd.sock"),
            notify: dir.join("notify.sock"),
        }
    }

    fn db(&self) -> PathBuf {
        self.socket.with_file_name("returnsd.db")
    }

    /// Start, wait for READY=1, idle, read RSS, stop: (ms to READY, RSS in kB).
    fn run_once(&self) -> (f64, u64) {
        let _ = std::fs::remove_file(&self.notify);
        let sock = UnixDatagram::bind(&self.notify).expect("notify socket");
        sock.set_read_timeout(Some(Duration::from_secs(120)))
            .expect("timeout");
        let t0 = Instant::now();
        let d = Launch::new(&self.config, &self.socket)
            .env("NOTIFY_SOCKET", self.notify.to_str().expect("utf-8 path"))
            .env_remove("RETURNSD_LOG")
            .spawn();
        let mut buf = [0u8; 1024];
        let ready = loop {
            let n = sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("{}: no READY=1: {e}: {}", self.name, d.log_text()));
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1")
            {
                break t0.elapsed();
            }
        };
        // Idle means after the start's one-off work: the whole-file integrity check runs
        // right after READY (seconds on a year's database); then a while of nothing.
        kit::poll::poll_within(
            Duration::from_secs(300),
            &format!("{}: the integrity check", self.name),
            || {
                d.log_text()
                    .contains("integrity check passed")
                    .then_some(())
            },
        );
        std::thread::sleep(SETTLE);
        let rss = status_kb(d.child.id(), "VmRSS").unwrap_or(0);
        let exit = d.terminate();
        assert!(exit.status.success(), "{}: {}", self.name, exit.log);
        (ms(ready), rss)
    }
}

fn main() {
    let events: i64 = std::env::var("BENCH_FOOTPRINT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_EVENTS);
    let rounds: usize = std::env::var("BENCH_FOOTPRINT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let root = std::env::current_dir()
        .expect("cwd")
        .join("target/bench-footprint");
    let _ = std::fs::remove_dir_all(&root);
    let empty = Bench::new(&root, "empty");
    let full = Bench::new(&root, "full");
    println!("footprint: building a {events}-event history …");
    let built = build_station(&full.db(), events);
    println!(
        "  built in {:.1} s: {:.1} MiB",
        built.secs,
        built.db_bytes as f64 / 1048576.0
    );
    let year_returns: usize = std::env::var("BENCH_YEAR_RETURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_YEAR_RETURNS);
    let data = root.with_file_name("bench-data");
    println!(
        "footprint: the year database ({year_returns} returns through the engine; built once) …"
    );
    let y = common::year::year(&data, year_returns);
    println!(
        "  {} returns, {} events, {} open, {:.1} MiB (built in {:.0} s)",
        y.returns,
        y.events,
        y.open_returns,
        y.db_bytes as f64 / 1048576.0,
        y.build_secs
    );
    let year = Bench::year(&root, &y);
    // The empty station's database is created by a first start (creation is not startup).
    empty.run_once();

    let benches = [&empty, &full, &year];
    let mut ready: [Vec<f64>; 3] = Default::default();
    let mut rss: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds {
        for (i, b) in benches.into_iter().enumerate() {
            let (r, kb) = b.run_once();
            println!(
                "  round {round}: {:5} READY {r:8.1} ms, idle RSS {:.1} MB",
                b.name,
                kb as f64 / 1024.0
            );
            ready[i].push(r);
            rss[i].push(kb as f64 / 1024.0);
        }
    }
    let binary = std::fs::metadata(BIN).map(|m| m.len()).unwrap_or(0);
    let (e50, e99, _) = pct(&ready[0]);
    let (f50, f99, _) = pct(&ready[1]);
    let (y50, y99, _) = pct(&ready[2]);
    let (er50, _, er_max) = pct(&rss[0]);
    let (fr50, _, fr_max) = pct(&rss[1]);
    let (yr50, _, yr_max) = pct(&rss[2]);
    println!();
    println!(
        "| what | empty database (baseline) | {events} events | year: {} returns, {} events | target |",
        y.returns, y.events
    );
    println!("|---|---|---|---|---|");
    println!(
        "| startup to READY p50 / p99 | {e50:.1} / {e99:.1} ms | {f50:.1} / {f99:.1} ms | {y50:.1} / {y99:.1} ms | ≤ {TARGET_READY_MS} ms |"
    );
    println!(
        "| idle RSS p50 / max | {er50:.1} / {er_max:.1} MB | {fr50:.1} / {fr_max:.1} MB | {yr50:.1} / {yr_max:.1} MB | ≤ {TARGET_RSS_MB} MB and ≤ {TARGET_RSS_RATIO}× empty |"
    );
    println!(
        "| binary size | {:.1} MB (release, stripped: no) | | | |",
        binary as f64 / 1048576.0
    );
    println!();
    println!(
        "{} startup to READY with {events} events p99 {f99:.1} ms (≤ {TARGET_READY_MS} ms)",
        pass(f99 <= TARGET_READY_MS)
    );
    println!(
        "{} startup to READY with the year p99 {y99:.1} ms (≤ {TARGET_READY_MS} ms)",
        pass(y99 <= TARGET_READY_MS)
    );
    let ratio = yr_max / er_max;
    println!(
        "{} idle RSS with the year {yr_max:.1} MB = {ratio:.2}× the empty database's (≤ {TARGET_RSS_MB} MB, ≤ {TARGET_RSS_RATIO}×)",
        pass(yr_max <= TARGET_RSS_MB && ratio <= TARGET_RSS_RATIO)
    );
    println!(
        "BENCH_JSON {}",
        json!({
            "bench": "footprint",
            "events": events,
            "db_bytes": built.db_bytes,
            "year": {"returns": y.returns, "events": y.events, "open_returns": y.open_returns, "db_bytes": y.db_bytes},
            "ready_empty": dist(&ready[0]),
            "ready_full": dist(&ready[1]),
            "ready_year": dist(&ready[2]),
            "rss_mb_empty": rss[0].iter().map(|x| round3(*x)).collect::<Vec<_>>(),
            "rss_mb_full": rss[1].iter().map(|x| round3(*x)).collect::<Vec<_>>(),
            "rss_mb_year": rss[2].iter().map(|x| round3(*x)).collect::<Vec<_>>(),
            "binary_bytes": binary,
        })
    );
}
