//! A year on the floor, the operators' calls (custom harness): `cargo bench --bench history`.
//!
//! Two station databases built through the real engine by `common::year` (kept under
//! `target/bench-data/`): a **young** station — three days of returns, its open work and
//! nothing behind it (the baseline) — and a **year** — `BENCH_YEAR_RETURNS` returns
//! (default 150,000) with the same open work at its end and a year of closed returns,
//! ledger, label jobs and RTV notes behind it. The real `returnsd` binary (bench profile)
//! is started on each in turn, interleaved over `BENCH_HISTORY_ROUNDS` rounds (default 3),
//! and on a kept-alive loopback connection a supervisor (logged in by PIN) makes the calls
//! the pages make: the inspection queue, a return's detail (a return label scanned: any
//! return of the station's history, old ones included), stock per zone (`GET /zones`) and
//! the kiosk's snapshot; `SAMPLES` of each per round once the integrity check that follows
//! each start has passed (the calls made while it runs — seconds on a year's file — are
//! reported apart: a one-off after a restart, not what the station costs every day).
//!
//! Target (issue #12): with the year, each call's p99 ≤ 5 ms and ≤ 1.5× the young
//! station's p99 from the same run. One `BENCH_JSON {…}` line carries every figure.

mod common;
#[path = "../tests/kit/mod.rs"]
mod kit;

use std::net::TcpStream;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use common::year::{PER_DAY, Year, config_text, year};
use common::{dist, ms, pass, pct};
use kit::daemon::{Daemon, Launch};
use kit::http::{Conn, JSON};
use kit::poll::poll;

/// Per call, per round: 3,000 over the default three rounds, so a p99 is the 30th slowest
/// (with 300 per round, 900 in all, it was the 9th, and moved by 2× between runs).
const SAMPLES: usize = 1000;
const TARGET_P99_MS: f64 = 5.0;
const TARGET_RATIO: f64 = 1.5;
/// The calls measured.
const N: usize = 5;
const CALLS: [&str; N] = [
    "inspection queue",
    "return detail",
    "recent return detail",
    "stock per zone",
    "kiosk snapshot",
];

fn start(y: &Year, run: &Path) -> (Daemon, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    std::fs::create_dir_all(run).unwrap();
    let cfg = run.join("station.toml");
    let extra = format!(
        "\n[http]\nlisten = \"127.0.0.1:{port}\"\nmax_concurrent = 64\n\n[log]\nlevel = \"warn\"\n"
    );
    std::fs::write(&cfg, config_text(&y.db.with_file_name(""), &extra)).unwrap();
    let d = Launch::new(&cfg, &y.db.with_file_name("returnsd.sock"))
        .log_to(&run.join("daemon.stderr"))
        .start();
    let addr = format!("127.0.0.1:{port}");
    poll("the HTTP listener", || TcpStream::connect(&addr).ok());
    (d, addr)
}

/// Every return id of the station (to scan old and new labels alike), and those received
/// in its last three days (the life a young station's returns have had: received, first
/// checked, some inspected — a closed return of the year carries half as many events
/// again, restock and RTV moves).
fn all_ids(y: &Year) -> [Vec<String>; 2] {
    let c = rusqlite::Connection::open(&y.db).unwrap();
    let ids = |sql: &str| -> Vec<String> {
        let mut q = c.prepare(sql).unwrap();
        q.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    [
        ids("SELECT return_id FROM returns"),
        ids("SELECT return_id FROM returns WHERE received_at >=
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT MAX(received_at) FROM returns), '-3 days')"),
    ]
}

/// One sample of each call; milliseconds per call, in `CALLS` order.
fn sample(c: &mut Conn, auth: &str, ids: &[Vec<String>; 2], seed: &mut u64) -> [f64; N] {
    // A small LCG: the same returns are asked for in every round and binary.
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let pick = |ids: &[String]| ids[(*seed >> 33) as usize % ids.len()].clone();
    let (id, recent) = (pick(&ids[0]), pick(&ids[1]));
    let paths = [
        "/api/v1/inspection-queue".to_string(),
        format!("/api/v1/returns/{id}"),
        format!("/api/v1/returns/{recent}"),
        "/api/v1/zones".to_string(),
        "/api/v1/kiosk/state?bench=bench-01".to_string(),
    ];
    let mut out = [0.0; N];
    for (i, p) in paths.iter().enumerate() {
        let t0 = Instant::now();
        let r = c.call("GET", p, &[("Authorization", auth)], b"");
        out[i] = ms(t0.elapsed());
        assert_eq!(r.status, 200, "GET {p}: {}", r.text());
    }
    out
}

/// What one round measured, milliseconds per call in `CALLS` order: `SAMPLES` of each
/// once the start's integrity check has passed (`steady`), and those taken while it ran.
#[derive(Default)]
struct Round {
    steady: [Vec<f64>; N],
    during_check: [Vec<f64>; N],
}

