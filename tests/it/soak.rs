//! The soak: everything at once, for `RETURNSD_SOAK_MINUTES` (2 in CI; the long run 30 or
//! more, README "Reliability"):
//!
//! - two benches scanning through the control socket (each scan's answer is the station's
//!   "OK": the acknowledged scans are counted and must all survive), every parcel taken to
//!   the inspection queue — waybill, kind, card, unpack (a label), item, visual OK, pending;
//! - two serial scanners on pseudo-terminals doing the same at a keeper's pace (a scanner
//!   has no answer: their scans are checked for duplicates, and counted);
//! - an inspector's handheld and a keeper on the API: the queue, each queued return
//!   inspected (with an `Idempotency-Key`) and put away, the returns list, the zones;
//! - a flaky central: the kit's central behind the fault proxy, its mode changed every
//!   phase (pass, random faults, 500s, refused connections, slow answers);
//! - a TCP printer whose condition changes every phase (ok, down, paper out, silent, gone
//!   with a job in hand);
//! - the state directory on the fault filesystem (`faultfs.rs`), and at the end of every
//!   phase a kill -9 and a power cut (everything not fsynced lost; every other cut tears
//!   the last unsynced write), then a restart on what survived.
//!
//! At the end the faults clear and the station drains; then: every acknowledged scan is in
//! the journal exactly once, no pty waybill twice, no seq gap, `journal verify` and
//! `PRAGMA integrity_check` pass, every acknowledged unpack has its label job, and the
//! central holds every event of the journal exactly once, as the station holds it.
//!
//! Reported (stderr, and one `SOAK {…}` JSON line): scans, scan → durable and scan → label
//! p50/p99, API p99, RSS over time, journal and disk growth, faults by kind. Latencies are
//! counted only where no fault of their own path was active (no cut during the call, the
//! printer ok for a label), so they read as the load's cost, not the faults'.
//!
//! Long run: `RETURNSD_SOAK_MINUTES=30 cargo test --release --test it soak -- --nocapture`.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api_client::phc;
use crate::api_live::jpeg_with_gps;
use crate::fake_printer::{FakePrinter, Mode};
use crate::faultfs::{Cut, FaultFs};
use crate::kit::central::{Central, CentralOptions};
use crate::kit::control::Ctl;
use crate::kit::daemon::status_kb;
use crate::kit::http::read_response;
use crate::kit::pty::{Pty, pty};
use crate::proxy::{Action, FaultMode, FaultProxy};
use crate::support::{Daemon, Station, TO_THE_QUEUE, poll_within, request};

/// One phase of the fault schedule; a power cut ends each.
const PHASE: Duration = Duration::from_secs(12);
/// The product every parcel holds (a valid EAN-13).
const ITEM: &str = "6901234560015";
/// Control-socket benches and pty scanners.
const CTL_BENCHES: usize = 2;
const PTY_SCANNERS: usize = 2;

/// What every load thread shares with the fault schedule.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// The daemon is running (between its READY and its kill): load only runs then.
    up: AtomicBool,
    /// Incremented at every start: a latency is kept only if no cut fell inside it.
    generation: AtomicU64,
    /// The API's address of the running daemon.
    http: Mutex<Option<String>>,
    parcels: AtomicU64,
    /// Codes the station acknowledged (`stored: true`), and the return ids of acknowledged
    /// unpacks (each must have its label job).
    acked: Mutex<(Vec<String>, Vec<String>)>,
    durable_ms: Mutex<Vec<f64>>,
    label_ms: Mutex<Vec<f64>>,
    api_ms: Mutex<Vec<f64>>,
    pty_written: AtomicU64,
    pty_waybills: Mutex<Vec<String>>,
    inspected: AtomicU64,
    photos: AtomicU64,
    put_away: AtomicU64,
    api_5xx: AtomicU64,
    /// Answers no scenario explains (a refusal of a step that was valid).
    odd: Mutex<Vec<String>>,
}

