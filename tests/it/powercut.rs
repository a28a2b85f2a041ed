//! Power cuts at random points, on the fault filesystem (`faultfs.rs`): the daemon's state
//! directory is served from memory, scans stream from a bench (waybill, kind, unpack — a
//! label job — and cancel, again and again), and after a random number of acknowledged scans the
//! daemon is killed and the power cut: everything not fsynced is lost, and every other
//! trial the last unsynced write is torn. Restarted on what survived, the station must
//! hold every scan it acknowledged exactly once, every acknowledged unpack's label job,
//! a journal without gaps that `journal verify` accepts, and a database that passes
//! `PRAGMA integrity_check`.
//!
//! CI runs `RETURNSD_POWER_CUTS` trials (default 4); the soak mode runs 100 or more
//! (`RETURNSD_POWER_CUTS=100 cargo test --test it powercut`, README "Reliability").
//! `RETURNSD_POWER_CUT_SEED` repeats a run (the seed is printed).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::faultfs::{Cut, FaultFs};
use crate::kit::control::Ctl;
use crate::support::{Station, assert_journal_verifies, poll};

/// A small deterministic generator (xorshift), so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// What the bench was told, in order: each acknowledged code, and the return id an
/// acknowledged waybill opened.
#[derive(Default)]
struct Acked {
    codes: Vec<String>,
    unpacked: Vec<String>,
}

#[test]
fn power_cuts_at_random_points_lose_no_acknowledged_scan() {
    let trials: u64 = std::env::var("RETURNSD_POWER_CUTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let seed: u64 = std::env::var("RETURNSD_POWER_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("power cuts: {trials} trials, RETURNSD_POWER_CUT_SEED={seed}");
    let mut rng = Rng(seed);
    // The control socket lives off the fault filesystem (it serves no sockets).
    let st = Station::new("");
    let text = format!(
        "{}\n[control]\nsocket = \"{}\"\n[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n",
        std::fs::read_to_string(&st.config).unwrap(),
        st.dir.path().join("ctl.sock").display()
    );
    std::fs::write(&st.config, text).unwrap();
    let mut fs = FaultFs::mount(&st.state_dir());
    let acked = Arc::new(Mutex::new(Acked::default()));
    // Parcels numbered across trials, so every waybill is scanned once.
    let parcels = Arc::new(AtomicU64::new(0));
    let mut torn = 0;
    for trial in 0..trials {
        let d = st.start();
        let stop = Arc::new(AtomicBool::new(false));
        let streamer = {
            let (acked, stop, socket) = (acked.clone(), stop.clone(), st.socket());
            let parcels = parcels.clone();
            std::thread::spawn(move || {
                let mut ctl = Ctl::new(socket);
                let mut scan = |code: &str| -> Option<Value> {
                    let v = ctl.scan("bench-1", code).ok()?;
                    if v["stored"] == true {
                        acked.lock().unwrap().codes.push(code.to_string());
                    }
                    Some(v)
                };
                scan("OP-017")?;
                while !stop.load(Ordering::SeqCst) {
                    let n = parcels.fetch_add(1, Ordering::SeqCst);
                    let waybill = format!("SF{:013}", 5_000_000_000_000_u64 + n);
                    let received = scan(&waybill)?;
                    let id = received["return_id"].as_str().map(str::to_string);
                    scan("CMD-KIND-CUSTOMER")?;
                    let unpack = scan("CMD-UNPACK")?;
                    if let (true, Some(id)) = (unpack["ok"] == true, id) {
                        acked.lock().unwrap().unpacked.push(id);
                    }
                    scan("CMD-CANCEL")?;
                }
                Some(())
            })
        };
        // Cut after a random number of this trial's acknowledged scans (the fault's
        // schedule, not a wait for anything).
        let before = acked.lock().unwrap().codes.len();
        let at = 1 + rng.below(90) as usize;
        poll("scans acknowledged before the cut", || {
            (acked.lock().unwrap().codes.len() >= before + at).then_some(())
        });
        d.kill9();
        stop.store(true, Ordering::SeqCst);
        let cut = if trial % 2 == 1 {
            Cut::Torn {
                seed: rng.below(u64::MAX),
            }
        } else {
            Cut::Lost
        };
        if fs.power_cut(cut).is_some() {
            torn += 1;
        }
        let _ = streamer.join().unwrap();
        check(&st, &acked.lock().unwrap(), trial);
    }
    eprintln!(
        "power cuts: {trials} trials ({torn} with a torn write), {} acknowledged scans, all present once",
        acked.lock().unwrap().codes.len()
    );
}

/// After a cut: the station starts on what survived and holds what [`assert_holds`]
/// checks.
fn check(st: &Station, acked: &Acked, trial: u64) {
    let d = st.start();
    d.stop();
    let journal = st.journal();
    assert_holds(
        st,
        &journal,
        &acked.codes,
        &acked.unpacked,
        &format!("trial {trial}"),
    );
}

/// The station (stopped) holds every acknowledged waybill scan once, every acknowledged
/// unpack's label job, a journal without seq gaps that `journal verify` accepts and a
/// database that passes the integrity check; `what` names the moment in a failure. The
/// power-cut trials and the soak check the same. Returns the open database.
pub fn assert_holds(
    st: &Station,
    journal: &[Value],
    acked_codes: &[String],
    unpacked: &[String],
    what: &str,
) -> rusqlite::Connection {
    let mut count = std::collections::HashMap::<&str, usize>::new();
    for e in journal.iter().filter(|e| e["type"] == "scan.recorded") {
        if let Some(code) = e["data"]["code"].as_str() {
            *count.entry(code).or_default() += 1;
        }
    }
    for code in acked_codes.iter().filter(|c| c.starts_with("SF")) {
        let n = count.get(code.as_str()).copied().unwrap_or(0);
        assert_eq!(n, 1, "{what}: acknowledged {code} recorded {n} times");
    }
    let seqs: Vec<i64> = journal.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(
        seqs.first().is_none_or(|s| *s == 1) && seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{what}: the journal's seqs have a gap"
    );
    assert_journal_verifies(st);
    let db = rusqlite::Connection::open(st.db()).unwrap();
    let ok: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "{what}");
    for id in unpacked {
        let jobs: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM print_jobs WHERE subject = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        if jobs == 0 {
            let mut q = db
                .prepare("SELECT id, subject, template, reason, state FROM print_jobs")
                .unwrap();
            let all: Vec<String> = q
                .query_map([], |r| {
                    Ok(format!(
                        "{} {} {} {} {}",
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?
                    ))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let printed: Vec<&Value> = journal
                .iter()
                .filter(|e| e["return_id"] == id.as_str())
                .collect();
            panic!(
                "{what}: the label job of acknowledged unpack {id} is gone; jobs {all:?}; events {printed:?}"
            );
        }
    }
    db
}
