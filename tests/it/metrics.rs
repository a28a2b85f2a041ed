//! `GET /metrics` on the station's listener: the sync backlog and the counters, and the
//! whole scrape read back by a real Prometheus text-format parser (`openmetrics-parser`).

use std::collections::BTreeSet;

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{PrometheusType, PrometheusValue};
use serde_json::json;

use crate::api_client::http;
use crate::support::{Station, poll, request, scan_ok};

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
    // The start's integrity check passes (a small file: at once), and says so.
    poll("the integrity check", || {
        let p = request(&d.socket, &json!({"op": "ping"})).unwrap();
        (p["verified"] == true).then_some(())
    });
    let text = http(&addr, "GET", "/metrics", &[], b"").text();
    assert_eq!(metric(&text, "returnsd_storage_verified"), 1.0);
    assert_eq!(metric(&resp, "returnsd_rejected_scans_total"), 1.0);
    assert!(metric(&resp, "returnsd_disk_used_bytes") > 0.0);
    assert_eq!(
        metric(&resp, "returnsd_sync_push_ok"),
        0.0,
        "push is disabled here"
    );
    d.stop();
}

/// The latency histograms a scrape must carry.
const HISTOGRAMS: [&str; 4] = [
    "returnsd_scan_durable_seconds",
    "returnsd_scan_label_seconds",
    "returnsd_http_request_duration_seconds",
    "returnsd_sync_push_request_duration_seconds",
];

/// After scans, a printed label and API calls, the whole scrape parses as Prometheus text:
/// every family is typed, counters (and only counters) end in `_total`, the latency
/// histograms are there with buckets, sum and count (as many scans as were made), HTTP
/// routes are templates, not paths, and no value is NaN (no central is configured).
#[test]
fn metrics_parse_as_prometheus_text() {
    let st = Station::new("[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n");
    let d = st.start();
    let codes = [
        "OP-017",
        "SF1000000000001",
        "CMD-KIND-REFUSED",
        "CMD-UNPACK",
    ];
    let r = scan_ok(&st, &codes);
    let id = r[1]["return_id"].as_str().unwrap().to_string();
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    let addr = ping["http"].as_str().unwrap().to_string();
    assert_eq!(http(&addr, "GET", "/healthz", &[], b"").status, 200);
    let path = format!("/api/v1/returns/{id}");
    assert_eq!(http(&addr, "GET", &path, &[], b"").status, 401);
    // The label reaches the (directory) printer in its own time.
    let labels = st.state_dir().join("labels");
    poll("the label in the printer directory", || {
        let mut files = std::fs::read_dir(&labels).ok()?.filter_map(Result::ok);
        files
            .any(|e| e.file_name().to_string_lossy().starts_with(&id))
            .then_some(())
    });
    let scrape_text = || {
        let resp = http(&addr, "GET", "/metrics", &[], b"");
        assert_eq!(resp.status, 200, "{}", resp.text());
        let ct = resp.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        resp.text()
    };
    let text = scrape_text();
    let scrape = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));

    // Every sample belongs to a family with a TYPE line (the parser would make it untyped).
    let typed: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "no TYPE for {line}");
    }
    for (name, f) in &scrape.families {
        assert_ne!(f.family_type, PrometheusType::Unknown, "{name} is untyped");
        assert!(!f.help.is_empty(), "{name} has no HELP");
        let counter = f.family_type == PrometheusType::Counter;
        assert_eq!(
            counter,
            name.ends_with("_total"),
            "{name}: counters and only counters end in _total (typed {})",
            f.family_type
        );
        for s in f.iter_samples() {
            let values: Vec<f64> = match &s.value {
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => vec![n.as_f64()],
                PrometheusValue::Counter(c) => vec![c.value.as_f64()],
                PrometheusValue::Histogram(h) => (h.buckets.iter().map(|b| b.count.as_f64()))
                    .chain(h.sum.as_ref().map(|n| n.as_f64()))
                    .collect(),
                PrometheusValue::Summary(_) => panic!("{name}: no summaries here"),
            };
            assert!(values.iter().all(|v| !v.is_nan()), "{name}: NaN in {s:?}");
        }
    }
    assert!(!text.contains("NaN"), "{text}");
    assert!(
        !text.contains("returnsd_sync_clock_offset_ms "),
        "no central: no clock offset sample"
    );

    // The latency histograms, and how many observations they hold: the worker notes the
    // label's latency just after writing it.
    let text = poll("the label's scan → label latency in /metrics", || {
        let text = scrape_text();
        text.contains("returnsd_scan_label_seconds_count 1")
            .then_some(text)
    });
    let scrape = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));
    let count = |family: &str, route: Option<&str>| -> u64 {
        let f = &scrape.families[family];
        assert_eq!(f.family_type, PrometheusType::Histogram, "{family}");
        f.iter_samples()
            .filter(|s| {
                route.is_none_or(|r| {
                    let labels = s.get_labelset().unwrap();
                    labels.get_label_value("route") == Some(r)
                })
            })
            .map(|s| match &s.value {
                PrometheusValue::Histogram(h) => {
                    assert!(!h.buckets.is_empty(), "{family} has buckets");
                    h.count.unwrap_or(0)
                }
                v => panic!("{family}: {v:?}"),
            })
            .sum()
    };
    for h in HISTOGRAMS {
        assert!(scrape.families.contains_key(h), "{h} in\n{text}");
        for part in ["_bucket{", "_sum", "_count"] {
            assert!(
                text.contains(&format!("\n{h}{part}")),
                "{h}{part} in\n{text}"
            );
        }
    }
    assert!(
        count("returnsd_scan_durable_seconds", None) >= codes.len() as u64,
        "every stored scan is timed"
    );
    assert_eq!(count("returnsd_scan_label_seconds", None), 1);
    assert!(count("returnsd_http_request_duration_seconds", Some("/healthz")) >= 1);
    assert!(
        count(
            "returnsd_http_request_duration_seconds",
            Some("/api/v1/returns/{id}")
        ) >= 1,
        "the route is its template"
    );
    assert_eq!(
        count("returnsd_sync_push_request_duration_seconds", None),
        0
    );
    assert!(!text.contains(&id), "no return id in a label: {text}");
    assert_eq!(metric(&text, "returnsd_scans_total"), codes.len() as f64);
    d.stop();
}
