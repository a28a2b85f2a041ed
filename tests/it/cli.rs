//! The operator CLI around the daemon: manifest import rules, exports, the stdin scan
//! source, and masking of customer data.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{BIN, Station, scan_ok};

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// *(Contract 1.1)* `claimed_reason` is a closed set: a code (`quality`, …) or a Chinese
/// reason the README lists is taken; anything else rejects the line with its reason — it
/// decides who pays the freight, so it is never silently "unknown". An absent reason is
/// allowed.
#[test]
fn an_unreadable_claimed_reason_rejects_the_line() {
    let st = Station::new("");
    let f = st.dir.path().join("log.jsonl");
    let line = |wb: &str, reason: &str| {
        format!(
            r#"{{"waybill":"{wb}","version":1,"kind":"customer_return","claimed_reason":"{reason}","items":[]}}"#
        )
    };
    let lines = [
        line("SF1000000000011", "quality"),
        line("SF1000000000012", "质量问题,屏幕有划痕"),
        line("SF1000000000013", "七天无理由"),
        line("SF1000000000014", ""),
        line("SF1000000000015", "the moon was full"),
        line("SF1000000000016", "unknown"),
    ];
    std::fs::write(&f, lines.join("\n")).unwrap();
    let out = st.cli(&["manifest", "import", f.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("4 stored"), "{t}");
    assert!(
        t.contains("line 5") && t.contains("the moon was full") && t.contains("claimed_reason"),
        "{t}"
    );
    assert!(
        t.contains("line 6"),
        "an explicit unknown is not a reason: {t}"
    );
}

/// `manifest import` applies versioned upserts: newer replaces, older or equal is ignored,
/// `deleted` removes, malformed lines are rejected with their line number and the rest applies.
#[test]
fn manifest_import_follows_the_feed_rules() {
    let st = Station::new("");
    let f = st.dir.path().join("log.jsonl");
    let line = |wb: &str, v: i64, order: &str| {
        format!(
            r#"{{"waybill":"{wb}","version":{v},"kind":"customer_return","order_no":"{order}","customer_name":"张三","items":[{{"sku":"A","barcode":"6901234560015","name":"Kettle","qty":1}}]}}"#
        )
    };
    std::fs::write(
        &f,
        [
            line("SF1000000000001", 2, "O-2"),
            line("SF1000000000002", 1, "O-9"),
            r#"{"type":"expected_return","key":"SF1000000000003","version":1,"data":{"kind":"refused","items":[]}}"#.to_string(),
            r#"{"waybill":"SF1000000000004","version":1,"kind":"lost_in_space"}"#.to_string(),
            "not json at all".to_string(),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = st.cli(&["manifest", "import", f.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "rejections make the import exit 1: {t}"
    );
    assert!(t.contains("3 stored, 0 deleted, 0 unchanged"), "{t}");
    assert!(
        t.contains("line 4") && t.contains("lost_in_space"),
        "names line and problem: {t}"
    );
    assert!(t.contains("line 5") && t.contains("not JSON"), "{t}");

    // Version 1 of SF…001 is older than the stored 2: ignored. Version 3 replaces. SF…002 is deleted.
    std::fs::write(
        &f,
        [
            line("SF1000000000001", 1, "O-OLD"),
            line("SF1000000000001", 3, "O-3"),
            r#"{"waybill":"SF1000000000002","version":2,"deleted":true}"#.to_string(),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = st.cli(&["manifest", "import", f.to_str().unwrap()]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("1 stored, 1 deleted, 1 unchanged") && t.contains("0 rejected"),
        "{t}"
    );

    let d = st.start();
    let r = scan_ok(&st, &["OP-017", "SF1000000000001"]);
    assert_eq!(
        r[1]["params"]["order_no"], "O-3",
        "the newest version is the one used"
    );
    scan_ok(&st, &["CMD-CANCEL"]);
    let r = scan_ok(&st, &["SF1000000000002"]);
    assert_eq!(
        r[0]["code"], "received_unannounced",
        "a deleted manifest line no longer matches"
    );
    d.stop();
}

/// CSV export carries the same events as JSONL, one row each, with a header.
#[test]
fn export_csv_matches_jsonl() {
    let st = Station::new("");
    let d = st.start();
    scan_ok(&st, &["OP-017", "SF1000000000001", "CMD-KIND-REFUSED"]);
    d.stop();
    let jsonl = st.journal();
    let out = st.cli(&["export", "--since", "2000-01-01", "--format", "csv"]);
    assert!(out.status.success());
    let mut rdr = csv::Reader::from_reader(&out.stdout[..]);
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), jsonl.len());
    for (row, ev) in rows.iter().zip(&jsonl) {
        assert_eq!(row[0], ev["seq"].to_string());
        assert_eq!(&row[2], ev["type"].as_str().unwrap());
        let data: Value = serde_json::from_str(&row[6]).unwrap();
        assert_eq!(data, ev["data"]);
    }
    let bad = st.cli(&["export", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("--since"), "{}", text(&bad));
}

/// `run --scan-stdin` takes one scan per line and answers each after it is stored.
#[test]
fn stdin_is_a_scan_source() {
    let st = Station::new("");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&st.config)
        .args(["run", "--scan-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    stdin
        .write_all(b"OP-017\r\nSF1000000000001\nnonsense\n")
        .unwrap();
    stdin.flush().unwrap();
    let got: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    assert!(
        got[0].starts_with("OK ") && got[0].contains("017"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("OK ") && got[1].contains("R-ST01-"),
        "{got:?}"
    );
    assert!(
        got[2].starts_with("ERR") && got[2].contains("Unrecognised"),
        "{got:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let j = st.journal();
    assert_eq!(j.iter().filter(|e| e["type"] == "scan.recorded").count(), 3);
}

/// Lists and `returns show` mask customer names and phone tails; `--reveal` shows them.
#[test]
fn customer_data_is_masked_unless_revealed() {
    let st = Station::new("");
    let f = st.dir.path().join("m.jsonl");
    std::fs::write(&f, r#"{"waybill":"SF1000000000001","version":1,"kind":"customer_return","customer_name":"欧阳娜娜","customer_phone_tail":"4321","items":[]}"#).unwrap();
    assert!(
        st.cli(&["manifest", "import", f.to_str().unwrap()])
            .status
            .success()
    );
    let d = st.start();
    let r = scan_ok(&st, &["OP-017", "SF1000000000001"]);
    let id = r[1]["return_id"].as_str().unwrap().to_string();
    d.stop();
    let list = text(&st.cli(&["returns", "list"]));
    assert!(
        list.contains("欧**") && !list.contains("欧***") && !list.contains("欧阳娜娜"),
        "{list}"
    );
    let show = text(&st.cli(&["returns", "show", &id]));
    assert!(
        show.contains("欧**")
            && !show.contains("欧***")
            && show.contains("**21")
            && !show.contains("4321"),
        "{show}"
    );
    let reveal = text(&st.cli(&["returns", "show", &id, "--reveal"]));
    assert!(
        reveal.contains("欧阳娜娜") && reveal.contains("4321"),
        "{reveal}"
    );
    let export = text(&st.cli(&["export", "--since", "2000-01-01"]));
    assert!(
        !export.contains("欧阳") && !export.contains("4321"),
        "exports carry no customer data"
    );
}

fn pin_hash(pin: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("pin-hash")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{pin}").unwrap();
    child.wait_with_output().unwrap()
}

/// `returnsd pin-hash` prints an argon2id hash (never the PIN) that the station's login
/// accepts as the operator's `pin_hash`; a too short PIN is refused with exit 2.
#[test]
fn pin_hash_makes_a_hash_the_login_accepts() {
    let out = pin_hash("4711");
    assert!(out.status.success(), "{}", text(&out));
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("4711"),
        "{hash}"
    );
    let short = pin_hash("12");
    assert_eq!(short.status.code(), Some(2), "{}", text(&short));
    assert!(short.stdout.is_empty());

    let st = Station::new("");
    let cfg = std::fs::read_to_string(&st.config).unwrap();
    let role = "roles = [\"inspector\"]";
    assert!(cfg.contains(role), "{cfg}");
    let cfg = cfg.replace(role, &format!("{role}\npin_hash = \"{hash}\""));
    std::fs::write(&st.config, cfg).unwrap();
    let d = st.start();
    let a = crate::api_client::addr(&d);
    assert_eq!(crate::api_client::login_resp(&a, "021", "4712").status, 401);
    let s = crate::api_client::login(&a, "021", "4711");
    let me = crate::api_client::get(&a, &s, "/api/v1/me").json();
    assert_eq!(me["badge"], "021", "{me}");
    d.stop();
}

/// The example config's operators carry the demo PINs its comment and the README name.
#[test]
fn example_config_demo_pins_verify() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/station.example.toml"
    ))
    .unwrap();
    let cfg: toml::Value = toml::from_str(&text).unwrap();
    let ops = cfg["operators"].as_array().unwrap();
    for (badge, pin) in [("001", "3333"), ("017", "1111"), ("021", "2222")] {
        let op = ops
            .iter()
            .find(|o| o["badge"].as_str() == Some(badge))
            .unwrap();
        let hash = op["pin_hash"].as_str().unwrap();
        assert!(returnsd::http::auth::verify_pin(pin, Some(hash)), "{badge}");
        assert!(
            !returnsd::http::auth::verify_pin("0000", Some(hash)),
            "{badge}"
        );
    }
}
