//! Bad input gets a clear error and never costs anything already stored: overlong,
//! binary, invalid UTF-8 and control-character scans; configs with wrong types or unknown
//! keys; a database file that is not SQLite, or a damaged one.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{BIN, Station, request, scan_ok};

/// Hostile scans are refused with their reason, recorded, and harm nothing stored.
#[test]
fn hostile_scans_are_refused_and_recorded() {
    let st = Station::new("");
    let d = st.start();
    scan_ok(&st, &["OP-017", "SF1000000000009", "CMD-KIND-CUSTOMER"]);
    let before = st.journal().len();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![b'7'; 5000], "scan.too_long"),
        (vec![0xff, 0xfe, 0x41], "scan.invalid_utf8"),
        (b"AB\x01CD".to_vec(), "scan.control_char"),
        (b"\x1b[2J\x07".to_vec(), "scan.control_char"),
        (b"^XA^FO50,50^FDpwned^FS^XZ".to_vec(), "scan.unknown"),
        (b"6901234560016".to_vec(), "scan.bad_check_digit"),
        (b"R-ST01-20261399-0001".to_vec(), "scan.bad_id"),
    ];
    for (bytes, code) in &cases {
        // Through the real CLI: arguments are raw bytes (no NUL possible in argv).
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&st.config)
            .args(["scan", "--json"])
            .arg(OsStr::from_bytes(bytes))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "refused scans exit 1");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["code"], *code, "{v}");
        assert_eq!(v["ok"], false);
        assert_eq!(v["stored"], true, "a refused scan is still recorded");
        let en = v["message_en"].as_str().unwrap();
        assert!(
            !en.is_empty() && !en.contains('{'),
            "message has its parameters filled: {en}"
        );
        assert!(!v["message_zh"].as_str().unwrap().is_empty());
    }
    // NUL bytes can only come over the socket.
    let v = request(&d.socket, &json!({"op": "scan", "code_hex": "4100420043"})).unwrap();
    assert_eq!(v["code"], "scan.control_char");
    // A junk request line is answered, not fatal.
    let v = request(&d.socket, &json!({"op": "launch_missiles"})).unwrap();
    assert_eq!(v["code"], "bad_request");

    let after = st.journal();
    assert_eq!(after.len(), before + cases.len() + 1);
    let recorded: Vec<&Value> = after[before..].iter().collect();
    for e in &recorded {
        assert_eq!(e["type"], "scan.recorded");
        assert_eq!(e["data"]["accepted"], false);
        let code = e["data"]["code"].as_str().unwrap();
        assert!(code.chars().count() <= 200, "recorded code text is bounded");
        assert!(
            !code.chars().any(|c| c.is_control()),
            "no control characters reach the journal"
        );
    }
    // The open return was not disturbed: it continues normally.
    scan_ok(&st, &["CMD-UNPACK", "6901234560015", "CMD-DONE"]);
    d.stop();
    assert!(st.cli(&["journal", "verify"]).status.success());
}

fn check_config(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("station.toml");
    std::fs::write(&p, text).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&p)
        .arg("check-config")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Wrong types, unknown keys, bad values and broken TOML are reported as file, key and problem.
#[test]
fn bad_configs_name_file_key_and_problem() {
    let cases = [
        (
            "[station]\nid = \"ST01\"\n[scan]\ndouble_read_window_ms = \"fast\"\n",
            "scan.double_read_window_ms",
            "invalid type",
        ),
        (
            "[station]\nid = \"ST01\"\n[scan]\nspeed = 3\n",
            "scan",
            "unknown field `speed`",
        ),
        (
            "[station]\nid = \"ST 01\"\n",
            "station.id",
            "not a station id",
        ),
        (
            "[station]\nid = \"ST01\"\ntimezone = \"Mars/Olympus\"\n",
            "station.timezone",
            "IANA",
        ),
        (
            "[station]\nid = \"ST01\"\n[[scan.couriers]]\nname = \"X\"\npattern = \"([\"\n",
            "scan.couriers[0].pattern",
            "regular expression",
        ),
        (
            "[station]\nid = \"ST01\"\n[[operators]]\nbadge = \"9\"\nname = \"n\"\nroles = [\"boss\"]\n",
            "operators[0].roles[0]",
            "keeper",
        ),
        ("[station\nid = 1\n", "-", "not valid TOML"),
        (
            "[storage]\nstate_dir = \"/tmp\"\n",
            "station",
            "missing field",
        ),
    ];
    for (text, key, problem) in cases {
        let (code, err) = check_config(text);
        assert_eq!(code, 1, "{text}: exit 1, got {code}: {err}");
        assert!(err.contains("station.toml"), "names the file: {err}");
        assert!(err.contains(key), "names the key {key}: {err}");
        assert!(
            err.contains(problem),
            "says what is wrong ({problem}): {err}"
        );
    }
    // The line is given where it is known.
    let (_, err) =
        check_config("[station]\nid = \"ST01\"\n\n[scan]\ndouble_read_window_ms = \"fast\"\n");
    assert!(err.contains("station.toml:5:"), "line number: {err}");
    // The example config is valid.
    let out = Command::new(BIN)
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/station.example.toml"),
            "check-config",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// check-config lists every problem of a file in one run, each as `file:line: key: problem`
/// (it used to stop at the first unknown key).
#[test]
fn check_config_reports_every_problem_in_one_run() {
    let (code, err) = check_config(
        "[station]\nid = \"ST01\"\nspeed = 1\n[scan]\nmax_len = \"long\"\ncolour = 2\n\
         [storage]\ncap_mb = 1\n[[zones.bins]]\ncode = \"A01\"\n",
    );
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let want = [
        (":3: station.speed: ", "unknown field `speed`"),
        (":5: scan.max_len: ", "invalid type"),
        (":6: scan.colour: ", "unknown field `colour`"),
        (":8: storage.cap_mb: ", "must be 16 to 1048576"),
        (":9: zones.bins[0].class: ", "missing field `class`"),
    ];
    assert_eq!(lines.len(), want.len(), "{err}");
    for (line, (at, what)) in lines.iter().zip(want) {
        assert!(line.contains("station.toml"), "{line}");
        assert!(
            line.contains(at) && line.contains(what),
            "{at} {what}: {line}"
        );
    }
}

/// Environment overrides reach the config and are validated like the file.
#[test]
fn env_overrides_are_applied_and_checked() {
    let st = Station::new("");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&st.config)
        .arg("check-config")
        .env("RETURNSD__STATION__ID", "ST99")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("station ST99"));
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&st.config)
        .arg("check-config")
        .env("RETURNSD__SCAN__MAX_LEN", "5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scan.max_len"));
}

