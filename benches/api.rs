//! Operator-API benchmark (custom harness): `cargo bench --bench api`.
//!
//! The real `returnsd` binary (bench profile) on a state directory under `<cwd>/target/`
//! (a real disk), plain HTTP on loopback. Handheld UIs in the surveyed systems slow down
//! as the day's returns pile up; this measures the calls the inspector's handheld makes,
//! with few and with many returns waiting.
//!
//! 0. Baseline, same machine, same run: `GET /healthz` on a kept-alive loopback connection
//!    (the floor of any HTTP answer: parsing, routing, loopback TCP).
//! 1. The keeper first-checks returns through the control socket (unannounced parcels:
//!    waybill, kind, unpack, one item, visual OK, to pending), to `SMALL` then `LARGE`
//!    returns waiting for inspection.
//! 2. At each size, the inspector (logged in by PIN; bearer token) on a kept-alive
//!    connection: `GET /inspection-queue` (the queue screen), `GET /returns/{id}` (a return
//!    label scanned), `POST /returns/{id}/inspect` with an `Idempotency-Key` (a grade:
//!    committed with fsync before the answer) and `POST /returns/{id}/put-away`.
//!
//! Target (printed PASS/FAIL): at `LARGE` returns waiting, the scan → return detail and
//! the inspect answers p99 ≤ 50 ms, and the detail's p50 at `LARGE` at most 2× its p50 at
//! `SMALL` (no slow-down per scan). One `BENCH_JSON {…}` line carries every figure.

mod common;
#[path = "../tests/kit/mod.rs"]
mod kit;

use std::net::TcpStream;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use common::{dist, ms, pct};
use kit::control::request;
use kit::daemon::{Daemon, Launch};
use kit::http::{Conn, JSON, Resp};
use kit::poll::poll;

const SMALL: usize = 200;
const LARGE: usize = 2_000;
const SAMPLES: usize = 200;
const BASELINE_N: usize = 1_000;
const TARGET_P99_MS: f64 = 50.0;

/// One call on a kept-alive connection: (status, JSON body or `Null`); POST bodies are
/// JSON.
fn call(
    c: &mut Conn,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let mut headers = headers.to_vec();
    if method == "POST" {
        headers.push(JSON);
    }
    let r: Resp = c.call(method, path, &headers, body.as_bytes());
    (r.status, r.json_or_null())
}

fn start(dir: &Path) -> (Daemon, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hash = |pin: &str| returnsd::http::auth::hash_pin(pin).unwrap();
    let cfg = dir.join("station.toml");
    std::fs::write(
        &cfg,
        format!(
            "[station]\nid = \"ST01\"\nlanguage = \"en\"\n\n[storage]\nstate_dir = \"{}\"\n\n\
             [scan]\ndouble_read_window_ms = 0\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
             max_concurrent = 64\n\n[inspection]\ndefect_photo_required = false\n\n\
             [log]\nlevel = \"warn\"\n\n\
             [[operators]]\nbadge = \"017\"\nname = \"Keeper\"\nroles = [\"keeper\"]\n\n\
             [[operators]]\nbadge = \"021\"\nname = \"Inspector\"\nroles = [\"inspector\"]\npin_hash = \"{}\"\n",
            dir.join("state").display(),
            hash("2222"),
        ),
    )
    .unwrap();
    let d = Launch::new(&cfg, &dir.join("state/returnsd.sock"))
        .log_to(&dir.join("daemon.stderr"))
        .start();
    let addr = format!("127.0.0.1:{port}");
    poll("the HTTP listener", || TcpStream::connect(&addr).ok());
    (d, addr)
}

/// The keeper first-checks `n` unannounced parcels at bench-1; their return ids.
fn first_check(d: &Daemon, from: usize, n: usize) -> Vec<String> {
    let scan = |code: &str| -> Value {
        let v = request(
            &d.socket,
            &json!({"op": "scan", "bench": "bench-1", "code": code}),
        )
        .unwrap();
        assert_eq!(v["stored"], true, "{code}: {v}");
        v
    };
    scan("OP-017");
    let mut ids = Vec::with_capacity(n);
    for i in from..from + n {
        let v = scan(&format!("SF2{i:012}"));
        ids.push(v["return_id"].as_str().expect("return id").to_string());
        for code in [
            "CMD-KIND-CUSTOMER",
            "CMD-UNPACK",
            "6901234567892",
            "CMD-VIS-OK",
            "Z-PENDING",
        ] {
            let v = scan(code);
            assert_eq!(v["ok"], true, "{code}: {v}");
        }
    }
    ids
}

struct Round {
    queue: Vec<f64>,
    detail: Vec<f64>,
    inspect: Vec<f64>,
    put_away: Vec<f64>,
}

