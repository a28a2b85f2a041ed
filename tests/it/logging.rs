//! The daemon's log as journald and a pipe read it: no colour codes, no Rust `Debug`
//! noise (`Some(…)`, quoted strings), the journal's priority prefix instead of a
//! timestamp when standard error is the journal's stream, and no customer name or phone.

use std::io::Write;

use serde_json::json;

use crate::api_client::http;
use crate::support::{Launch, Station, poll, request, scan, scan_ok};

/// A station whose manifest announces a parcel for a named customer, with a directory
/// printer: unpacking it prints a label carrying the name.
fn station_with_customer() -> Station {
    let st = Station::new("[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n");
    let m = st.dir.path().join("m.jsonl");
    let mut f = std::fs::File::create(&m).unwrap();
    writeln!(
        f,
        r#"{{"waybill":"SF1000000000001","version":1,"kind":"customer_return","order_no":"O-1","customer_name":"张三丰","customer_phone_tail":"4321","items":[]}}"#
    )
    .unwrap();
    let out = st.cli(&["manifest", "import", m.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    st
}

/// Scans (one refused), a printed label, an HTTP call, then SIGTERM: the whole log.
fn work_and_stop(st: &Station, launch: Launch) -> String {
    let d = launch.env_remove("RETURNSD_LOG").start();
    let r = scan_ok(st, &["OP-017", "SF1000000000001", "CMD-UNPACK"]);
    let id = r[1]["return_id"].as_str().unwrap().to_string();
    assert_eq!(scan(st, &["junk!"])[0]["ok"], false);
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    let addr = ping["http"].as_str().unwrap().to_string();
    assert_eq!(http(&addr, "GET", "/healthz", &[], b"").status, 200);
    poll("the label's log line", || {
        d.log_text().contains("label printed").then_some(())
    });
    assert!(d.log_text().contains(&id), "the log names the return");
    d.stop()
}

/// What every form of the text log must hold to.
fn assert_clean(log: &str) {
    assert!(log.contains("returnsd ready"), "{log}");
    assert!(!log.contains("\x1b["), "no ANSI colour codes:\n{log}");
    assert!(!log.contains("Some("), "no Debug Option:\n{log}");
    assert!(!log.contains("=\"ST01\""), "no quoted plain values:\n{log}");
    assert!(log.contains(" station=ST01 "), "{log}");
    assert!(
        log.contains(" http=127.0.0.1:"),
        "the address as it reads:\n{log}"
    );
    // The phone tail as a whole number: 4321 also stands in a port such as 43215.
    for secret in ["张三丰", "4321"] {
        assert!(
            !crate::secrets::leaked(log, secret),
            "customer data {secret} in the log:\n{log}"
        );
    }
}

/// With `JOURNAL_STREAM` naming its (piped) stderr, as under systemd, every line is one
/// journal entry: led by its syslog priority, no timestamp (journald stamps it), no colour.
#[test]
fn journal_stream_gets_priority_lines_without_time_or_colour() {
    let st = station_with_customer();
    let launch = Launch::new(&st.config, &st.socket()).journal_stream();
    let log = work_and_stop(&st, launch);
    assert_clean(&log);
    for line in log.lines() {
        let rest = ["<3>", "<4>", "<6>", "<7>"]
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .unwrap_or_else(|| panic!("no priority prefix: {line:?}\n{log}"));
        let level = rest.trim_start().split(' ').next().unwrap();
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG"].contains(&level),
            "the level right after the priority, no timestamp: {line:?}"
        );
    }
    assert!(log.contains("<6> INFO returnsd"), "{log}");
}

/// Piped stderr without the journal (a `JOURNAL_STREAM` inherited from elsewhere names
/// another stream): timestamped lines, still no colour and no Debug noise.
#[test]
fn piped_stderr_gets_plain_lines_without_colour() {
    let st = station_with_customer();
    let launch = Launch::new(&st.config, &st.socket()).env("JOURNAL_STREAM", "1:1");
    let log = work_and_stop(&st, launch);
    assert_clean(&log);
    for line in log.lines() {
        assert!(line.starts_with("20"), "a timestamp first: {line:?}\n{log}");
    }
}
