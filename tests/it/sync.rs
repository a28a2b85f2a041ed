//! Central sync through the real daemon binary (`shared/spec/central-sync.md`): push under
//! faults and kill -9, epochs, auth, seq conflicts, the pull endpoints, the feed, photos and
//! the disk cap. The central is the contract-faithful double (`tests/kit/central.rs`),
//! often behind the fault proxy (`proxy.rs`). Every wait polls with a deadline (the kit's
//! `poll`); the two sleeps left are windows the test measures over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::api_client::{JSON, http};
use crate::kit::central::{Central, CentralOptions, StoredEvent, contract_time};
use crate::kit::control::Ctl;
use crate::proxy::{Action, FaultMode, FaultProxy};
use crate::support::{Station, inspect_with_photo, poll_within, request, try_poll};

/// The station token the central double expects by default.
const TOKEN: &str = "station-token";

/// How often a test probes a station at its disk cap with a scan: each refused scan is
/// work for it, so not at the kit's usual 20 ms.
const PROBE_EVERY: Duration = Duration::from_millis(100);

// ---- helpers ------------------------------------------------------------------------------

/// A `[sync]` section pushing to `url` with fast retries; `more` is appended inside it.
fn sync_cfg(url: &str, more: &str) -> String {
    format!(
        "\n[sync]\ncentral_url = \"{url}\"\nstation_token = \"{TOKEN}\"\nbackoff_cap_s = 1\n\
         slow_retry_s = 1\nrequest_timeout_s = 2\nfeed_poll_s = 1\n{more}\n"
    )
}

/// Add lines to the `[storage]` table of the station's config (it is written by
/// `Station::new`, so the extra text cannot open that table a second time).
fn add_storage_keys(st: &Station, lines: &str) {
    let text = std::fs::read_to_string(&st.config).expect("read config");
    assert!(text.contains("[storage]\n"), "config has a [storage] table");
    let text = text.replacen("[storage]\n", &format!("[storage]\n{lines}\n"), 1);
    std::fs::write(&st.config, text).expect("rewrite config");
}

fn ping(st: &Station) -> Value {
    request(&st.socket(), &json!({"op": "ping"})).expect("ping")
}

fn epoch_of(st: &Station) -> String {
    ping(st)["epoch"].as_str().expect("ping epoch").to_string()
}

/// `sync_status` over the control socket.
fn status(st: &Station) -> Value {
    let v = request(&st.socket(), &json!({"op": "sync_status"})).expect("sync_status");
    assert_eq!(v["ok"], true, "{v}");
    v
}

/// `returnsd sync status --json`.
fn cli_status(st: &Station) -> Value {
    let out = st.cli(&["sync", "status", "--json"]);
    assert!(
        out.status.success(),
        "sync status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sync status JSON")
}

/// One scan over the control socket on `bench`.
fn scan_on(st: &Station, bench: &str, code: &str) -> Value {
    request(
        &st.socket(),
        &json!({"op": "scan", "bench": bench, "code": code}),
    )
    .expect("scan request")
}

/// Junk scans (unknown to the grammar): each records exactly one `scan.recorded` event.
fn junk_scans(st: &Station, prefix: &str, n: usize) -> Vec<Value> {
    let mut ctl = Ctl::new(st.socket());
    (0..n)
        .map(|i| {
            let v = ctl
                .scan("junk", &format!("{prefix}-{i}"))
                .expect("junk scan");
            assert_eq!(v["stored"], true, "{v}");
            assert_eq!(
                v["seq_first"], v["seq_last"],
                "one event per junk scan: {v}"
            );
            v
        })
        .collect()
}

/// The central holds exactly `journal` for `epoch`: same seqs, ids, types, times, actors,
/// return ids and data, in order, each once.
fn assert_central_has(central: &Central, epoch: &str, journal: &[Value]) {
    let got = central.events(epoch);
    assert_same_events(&got, journal);
}

/// Stored events equal journal rows, field by field, in order.
fn assert_same_events(got: &[StoredEvent], journal: &[Value]) {
    for (i, (c, j)) in got.iter().zip(journal).enumerate() {
        let same = json!(c.seq) == j["seq"]
            && json!(c.id) == j["id"]
            && json!(c.ty) == j["type"]
            && json!(c.occurred_at) == j["occurred_at"]
            && json!(c.actor) == j["actor"]
            && json!(c.return_id) == j["return_id"]
            && c.data == j["data"];
        assert!(
            same,
            "event #{i} differs: central {c:?}\nstation {j}",
            i = i + 1
        );
    }
    assert_eq!(
        got.len(),
        journal.len(),
        "the central holds {} events, the station's journal {}",
        got.len(),
        journal.len()
    );
}

/// The central saw no contract breach.
fn assert_no_violations(central: &Central) {
    assert!(
        central.violations().is_empty(),
        "{:?}",
        central.violations()
    );
}

/// The journal's seqs are exactly 1..=len.
fn assert_contiguous(journal: &[Value]) {
    assert_contiguous_from(journal, 1);
}

/// The journal's seqs are exactly first, first + 1, …
fn assert_contiguous_from(journal: &[Value], first: i64) {
    for (i, e) in journal.iter().enumerate() {
        assert_eq!(
            e["seq"],
            json!(first + i as i64),
            "journal seq contiguous from {first}"
        );
    }
}

// ---- 1. effectively once ------------------------------------------------------------------

/// How many requests to `…/events` the proxy handled with an action matching `f`, after
/// the first `skip` requests it logged.
fn event_posts(proxy: &FaultProxy, skip: usize, f: impl Fn(&Action) -> bool) -> usize {
    proxy
        .log()
        .iter()
        .skip(skip)
        .filter(|r| r.target.ends_with("/events") && f(&r.action))
        .count()
}