/// The inspector's calls with `waiting` returns in the queue; grades and puts away
/// `SAMPLES` of `ids` (taken from the end: the newest).
fn handheld(addr: &str, token: &str, ids: &mut Vec<String>, tag: &str) -> Round {
    let auth = format!("Bearer {token}");
    let mut c = Conn::open(addr);
    let mut r = Round {
        queue: Vec::new(),
        detail: Vec::new(),
        inspect: Vec::new(),
        put_away: Vec::new(),
    };
    for n in 0..SAMPLES {
        let t0 = Instant::now();
        let (s, q) = call(
            &mut c,
            "GET",
            "/api/v1/inspection-queue",
            &[("Authorization", &auth)],
            "",
        );
        r.queue.push(ms(t0.elapsed()));
        assert_eq!(s, 200, "{q}");
        let id = ids.pop().expect("a return waiting");
        let t0 = Instant::now();
        let (s, v) = call(
            &mut c,
            "GET",
            &format!("/api/v1/returns/{id}"),
            &[("Authorization", &auth)],
            "",
        );
        r.detail.push(ms(t0.elapsed()));
        assert_eq!(
            (s, v["state"]["stage"].as_str()),
            (200, Some("first_checked")),
            "{v}"
        );
        let key = format!("bench-{}-{tag}-{n}", std::process::id());
        let body =
            json!({"grade": "good", "checklist": [{"code": "packaging_complete", "met": true}]});
        let t0 = Instant::now();
        let (s, v) = call(
            &mut c,
            "POST",
            &format!("/api/v1/returns/{id}/inspect"),
            &[("Authorization", &auth), ("Idempotency-Key", &key)],
            &body.to_string(),
        );
        r.inspect.push(ms(t0.elapsed()));
        assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
        let t0 = Instant::now();
        let (s, v) = call(
            &mut c,
            "POST",
            &format!("/api/v1/returns/{id}/put-away"),
            &[("Authorization", &auth)],
            &json!({"zone": "Z-GOOD"}).to_string(),
        );
        r.put_away.push(ms(t0.elapsed()));
        assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
    }
    r
}

fn print_round(label: &str, r: &Round) {
    for (what, v) in [
        ("GET /inspection-queue", &r.queue),
        ("GET /returns/{id} (scan)", &r.detail),
        ("POST inspect (fsync)", &r.inspect),
        ("POST put-away (fsync)", &r.put_away),
    ] {
        let (p50, p99, max) = pct(v);
        println!(
            "{label:>6} waiting: {what:<26} p50 {p50:7.3} ms  p99 {p99:7.3} ms  max {max:7.3} ms"
        );
    }
}

fn round_json(r: &Round) -> Value {
    json!({"inspection_queue": dist(&r.queue), "return_detail": dist(&r.detail),
           "inspect": dist(&r.inspect), "put_away": dist(&r.put_away)})
}

fn main() {
    let base = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("bench-api-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    println!("returnsd operator-API benchmark");
    println!("daemon   : {}", env!("CARGO_BIN_EXE_returnsd"));
    println!("work dir : {}", base.display());
    let (d, addr) = start(&base);

    let mut c = Conn::open(&addr);
    let mut floor = Vec::with_capacity(BASELINE_N);
    for _ in 0..BASELINE_N {
        let t0 = Instant::now();
        let (s, _) = call(&mut c, "GET", "/healthz", &[], "");
        floor.push(ms(t0.elapsed()));
        assert_eq!(s, 200);
    }
    let (b50, b99, _) = pct(&floor);
    println!("baseline : GET /healthz, kept-alive loopback  p50 {b50:.3} ms  p99 {b99:.3} ms");

    let (s, login) = call(
        &mut c,
        "POST",
        "/api/v1/session",
        &[],
        &json!({"badge": "021", "pin": "2222"}).to_string(),
    );
    assert_eq!(s, 200, "{login}");
    let token = login["token"].as_str().expect("token").to_string();

    let t0 = Instant::now();
    let mut ids = first_check(&d, 0, SMALL + SAMPLES);
    println!(
        "setup    : {} returns first-checked through the control socket in {:.1} s",
        ids.len(),
        t0.elapsed().as_secs_f64()
    );
    let small = handheld(&addr, &token, &mut ids, "small");
    print_round(&SMALL.to_string(), &small);

    let t0 = Instant::now();
    let more = first_check(&d, SMALL + SAMPLES, LARGE - SMALL);
    ids.extend(more);
    println!(
        "setup    : {} more in {:.1} s ({} waiting)",
        LARGE - SMALL,
        t0.elapsed().as_secs_f64(),
        ids.len()
    );
    let large = handheld(&addr, &token, &mut ids, "large");
    print_round(&LARGE.to_string(), &large);

    let (d50_small, _, _) = pct(&small.detail);
    let (d50, d99, _) = pct(&large.detail);
    let (_, i99, _) = pct(&large.inspect);
    let growth = d50 / d50_small;
    let pass = d99 <= TARGET_P99_MS && i99 <= TARGET_P99_MS && growth <= 2.0;
    println!(
        "target   : at {LARGE} waiting, detail p99 {d99:.3} ms and inspect p99 {i99:.3} ms ≤ {TARGET_P99_MS} ms, detail p50 ×{growth:.2} from {SMALL} (≤ ×2): {}",
        if pass { "PASS" } else { "FAIL" }
    );
    let out = json!({
        "baseline_healthz": dist(&floor),
        "small": {"waiting": SMALL, "calls": round_json(&small)},
        "large": {"waiting": LARGE, "calls": round_json(&large)},
        "detail_p50_growth": (growth * 100.0).round() / 100.0,
        "pass": pass,
    });
    println!("BENCH_JSON {out}");
    d.stop();
    let _ = std::fs::remove_dir_all(&base);
}