impl Shared {
    fn life(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
    fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
    }
    /// Block while the power is off; false once the soak is over.
    fn wait_up(&self) -> bool {
        while self.running() && !self.up.load(Ordering::SeqCst) {
            // The schedule restarts the daemon in about a second; this is the load's idle
            // pace meanwhile, not a wait for a result.
            std::thread::sleep(Duration::from_millis(20));
        }
        self.running()
    }
    fn odd(&self, what: String) {
        let mut o = self.odd.lock().unwrap();
        if o.len() < 50 {
            o.push(what);
        }
    }
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn soak_mixed_load_with_faults_and_power_cuts_loses_nothing() {
    let minutes = env_u64("RETURNSD_SOAK_MINUTES", 2);
    let seed = env_u64("RETURNSD_SOAK_SEED", 0x50a6);
    let phases = (minutes * 60).div_ceil(PHASE.as_secs()).max(2);
    eprintln!("soak: {minutes} min, {phases} phases of {PHASE:?}, RETURNSD_SOAK_SEED={seed}");

    let central = Central::start(CentralOptions::default());
    let proxy = FaultProxy::start(central.addr());
    let printer = FakePrinter::tcp(false, Mode::Ok);
    let ptys: Vec<Pty> = (0..PTY_SCANNERS).map(|_| pty()).collect();
    let st = station(&ptys, &printer, &proxy);
    let mut fs = FaultFs::mount(&st.state_dir());
    let shared = Arc::new(Shared::default());

    let mut d = start(&st, &shared);
    let epoch = request(&st.socket(), &json!({"op": "ping"})).unwrap()["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let db_at_start = db_bytes(&st);
    let t0 = Instant::now();
    let mut threads = Vec::new();
    for b in 0..CTL_BENCHES {
        let (sh, socket, p) = (shared.clone(), st.socket(), printer.clone());
        threads.push(std::thread::spawn(move || ctl_bench(&sh, socket, &p, b)));
    }
    for (i, Pty { master, .. }) in ptys.iter().enumerate() {
        let (sh, m) = (shared.clone(), master.try_clone().unwrap());
        threads.push(std::thread::spawn(move || pty_scanner(&sh, m, i)));
    }
    {
        let sh = shared.clone();
        threads.push(std::thread::spawn(move || handheld(&sh)));
    }

    let central_modes = [
        FaultMode::Pass,
        FaultMode::Random { seed, p_fault: 0.3 },
        FaultMode::Status(503),
        FaultMode::Refuse,
        FaultMode::Delay(Duration::from_millis(300)),
        FaultMode::ResetAfterUpstream,
    ];
    let printer_modes = [
        Mode::Ok,
        Mode::Down,
        Mode::Ok,
        Mode::PaperOut,
        Mode::Silent,
        Mode::VanishMidJob,
    ];
    // (elapsed s, RSS kB) once a second; the peak of every daemon's life.
    let mut rss: Vec<(u64, u64)> = Vec::new();
    let (mut torn, mut lost_cuts) = (0, 0);
    for phase in 0..phases {
        proxy.set(central_modes[phase as usize % central_modes.len()].clone());
        printer.set_mode(printer_modes[phase as usize % printer_modes.len()]);
        let end = Instant::now() + PHASE;
        while Instant::now() < end {
            // The phase's length is the scenario; RSS is sampled once a second meanwhile.
            std::thread::sleep(Duration::from_secs(1));
            if let Some(kb) = status_kb(d.child.id(), "VmRSS") {
                rss.push((t0.elapsed().as_secs(), kb));
            }
        }
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "the daemon exited by itself in phase {phase}: {}",
            d.log_text()
        );
        // The power cut: the daemon dies with the machine, and the disk keeps only what was
        // fsynced.
        shared.up.store(false, Ordering::SeqCst);
        *shared.http.lock().unwrap() = None;
        d.kill9();
        let cut = if phase % 2 == 1 {
            Cut::Torn {
                seed: seed.wrapping_mul(phase + 1),
            }
        } else {
            Cut::Lost
        };
        match fs.power_cut(cut) {
            Some(_) => torn += 1,
            None => lost_cuts += 1,
        }
        d = start(&st, &shared);
    }
    shared.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("a load thread panicked");
    }
    let load_s = t0.elapsed().as_secs_f64();

