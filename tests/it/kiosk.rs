//! The kiosk's HTTP side through the real daemon: the page and its files with their security
//! headers, the page strings, the state snapshot (operator, return, masked customer, rows,
//! counters, last scan) and the live SSE stream read over a raw TcpStream.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api_client::{addr as http_addr, http};
use crate::kit::http::read_until;
use crate::support::{Station, scan, scan_ok};

/// A manifest with one announced customer return (the customer's name must never show).
pub fn manifest_csv() -> String {
    let signed = (chrono::Utc::now() - chrono::Duration::days(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        "waybill,version,kind,order_no,customer_name,customer_phone_tail,signed_at,claimed_reason,free_shipping,sku,barcode,name,qty
SF1000000000001,1,customer_return,O-1001,张三丰,1234,{signed},quality,true,SKU-A,6901234560015,Kettle,1
SF1000000000001,1,customer_return,O-1001,张三丰,1234,{signed},quality,true,SKU-B,6901234560022,Kettle lid,2
"
    )
}

/// A station with the manifest imported and a directory printer.
pub fn kiosk_station() -> Station {
    let st = Station::new("[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n");
    let csv = st.dir.path().join("returns-log.csv");
    std::fs::write(&csv, manifest_csv()).unwrap();
    let out = st.cli(&["manifest", "import", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    st
}

/// `GET path`: the status, the head (lowercased) and the body.
fn fetch(addr: &str, path: &str) -> (u16, String, String) {
    let r = http(addr, "GET", path, &[], b"");
    (r.status, r.head.to_lowercase(), r.text())
}

fn get_json(addr: &str, path: &str) -> Value {
    let (status, _, body) = fetch(addr, path);
    assert!(status == 200, "{path}: {status} {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// The page, its script and style come with their content types, a strict CSP and nosniff;
/// the page strings exist in both languages with the same keys.
#[test]
fn page_and_files_are_served_with_security_headers() {
    let st = Station::new("");
    let d = st.start();
    let addr = http_addr(&d);
    for (path, ty) in [
        ("/kiosk?bench=bench-1", "text/html"),
        ("/assets/kiosk.js", "text/javascript"),
        ("/assets/kiosk.css", "text/css"),
    ] {
        let (status, head, body) = fetch(&addr, path);
        assert!(status == 200, "{path}: {status}");
        assert!(
            head.contains(&format!("content-type: {ty}")),
            "{path}: {head}"
        );
        assert!(head.contains("x-content-type-options: nosniff"), "{path}");
        assert!(
            head.contains("content-security-policy: default-src 'none'; script-src 'self';"),
            "{path}: {head}"
        );
        assert!(!body.is_empty());
    }
    let (status, _, _) = fetch(&addr, "/assets/kiosk.html");
    assert!(status == 404, "the page only under /kiosk: {status}");
    let zh = get_json(&addr, "/api/v1/i18n?lang=zh-CN");
    let en = get_json(&addr, "/api/v1/i18n?lang=en");
    assert_eq!(zh["strings"]["kiosk.next.unpack"], "扫描“拆包”");
    assert_eq!(en["strings"]["kiosk.next.unpack"], "Scan UNPACK");
    let keys = |v: &Value| {
        v["strings"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&zh), keys(&en));
    let (status, _, body) = fetch(&addr, "/api/v1/kiosk/state?bench=../x");
    assert!(status == 400, "{status} {body}");
    d.stop();
}

/// The snapshot follows the bench: operator, current return with the customer masked,
/// expected-vs-scanned rows, next step, the directory printer ok, today's counters and
/// the last scan's result (accepted, then refused with its translated reason).
#[test]
fn state_reflects_scans_and_masks_the_customer() {
    let st = kiosk_station();
    let d = st.start();
    let addr = http_addr(&d);
    let s = get_json(&addr, "/api/v1/kiosk/state?bench=bench-1&lang=en");
    assert_eq!(s["operator"], Value::Null);
    assert_eq!(s["next_step"]["code"], "kiosk.next.login");
    assert_eq!(s["last_scan"], Value::Null);

    let r = scan_ok(
        &st,
        &["OP-017", "SF1000000000001", "CMD-UNPACK", "6901234560015"],
    );
    let rid = r[1]["return_id"].as_str().unwrap().to_string();
    let (_, _, body) = fetch(&addr, "/api/v1/kiosk/state?bench=bench-1&lang=en");
    assert!(!body.contains("三丰"), "customer name leaked: {body}");
    let s = get_json(&addr, "/api/v1/kiosk/state?bench=bench-1&lang=en");
    assert_eq!(s["station"]["id"], "ST01");
    assert_eq!(s["operator"]["badge"], "017");
    assert_eq!(s["operator"]["role_text"], "keeper");
    assert_eq!(s["return"]["id"], json!(rid));
    assert_eq!(s["return_is_current"], true);
    assert_eq!(s["return"]["customer"], "张**");
    assert_eq!(s["return"]["kind_text"], "customer return");
    let rows: Vec<(String, u64, u64, String)> = s["return"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sku"].as_str().unwrap().into(),
                r["expected"].as_u64().unwrap(),
                r["scanned"].as_u64().unwrap(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("SKU-A".into(), 1, 1, "ok".into()),
            ("SKU-B".into(), 2, 0, "short".into())
        ]
    );
    assert_eq!(s["next_step"]["code"], "kiosk.next.visual");
    assert_eq!(s["counters"]["received"], 1);
    assert_eq!(s["counters"]["labels_printed"], 1);
    assert_eq!(s["counters"]["scans"], 4);
    assert_eq!(s["last_scan"]["accepted"], true);
    assert_eq!(s["last_scan"]["ok"], true);
    assert_eq!(s["last_scan"]["message"], "SKU-A: 1/1");
    let printer = s["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "printer")
        .expect("the printer is on the kiosk");
    assert_eq!(printer["transport"], "directory");

    // An over-scan is an exception row and a red result; a refused scan is the last
    // result, in Chinese too.
    let over = scan(&st, &["6901234560015"]);
    assert_eq!(
        (over[0]["ok"].clone(), over[0]["stored"].clone()),
        (json!(false), json!(true))
    );
    let s = get_json(&addr, "/api/v1/kiosk/state?bench=bench-1&lang=en");
    assert_eq!(s["last_scan"]["accepted"], true);
    assert_eq!(s["last_scan"]["ok"], false);
    assert_eq!(s["last_scan"]["message"], "Over! SKU-A: 2/1");
    let refused = scan(&st, &["CMD-UNPACK"]);
    assert_eq!(refused[0]["ok"], false);
    let s = get_json(&addr, "/api/v1/kiosk/state?bench=bench-1&lang=zh-CN");
    assert_eq!(s["return"]["rows"][0]["status"], "over");
    assert_eq!(s["return"]["rows"][0]["status_text"], "多件");
    assert_eq!(s["return"]["exceptions"], 1);
    assert_eq!(s["last_scan"]["accepted"], false);
    assert_eq!(s["last_scan"]["error"], "already_unpacked");
    assert_eq!(s["last_scan"]["message"], "已经拆包");
    // Another bench sees none of it.
    let other = get_json(&addr, "/api/v1/kiosk/state?bench=bench-2");
    assert_eq!(other["operator"], Value::Null);
    assert_eq!(other["last_scan"], Value::Null);
    let log = d.stop();
    assert!(!log.contains("三丰"), "the customer's name is never logged");
}

/// The kiosk's open SSE connection (no session, from the bench PC): `hello` first, then a
/// `journal` event per journal event with the answer the bench was told for each scan;
/// the daemon still stops promptly with the stream open.
#[test]
fn stream_sends_journal_events_with_scan_answers() {
    let st = kiosk_station();
    let d = st.start();
    let addr = http_addr(&d);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        s,
        "GET /api/v1/events?lang=en HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut got = String::new();
    let mut stream_until = |s: &mut TcpStream, what: &str| -> String {
        read_until(s, &mut got, what);
        got.clone()
    };
    let head = stream_until(&mut s, "event: hello");
    let lower = head.to_lowercase();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(lower.contains("content-type: text/event-stream"), "{head}");
    assert!(lower.contains("x-content-type-options: nosniff"), "{head}");

    scan_ok(&st, &["OP-017", "SF1000000000001"]);
    scan(&st, &["junk-code"]);
    let text = stream_until(&mut s, "scan.unknown");
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &Value| v.get("type").is_some())
        .collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(
        types.starts_with(&["scan.recorded", "operator.logged_in", "scan.recorded"]),
        "{types:?}"
    );
    assert!(types.contains(&"return.received"), "{types:?}");
    let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let scans: Vec<&Value> = events.iter().filter_map(|e| e.get("scan")).collect();
    assert_eq!(scans.len(), 3, "{scans:?}");
    assert_eq!(scans[0]["accepted"], true);
    assert_eq!(scans[0]["message"], "Logged in: 017 (keeper)");
    let rid = events
        .iter()
        .find(|e| e["type"] == "return.received")
        .unwrap()["return_id"]
        .clone();
    assert_eq!(
        scans[1]["message"],
        format!(
            "Received {}: customer return, order O-1001, 3 item(s) expected. Scan UNPACK",
            rid.as_str().unwrap()
        )
    );
    assert_eq!(scans[2]["accepted"], false);
    assert_eq!(scans[2]["bench"], "bench-1");
    assert_eq!(scans[2]["message"], "Unrecognised code");
    assert!(!text.contains("三丰"));
    let t0 = Instant::now();
    d.stop();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "an open stream held the shutdown for {:?}",
        t0.elapsed()
    );
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_end(&mut rest);
}

/// A printer nobody can reach is an alarm on the kiosk, in the page's language.
#[test]
fn unreachable_printer_is_an_alarm() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let st = Station::new(&format!(
        "[printer]\nkind = \"tcp\"\naddress = \"127.0.0.1:{port}\"\nlanguage = \"zpl\"\nstatus_interval_s = 1\n"
    ));
    let d = st.start();
    let addr = http_addr(&d);
    let s = crate::support::poll("printer alarm on the kiosk", || {
        let s = get_json(&addr, "/api/v1/kiosk/state?bench=bench-1&lang=en");
        let alarmed = s["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "kiosk.alarm.device");
        alarmed.then_some(s)
    });
    let text = s["alarms"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("label printer 127.0.0.1:{port}: ")),
        "{text}"
    );
    let printer = &s["devices"][0];
    assert_eq!(printer["alarm"], true);
    let zh = get_json(&addr, "/api/v1/kiosk/state?bench=bench-1&lang=zh-CN");
    assert!(
        zh["alarms"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("标签打印机"),
        "{zh}"
    );
    d.stop();
}