/// Under every proxy fault, partial acks, a 413, a central restart and repeated kill -9, the
/// central ends with exactly the station's 10,000+ event journal, each event once, in order.
#[test]
fn effectively_once_under_faults_and_kill_9() {
    let mut central = Central::start(CentralOptions::default());
    let proxy = FaultProxy::start(central.addr());
    let st = Station::new(&sync_cfg(&proxy.url(), ""));
    let random = |seed| FaultMode::Random { seed, p_fault: 0.3 };
    let rounds: Vec<FaultMode> = vec![
        random(0x5eed),
        FaultMode::Refuse,
        FaultMode::Status(500),
        FaultMode::ResetAfterUpstream,
        FaultMode::Delay(Duration::from_millis(400)),
        // About 25 ticks for a push answer: past request_timeout_s = 2, after the central
        // has stored the batch.
        FaultMode::SlowDrip {
            bytes_per_tick: 8,
            tick: Duration::from_millis(150),
        },
        random(42),
    ];
    const TARGET: usize = 10_000;
    let quota = TARGET / rounds.len() + 50;
    // seq → the code acknowledged with it.
    let acked: Arc<Mutex<BTreeMap<i64, String>>> = Arc::default();
    let unexpected: Arc<Mutex<Vec<Value>>> = Arc::default();
    let mut epoch: Option<String> = None;
    let mut kills = 0;
    let mut round = 0;
    while round < rounds.len() || acked.lock().unwrap().len() < TARGET {
        assert!(round < 20, "too many rounds");
        let mode = rounds[round % rounds.len()].clone();
        proxy.set(mode.clone());
        let last_round = round == rounds.len() - 1;
        central.set_partial_ack(last_round.then_some(37));
        if last_round {
            central.set_fail_next(1, 413);
        }
        let d = st.start();
        let e = epoch_of(&st);
        assert_eq!(
            epoch.get_or_insert_with(|| e.clone()),
            &e,
            "a restart keeps the epoch"
        );
        let start_acked = acked.lock().unwrap().len();
        let want = start_acked + quota;
        let central_before = central.acked_through(&e);
        let refused_before = proxy.refused();
        let log_before = proxy.log().len();
        // Clients stream at full speed up to the round's quota, then keep streaming slowly
        // while the round's fault plays out.
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..8)
            .map(|t| {
                let socket = st.socket();
                let stop = stop.clone();
                let acked = acked.clone();
                let unexpected = unexpected.clone();
                std::thread::spawn(move || {
                    let mut ctl = Ctl::new(socket);
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let code = format!("LOAD-{round}-{t}-{n}");
                        n += 1;
                        match ctl.scan(&format!("load-{t}"), &code) {
                            Ok(v)
                                if v["stored"] == true
                                    && v["seq_first"].is_i64()
                                    && v["seq_first"] == v["seq_last"] =>
                            {
                                let seq = v["seq_first"].as_i64().unwrap();
                                let mut a = acked.lock().unwrap();
                                let old = a.insert(seq, code);
                                assert!(old.is_none(), "seq {seq} acknowledged twice");
                                if a.len() >= want {
                                    drop(a);
                                    // The pace of a slow stream past the quota (the
                                    // scenario), not a wait for anything.
                                    std::thread::sleep(Duration::from_millis(25));
                                }
                            }
                            Ok(v) => unexpected.lock().unwrap().push(v),
                            // Killed mid-request: this scan was never acknowledged. A
                            // short pause before reconnecting, as a scanner client
                            // retries; the kill or the stop flag ends it.
                            Err(_) => std::thread::sleep(Duration::from_millis(5)),
                        }
                    }
                })
            })
            .collect();
        poll_within(Duration::from_secs(30), "scans to stream", || {
            (acked.lock().unwrap().len() >= start_acked + quota / 2).then_some(())
        });
        if round == 3 {
            // The central itself restarts mid-stream: every kept-alive connection is gone.
            central.restart();
        }
        poll_within(
            Duration::from_secs(30),
            "the round's quota of scans",
            || (acked.lock().unwrap().len() >= want).then_some(()),
        );
        // The round's fault has really hit the push before the kill.
        let posts = |f: fn(&Action) -> bool| event_posts(&proxy, log_before, f);
        let advanced = |n: i64| central.acked_through(&e) >= central_before + n;
        // A deadline, not a pace: with random faults, 37-event acks and backoff a loaded
        // 2-core CI machine has taken over 30 s for the last round, and over 90 s while a
        // build shared its cores.
        poll_within(
            Duration::from_secs(240),
            &format!("{mode:?} to play out"),
            || {
                let hit = match round {
                    0 => advanced(1000),
                    1 => {
                        proxy.refused() - refused_before + posts(|a| *a == Action::Refused) as u64
                            >= 3
                    }
                    2 => posts(|a| *a == Action::Status(500)) >= 3,
                    // The central stores each batch, the station never hears so: no progress.
                    3 => posts(|a| *a == Action::ResetAfterUpstream) >= 3,
                    4 => posts(|a| matches!(a, Action::Delayed(_))) >= 3 && advanced(1),
                    // Answers slower than the request timeout, after the central stored.
                    5 => posts(|a| *a == Action::SlowDrip) >= 2,
                    // Acks of 37 new events at a time, and a 413 that halved the batch.
                    // The proxy's random faults include a reset after the central answered:
                    // when that eats the 413, the station never heard it, so the central
                    // answers a later push 413 again (else the round could never end).
                    6 => {
                        let limit = status(&st)["push"]["batch_limit"].as_u64();
                        if limit == Some(1000) && central.fail_next_pending() == 0 {
                            central.set_fail_next(1, 413);
                        }
                        advanced(200) && limit < Some(1000)
                    }
                    _ => posts(|_| true) >= 3,
                };
                hit.then_some(())
            },
        );
        d.kill9();
        kills += 1;
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("scan client");
        }
        eprintln!(
            "round {round} ({mode:?}): {} acknowledged, central through {}",
            acked.lock().unwrap().len(),
            central.acked_through(&e)
        );
        round += 1;
    }
    assert!(kills >= 4, "the daemon was killed {kills} times");
    let unexpected = unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "unexpected replies: {unexpected:?}");

    // Heal everything and let the station drain.
    let epoch = epoch.expect("epoch");
    proxy.set(FaultMode::Pass);
    central.set_partial_ack(None);
    let d = st.start();
    let last = ping(&st)["last_seq"].as_i64().expect("last_seq");
    central.wait_until(Duration::from_secs(60), "the whole journal", |c| {
        c.acked_through(&epoch) >= last
    });
    let s = poll_within(Duration::from_secs(20), "backlog 0", || {
        let s = cli_status(&st);
        (s["backlog"] == 0).then_some(s)
    });
    assert_eq!(s["acked_through"], last, "{s}");
    assert_eq!(s["epoch"], epoch.as_str());
    let journal = st.journal();
    d.stop();

    assert!(
        journal.len() >= TARGET,
        "the journal holds {} events",
        journal.len()
    );
    assert_eq!(journal.len() as i64, last);
    assert_contiguous(&journal);
    let ids: BTreeSet<&str> = journal.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), journal.len(), "event ids are unique");
    for (seq, code) in acked.lock().unwrap().iter() {
        let e = &journal[*seq as usize - 1];
        assert_eq!(e["type"], "scan.recorded", "seq {seq}");
        assert_eq!(e["data"]["code"], code.as_str(), "seq {seq} is its scan");
    }
    assert_eq!(central.epochs(), vec![epoch.clone()]);
    assert_central_has(&central, &epoch, &journal);
    assert_no_violations(&central);
}

// ---- 2. epochs ----------------------------------------------------------------------------

/// A wiped database gets a new epoch whose seqs start again at 1; the central keeps both
/// epochs apart.
#[test]
fn wiped_database_starts_a_new_epoch() {
    let central = Central::start(CentralOptions::default());
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    let e1 = epoch_of(&st);
    junk_scans(&st, "OLD", 5);
    central.wait_until(Duration::from_secs(20), "epoch 1 synced", |c| {
        c.acked_through(&e1) == 5
    });
    let old = st.journal();
    d.stop();
    std::fs::remove_dir_all(st.state_dir()).expect("delete the state dir");

    let d = st.start();
    let e2 = epoch_of(&st);
    assert_ne!(e1, e2, "a new database has a new epoch");
    junk_scans(&st, "NEW", 3);
    central.wait_until(Duration::from_secs(20), "epoch 2 synced", |c| {
        c.acked_through(&e2) == 3
    });
    let new = st.journal();
    d.stop();

    assert_eq!(new.len(), 3);
    assert_contiguous(&new);
    assert_eq!(central.epochs(), vec![e1.clone(), e2.clone()]);
    assert_central_has(&central, &e1, &old);
    assert_central_has(&central, &e2, &new);
    assert!(
        central
            .events(&e2)
            .iter()
            .all(|e| e.data["code"].as_str().unwrap().starts_with("NEW")),
        "no old event in the new epoch"
    );
    assert_no_violations(&central);
}

// ---- 3. auth ------------------------------------------------------------------------------

