//! `GET /metrics` on the station's listener shows the sync backlog and the counters.

use serde_json::json;

use crate::api_client::http;
use crate::support::{Station, request, scan_ok};

pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// With no central configured every event is backlog, and the counters match the scans.
#[test]
fn metrics_show_backlog_and_counters() {
    let st = Station::new("");
    let d = st.start();
    scan_ok(&st, &["OP-017", "SF1000000000001", "CMD-KIND-REFUSED"]);
    request(&d.socket, &json!({"op": "scan", "code": "junk"})).unwrap();
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    let addr = ping["http"].as_str().unwrap().to_string();
    let resp = http(&addr, "GET", "/metrics", &[], b"");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = resp.text();
    let last = ping["last_seq"].as_f64().unwrap();
    assert!(last >= 4.0);
    assert_eq!(metric(&resp, "returnsd_journal_last_seq"), last);
    assert_eq!(metric(&resp, "returnsd_sync_backlog_events"), last);
    assert_eq!(metric(&resp, "returnsd_sync_acked_through"), 0.0);
    assert_eq!(metric(&resp, "returnsd_scans_total"), 4.0);
    assert_eq!(metric(&resp, "returnsd_rejected_scans_total"), 1.0);
    assert!(metric(&resp, "returnsd_disk_used_bytes") > 0.0);
    assert_eq!(
        metric(&resp, "returnsd_sync_push_ok"),
        0.0,
        "push is disabled here"
    );
    d.stop();
}
