//! Crash safety: the daemon is `kill -9`ed while scans stream in from several clients, and
//! while a manifest import, the uplink and the maintenance prune run beside them; after
//! each restart every scan it acknowledged is in the journal (or at the central, once
//! pruned), seq has no gaps, and the import run again stores every line once. Other
//! kinds of work are killed elsewhere: the feed (`sync.rs`), the push (`sync.rs`), the
//! print queue (`printing.rs`), the backup (`backup.rs`), the API's keyed requests
//! (`persist.rs`), and everything at once in the soak (`soak.rs`).

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

/// kill -9 during a manifest import (3,000 lines, sent in parts) while scans stream in, the
/// uplink pushes and the maintenance pass prunes every acknowledged event each second
/// (`retention_days = 0`), three times at random points. Running the import again after
/// each restart (what the CLI's error tells the keeper to do) leaves every line stored
/// once at its version; the central holds every event exactly once, every acknowledged
/// scan among them under its seq; what the station still holds is contiguous, verifies
/// and passes the integrity check.
#[test]
fn kill_9_during_manifest_import_and_pruning_loses_nothing() {
    use crate::kit::central::{Central, CentralOptions};
    const LINES: usize = 3_000;
    let central = Central::start(CentralOptions::default());
    let st = Station::new(&format!(
        "\n[sync]\ncentral_url = \"{}\"\nstation_token = \"station-token\"\nbackoff_cap_s = 1\n\
         slow_retry_s = 1\nrequest_timeout_s = 2\nfeed_poll_s = 1\nretention_days = 0\n",
        central.url()
    ));
    let text = std::fs::read_to_string(&st.config)
        .unwrap()
        .replace("[storage]\n", "[storage]\nmaintenance_interval_s = 1\n");
    std::fs::write(&st.config, text).unwrap();
    let manifest = st.dir.path().join("manifest.jsonl");
    let waybill = |i: usize| format!("SF8{i:012}");
    let lines: Vec<String> = (0..LINES)
        .map(|i| {
            json!({"waybill": waybill(i), "version": 1, "kind": "customer_return",
                   "order_no": format!("M-{i}"),
                   "items": [{"sku": "A", "barcode": "6901234560015", "name": "Kettle", "qty": 1}]})
            .to_string()
        })
        .collect();
    std::fs::write(&manifest, lines.join("\n")).unwrap();
    let stored = |st: &Station| -> i64 {
        rusqlite::Connection::open(st.db())
            .and_then(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM feed_items WHERE key LIKE 'SF8%'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(0)
    };
    let acked: Arc<Mutex<BTreeMap<i64, String>>> = Arc::default();
    let mut epoch = String::new();
    for round in 0..3u64 {
        let d = st.start();
        epoch = request(&d.socket, &json!({"op": "ping"})).unwrap()["epoch"]
            .as_str()
            .unwrap()
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let scanner = {
            let (socket, stop, acked) = (d.socket.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut ctl = crate::kit::control::Ctl::new(socket);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let code = format!("PRUNE-{round}-{n}");
                    n += 1;
                    match ctl.scan("load", &code) {
                        Ok(v) if v["stored"] == true => {
                            let seq = v["seq_first"].as_i64().unwrap();
                            assert!(acked.lock().unwrap().insert(seq, code).is_none());
                        }
                        Ok(v) => panic!("scan not stored while the daemon was up: {v}"),
                        Err(_) => break,
                    }
                }
            })
        };
        let import = {
            let (config, manifest) = (st.config.clone(), manifest.clone());
            std::thread::spawn(move || {
                std::process::Command::new(crate::support::BIN)
                    .arg("--config")
                    .arg(&config)
                    .args(["manifest", "import", manifest.to_str().unwrap()])
                    .output()
                    .unwrap()
            })
        };
        // The kill lands at a point that moves with the round: after some of the import's
        // parts are stored, unless the import is quicker (then during the scans, the push
        // and the prune all the same).
        let at = 200 * (round as i64 + 1) * 3;
        let _ = crate::support::try_poll(Duration::from_secs(20), Duration::from_millis(2), || {
            (stored(&st) >= at).then_some(())
        });
        d.kill9();
        stop.store(true, Ordering::Relaxed);
        scanner.join().unwrap();
        let out = import.join().unwrap();
        eprintln!(
            "round {round}: killed with {} of {LINES} lines stored; the import said: {}{}",
            stored(&st),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // After the last kill: start, import again, drain.
    let d = st.start();
    let out = st.cli_ok(&["manifest", "import", manifest.to_str().unwrap()]);
    eprintln!("the import run again: {}", out.trim());
    let last = *acked.lock().unwrap().keys().last().unwrap();
    central.wait_until(Duration::from_secs(60), "every event at the central", |c| {
        c.acked_through(&epoch) >= last
    });
    d.stop();

    let conn = rusqlite::Connection::open(st.db()).unwrap();
    let rows: Vec<(String, i64, String)> = conn
        .prepare(
            "SELECT key, version, json_extract(data, '$.order_no') FROM feed_items
             WHERE key LIKE 'SF8%' ORDER BY key",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), LINES, "every manifest line stored once");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row, &(waybill(i), 1, format!("M-{i}")));
    }
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let journal = st.journal();
    assert!(
        journal
            .windows(2)
            .all(|w| w[1]["seq"].as_i64() == w[0]["seq"].as_i64().map(|s| s + 1)),
        "what the station still holds is contiguous"
    );
    crate::support::assert_journal_verifies(&st);
    let at_central: BTreeMap<i64, Value> = central
        .events(&epoch)
        .into_iter()
        .map(|e| (e.seq, e.data))
        .collect();
    assert_eq!(
        at_central.keys().copied().collect::<Vec<_>>(),
        (1..=at_central.len() as i64).collect::<Vec<_>>(),
        "the central holds 1..=N"
    );
    assert!(central.primary_ids().values().all(|n| *n == 1), "each once");
    let pruned = at_central.len() - journal.len();
    let acked = acked.lock().unwrap();
    for (seq, code) in acked.iter() {
        assert_eq!(
            at_central.get(seq).map(|d| d["code"].clone()),
            Some(json!(code)),
            "acknowledged seq {seq} is {code} at the central"
        );
    }
    eprintln!(
        "{} acknowledged scans, {} events at the central, {pruned} pruned at the station",
        acked.len(),
        at_central.len()
    );
    assert!(
        pruned > 0,
        "the maintenance pass pruned acknowledged events"
    );
}