/// A refused token keeps every event and shows `auth_failed`; fixing the token file resumes
/// the push without a restart.
#[test]
fn wrong_token_is_alarmed_and_fixed_without_restart() {
    let central = Central::start(CentralOptions::default());
    central.set_token("other");
    let token_file = tempfile::NamedTempFile::new().expect("token file");
    std::fs::write(token_file.path(), format!("{TOKEN}\n")).unwrap();
    let st = Station::new(&format!(
        "\n[sync]\ncentral_url = \"{}\"\nstation_token_file = \"{}\"\nbackoff_cap_s = 1\n\
         slow_retry_s = 1\nrequest_timeout_s = 2\nfeed_poll_s = 1\n",
        central.url(),
        token_file.path().display()
    ));
    let d = st.start();
    let epoch = epoch_of(&st);
    junk_scans(&st, "AUTH", 4);
    let s = poll_within(Duration::from_secs(20), "auth_failed", || {
        let s = status(&st);
        (s["push"]["state"] == "auth_failed").then_some(s)
    });
    let err = s["push"]["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("401"), "the alarm names the refusal: {s}");
    assert_eq!(s["backlog"], 4, "{s}");
    assert_eq!(central.acked_through(&epoch), 0);
    assert_eq!(st.journal().len(), 4, "the events are kept");

    std::fs::write(token_file.path(), "other\n").unwrap();
    central.wait_until(Duration::from_secs(20), "push resumed", |c| {
        c.acked_through(&epoch) == 4
    });
    let s = poll_within(Duration::from_secs(10), "idle and backlog 0", || {
        let s = status(&st);
        (s["backlog"] == 0 && s["push"]["state"] == "idle").then_some(s)
    });
    assert_eq!(s["acked_through"], 4);
    let journal = st.journal();
    d.stop();
    assert_central_has(&central, &epoch, &journal);
    assert_no_violations(&central);
}

// ---- 4. seq conflict ----------------------------------------------------------------------

/// A central holding another id for a seq makes the station stop pushing with a `conflict`
/// alarm while it keeps (and still records) every event.
#[test]
fn seq_conflict_stops_the_push_and_keeps_every_event() {
    let central = Central::start(CentralOptions::default());
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    let epoch = epoch_of(&st);
    // The journal is empty, so nothing was pushed yet: plant a forged seq 1.
    let now = contract_time(chrono::Utc::now());
    let forged = uuid::Uuid::now_v7().to_string();
    let batch = json!({
        "station_id": "ST01", "epoch": epoch, "sent_at": now,
        "events": [{"seq": 1, "id": forged, "type": "scan.recorded", "occurred_at": now,
                    "actor": "system", "return_id": null, "data": {"code": "FORGED"}}],
    });
    let r = http(
        &central.addr().to_string(),
        "POST",
        "/v1/stations/ST01/events",
        &[("Authorization", &format!("Bearer {TOKEN}")), JSON],
        batch.to_string().as_bytes(),
    );
    assert_eq!(
        (r.status, r.json()["acked_through"].clone()),
        (200, json!(1))
    );

    junk_scans(&st, "CONFLICT", 3);
    let s = poll_within(Duration::from_secs(20), "conflict", || {
        let s = status(&st);
        (s["push"]["state"] == "conflict").then_some(s)
    });
    assert!(
        s["push"]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("seq_conflict"),
        "{s}"
    );
    let posts = central.posts();
    // More work is still recorded, and nothing more is pushed: with backoff_cap_s = 1 and
    // slow_retry_s = 1 any retry would land well within this window. The sleep is the
    // window itself (an absence has no signal to wait for), not a wait for a result.
    junk_scans(&st, "AFTER", 2);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(central.posts(), posts, "the station stopped pushing");
    let s = status(&st);
    assert_eq!(s["push"]["state"], "conflict");
    assert_eq!(
        (s["acked_through"].clone(), s["backlog"].clone()),
        (json!(0), json!(5))
    );
    let journal = st.journal();
    d.stop();
    assert_eq!(journal.len(), 5, "every event kept");
    assert_contiguous(&journal);
    let stored = central.events(&epoch);
    assert_eq!(stored.len(), 1, "only the forged event at the central");
    assert_eq!(stored[0].id, forged);
    assert!(
        central
            .violations()
            .iter()
            .all(|v| v.contains("seq_conflict")),
        "{:?}",
        central.violations()
    );
}

// ---- 5. pull endpoints --------------------------------------------------------------------

/// The central's pull endpoints: paging, auth, unknown epoch, the limit cap, and acks that
/// never move the cursor backwards nor past the journal.
#[test]
fn pull_endpoints_follow_the_contract() {
    let st = Station::new("\n[sync]\ncentral_token = \"ct\"\n");
    let d = st.start();
    let p = ping(&st);
    let epoch = p["epoch"].as_str().unwrap().to_string();
    let addr = p["http"].as_str().expect("http address").to_string();
    // 1,005 events: enough to see the 1,000 cap.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let socket = st.socket();
            std::thread::spawn(move || {
                let mut ctl = Ctl::new(socket);
                for i in 0..(if t == 0 { 252 } else { 251 }) {
                    let v = ctl.scan("pull", &format!("PULL-{t}-{i}")).expect("scan");
                    assert_eq!(v["stored"], true, "{v}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let journal = st.journal();
    assert_eq!(journal.len(), 1005);
    let events = |q: &str, token: Option<&str>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", &**a)).collect();
        let r = http(&addr, "GET", &format!("/v1/sync/events?{q}"), &headers, b"");
        (r.status, r.json_or_null())
    };

    let (code, page) = events(&format!("epoch={epoch}&after=0&limit=2"), Some("ct"));
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["station_id"], "ST01");
    assert_eq!(page["epoch"], epoch.as_str());
    assert_eq!(page["last_seq"], 1005);
    assert_eq!(
        page["events"],
        json!(journal[..2]),
        "events 1..2 as journaled"
    );

    let (code, page) = events(&format!("epoch={epoch}&after=1000"), Some("ct"));
    assert_eq!(code, 200);
    assert_eq!(page["events"], json!(journal[1000..]));

    let (code, page) = events(&format!("epoch={epoch}&after=0&limit=5000"), Some("ct"));
    assert_eq!(code, 200);
    assert_eq!(
        page["events"].as_array().unwrap().len(),
        1000,
        "limit capped at 1,000"
    );

    let (code, _) = events(&format!("epoch={epoch}&after=0"), Some("wrong"));
    assert_eq!(code, 401, "wrong token");
    let (code, _) = events(&format!("epoch={epoch}&after=0"), None);
    assert_eq!(code, 401, "no token");
    let other = uuid::Uuid::new_v4();
    let (code, body) = events(&format!("epoch={other}&after=0"), Some("ct"));
    assert_eq!(code, 409, "unknown epoch");
    assert_eq!(body["epoch"], epoch.as_str(), "names the current epoch");

    let ack = |n: i64, e: &str, token: &str| {
        let body = json!({"epoch": e, "acked_through": n}).to_string();
        let auth = format!("Bearer {token}");
        http(
            &addr,
            "POST",
            "/v1/sync/ack",
            &[("Authorization", &auth), JSON],
            body.as_bytes(),
        )
        .status
    };
    assert_eq!(ack(2, &epoch, "wrong"), 401);
    assert_eq!(status(&st)["acked_through"], 0);
    assert_eq!(ack(2, &epoch, "ct"), 204);
    assert_eq!(status(&st)["acked_through"], 2);
    assert_eq!(ack(1, &epoch, "ct"), 204, "an older ack is harmless");
    assert_eq!(
        status(&st)["acked_through"],
        2,
        "the cursor never moves back"
    );
    assert_eq!(ack(1006, &epoch, "ct"), 400, "an ack beyond the last seq");
    assert_eq!(
        ack(5, &other.to_string(), "ct"),
        409,
        "an ack of another epoch"
    );
    let s = cli_status(&st);
    assert_eq!(s["acked_through"], 2, "{s}");
    assert_eq!(s["backlog"], 1003);
    assert_eq!(s["push"]["state"], "disabled", "no central_url: no push");
    d.stop();
}

// ---- 6. feed ------------------------------------------------------------------------------

fn expected(order_no: &str) -> Value {
    json!({
        "kind": "customer_return", "order_no": order_no, "customer_name": "Zhang",
        "customer_phone_tail": "1234", "claimed_reason": "quality", "free_shipping": true,
        "items": [{"sku": "SKU-A", "barcode": "6901234560015", "name": "Kettle", "qty": 1}],
    })
}

/// Feed items are applied as versioned upserts (newer wins, deletes unannounce, malformed
/// items are rejected without stopping the rest), and a feed operator can log in.
#[test]
fn feed_items_are_applied_by_version() {
    let central = Central::start(CentralOptions::default());
    central.publish(
        "expected_return",
        "SF1000000000001",
        1,
        Some(expected("O-1")),
    );
    central.publish(
        "expected_return",
        "SF1000000000002",
        1,
        Some(expected("O-9")),
    );
    central.publish(
        "expected_return",
        "SF1000000000001",
        2,
        Some(expected("O-2")),
    );
    central.publish(
        "expected_return",
        "SF1000000000001",
        1,
        Some(expected("O-STALE")),
    );
    central.publish("expected_return", "SF1000000000002", 2, None);
    central
        .publish_raw(json!({"cursor": "c-x", "type": "expected_return", "key": "SF1000000000003"}));
    let mut bad_kind = expected("O-3");
    bad_kind["kind"] = json!("lost_in_space");
    central.publish("expected_return", "SF1000000000004", 1, Some(bad_kind));
    central.publish(
        "expected_return",
        "SF1000000000005",
        1,
        Some(expected("O-5")),
    );
    let last = central.publish(
        "operator",
        "055",
        1,
        Some(json!({"name": "Feed Keeper", "roles": ["keeper"]})),
    );
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    let s = poll_within(Duration::from_secs(20), "the feed applied", || {
        let s = status(&st);
        (s["feed"]["cursor"] == last.as_str()).then_some(s)
    });
    assert_eq!(s["feed"]["rejected_items"], 2, "{s}");
    assert_eq!(s["feed"]["state"], "idle", "{s}");
    // *(1.1)* Why, not only how many: the reasons, newest first, with what was refused.
    let why = s["feed"]["recent_rejected"].as_array().unwrap().clone();
    assert_eq!(why.len(), 2, "{why:?}");
    let kind = why
        .iter()
        .find(|r| r["key"] == "SF1000000000004")
        .unwrap_or_else(|| panic!("{why:?}"));
    assert!(
        kind["reason"].as_str().unwrap().contains("lost_in_space"),
        "{why:?}"
    );
    assert_eq!(kind["source"], "central");
    assert!(
        why.iter()
            .any(|r| r["reason"].as_str().unwrap().contains("lacks type, key")),
        "{why:?}"
    );
    let text = String::from_utf8_lossy(&st.cli(&["sync", "status"]).stdout).into_owned();
    assert!(
        text.contains("rejected       expected_return SF1000000000004 v1 (central")
            && text.contains("lost_in_space"),
        "sync status names each rejected item and its reason: {text}"
    );

    let unknown = scan_on(&st, "b1", "OP-099");
    assert_eq!(unknown["code"], "unknown_operator", "{unknown}");
    let login = scan_on(&st, "b1", "OP-055");
    assert_eq!(
        (login["ok"].clone(), login["code"].clone()),
        (json!(true), json!("logged_in")),
        "{login}"
    );
    let r = scan_on(&st, "b1", "SF1000000000001");
    assert_eq!(r["code"], "received", "{r}");
    let rid = r["return_id"].as_str().unwrap().to_string();
    assert_eq!(scan_on(&st, "b2", "OP-055")["code"], "logged_in");
    let r = scan_on(&st, "b2", "SF1000000000002");
    assert_eq!(r["code"], "received_unannounced", "deleted: {r}");
    assert_eq!(scan_on(&st, "b3", "OP-055")["code"], "logged_in");
    let r = scan_on(&st, "b3", "SF1000000000005");
    assert_eq!(r["code"], "received", "after a rejected item: {r}");
    let journal = st.journal();
    d.stop();
    let received = journal
        .iter()
        .find(|e| e["type"] == "return.received" && e["return_id"] == rid.as_str())
        .expect("return.received");
    assert_eq!(received["data"]["order_no"], "O-2", "version 2 applies");
    assert_eq!(received["actor"], "keeper:055");
}

/// Count the applied expected returns and read the feed cursor, from the station's database.
fn feed_db(st: &Station) -> (rusqlite::Connection, String) {
    let conn = rusqlite::Connection::open_with_flags(
        st.db(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open station db");
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let cursor: String = conn
        .query_row(
            "SELECT value FROM sync_state WHERE key = 'feed_after'",
            [],
            |r| r.get(0),
        )
        .unwrap_or_default();
    (conn, cursor)
}

/// A daemon killed while it applies a 3,000-item feed resumes from its durable cursor and
/// ends with every item at its latest version.
#[test]
fn feed_resumes_after_kill_9_mid_apply() {
    let central = Central::start(CentralOptions::default());
    let key = |i: usize| format!("SF3{i:012}");
    for i in 0..2500 {
        central.publish(
            "expected_return",
            &key(i),
            1,
            Some(expected(&format!("A-{i}"))),
        );
    }
    for i in 0..300 {
        central.publish(
            "expected_return",
            &key(i),
            2,
            Some(expected(&format!("B-{i}"))),
        );
    }
    let mut last = String::new();
    for i in 300..500 {
        last = central.publish("expected_return", &key(i), 2, None);
    }
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    // Kill as soon as some pages, not all, are applied.
    let at_kill = poll_within(Duration::from_secs(30), "a partly applied feed", || {
        let (_, cursor) = feed_db(&st);
        (!cursor.is_empty() && cursor != "c-000000").then_some(cursor)
    });
    d.kill9();
    eprintln!("killed with the feed cursor at {at_kill} of {last}");
    assert!(
        at_kill < last,
        "killed mid-feed (cursor {at_kill}, last {last})"
    );
    let d = st.start();
    let s = poll_within(Duration::from_secs(30), "the whole feed", || {
        let s = status(&st);
        (s["feed"]["cursor"] == last.as_str()).then_some(s)
    });
    assert_eq!(s["feed"]["rejected_items"], 0);
    d.stop();
    let (conn, cursor) = feed_db(&st);
    assert_eq!(cursor, last, "the stored cursor is the central's last");
    let live: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM feed_items WHERE type='expected_return' AND data IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(live, 2300);
    let mut q = conn
        .prepare(
            "SELECT key, version, json_extract(data, '$.order_no') FROM feed_items
             WHERE type = 'expected_return' ORDER BY key",
        )
        .unwrap();
    let rows: Vec<(String, i64, Option<String>)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2500);
    for (i, (k, v, order)) in rows.iter().enumerate() {
        assert_eq!(k, &key(i));
        let want = match i {
            0..300 => (2, Some(format!("B-{i}"))),
            300..500 => (2, None),
            _ => (1, Some(format!("A-{i}"))),
        };
        assert_eq!((*v, order.clone()), want, "{k}");
    }
}

// ---- 7. photos ----------------------------------------------------------------------------

/// A station whose central is unreachable (its proxy refuses), running, with a PNG of
/// `n` + 8 bytes stored and an inspection that references it; failures an operator must
/// fix are retried every `slow_retry_s`; `storage` lines go in its `[storage]` table.
struct InspectedOffline {
    central: Central,
    proxy: FaultProxy,
    st: Station,
    d: crate::support::Daemon,
    epoch: String,
    png: Vec<u8>,
    sha: String,
    /// The seq of the `inspection.completed` that references the photo.
    inspection_seq: i64,
    /// The photo's file in the station's photo store.
    stored: std::path::PathBuf,
}

fn inspect_a_photo_offline(n: u32, slow_retry_s: u32, storage: &str) -> InspectedOffline {
    let central = Central::start(CentralOptions::default());
    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::Refuse);
    let cfg = sync_cfg(&proxy.url(), "central_token = \"ct\"").replace(
        "slow_retry_s = 1\n",
        &format!("slow_retry_s = {slow_retry_s}\n"),
    );
    assert!(cfg.contains(&format!("\nslow_retry_s = {slow_retry_s}\n")));
    let st = Station::new(&cfg);
    if !storage.is_empty() {
        add_storage_keys(&st, storage);
    }
    let d = st.start();
    let epoch = epoch_of(&st);
    let (png, sha, photo) = add_png(&st, n);
    let out = inspect_with_photo(&st, &photo);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let inspection = st
        .journal()
        .into_iter()
        .find(|e| e["type"] == "inspection.completed")
        .expect("inspection event");
    assert_eq!(inspection["data"]["photos"][0]["sha256"], sha.as_str());
    InspectedOffline {
        inspection_seq: inspection["seq"].as_i64().expect("seq"),
        stored: st
            .state_dir()
            .join("photos")
            .join(&sha[..2])
            .join(format!("{sha}.png")),
        central,
        proxy,
        st,
        d,
        epoch,
        png,
        sha,
    }
}

/// A PNG of `n` + 8 bytes added to the station's photo store with `returnsd photo add`:
/// its bytes, its sha256 and the reference the command printed (`sha:bytes:type`).
fn add_png(st: &Station, n: u32) -> (Vec<u8>, String, String) {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..n).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let file = st.dir.path().join("evidence.png");
    std::fs::write(&file, &png).unwrap();
    let photo = st.cli_ok(&["photo", "add", file.to_str().unwrap()]);
    let photo = photo.trim().to_string();
    let sha = crate::kit::central::sha256_hex(&png);
    assert_eq!(photo, format!("{sha}:{}:image/png", png.len()));
    (png, sha, photo)
}

/// An inspection photo is uploaded (bytes intact) before the event that references it.
#[test]
fn photo_is_uploaded_before_its_inspection_event() {
    let InspectedOffline {
        central,
        proxy,
        st,
        d,
        epoch,
        png,
        sha,
        ..
    } = inspect_a_photo_offline(3000, 1, "");
    let journal = st.journal();

    proxy.set(FaultMode::Pass);
    let last = journal.len() as i64;
    central.wait_until(Duration::from_secs(20), "everything synced", |c| {
        c.acked_through(&epoch) >= last
    });
    d.stop();
    assert_eq!(
        central.blob(&sha),
        Some(("image/png".to_string(), png.clone())),
        "the blob bytes equal the file"
    );
    assert_central_has(&central, &epoch, &journal);
    assert!(
        central.violations().is_empty(),
        "no event referenced a photo before its upload: {:?}",
        central.violations()
    );
    let log = proxy.log();
    let first = |pat: &str| {
        log.iter()
            .position(|r| r.target.contains(pat) && r.action == Action::Forwarded)
            .unwrap_or_else(|| panic!("no forwarded {pat} request: {log:?}"))
    };
    assert!(
        first(&format!("/blobs/{sha}")) < first("/events"),
        "the blob went first: {log:?}"
    );
}

// ---- 8. disk full -------------------------------------------------------------------------

/// Scan from four clients until the station refuses at its disk cap (`storage_cap`); the
/// stored scans by seq (each scan's text without its padding).
fn fill_to_cap(st: &Station) -> BTreeMap<i64, String> {
    // The journal keeps the first 200 characters of a scan; what fills the cap is mostly
    // the WAL (see `wal_does_not_eat_the_disk_cap`).
    let pad = "x".repeat(4000);
    let acked: Arc<Mutex<BTreeMap<i64, String>>> = Arc::default();
    let full = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let socket = st.socket();
            let acked = acked.clone();
            let full = full.clone();
            let pad = pad.clone();
            std::thread::spawn(move || {
                let mut ctl = Ctl::new(socket);
                for n in 0..20_000 {
                    let code = format!("FILL-{t}-{n}-{pad}");
                    let v = ctl.scan(&format!("fill-{t}"), &code).expect("scan");
                    if v["stored"] == true {
                        let seq = v["seq_first"].as_i64().expect("seq");
                        acked
                            .lock()
                            .unwrap()
                            .insert(seq, code[..code.len() - pad.len()].into());
                    } else {
                        assert_eq!(v["code"], "storage_cap", "{v}");
                        full.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
                panic!("the disk cap was never reached");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("fill client");
    }
    assert!(full.load(Ordering::Relaxed) >= 1);
    acked.lock().unwrap().clone()
}

/// At the disk cap the station refuses new scans (NOT SAVED) without losing any stored
/// event; once the central acknowledges and retention prunes, it accepts scans again.
#[test]
fn disk_cap_refuses_new_work_then_recovers_after_sync() {
    let central = Central::start(CentralOptions::default());
    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::Refuse);
    let st = Station::new(&sync_cfg(&proxy.url(), "retention_days = 0"));
    add_storage_keys(&st, "cap_mb = 16\nmaintenance_interval_s = 1");
    let d = st.start();
    let epoch = epoch_of(&st);
    let acked = fill_to_cap(&st);
    let s = status(&st);
    assert_eq!(s["disk"]["full"], true, "{s}");
    assert!(s["disk"]["refused_inputs"].as_u64().unwrap() >= 1, "{s}");
    let refused = scan_on(&st, "late", "LATE-0");
    assert_eq!(
        (refused["stored"].clone(), refused["code"].clone()),
        (json!(false), json!("storage_cap")),
        "{refused}"
    );
    // Nothing stored was lost.
    let before = st.journal();
    assert_contiguous(&before);
    assert!(acked.len() > 1000, "{} scans stored", acked.len());
    eprintln!(
        "disk cap reached after {} stored scans: {}",
        acked.len(),
        s["disk"]
    );
    for (seq, prefix) in &acked {
        let e = &before[*seq as usize - 1];
        assert!(
            e["data"]["code"]
                .as_str()
                .unwrap()
                .starts_with(prefix.as_str()),
            "seq {seq} holds scan {prefix}"
        );
    }
    assert_eq!(central.acked_through(&epoch), 0, "nothing synced yet");

    proxy.set(FaultMode::Pass);
    let mut n = 0;
    let accepted = try_poll(Duration::from_secs(60), PROBE_EVERY, || {
        n += 1;
        let v = scan_on(&st, "late", &format!("LATE-{n}"));
        if v["stored"] == true {
            return Some(v);
        }
        assert_eq!(v["code"], "storage_cap", "{v}");
        None
    })
    .expect("a scan accepted again within 60 s");
    assert_eq!(accepted["seq_first"], before.len() as i64 + 1, "{accepted}");
    let s = status(&st);
    eprintln!("accepting again after {n} tries: {}", s["disk"]);
    assert_eq!(s["disk"]["full"], false, "{s}");
    // Room may come back first from the WAL shrinking after the sync; the acknowledged
    // events are pruned by the next maintenance pass (every second here) either way.
    poll_within(
        Duration::from_secs(30),
        "acknowledged events pruned",
        || {
            let s = status(&st);
            (s["disk"]["pruned_events"].as_u64().unwrap_or(0) > 0).then_some(())
        },
    );
    let last = accepted["seq_last"].as_i64().unwrap();
    central.wait_until(Duration::from_secs(30), "all synced", |c| {
        c.acked_through(&epoch) >= last
    });
    d.stop();
    // Every event stored before the cap is at the central, exactly.
    let at_central = central.events(&epoch);
    assert!(at_central.len() as i64 >= last);
    assert_same_events(&at_central[..before.len()], &before);
    // What is left on the station is the unpruned tail, unchanged. With retention 0 the
    // maintenance task may already have pruned everything the central acknowledged, so
    // the tail may be empty; the pruned prefix then ends at the last seq.
    let remaining = st.journal();
    let first = remaining
        .first()
        .map(|e| e["seq"].as_i64().unwrap())
        .unwrap_or(last + 1);
    assert!(first > 1, "a prefix was pruned");
    assert_contiguous_from(&remaining, first);
    for e in &remaining {
        let seq = e["seq"].as_i64().unwrap() as usize;
        if seq <= before.len() {
            assert_eq!(e, &before[seq - 1]);
        }
    }
    let out = st.cli(&["journal", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "seq 1..{} pruned after the central acknowledged them",
            first - 1
        )),
        "verify reports the pruned prefix: {text}"
    );
    assert_no_violations(&central);
}

// ---- more of the contract -----------------------------------------------------------------

/// A central restored from an older backup answers 409 with its lower `acked_through`; the
/// station resends from there and the central ends with the whole journal again.
#[test]
fn central_restored_from_backup_gets_the_gap_resent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db");
    let backup = dir.path().join("backup.db");
    let opts = || CentralOptions {
        db_path: Some(db.clone()),
        ..CentralOptions::default()
    };
    let central = Central::start(opts());
    let proxy = FaultProxy::start(central.addr());
    let st = Station::new(&sync_cfg(&proxy.url(), ""));
    let d = st.start();
    let epoch = epoch_of(&st);
    junk_scans(&st, "BACKED-UP", 5);
    central.wait_until(Duration::from_secs(20), "5 synced", |c| {
        c.acked_through(&epoch) == 5
    });
    drop(central); // closes its database (checkpointed)
    std::fs::copy(&db, &backup).expect("back up the central");
    let central = Central::start(opts());
    proxy.set_upstream(central.addr());
    junk_scans(&st, "LOST", 3);
    central.wait_until(Duration::from_secs(20), "8 synced", |c| {
        c.acked_through(&epoch) == 8
    });
    poll_within(Duration::from_secs(10), "the station's cursor at 8", || {
        (status(&st)["acked_through"] == 8).then_some(())
    });
    drop(central);
    std::fs::copy(&backup, &db).expect("restore the central");
    let central = Central::start(opts());
    assert_eq!(central.acked_through(&epoch), 5, "restored to the backup");
    proxy.set_upstream(central.addr());
    junk_scans(&st, "AFTER-RESTORE", 2);
    central.wait_until(Duration::from_secs(20), "the gap resent", |c| {
        c.acked_through(&epoch) == 10
    });
    let journal = st.journal();
    d.stop();
    assert_central_has(&central, &epoch, &journal);
    assert_no_violations(&central);
}

/// A station with `events` events in its journal, pushing in batches of at most `batch`
/// through a proxy that refuses every connection until the test lets it pass: the whole
/// backlog waits. `start` starts its daemon (with whatever test hook the test needs).
struct Backlog {
    central: Central,
    proxy: FaultProxy,
    st: Station,
    d: crate::kit::daemon::Daemon,
    epoch: String,
}

fn backlog(
    events: i64,
    batch: i64,
    start: impl FnOnce(&Station) -> crate::kit::daemon::Daemon,
) -> Backlog {
    let central = Central::start(CentralOptions::default());
    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::Refuse);
    let st = Station::new(&sync_cfg(
        &proxy.url(),
        &format!("batch_max_events = {batch}"),
    ));
    let d = start(&st);
    let epoch = epoch_of(&st);
    junk_scans(&st, "BACKLOG", events as usize);
    Backlog {
        central,
        proxy,
        st,
        d,
        epoch,
    }
}

/// Stop the daemon; its journal holds `events` events and the central each of them once,
/// in order, field for field, with no contract violation.
fn stop_holding_once(
    central: &Central,
    epoch: &str,
    st: &Station,
    d: crate::kit::daemon::Daemon,
    events: i64,
) {
    let journal = st.journal();
    d.stop();
    assert_eq!(journal.len() as i64, events);
    assert_central_has(central, epoch, &journal);
    assert_no_violations(central);
}

/// The push reads the window after the batch in flight while it is in flight (issue "A
/// year on the floor": pipelining). A backlog of 1,000 events drains in batches of 50, and
/// every batch after the first was read ahead (`/metrics`); the central holds each event
/// once, in order, field for field.
#[test]
fn a_backlog_drains_with_each_next_batch_read_while_one_is_in_flight() {
    const EVENTS: i64 = 1000;
    const BATCH: i64 = 50;
    let Backlog {
        central,
        proxy,
        st,
        d,
        epoch,
    } = backlog(EVENTS, BATCH, |st| st.start());
    let addr = crate::api_client::addr(&d);
    let read_ahead = || {
        let text = http(&addr, "GET", "/metrics", &[], b"").text();
        crate::metrics::metric(&text, "returnsd_sync_push_read_ahead_batches_total") as u64
    };
    assert_eq!(read_ahead(), 0, "nothing was acknowledged yet");
    proxy.set(FaultMode::Pass);
    central.wait_until(Duration::from_secs(60), "the backlog", |c| {
        c.acked_through(&epoch) == EVENTS
    });
    let used = read_ahead();
    // 20 batches: the first is read after the central came back, each later one while
    // the one before it was in flight.
    assert_eq!(
        used,
        (EVENTS / BATCH - 1) as u64,
        "batches sent from a read-ahead"
    );
    stop_holding_once(&central, &epoch, &st, d, EVENTS);
}

/// The next batch goes out while the engine records the ack of the one before it (issue
/// "A year on the floor": pipelining). The writer is made to stand still (the test-only
/// wedge) once a backlog of three batches is in the journal: the central still receives
/// the second batch — which waits on nothing the engine does — while the first batch's
/// ack cannot be committed. Once the writer moves again every batch is acknowledged and
/// the station's durable cursor reaches the last seq; the central holds each event once.
#[test]
fn the_next_batch_goes_out_while_the_ack_before_it_is_recorded() {
    const EVENTS: i64 = 150;
    const BATCH: i64 = 50;
    let Backlog {
        central,
        proxy,
        st,
        d,
        epoch,
    } = backlog(EVENTS, BATCH, |st| {
        let wedge = st.dir.path().join("wedge");
        st.start_with_env("RETURNSD_TEST_WEDGE_WRITER", wedge.to_str().unwrap())
    });
    let wedge = st.dir.path().join("wedge");
    std::fs::write(&wedge, b"").unwrap();
    proxy.set(FaultMode::Pass);
    central.wait_until(
        Duration::from_secs(30),
        "the second batch while the writer stands still",
        |c| c.acked_through(&epoch) >= 2 * BATCH,
    );
    assert_eq!(
        status(&st)["acked_through"],
        json!(0),
        "no ack could be recorded while the writer stood still"
    );
    std::fs::remove_file(&wedge).unwrap();
    central.wait_until(Duration::from_secs(30), "the backlog", |c| {
        c.acked_through(&epoch) == EVENTS
    });
    poll_within(Duration::from_secs(30), "the last ack recorded", || {
        (status(&st)["acked_through"] == json!(EVENTS)).then_some(())
    });
    stop_holding_once(&central, &epoch, &st, d, EVENTS);
}

/// *(1.1)* The central deletes a feed operator, or changes their PIN: every API session
/// they hold ends at once, and so does a bench login by badge scan (the bench's parcel
/// released, the operator logged out by the station); a change of name alone ends nothing.
#[test]
fn feed_operator_changes_end_their_sessions() {
    use super::api_client::{addr, get, login, phc};
    let central = Central::start(CentralOptions::default());
    let op =
        |name: &str, pin: &str| json!({"name": name, "roles": ["inspector"], "pin_hash": phc(pin)});
    let first = op("Feed Inspector", "6161");
    central.publish("operator", "061", 1, Some(first.clone()));
    let last = central.publish("operator", "062", 1, Some(op("Other", "6262")));
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    let applied = |cursor: String| {
        poll_within(Duration::from_secs(20), "the feed applied", || {
            (status(&st)["feed"]["cursor"] == cursor.as_str()).then_some(())
        })
    };
    applied(last);
    let a = addr(&d);
    let s61 = login(&a, "061", "6161");
    let s62 = login(&a, "062", "6262");
    // 062 also logs in at a bench by badge scan and opens a parcel there.
    let opened = crate::support::scan_ok(&st, &["OP-062", "SF1000000000041"]);
    let parcel = opened[1]["return_id"].as_str().unwrap().to_string();
    // A new name only (the same PIN hash): sessions stay.
    let mut renamed = first;
    renamed["name"] = json!("Renamed");
    let c = central.publish("operator", "061", 2, Some(renamed));
    applied(c);
    assert_eq!(
        get(&a, &s61, "/api/v1/me").status,
        200,
        "a rename ends nothing"
    );
    // A new PIN for 061, and 062 deleted: both sessions end.
    central.publish("operator", "061", 3, Some(op("Renamed", "9999")));
    let c = central.publish("operator", "062", 2, None);
    applied(c);
    poll_within(Duration::from_secs(10), "the sessions ended", || {
        (get(&a, &s61, "/api/v1/me").status == 401 && get(&a, &s62, "/api/v1/me").status == 401)
            .then_some(())
    });
    assert!(
        !login(&a, "061", "9999").token.is_empty(),
        "the new PIN works"
    );
    // The bench login ended with the page too (contract 1.1 § 6.5), as the station's own
    // act: the parcel released, 062 logged out; the bench asks for a login again.
    let out = st.events("operator.logged_out");
    let ended = out
        .iter()
        .find(|e| e["data"]["badge"] == "062")
        .unwrap_or_else(|| panic!("062 logged out at the bench: {out:?}"));
    assert_eq!(ended["actor"], "system", "{ended}");
    let released = st.events("bench.return_released");
    assert!(
        released
            .iter()
            .any(|e| e["return_id"] == parcel.as_str() && e["actor"] == "system"),
        "{released:?}"
    );
    let after = crate::support::scan(&st, &["SF1000000000042"]);
    assert_eq!(after[0]["code"], "login_required", "{after:?}");
    d.stop();
}

/// A central clock far from the station's raises the clock alarm; events keep the
/// station's own time.
#[test]
fn clock_offset_is_alarmed() {
    let central = Central::start(CentralOptions::default());
    central.set_server_time_offset(chrono::Duration::seconds(300));
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    let epoch = epoch_of(&st);
    let before = chrono::Utc::now();
    junk_scans(&st, "CLOCK", 2);
    central.wait_until(Duration::from_secs(20), "synced", |c| {
        c.acked_through(&epoch) == 2
    });
    let s = poll_within(Duration::from_secs(10), "the clock alarm", || {
        let s = status(&st);
        (s["clock_alarm"] == true).then_some(s)
    });
    let offset = s["clock_offset_ms"].as_i64().expect("offset");
    assert!((295_000..=305_000).contains(&offset), "{s}");
    d.stop();
    for e in central.events(&epoch) {
        let at = chrono::DateTime::parse_from_rfc3339(&e.occurred_at).unwrap();
        let skew = (at.with_timezone(&chrono::Utc) - before).num_seconds();
        assert!(
            (-5..=60).contains(&skew),
            "station time kept: {}",
            e.occurred_at
        );
    }
}

/// *(1.1)* A station with nothing to push learns its clock offset from the feed's
/// `server_time`, and the alarm fires all the same.
#[test]
fn clock_offset_is_measured_from_the_feed_too() {
    let central = Central::start(CentralOptions::default());
    central.set_server_time_offset(chrono::Duration::seconds(-400));
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    let s = poll_within(
        Duration::from_secs(20),
        "the clock alarm from the feed",
        || {
            let s = status(&st);
            (s["clock_alarm"] == true).then_some(s)
        },
    );
    let offset = s["clock_offset_ms"].as_i64().expect("offset");
    assert!((-405_000..=-395_000).contains(&offset), "{s}");
    assert_eq!(
        central.pushes().len(),
        0,
        "nothing was pushed: the feed alone measured it"
    );
    d.stop();
}

// ---- bugs found (ignored until fixed) -----------------------------------------------------

/// 8 clients scan `per_client` small junk codes each as fast as they can (refusals are
/// allowed); returns how many were stored.
fn burst(st: &Station, per_client: usize) -> usize {
    let stored = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|t| {
            let socket = st.socket();
            let stored = stored.clone();
            std::thread::spawn(move || {
                let mut ctl = Ctl::new(socket);
                for n in 0..per_client {
                    let v = ctl.scan(&format!("burst-{t}"), &format!("BURST-{t}-{n}"));
                    let v = v.expect("scan");
                    if v["stored"] == true {
                        stored.fetch_add(1, Ordering::Relaxed);
                    } else {
                        assert_eq!(v["code"], "storage_cap", "{v}");
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("burst client");
    }
    stored.load(Ordering::Relaxed)
}

/// Bytes the station's database really holds (pages in use), read-only.
fn live_db_bytes(st: &Station) -> i64 {
    let (conn, _) = feed_db(st);
    let q = |p: &str| -> i64 { conn.query_row(p, [], |r| r.get(0)).unwrap() };
    (q("PRAGMA page_count") - q("PRAGMA freelist_count")) * q("PRAGMA page_size")
}

/// A station whose journal uses a small part of its disk cap is not "full": after a burst
/// it accepts work again (the WAL must not eat the cap).
#[test]
fn wal_does_not_eat_the_disk_cap() {
    let st = Station::new("");
    add_storage_keys(&st, "cap_mb = 16\nmaintenance_interval_s = 1");
    let d = st.start();
    // About 2 MiB of journal: an eighth of the cap.
    let stored = burst(&st, 750);
    let live = live_db_bytes(&st);
    let wal = std::fs::metadata(st.state_dir().join("returnsd.db-wal")).map_or(0, |m| m.len());
    let s = status(&st);
    eprintln!(
        "after the burst: {stored} stored, database {live} bytes in use, WAL file {wal} bytes, {}",
        s["disk"]
    );
    assert!(live < 4 << 20, "the journal itself is small: {live} bytes");
    let mut n = 0;
    try_poll(Duration::from_secs(15), PROBE_EVERY, || {
        n += 1;
        let v = scan_on(&st, "after", &format!("AFTER-BURST-{n}"));
        (v["stored"] == true).then_some(())
    })
    .expect("a scan accepted after the burst within 15 s");
    let s = status(&st);
    assert!(
        s["disk"]["used_bytes"].as_u64().unwrap() < 8 << 20,
        "usage is back near the data size: {s}"
    );
    d.stop();
}

/// The central answers 413 to every push, even one event: the station alarms and retries
/// slowly instead of hammering the central in a tight loop.
#[test]
fn persistent_413_is_retried_slowly_with_an_alarm() {
    let central = Central::start(CentralOptions::default());
    central.set_fail_next(1_000_000_000, 413);
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    junk_scans(&st, "TOO-LARGE", 3);
    poll_within(
        Duration::from_secs(10),
        "the batch halved down to 1",
        || (status(&st)["push"]["batch_limit"] == 1).then_some(()),
    );
    let before = central.posts();
    // With slow_retry_s = 1 and backoff_cap_s = 1, a paced station makes a handful of
    // attempts in this window. The sleep is the window the rate is counted over, not a
    // wait for a result.
    std::thread::sleep(Duration::from_secs(2));
    let posts = central.posts() - before;
    let s = status(&st);
    d.stop();
    assert!(posts <= 6, "{posts} pushes in 2 s");
    assert!(
        s["push"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("413")),
        "the 413 is alarmed: {s}"
    );
    assert_eq!(s["backlog"], 3, "events kept: {s}");
}

/// An inspection naming a photo the station does not hold must not stall the push: every
/// event the station keeps still reaches the central, without contract breaches.
#[test]
fn photo_not_in_the_store_does_not_stall_the_push() {
    let central = Central::start(CentralOptions::default());
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    let epoch = epoch_of(&st);
    let out = inspect_with_photo(&st, &format!("{}:2048:image/jpeg", "a".repeat(64)));
    eprintln!("inspect: {}", String::from_utf8_lossy(&out.stdout));
    junk_scans(&st, "LATER", 3);
    let last = ping(&st)["last_seq"].as_i64().unwrap();
    central.wait_until(Duration::from_secs(10), "every kept event", |c| {
        c.acked_through(&epoch) >= last
    });
    let journal = st.journal();
    d.stop();
    assert_central_has(&central, &epoch, &journal);
    assert_no_violations(&central);
}

/// An inspection's photo reference must match the stored photo's size and type; the
/// central must never receive metadata that disagrees with the blob.
#[test]
fn photo_reference_matches_the_stored_photo() {
    let central = Central::start(CentralOptions::default());
    let st = Station::new(&sync_cfg(&central.url(), ""));
    let d = st.start();
    let epoch = epoch_of(&st);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend([7u8; 500]);
    let file = st.dir.path().join("p.png");
    std::fs::write(&file, &png).unwrap();
    let out = st.cli(&["photo", "add", file.to_str().unwrap()]);
    assert!(out.status.success());
    let sha = crate::kit::central::sha256_hex(&png);
    let out = inspect_with_photo(&st, &format!("{sha}:999:image/jpeg"));
    eprintln!("inspect: {}", String::from_utf8_lossy(&out.stdout));
    let last = ping(&st)["last_seq"].as_i64().unwrap();
    central.wait_until(Duration::from_secs(10), "every kept event", |c| {
        c.acked_through(&epoch) >= last
    });
    d.stop();
    assert_no_violations(&central);
}

// ---- contract 1.1: a lost photo ----------------------------------------------------------

/// How the station's copy of a photo is lost.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Loss {
    Deleted,
    Corrupted,
}

/// `returnsd photo-lost sha --badge badge --reason reason` answers ERR (exit 1) saying
/// `says`.
fn photo_lost_refused(st: &Station, sha: &str, badge: &str, reason: &str, says: &str) {
    let out = st.cli(&["photo-lost", sha, "--badge", badge, "--reason", reason]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "refused: {text}");
    assert!(text.contains(says), "{text}");
}

/// A stored photo referenced by an inspection is lost (`loss`) before the central is
/// reachable: the push is held back with an alarm naming the photo, its event and the
/// supervisor's command; a keeper may not acknowledge the loss, a supervisor does
/// (`photo.lost`); then every event reaches the central exactly once, the inspection with
/// its photo marked `"lost": true` and before the `photo.lost` event, no blob, no
/// contract violation. The slow retry is a minute: the acknowledgement itself must wake
/// the held push.
fn lost_photo_unblocks_the_uplink(loss: Loss) {
    let InspectedOffline {
        central,
        proxy,
        st,
        d,
        epoch,
        sha,
        inspection_seq,
        stored,
        ..
    } = inspect_a_photo_offline(2000, 60, "");
    junk_scans(&st, "AFTER-INSPECTION", 2);
    match loss {
        Loss::Deleted => std::fs::remove_file(&stored).expect("delete the stored photo"),
        Loss::Corrupted => std::fs::write(&stored, b"\x89PNG\r\n\x1a\nbit rot").unwrap(),
    }

    // Nothing the station can do alone: the push is held back, the photo named.
    let unknown = "c".repeat(64);
    photo_lost_refused(
        &st,
        &unknown,
        "001",
        "x",
        "No event waiting for the central",
    );
    proxy.set(FaultMode::Pass);
    let problem = if loss == Loss::Deleted {
        "missing"
    } else {
        "damaged"
    };
    let held = poll_within(Duration::from_secs(20), "the photo alarm", || {
        let s = cli_status(&st);
        (s["push"]["blocked_photo"]["sha256"] == sha.as_str()).then_some(s)
    });
    let blocked = &held["push"]["blocked_photo"];
    assert_eq!(blocked["seq"], inspection_seq, "{held}");
    assert_eq!(blocked["problem"], problem, "{held}");
    assert_eq!(blocked["sha256_prefix"], &sha[..12], "{held}");
    assert_eq!(held["push"]["state"], "rejected", "{held}");
    assert!(
        central.acked_through(&epoch) < inspection_seq,
        "nothing from the inspection on reached the central"
    );
    let text = st.cli_ok(&["sync", "status"]);
    assert!(
        text.contains(&format!("Photo {}…", &sha[..12]))
            && text.contains(&format!("events from seq {inspection_seq} are held"))
            && text.contains(&format!("returnsd photo-lost {sha}")),
        "{text}"
    );
    let socket = status(&st);
    assert_eq!(socket["push"]["blocked_photo"]["sha256"], sha.as_str());

    // A keeper may not; a reason is required; a supervisor may.
    photo_lost_refused(&st, &sha, "017", "gone", "may not acknowledge a lost photo");
    photo_lost_refused(&st, &sha, "001", " ", "A reason is required");
    assert!(
        st.journal().iter().all(|e| e["type"] != "photo.lost"),
        "refusals journal nothing"
    );
    let said = st.cli_ok(&[
        "photo-lost",
        &sha,
        "--badge",
        "001",
        "--reason",
        "photo file lost on the station",
    ]);
    assert!(said.contains("acknowledged as lost"), "{said}");
    let last = ping(&st)["last_seq"].as_i64().unwrap();
    central.wait_until(Duration::from_secs(20), "every event acked", |c| {
        c.acked_through(&epoch) >= last
    });
    poll_within(Duration::from_secs(10), "the alarm cleared", || {
        cli_status(&st)["push"]["blocked_photo"]
            .is_null()
            .then_some(())
    });
    photo_lost_refused(&st, &sha, "001", "again", "already acknowledged as lost");
    let journal = st.journal();
    // A central that pulls reads the same marked events.
    let addr = ping(&st)["http"]
        .as_str()
        .expect("http address")
        .to_string();
    let pulled = http(
        &addr,
        "GET",
        &format!("/v1/sync/events?epoch={epoch}&after=0&limit=1000"),
        &[("Authorization", "Bearer ct")],
        b"",
    )
    .json();
    d.stop();

    // What the central holds: the journal, the inspection's photo marked lost, once each.
    let lost_at = journal
        .iter()
        .find(|e| e["type"] == "photo.lost")
        .expect("photo.lost journaled");
    assert_eq!(
        lost_at["data"],
        json!({"sha256": sha, "reason": "photo file lost on the station"})
    );
    assert_eq!(lost_at["actor"], "supervisor:001");
    assert!(lost_at["seq"].as_i64().unwrap() > inspection_seq);
    let mut expected = journal.clone();
    for e in &mut expected {
        if e["seq"] == inspection_seq {
            e["data"]["photos"][0]["lost"] = json!(true);
        }
    }
    assert_central_has(&central, &epoch, &expected);
    assert_eq!(pulled["events"], json!(expected), "the pull marks it too");
    assert_eq!(central.blob(&sha), None, "no blob: it was lost");
    assert_no_violations(&central);
}

#[test]
fn a_lost_photo_acknowledged_by_a_supervisor_unblocks_the_uplink() {
    lost_photo_unblocks_the_uplink(Loss::Deleted);
}

#[test]
fn a_damaged_photo_acknowledged_by_a_supervisor_unblocks_the_uplink() {
    lost_photo_unblocks_the_uplink(Loss::Corrupted);
}

/// At the disk cap, where scans are refused, a supervisor can still acknowledge a lost
/// photo: the push it holds back is what would free the space. Then everything reaches
/// the central, the photo marked lost.
#[test]
fn a_lost_photo_is_acknowledged_at_the_disk_cap() {
    let InspectedOffline {
        central,
        proxy,
        st,
        d,
        epoch,
        sha,
        inspection_seq,
        stored,
        ..
    } = inspect_a_photo_offline(500, 60, "cap_mb = 16");
    std::fs::remove_file(&stored).expect("delete the stored photo");
    poll_within(Duration::from_secs(20), "the photo alarm", || {
        (status(&st)["push"]["blocked_photo"]["sha256"] == sha.as_str()).then_some(())
    });
    fill_to_cap(&st);
    let refused = scan_on(&st, "late", "LATE-0");
    assert_eq!(refused["code"], "storage_cap", "{refused}");
    let said = st.cli_ok(&[
        "photo-lost",
        &sha,
        "--badge",
        "001",
        "--reason",
        "lost while the disk was full",
    ]);
    assert!(said.contains("acknowledged as lost"), "{said}");
    proxy.set(FaultMode::Pass);
    let last = ping(&st)["last_seq"].as_i64().unwrap();
    central.wait_until(Duration::from_secs(60), "every event acked", |c| {
        c.acked_through(&epoch) >= last
    });
    d.stop();
    let events = central.events(&epoch);
    let inspection = &events[inspection_seq as usize - 1];
    assert_eq!(inspection.data["photos"][0]["lost"], true, "{inspection:?}");
    assert_eq!(events[last as usize - 1].ty, "photo.lost");
    assert_no_violations(&central);
}