/// One round on station `y`: the calls while the start's integrity check runs (seconds
/// on a year's file, none on a young one), then `SAMPLES` of each.
fn round(y: &Year, run: &Path, ids: &[Vec<String>; 2], seed: &mut u64) -> Round {
    let (d, addr) = start(y, run);
    let mut c = Conn::open(&addr);
    let login = c.call(
        "POST",
        "/api/v1/session",
        &[JSON],
        json!({"badge": "001", "pin": "3333"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(login.status, 200, "{}", login.text());
    let auth = format!("Bearer {}", login.json()["token"].as_str().unwrap());
    let mut out = Round::default();
    let verified =
        || kit::control::request(&d.socket, &json!({"op": "ping"})).unwrap()["verified"] == true;
    while !verified() {
        for (i, v) in sample(&mut c, &auth, ids, seed).into_iter().enumerate() {
            out.during_check[i].push(v);
        }
    }
    for _ in 0..SAMPLES {
        for (i, v) in sample(&mut c, &auth, ids, seed).into_iter().enumerate() {
            out.steady[i].push(v);
        }
    }
    d.stop();
    out
}

fn main() {
    let returns: usize = std::env::var("BENCH_YEAR_RETURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150_000);
    let rounds: usize = std::env::var("BENCH_HISTORY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let target = std::env::current_dir().unwrap().join("target");
    let data = target.join("bench-data");
    println!("returnsd history benchmark: the operators' calls, young station vs a year");
    let young = year(&data, PER_DAY * 3);
    let old = year(&data, returns);
    for (name, y) in [("young", &young), ("year", &old)] {
        println!(
            "{name:>6}: {} returns, {} events, {} open, {:.1} MiB (built in {:.0} s)",
            y.returns,
            y.events,
            y.open_returns,
            y.db_bytes as f64 / 1048576.0,
            y.build_secs
        );
    }
    let ids = [all_ids(&young), all_ids(&old)];
    let run = target.join(format!("bench-history-{}", std::process::id()));
    let mut samples: [[Vec<f64>; N]; 2] = Default::default();
    let mut during: [[Vec<f64>; N]; 2] = Default::default();
    let seed = 7u64;
    for r in 0..rounds {
        for (k, y) in [&young, &old].into_iter().enumerate() {
            let mut s = seed + r as u64;
            let got = round(y, &run, &ids[k], &mut s);
            for (i, v) in got.steady.into_iter().enumerate() {
                samples[k][i].extend(v);
            }
            for (i, v) in got.during_check.into_iter().enumerate() {
                during[k][i].extend(v);
            }
        }
    }
    println!();
    println!(
        "| call | young: {} returns p50 / p99 | year: {} returns p50 / p99 | ratio of p99 | target |",
        young.returns, old.returns
    );
    println!("|---|---|---|---|---|");
    let mut all_pass = true;
    let mut calls = serde_json::Map::new();
    for (i, name) in CALLS.iter().enumerate() {
        let (y50, y99, _) = pct(&samples[0][i]);
        let (o50, o99, _) = pct(&samples[1][i]);
        let ratio = o99 / y99;
        let ok = o99 <= TARGET_P99_MS && ratio <= TARGET_RATIO;
        all_pass &= ok;
        println!(
            "| {name} | {y50:.3} / {y99:.3} ms | {o50:.3} / {o99:.3} ms | {ratio:.2}× | ≤ {TARGET_P99_MS} ms and ≤ {TARGET_RATIO}×: {} |",
            pass(ok)
        );
        calls.insert(
            name.replace(' ', "_"),
            json!({"young": dist(&samples[0][i]), "year": dist(&samples[1][i]), "p99_ratio": (ratio * 100.0).round() / 100.0}),
        );
    }
    println!();
    println!(
        "{} every call p99 with a year ≤ {TARGET_P99_MS} ms and ≤ {TARGET_RATIO}× the young station's",
        pass(all_pass)
    );
    // The start's integrity check reads the whole file in the background; the calls made
    // while it ran are not in the table above (a one-off after each start): here, for
    // what a supervisor sees in the first seconds after a restart.
    println!();
    println!("calls while the start's integrity check ran (not in the targets):");
    let mut while_checking = serde_json::Map::new();
    for (k, name) in ["young", "year"].iter().enumerate() {
        for (i, call) in CALLS.iter().enumerate() {
            let v = &during[k][i];
            if v.is_empty() {
                continue;
            }
            let (p50, p99, _) = pct(v);
            println!(
                "  {name:>5} {call:<17} n={:<5} p50 {p50:.3} ms  p99 {p99:.3} ms",
                v.len()
            );
            while_checking.insert(format!("{name}_{}", call.replace(' ', "_")), dist(v));
        }
    }
    let out: Value = json!({
        "bench": "history",
        "young": {"returns": young.returns, "events": young.events, "open_returns": young.open_returns},
        "year": {"returns": old.returns, "events": old.events, "open_returns": old.open_returns, "db_bytes": old.db_bytes},
        "calls": calls,
        "calls_while_checking": while_checking,
        "pass": all_pass,
    });
    println!("BENCH_JSON {out}");
    let _ = std::fs::remove_dir_all(&run);
}