fn run_expect_refusal(st: &Station) -> String {
    let (status, err) = st.run_refused();
    assert!(!status.success(), "the daemon must refuse to start: {err}");
    err
}

/// A database file that is not SQLite is refused with a clear message and left untouched.
#[test]
fn not_a_database_is_refused_untouched() {
    let st = Station::new("");
    std::fs::create_dir_all(st.state_dir()).unwrap();
    let junk: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(st.db(), &junk).unwrap();
    let err = run_expect_refusal(&st);
    assert!(err.contains("not a returnsd database"), "{err}");
    assert!(err.contains("returnsd.db"), "names the file: {err}");
    assert_eq!(
        std::fs::read(st.db()).unwrap(),
        junk,
        "the file was not changed"
    );
}

/// A damaged SQLite database: the integrity check (run right after READY, so a year's
/// database starts in milliseconds) finds it and stops the station for storage — `/readyz`
/// answers 503 `storage_fault`, every scan is NOT SAVED, the log names the file — and
/// nothing is ever written into the damaged file.
#[test]
fn damaged_database_stops_the_station_for_storage() {
    let st = Station::new("");
    let d = st.start();
    let codes: Vec<String> = (0..400)
        .map(|i| format!("FILL-{i:04}-{}", "x".repeat(100)))
        .collect();
    for c in &codes {
        request(&d.socket, &json!({"op": "scan", "code": c})).unwrap();
    }
    d.stop();
    // Scribble over a page in the middle of the file: the 400 scans' journal rows are
    // most of it, so the page is one of the journal's b-tree pages, which a start does
    // not read (it reads the open work and the small tables).
    let mut bytes = std::fs::read(st.db()).unwrap();
    assert!(
        bytes.len() > 64 * 1024,
        "database big enough to damage: {}",
        bytes.len()
    );
    let mid = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[mid..mid + 4096] {
        *b = 0x5a;
    }
    std::fs::write(st.db(), &bytes).unwrap();
    let d = st.start();
    let a = crate::api_client::addr(&d);
    let r = crate::support::poll("the station stopped for storage", || {
        let r = crate::api_client::http(&a, "GET", "/readyz", &[], b"");
        (r.status == 503).then_some(r)
    });
    assert_eq!(r.json()["reasons"][0], "storage_fault", "{:?}", r.json());
    for i in 1..=3 {
        let code = format!("SF930000000000{i}");
        let scan = request(&d.socket, &json!({"op": "scan", "code": code})).unwrap();
        assert_eq!(
            (scan["stored"].clone(), scan["code"].clone()),
            (json!(false), json!("storage_fault")),
            "{scan}"
        );
    }
    let log = d.stop();
    // A damaged file cannot heal in place: no repair is tried (it would re-read the whole
    // file on the writer's thread at every input).
    assert!(
        !log.contains("not re-verified") && !log.contains("storage re-verified"),
        "no repair attempted on a damaged file: {log}"
    );
    let db = st.db().display().to_string();
    assert!(
        log.lines()
            .any(|l| l.contains("integrity check") && l.contains(&db)),
        "the log names the file: {log}"
    );
    assert_eq!(
        std::fs::read(st.db()).unwrap(),
        bytes,
        "the damaged file was left as it was"
    );
}

/// A second daemon on the same state directory is refused (one writer).
#[test]
fn second_daemon_is_refused() {
    let st = Station::new("");
    let d = st.start();
    let err = run_expect_refusal(&st);
    assert!(err.contains("one returnsd per state directory"), "{err}");
    d.stop();
}
