//! The system clock stepping backwards and forwards by hours while the station works, as
//! it does on a floor PC whose NTP comes back after days, or whose battery-less clock
//! starts in the past. The daemon runs under libfaketime (`apt install faketime`, installed
//! by `tests/run-all.sh`), its wall clock moved through a file it re-reads on every call;
//! its monotonic clock is left alone, as the kernel leaves it on a real step.
//!
//! The station must keep: seq in the order scans were acknowledged, whatever the wall
//! clock says; return numbers never given twice (the day's numbering comes from what is
//! stored, not from memory or the time); timers that are not fooled (the SLA age never
//! negative when a return seems received in the future; the uplink keeps pushing after
//! each step); and the clock alarm, since the central's clock disagrees.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use crate::api_client::{get, login};
use crate::kit::central::{Central, CentralOptions};
use crate::kit::control::Ctl;
use crate::support::{
    Daemon, Launch, Station, TO_THE_QUEUE, assert_journal_verifies, poll_within, request,
};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The file libfaketime reads the daemon's wall-clock offset from.
struct FakeClock(PathBuf);

impl FakeClock {
    /// Step the daemon's wall clock so that it reads `at` now (it ticks on from there).
    fn set(&self, at: DateTime<Utc>) {
        let offset = (at - Utc::now()).num_seconds();
        std::fs::write(&self.0, format!("{offset:+}\n")).unwrap();
    }
}

fn utc(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap()
}

fn start(st: &Station, clock: &FakeClock) -> Daemon {
    Launch::new(&st.config, &st.socket())
        .env("LD_PRELOAD", LIBFAKETIME)
        .env("FAKETIME_TIMESTAMP_FILE", clock.0.to_str().unwrap())
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .start()
}

/// One parcel to the inspection queue on `bench`; every answer's seq appended to `seqs`.
/// Its return id.
fn parcel(ctl: &mut Ctl, waybill: &str, seqs: &mut Vec<i64>) -> String {
    let mut id = String::new();
    for code in std::iter::once(waybill).chain(TO_THE_QUEUE) {
        let v = ctl.scan("bench-1", code).expect("scan");
        assert!(v["ok"] == true && v["stored"] == true, "{code}: {v}");
        seqs.push(v["seq_last"].as_i64().expect("seq"));
        if code == waybill {
            id = v["return_id"].as_str().expect("return id").to_string();
        }
    }
    id
}

/// The daemon's view of time, through the API's inspection queue: every row's SLA age.
fn queue_ages(addr: &str) -> Vec<(String, f64)> {
    let inspector = login(addr, "021", "2222");
    let q = get(addr, &inspector, "/api/v1/inspection-queue?limit=200").json();
    q["items"]
        .as_array()
        .expect("queue items")
        .iter()
        .map(|r| {
            (
                r["return_id"].as_str().unwrap().to_string(),
                r["sla_age_h"].as_f64().expect("sla_age_h"),
            )
        })
        .collect()
}