    // The faults clear; the station drains its print queue and its uplink.
    proxy.set(FaultMode::Pass);
    printer.set_mode(Mode::Ok);
    let last_seq = |st: &Station| {
        st.journal()
            .last()
            .and_then(|e| e["seq"].as_i64())
            .unwrap_or(0)
    };
    let queued = |st: &Station| -> i64 {
        rusqlite::Connection::open(st.db())
            .and_then(|db| {
                db.query_row(
                    "SELECT COUNT(*) FROM print_jobs WHERE state = 'queued'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(-1)
    };
    poll_within(
        Duration::from_secs(180),
        "the central holds the whole journal and the print queue is empty",
        || {
            let n = last_seq(&st);
            (queued(&st) == 0 && central.acked_through(&epoch) >= n).then_some(())
        },
    );
    let db_at_end = db_bytes(&st);
    let final_rss = status_kb(d.child.id(), "VmRSS").unwrap_or(0);
    d.stop();

    // ---- the invariants ------------------------------------------------------------
    let journal = st.journal();
    let (acked, unpacked) = std::mem::take(&mut *shared.acked.lock().unwrap());
    let db = crate::powercut::assert_holds(&st, &journal, &acked, &unpacked, "after the soak");
    let scans: Vec<&str> = journal
        .iter()
        .filter(|e| e["type"] == "scan.recorded")
        .filter_map(|e| e["data"]["code"].as_str())
        .collect();
    let pty_waybills = std::mem::take(&mut *shared.pty_waybills.lock().unwrap());
    let mut count = std::collections::HashMap::<&str, usize>::new();
    for s in &scans {
        *count.entry(s).or_default() += 1;
    }
    let mut pty_recorded = 0;
    for w in &pty_waybills {
        let n = count.get(w.as_str()).copied().unwrap_or(0);
        assert!(n <= 1, "pty waybill {w} recorded {n} times");
        pty_recorded += n;
    }
    let jobs_by_state: Vec<(String, i64)> = db
        .prepare("SELECT state, COUNT(*) FROM print_jobs GROUP BY state ORDER BY state")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let stored = central.events(&epoch);
    assert_eq!(
        stored.len(),
        journal.len(),
        "the central holds as many events as the journal"
    );
    for (c, e) in stored.iter().zip(&journal) {
        assert_eq!(
            (json!(c.seq), json!(c.id), json!(c.ty)),
            (e["seq"].clone(), e["id"].clone(), e["type"].clone()),
            "the central's event is the station's"
        );
    }
    let ids = central.primary_ids();
    assert!(
        ids.values().all(|n| *n == 1),
        "every event stored once at the central"
    );
    assert_eq!(central.epochs(), vec![epoch.clone()], "one epoch all along");
    // Every photo an inspection names reached the central, the bytes the station holds.
    let mut shas = Vec::new();
    for e in journal
        .iter()
        .filter(|e| e["type"] == "inspection.completed")
    {
        photo_shas(&e["data"], &mut shas);
    }
    for sha in &shas {
        let (_, bytes) = central
            .blob(sha)
            .unwrap_or_else(|| panic!("photo {sha} is not at the central"));
        assert_eq!(crate::kit::central::sha256_hex(&bytes), *sha);
    }
    let odd = shared.odd.lock().unwrap().clone();
    assert!(odd.is_empty(), "answers no fault explains: {odd:#?}");

    // ---- the report ----------------------------------------------------------------
    let proxy_faults = proxy
        .log()
        .iter()
        .filter(|r| r.action != Action::Forwarded)
        .count();
    let (rss_min, rss_max) = rss.iter().fold((u64::MAX, 0), |(lo, hi), (_, kb)| {
        (lo.min(*kb), hi.max(*kb))
    });
    // The peak of each tenth of the run: memory over time.
    let last_sample = rss.last().map_or(1, |(s, _)| *s + 1);
    let tenth = last_sample.div_ceil(10).max(1);
    let mut rss_over_time = vec![0u64; 10];
    for (s, kb) in &rss {
        let i = ((s / tenth) as usize).min(9);
        rss_over_time[i] = rss_over_time[i].max(*kb);
    }
    let mut durable = shared.durable_ms.lock().unwrap().clone();
    let mut label = shared.label_ms.lock().unwrap().clone();
    let mut api = shared.api_ms.lock().unwrap().clone();
    let report = json!({
        "minutes": minutes,
        "phases": phases,
        "power_cuts": {"lost": lost_cuts, "torn": torn},
        "central_faults": proxy_faults,
        "printer_faults": (0..phases).filter(|p| printer_modes[*p as usize % printer_modes.len()] != Mode::Ok).count(),
        "printer_jobs_vanished": printer.lock().vanished,
        "load_s": load_s.round(),
        "acknowledged_scans": acked.len(),
        "acknowledged_scans_per_s": (acked.len() as f64 / load_s).round(),
        "acknowledged_lost": 0,
        "duplicated": 0,
        "pty_scans_written": shared.pty_written.load(Ordering::SeqCst),
        "pty_waybills_recorded": format!("{pty_recorded} of {}", pty_waybills.len()),
        "journal_events": journal.len(),
        "scans_recorded": scans.len(),
        "inspected": shared.inspected.load(Ordering::SeqCst),
        "photos_uploaded": shared.photos.load(Ordering::SeqCst),
        "put_away": shared.put_away.load(Ordering::SeqCst),
        "api_5xx": shared.api_5xx.load(Ordering::SeqCst),
        "print_jobs": jobs_by_state,
        "scan_to_durable_ms": {"n": durable.len(), "p50": pct(&mut durable, 0.5), "p99": pct(&mut durable, 0.99)},
        "scan_to_label_ms": {"n": label.len(), "p50": pct(&mut label, 0.5), "p99": pct(&mut label, 0.99)},
        "api_ms": {"n": api.len(), "p50": pct(&mut api, 0.5), "p99": pct(&mut api, 0.99)},
        "rss_kb": {"min": rss_min, "max": rss_max, "final": final_rss, "peak_per_tenth": rss_over_time},
        "db_bytes": {"start": db_at_start, "end": db_at_end},
        "central_events": stored.len(),
        "photos_at_central": shas.len(),
    });
    eprintln!("SOAK {report}");
}

/// The photos' sha256 named anywhere under a `photos` key of an event's data.
fn photo_shas(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("photos", Value::Array(a)) => out.extend(a.iter().filter_map(|p| {
                        p.as_str()
                            .or_else(|| p["sha256"].as_str())
                            .map(str::to_string)
                    })),
                    _ => photo_shas(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| photo_shas(x, out)),
        _ => {}
    }
}

/// The station: PINs for the API, the pty scanners, the TCP printer, sync through the proxy,
/// the control socket off the fault filesystem (it serves no sockets).
fn station(ptys: &[Pty], printer: &FakePrinter, proxy: &FaultProxy) -> Station {
    let st = Station::new("");
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    for (role, pin) in [
        ("roles = [\"keeper\"]", "1111"),
        ("roles = [\"inspector\"]", "2222"),
    ] {
        text = text.replace(role, &format!("{role}\npin_hash = \"{}\"", phc(pin)));
    }
    text.push_str("\n[[zones.bins]]\ncode = \"D01\"\nclass = \"defect\"\n");
    for (i, p) in ptys.iter().enumerate() {
        text.push_str(&format!(
            "\n[[scanners]]\npath = \"{}\"\nbench = \"pty-{i}\"\nsuffix = \"cr\"\n",
            p.path
        ));
    }
    text.push_str(&format!(
        "\n[control]\nsocket = \"{}\"\n\n[printer]\nkind = \"tcp\"\naddress = \"{}\"\nlanguage = \"zpl\"\n\
         status_interval_s = 1\nconfirm_timeout_ms = 2000\nretry_cap_s = 1\n\n[sync]\ncentral_url = \"{}\"\n\
         station_token = \"station-token\"\nbackoff_cap_s = 1\nslow_retry_s = 1\nrequest_timeout_s = 2\n\
         feed_poll_s = 1\n",
        st.dir.path().join("ctl.sock").display(),
        printer.addr.unwrap(),
        proxy.url()
    ));
    std::fs::write(&st.config, text).unwrap();
    st
}

/// Start the daemon on what the disk holds, and open the load's gate.
fn start(st: &Station, shared: &Shared) -> Daemon {
    let d = st.start();
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    *shared.http.lock().unwrap() = ping["http"].as_str().map(str::to_string);
    shared.generation.fetch_add(1, Ordering::SeqCst);
    shared.up.store(true, Ordering::SeqCst);
    d
}

/// The database file's and its WAL's sizes.
fn db_bytes(st: &Station) -> Value {
    let len = |f: &str| std::fs::metadata(st.state_dir().join(f)).map_or(0, |m| m.len());
    json!({"db": len("returnsd.db"), "wal": len("returnsd.db-wal")})
}

/// A bench on the control socket: parcel after parcel to the inspection queue, each answer
/// timed; the unpack's label waited for at the printer.
fn ctl_bench(sh: &Shared, socket: std::path::PathBuf, printer: &FakePrinter, b: usize) {
    let bench = format!("bench-{b}");
    let mut ctl = Ctl::new(socket);
    let mut logged_in_life = 0;
    while sh.wait_up() {
        let life = sh.life();
        // One scan; `None` when the daemon went away (nothing acknowledged then).
        let mut scan = |code: &str| -> Option<(Value, f64)> {
            let t = Instant::now();
            let v = ctl.scan(&bench, code).ok()?;
            let took = t.elapsed().as_secs_f64() * 1e3;
            if v["stored"] == true {
                sh.acked.lock().unwrap().0.push(code.to_string());
                if sh.life() == life {
                    sh.durable_ms.lock().unwrap().push(took);
                }
            }
            Some((v, took))
        };
        if logged_in_life != life {
            // After a restart the bench may hold a parcel the cut interrupted: put it
            // down, then log in again (a keeper's first scans of the morning).
            let _ = scan("CMD-CANCEL");
            if scan("OP-017").is_none_or(|(v, _)| v["ok"] != true) {
                continue;
            }
            logged_in_life = life;
        }
        let n = sh.parcels.fetch_add(1, Ordering::SeqCst);
        let waybill = format!("SF{:013}", 5_000_000_000_000_u64 + n);
        let Some((received, _)) = scan(&waybill) else {
            continue;
        };
        if received["ok"] != true {
            if sh.life() == life {
                sh.odd(format!("{bench} {waybill}: {received}"));
            }
            logged_in_life = 0;
            continue;
        }
        let id = received["return_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut done = true;
        for code in ["CMD-KIND-CUSTOMER", "CMD-CARD-YES"] {
            done &= scan(code).is_some_and(|(v, _)| v["ok"] == true);
        }
        if !done {
            logged_in_life = 0;
            continue;
        }
        let printer_ok = printer.mode() == Mode::Ok;
        let from = printer.lock().printed.len();
        let t = Instant::now();
        let Some((unpack, _)) = scan("CMD-UNPACK") else {
            continue;
        };
        if unpack["ok"] != true {
            logged_in_life = 0;
            continue;
        }
        sh.acked.lock().unwrap().1.push(id.clone());
        if printer_ok {
            label_latency(sh, printer, from, &id, t, life);
        }
        for code in [ITEM, "CMD-VIS-OK", "Z-PENDING"] {
            if !scan(code).is_some_and(|(v, _)| v["ok"] == true) {
                logged_in_life = 0;
                break;
            }
        }
    }
}

/// Wait (up to 5 s, the label's deadline) for the printer to hold the label of `id`; the
/// time from the unpack scan is kept if the printer stayed ok and no cut fell inside it.
fn label_latency(sh: &Shared, printer: &FakePrinter, from: usize, id: &str, t: Instant, life: u64) {
    let deadline = t + Duration::from_secs(5);
    while Instant::now() < deadline && sh.life() == life && printer.mode() == Mode::Ok {
        let found = {
            let s = printer.lock();
            s.printed[from.min(s.printed.len())..]
                .iter()
                .any(|l| String::from_utf8_lossy(l).contains(id))
        };
        if found {
            sh.label_ms
                .lock()
                .unwrap()
                .push(t.elapsed().as_secs_f64() * 1e3);
            return;
        }
        // The printer double records as it receives; a fine poll of it.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A serial scanner at a keeper's pace: the same parcel flow, no answer to read.
fn pty_scanner(sh: &Shared, mut master: std::fs::File, i: usize) {
    let mut life_seen = 0;
    let mut n = 0u64;
    while sh.wait_up() {
        let life = sh.life();
        let mut codes = Vec::new();
        if life != life_seen {
            codes.extend(["CMD-CANCEL".to_string(), "OP-017".to_string()]);
            life_seen = life;
        }
        let waybill = format!(
            "SF{:013}",
            6_000_000_000_000_u64 + i as u64 * 100_000_000 + n
        );
        n += 1;
        codes.push(waybill.clone());
        codes.extend(TO_THE_QUEUE.map(str::to_string));
        sh.pty_waybills.lock().unwrap().push(waybill);
        for code in codes {
            if !sh.up.load(Ordering::SeqCst) {
                break;
            }
            if master.write_all(format!("{code}\r").as_bytes()).is_err() {
                return;
            }
            sh.pty_written.fetch_add(1, Ordering::SeqCst);
            // A keeper's pace between trigger pulls (the scenario).
            std::thread::sleep(Duration::from_millis(60));
        }
    }
}

/// One HTTP exchange that tolerates the daemon dying under it: `None` then.
fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let key = format!("soak-{}", uuid_like());
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let r = read_response(&mut std::io::BufReader::new(s)).ok()?;
    Some((r.status, r.json_or_null()))
}

/// `POST /api/v1/photos` with a JPEG body; `None` when the daemon went away.
fn upload(addr: &str, token: &str, jpeg: &[u8]) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let head = format!(
        "POST /api/v1/photos HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        jpeg.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(jpeg).ok()?;
    let r = read_response(&mut std::io::BufReader::new(s)).ok()?;
    Some((r.status, r.json_or_null()))
}

/// A distinct photo each time (a JPEG with location metadata, which the station strips).
fn photo_bytes() -> Vec<u8> {
    let mut jpeg = jpeg_with_gps();
    // Bytes after the end-of-image marker make each photo distinct, as two shots are.
    jpeg.extend_from_slice(&uuid_like().to_le_bytes());
    jpeg
}

/// A fresh key for each request (the handheld's idempotency key).
fn uuid_like() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// The inspector's handheld and a keeper's put-away, on the API.
fn handheld(sh: &Shared) {
    let mut sessions: Option<(String, String, u64)> = None;
    while sh.wait_up() {
        let Some(addr) = sh.http.lock().unwrap().clone() else {
            continue;
        };
        let life = sh.life();
        let timed = |method: &str, path: &str, token: &str, body: Option<&Value>| {
            let t = Instant::now();
            let r = call(&addr, method, path, token, body)?;
            if r.0 >= 500 {
                sh.api_5xx.fetch_add(1, Ordering::SeqCst);
                sh.odd(format!("{method} {path}: {} {}", r.0, r.1));
            } else if sh.life() == life {
                sh.api_ms
                    .lock()
                    .unwrap()
                    .push(t.elapsed().as_secs_f64() * 1e3);
            }
            Some(r)
        };
        let login = |badge: &str, pin: &str| {
            let (status, v) = timed(
                "POST",
                "/api/v1/session",
                "",
                Some(&json!({"badge": badge, "pin": pin})),
            )?;
            (status == 200).then(|| v["token"].as_str().unwrap_or_default().to_string())
        };
        if sessions.as_ref().is_none_or(|s| s.2 != life) {
            let (Some(i), Some(k)) = (login("021", "2222"), login("017", "1111")) else {
                continue;
            };
            sessions = Some((i, k, life));
        }
        let (inspector, keeper, _) = sessions.clone().unwrap();
        let Some((status, q)) = timed("GET", "/api/v1/inspection-queue?limit=20", &inspector, None)
        else {
            continue;
        };
        if status == 401 {
            sessions = None;
            continue;
        }
        let _ = timed("GET", "/api/v1/returns?limit=20", &keeper, None);
        let _ = timed("GET", "/api/v1/zones", &keeper, None);
        let first = q["items"][0]["return_id"].as_str().map(str::to_string);
        if let Some(id) = first {
            // Every third return is a defect, with a photo taken on the handheld.
            let defect = sh.inspected.load(Ordering::SeqCst) % 3 == 2;
            let body = if defect {
                let Some((201, photo)) = upload(&addr, &inspector, &photo_bytes()) else {
                    continue;
                };
                sh.photos.fetch_add(1, Ordering::SeqCst);
                json!({"grade": "defect", "defect_reasons": ["damaged_casing"], "photos": [photo["sha256"]]})
            } else {
                json!({"grade": "good"})
            };
            let inspect = format!("/api/v1/returns/{id}/inspect");
            if let Some((200, _)) = timed("POST", &inspect, &inspector, Some(&body)) {
                sh.inspected.fetch_add(1, Ordering::SeqCst);
                let put = format!("/api/v1/returns/{id}/put-away");
                let zone = if defect { "Z-D01" } else { "Z-A01" };
                if let Some((200, _)) = timed("POST", &put, &keeper, Some(&json!({"zone": zone}))) {
                    sh.put_away.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        // An inspector's pace between handheld refreshes (the scenario).
        std::thread::sleep(Duration::from_millis(100));
    }
}
