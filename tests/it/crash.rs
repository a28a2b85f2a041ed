//! Crash safety: the daemon is `kill -9`ed while scans stream in from several clients;
//! after each restart every scan it acknowledged is in the journal and seq has no gaps.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Station, request};

/// Acknowledged scans survive kill -9 at arbitrary points, three times over.
#[test]
fn acknowledged_scans_survive_kill_9() {
    let st = Station::new("");
    // seq range → the code that was acknowledged with it.
    let acked: Arc<Mutex<BTreeMap<i64, String>>> = Arc::new(Mutex::new(BTreeMap::new()));
    let mut counter = 0u64;
    for round in 0..3 {
        let d = st.start();
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..4 {
            let socket = d.socket.clone();
            let stop = stop.clone();
            let acked = acked.clone();
            let base = counter + c * 1_000_000;
            clients.push(std::thread::spawn(move || {
                let mut n = 0u64;
                let mut errors = 0;
                while !stop.load(Ordering::Relaxed) {
                    // Unique, recognisable codes: unknown to the grammar, still journaled.
                    let code = format!("CRASH-{round}-{c}-{}", base + n);
                    n += 1;
                    let bench = format!("crash-{c}");
                    match request(
                        &socket,
                        &json!({"op": "scan", "bench": bench, "code": code}),
                    ) {
                        Ok(v) if v["stored"] == Value::Bool(true) => {
                            let first = v["seq_first"].as_i64().expect("stored scans carry a seq");
                            acked.lock().unwrap().insert(first, code);
                        }
                        Ok(v) => panic!("scan not stored while the daemon was up: {v}"),
                        Err(_) => {
                            // The daemon was killed mid-request: this scan was never acked.
                            errors += 1;
                            if errors > 3 {
                                break;
                            }
                        }
                    }
                }
                n
            }));
        }
        // Let scans flow until a round-dependent number have been acknowledged.
        let want = acked.lock().unwrap().len() + 150 + round * 70;
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < want {
            assert!(Instant::now() < deadline, "scans did not flow");
            std::thread::yield_now();
        }
        d.kill9();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            counter += c.join().unwrap();
        }
        counter += 10_000;
    }
    // Restart once more so the database is opened (and checked) after the last kill.
    let d = st.start();
    d.stop();
    let journal = st.journal();
    for (i, e) in journal.iter().enumerate() {
        assert_eq!(e["seq"], json!(i as i64 + 1), "no gaps in seq");
    }
    let by_seq: BTreeMap<i64, &Value> = journal
        .iter()
        .map(|e| (e["seq"].as_i64().unwrap(), e))
        .collect();
    let acked = acked.lock().unwrap();
    assert!(
        acked.len() >= 450,
        "enough scans were acknowledged ({})",
        acked.len()
    );
    for (seq, code) in acked.iter() {
        let e = by_seq
            .get(seq)
            .unwrap_or_else(|| panic!("acked seq {seq} ({code}) missing after kill -9"));
        assert_eq!(e["type"], "scan.recorded");
        assert_eq!(
            e["data"]["code"],
            json!(code),
            "seq {seq} holds the acknowledged scan"
        );
    }
    crate::support::assert_journal_verifies(&st);
}

/// A client that keeps its control connection open (holding an engine handle) does not
/// hold up a stop: the engine closes its input, commits what it had and ends at once.
#[test]
fn stop_does_not_wait_for_idle_clients() {
    let st = crate::support::Station::new("");
    let d = st.start();
    crate::support::scan_ok(&st, &["OP-017"]);
    let mut c = crate::kit::control::Ctl::new(d.socket.clone());
    let v = c.request(&serde_json::json!({"op": "ping"})).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let log = d.stop();
    assert!(log.contains("stopped cleanly"), "{log}");
    assert!(!log.contains("engine still busy"), "{log}");
    drop(c);
}