#[test]
fn clock_steps_keep_seq_order_numbering_and_sane_timers() {
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing: run tests/run-all.sh (it installs the faketime package)"
    );
    let central = Central::start(CentralOptions::default());
    let st = crate::api_client::station("");
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    text.push_str(&format!(
        "\n[sync]\ncentral_url = \"{}\"\nstation_token = \"station-token\"\nbackoff_cap_s = 1\n\
         slow_retry_s = 1\nrequest_timeout_s = 2\nfeed_poll_s = 1\n",
        central.url()
    ));
    std::fs::write(&st.config, text).unwrap();
    let clock = FakeClock(st.dir.path().join("faketime"));
    // 12:00 in Shanghai (the station's default zone) on 10 December.
    clock.set(utc(10, 4));
    let d = start(&st, &clock);
    let mut ctl = Ctl::new(st.socket());
    let mut seqs = Vec::new();
    let login = ctl.scan("bench-1", "OP-017").unwrap();
    assert_eq!(login["ok"], true, "{login}");
    let mut ids = Vec::new();
    let mut n = 0;
    let mut parcels = |ctl: &mut Ctl, seqs: &mut Vec<i64>, k: usize| {
        (0..k)
            .map(|_| {
                n += 1;
                parcel(ctl, &format!("SF{:013}", 7_000_000_000_000_u64 + n), seqs)
            })
            .collect::<Vec<_>>()
    };
    ids.extend(parcels(&mut ctl, &mut seqs, 3));
    // Back a day and an hour: 11:00 on the 9th.
    clock.set(utc(9, 3));
    ids.extend(parcels(&mut ctl, &mut seqs, 2));
    // Forward again, but to the morning of the 10th, before the first parcels.
    clock.set(utc(10, 1));
    ids.extend(parcels(&mut ctl, &mut seqs, 2));
    // Forward eight hours.
    clock.set(utc(10, 9));
    ids.extend(parcels(&mut ctl, &mut seqs, 1));
    let addr = request(&st.socket(), &json!({"op": "ping"})).unwrap()["http"]
        .as_str()
        .unwrap()
        .to_string();
    // Back to 10:00 on the 10th: the last parcel now seems received in the future.
    clock.set(utc(10, 2));
    let ages = queue_ages(&addr);
    assert_eq!(ages.len(), ids.len(), "{ages:?}");
    for (id, age) in &ages {
        assert!(*age >= 0.0, "{id}: SLA age {age} h is negative");
    }
    // A restart with the clock still behind: numbering comes from the stored returns.
    d.stop();
    let d = start(&st, &clock);
    let mut ctl = Ctl::new(st.socket());
    assert_eq!(ctl.scan("bench-1", "OP-017").unwrap()["ok"], true);
    ids.extend(parcels(&mut ctl, &mut seqs, 1));

    let expected = [
        "20261210-0001",
        "20261210-0002",
        "20261210-0003",
        "20261209-0001",
        "20261209-0002",
        "20261210-0004",
        "20261210-0005",
        "20261210-0006",
        "20261210-0007",
    ]
    .map(|s| format!("R-ST01-{s}"));
    assert_eq!(
        ids, expected,
        "return numbers by the station's day, never reused"
    );
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "seq follows the order of acknowledgement: {seqs:?}"
    );

    // The central's clock (the real one) is a week behind the station's: the alarm fires,
    // and the uplink, whose timers are monotonic, kept pushing through every step.
    let epoch = request(&st.socket(), &json!({"op": "ping"})).unwrap()["epoch"]
        .as_str()
        .unwrap()
        .to_string();
    let s = poll_within(Duration::from_secs(30), "the clock alarm", || {
        let s: Value = request(&st.socket(), &json!({"op": "sync_status"})).ok()?;
        (s["clock_alarm"] == true).then_some(s)
    });
    let offset_days = -s["clock_offset_ms"].as_i64().expect("offset") / 86_400_000;
    assert!(
        (5..=8).contains(&offset_days),
        "the central is about a week behind: {s}"
    );
    let last = *seqs.last().unwrap();
    central.wait_until(Duration::from_secs(30), "every event pushed", |c| {
        c.acked_through(&epoch) >= last
    });
    d.stop();
    assert_journal_verifies(&st);
    let journal = st.journal();
    let all: Vec<i64> = journal.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(all.windows(2).all(|w| w[1] == w[0] + 1), "no seq gap");
    // Events keep the time the station's clock gave them, steps and all.
    let received: Vec<&str> = journal
        .iter()
        .filter(|e| e["type"] == "return.received")
        .filter_map(|e| e["occurred_at"].as_str())
        .collect();
    let near = |i: usize, at: DateTime<Utc>| {
        let t = DateTime::parse_from_rfc3339(received[i]).unwrap();
        (t.with_timezone(&Utc) - at).num_seconds().abs() < 120
    };
    assert!(
        near(0, utc(10, 4)) && near(3, utc(9, 3)) && near(5, utc(10, 1)) && near(8, utc(10, 2)),
        "{received:?}"
    );
}
