//! Never lose or double a scan at the edges: each test pins one failure found by trying
//! the station with faults (issue "edges"), and is named after it. They need root (tmpfs
//! mounts), as CI has.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api_client::{self, http};
use crate::faultfs::{Cut, FaultFs};
use crate::support::{self, BIN, Launch, Station, poll, request};

/// A small tmpfs mounted over a directory for the life of the value.
pub struct Tmpfs {
    pub dir: PathBuf,
}

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Fill the filesystem holding `dir` until a write fails; the filler file is returned.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5a_u8; 4096];
    while f.write_all(&chunk).and_then(|_| f.flush()).is_ok() {}
    path
}

/// A station with a double-read window of 5 s (a keeper's rescan falls inside it), PINs
/// for the API, its state directory on a small tmpfs.
fn station_on_tmpfs(size: &str) -> (Station, Tmpfs) {
    let st = api_client::station("");
    let text = std::fs::read_to_string(&st.config)
        .unwrap()
        .replace("double_read_window_ms = 0", "double_read_window_ms = 5000");
    std::fs::write(&st.config, text).unwrap();
    let fs = Tmpfs::mount(&st.state_dir(), size);
    (st, fs)
}

fn scan_socket(d: &support::Daemon, code: &str) -> Value {
    request(&d.socket, &json!({"op": "scan", "code": code})).unwrap()
}

/// Scan new parcels until one is answered "not stored" (the disk is full); its code.
fn scan_until_not_stored(d: &support::Daemon) -> (String, Value) {
    for i in 0..5000 {
        let code = format!("SF{:013}", 7_000_000_000_000_i64 + i);
        let r = scan_socket(d, &code);
        if r["stored"] == false && r["ok"] == false {
            return (code, r);
        }
        assert_eq!(r["ok"], true, "{r}");
    }
    panic!("the disk never filled");
}

fn cli(st: &Station, args: &[&str]) -> (i32, String, String) {
    let out = st.cli(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// How many `return.received` events the journal holds for a waybill.
fn received(st: &Station, waybill: &str) -> usize {
    st.events("return.received")
        .iter()
        .filter(|e| e["data"]["waybill"] == waybill)
        .count()
}

/// Failure 1: a rescan after `NOT SAVED … disk is full` was answered `Double read
/// ignored` and the scan was in the journal zero times. Now the rescan is recorded once;
/// and the answer says NOT SAVED once, not twice (failure 8's words).
#[test]
fn rescan_after_not_saved_is_recorded_once() {
    let (st, fs) = station_on_tmpfs("6m");
    let d = st.start();
    scan_socket(&d, "OP-017");
    let filler = fill(&fs.dir);
    let (code, first) = scan_until_not_stored(&d);
    assert_eq!(first["code"], "storage_full", "{first}");
    // The keeper scans again at once, still full: NOT SAVED, said once, exit 2.
    let (status, out, err) = cli(&st, &["scan", &code]);
    assert_eq!(status, 2, "{out}{err}");
    assert!(out.starts_with("NOT SAVED "), "{out}");
    assert!(
        !out.contains("NOT SAVED NOT SAVED") && !out.contains("NOT SAVED!"),
        "{out}"
    );
    // Space comes back; the keeper rescans within the double-read window.
    std::fs::remove_file(&filler).unwrap();
    let (status, out, err) = cli(&st, &["scan", &code]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out.starts_with("OK ") && !out.contains("Double read"),
        "{out}"
    );
    assert_eq!(
        received(&st, &code),
        1,
        "the rescan is recorded exactly once"
    );
    // And it is a real double read now: the window opened at the committed scan.
    let (status, out, _) = cli(&st, &["scan", &code]);
    assert_eq!(status, 0);
    assert!(out.contains("Double read ignored"), "{out}");
    assert_eq!(received(&st, &code), 1);
    d.stop();
}

fn kiosk_alarm_codes(addr: &str) -> Vec<String> {
    let r = http(
        addr,
        "GET",
        "/api/v1/kiosk/state?bench=bench-1&lang=en",
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    r.json()["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap().to_string())
        .collect()
}

fn metric(addr: &str, line_start: &str) -> String {
    let r = http(addr, "GET", "/metrics", &[], b"");
    String::from_utf8_lossy(&r.body)
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in /metrics"))
        .to_string()
}

/// Failure 5: with the filesystem full below the cap, answers were a clean NOT SAVED but
/// no alarm showed anywhere (`full: false` in `sync status`). Now the kiosk, the API,
/// `/metrics` and `sync status` say the disk is full and that it is the filesystem, and
/// all of it clears once space returns — without a restart.
#[test]
fn full_filesystem_below_the_cap_raises_the_alarm_everywhere() {
    let (st, fs) = station_on_tmpfs("6m");
    let d = st.start();
    let addr = api_client::addr(&d);
    scan_socket(&d, "OP-017");
    // Logged in first: a new session is a write too, refused while the disk is full.
    let sup = api_client::login(&addr, "001", "3333");
    assert!(!kiosk_alarm_codes(&addr).iter().any(|c| c.contains("full")));
    let filler = fill(&fs.dir);
    scan_until_not_stored(&d);
    assert!(
        kiosk_alarm_codes(&addr).contains(&"kiosk.alarm.fs_full".to_string()),
        "{:?}",
        kiosk_alarm_codes(&addr)
    );
    let alarms = api_client::get(&addr, &sup, "/api/v1/alarms").json();
    let fs_alarm = alarms["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "fs_full")
        .unwrap_or_else(|| panic!("{alarms}"));
    assert!(
        fs_alarm["message"].as_str().unwrap().contains("is full"),
        "{fs_alarm}"
    );
    assert_eq!(
        metric(&addr, "returnsd_disk_full{reason=\"filesystem\"}"),
        "returnsd_disk_full{reason=\"filesystem\"} 1"
    );
    let (_, out, _) = cli(&st, &["sync", "status", "--json"]);
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["disk"]["full"], true, "{status}");
    assert_eq!(status["disk"]["full_reason"], "filesystem", "{status}");
    let (_, text, _) = cli(&st, &["sync", "status"]);
    assert!(
        text.contains("filesystem holding the state directory is full"),
        "{text}"
    );
    // Space returns: the next scan is stored and every alarm clears.
    std::fs::remove_file(&filler).unwrap();
    let r = scan_socket(&d, "SF8000000000001");
    assert_eq!(r["outcome"], "accepted", "{r}");
    assert!(!kiosk_alarm_codes(&addr).iter().any(|c| c.contains("full")));
    assert_eq!(
        metric(&addr, "returnsd_disk_full{reason=\"filesystem\"}"),
        "returnsd_disk_full{reason=\"filesystem\"} 0"
    );
    d.stop();
}

/// Failure 3: when the daemon died mid-request `returnsd scan` exited 2 ("not recorded")
/// although the scan was journaled, and a rescan doubled it. Now an unknown outcome is
/// exit 3 with words that say to check first; and `returnsd scan`, asking again with the
/// same request id when the daemon comes back, gets the original answer instead of a
/// second record.
#[test]
fn unknown_outcome_exits_3_and_a_resubmission_is_not_recorded_twice() {
    let st = Station::new("");
    let start_with_hook = |code: &str| st.start_with_env("RETURNSD_TEST_ABORT_AFTER_SCAN", code);
    // The daemon commits the scan, then dies before answering; nobody restarts it.
    let mut d = start_with_hook("SF9000000000001");
    let (status, out, err) = cli(
        &st,
        &["scan", "--retry-for", "1", "OP-017", "SF9000000000001"],
    );
    let died = d.wait_exit(Duration::from_secs(20));
    drop(d);
    assert!(died.is_some(), "the hook ended the daemon");
    assert_eq!(status, 3, "{out}{err}");
    let last = out.lines().last().unwrap_or("");
    assert!(last.starts_with("UNKNOWN "), "{out}");
    assert!(last.contains("check before scanning again"), "{out}");
    // It was in fact recorded, once.
    assert_eq!(received(&st, "SF9000000000001"), 1);

    // Again, but the daemon comes back (as systemd restarts it) while `returnsd scan` is
    // still asking: the request id is answered from what was kept, not recorded twice.
    let d = st.start();
    support::scan_ok(&st, &["CMD-CANCEL"]);
    d.stop();
    let mut d = start_with_hook("SF9000000000002");
    let config = st.config.clone();
    let waiter = std::thread::spawn(move || {
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["scan", "--json", "--retry-for", "60", "SF9000000000002"])
            .output()
            .unwrap()
    });
    let died = d.wait_exit(Duration::from_secs(20));
    drop(d);
    assert!(died.is_some(), "the hook ended the daemon");
    let d = st.start();
    let out = waiter.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["replayed"], true, "{reply}");
    assert_eq!(reply["outcome"], "accepted", "{reply}");
    assert_eq!(received(&st, "SF9000000000002"), 1);
    d.stop();
}

/// Failure 4: `journal verify` beside a scanning daemon printed `DIFFERS … FAILED` on a
/// healthy journal (the journal and the projections were read in separate snapshots).
/// Now it reads one snapshot and passes every time while scans stream.
#[test]
fn journal_verify_beside_a_scanning_daemon_passes() {
    let st = Station::new("");
    let d = st.start();
    request(&d.socket, &json!({"op": "scan", "code": "OP-017"})).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let socket = d.socket.clone();
    let streamer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let code = format!("SF{:013}", 6_000_000_000_000_u64 + n);
                for c in [
                    code.as_str(),
                    "CMD-KIND-CUSTOMER",
                    "CMD-UNPACK",
                    "CMD-CANCEL",
                ] {
                    request(&socket, &json!({"op": "scan", "code": c})).unwrap();
                }
                n += 1;
            }
            n
        })
    };
    for run in 0..10 {
        let (status, out, err) = cli(&st, &["journal", "verify"]);
        assert_eq!(status, 0, "run {run}: {out}{err}");
        assert!(!out.contains("DIFFER") && !out.contains("FAILED"), "{out}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let parcels = streamer.join().unwrap();
    assert!(parcels > 10, "scans streamed during the runs ({parcels})");
    d.stop();
}

/// Failure 6: a second daemon on the same state directory ran when its socket path
/// differed, answered every scan NOT SAVED and could take the scanners. Now it exits
/// non-zero at once, naming the first one's PID; the first keeps working.
#[test]
fn a_second_daemon_on_the_same_state_directory_is_refused() {
    let st = Station::new("");
    let d = st.start();
    let other = st.dir.path().join("other.toml");
    let text = format!(
        "{}\n[control]\nsocket = \"{}\"\n",
        std::fs::read_to_string(&st.config).unwrap(),
        st.dir.path().join("other.sock").display()
    );
    std::fs::write(&other, text).unwrap();
    let (status, err) = Launch::new(&other, &st.dir.path().join("other.sock"))
        .refusal(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the second daemon kept running on the same state directory"));
    assert!(!status.success(), "{err}");
    assert!(
        err.contains(&format!("PID {}", d.child.id())),
        "names the holder: {err}"
    );
    assert!(!st.dir.path().join("other.sock").exists());
    support::scan_ok(&st, &["OP-017"]);
    d.stop();
}

/// Failure 7: a database truncated to half was refused without naming the file, and a
/// 0-byte `returnsd.db` was silently set up as a new database with a new epoch. Now both
/// are refused naming the file and what to do, nothing is created, and `returnsd init
/// --new-epoch` starts afresh on purpose.
#[test]
fn damaged_or_emptied_databases_are_refused_naming_the_file() {
    let st = Station::new("");
    let d = st.start();
    let epoch = request(&d.socket, &json!({"op": "ping"})).unwrap()["epoch"].clone();
    let codes: Vec<String> = (0..200)
        .map(|i| format!("SF{:013}", 5_000_000_000_000_i64 + i))
        .collect();
    let mut all = vec!["OP-017"];
    all.extend(codes.iter().map(String::as_str));
    support::scan(&st, &all);
    d.stop();
    let db = st.db();
    let backup = st.dir.path().join("backup.db");
    std::fs::copy(&db, &backup).unwrap();
    let run = || {
        let out = st.cli(&["run"]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Truncated to half.
    let len = std::fs::metadata(&db).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let (ok, err) = run();
    assert!(!ok);
    assert!(
        err.contains(&db.display().to_string()),
        "names the file: {err}"
    );
    // Emptied to 0 bytes: refused, not replaced by a new database.
    std::fs::write(&db, b"").unwrap();
    let (ok, err) = run();
    assert!(!ok);
    assert!(
        err.contains(&db.display().to_string()) && err.contains("empty"),
        "{err}"
    );
    assert!(err.contains("init --new-epoch"), "says what to do: {err}");
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "nothing was created"
    );
    // Missing: the same.
    std::fs::remove_file(&db).unwrap();
    let (ok, err) = run();
    assert!(!ok && err.contains("missing"), "{err}");
    assert!(!db.exists());
    // A restored backup runs, with its own epoch.
    std::fs::copy(&backup, &db).unwrap();
    let d = st.start();
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    assert_eq!(ping["epoch"], epoch);
    d.stop();
    // Starting afresh on purpose: a new epoch. Refused while a database is there.
    let out = st.cli(&["init", "--new-epoch"]);
    assert!(
        !out.status.success(),
        "a database with content is never replaced"
    );
    std::fs::remove_file(&db).unwrap();
    let out = st.cli(&["init", "--new-epoch"]);
    assert!(out.status.success(), "{out:?}");
    let d = st.start();
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    assert_ne!(ping["epoch"], epoch);
    assert_eq!(ping["last_seq"], 0);
    d.stop();
}

/// Failure 8: every SIGTERM waited 5 s for the stop deadline ("still busy … aborted
/// task=print worker"), even with no printer. Now an idle daemon stops at once.
#[test]
fn an_idle_daemon_stops_at_once_on_sigterm() {
    let st = Station::new("");
    let d = st.start();
    support::scan_ok(&st, &["OP-017"]);
    let exit = d.terminate();
    assert!(exit.status.success(), "{}", exit.status);
    assert!(
        exit.took < Duration::from_secs(2),
        "an idle daemon stops well before the old 5 s deadline: {:?}",
        exit.took
    );
    assert!(!exit.log.contains("still busy"), "{}", exit.log);
}

/// Scan one code through the real CLI: exit status and output.
fn scan_cli(st: &Station, code: &str) -> (i32, String) {
    let (status, out, err) = cli(st, &["scan", code]);
    (status, format!("{out}{err}"))
}

/// Failure 2: with a disk that failed one fsync (its data still readable from the page
/// cache, as Linux does), the station answered NOT SAVED; killed and restarted, it showed
/// that scan in its journal, and a power cut then lost scans acknowledged after the
/// restart. Now the NOT SAVED scan never appears — in process, after a restart, after a
/// power cut — and every acknowledged scan survives the cut; a disk that keeps failing
/// holds the station stopped for storage (alarmed) until it verifies.
#[test]
fn a_failed_fsync_never_resurfaces_and_later_scans_survive_a_power_cut() {
    let st = Station::new("");
    let text = format!(
        "{}\n[control]\nsocket = \"{}\"\n",
        std::fs::read_to_string(&st.config).unwrap(),
        st.dir.path().join("ctl.sock").display()
    );
    std::fs::write(&st.config, text).unwrap();
    let mut fs = FaultFs::mount(&st.state_dir());
    let d = st.start();
    let mut acked: Vec<String> = vec!["OP-017".into()];
    let parcel = |n: i64| format!("SF{:013}", 4_000_000_000_000_i64 + n);
    let scan_acked = |st: &Station, code: String, acked: &mut Vec<String>| {
        let (status, out) = scan_cli(st, &code);
        assert_eq!(status, 0, "{code}: {out}");
        acked.push(code);
    };
    support::scan_ok(&st, &["OP-017"]);
    for n in 0..5 {
        scan_acked(&st, parcel(n), &mut acked);
        support::scan_ok(&st, &["CMD-CANCEL"]);
    }
    // (a) One fsync fails: NOT SAVED; the station re-verifies and takes the next scan.
    fs.fail_dirty_fsyncs("-wal", 1);
    let (status, out) = scan_cli(&st, &parcel(100));
    assert_eq!(status, 2, "{out}");
    assert!(out.starts_with("NOT SAVED"), "{out}");
    scan_acked(&st, parcel(6), &mut acked);
    support::scan_ok(&st, &["CMD-CANCEL"]);
    // (b) Again, and the daemon is killed before its next write.
    fs.fail_dirty_fsyncs("-wal", 1);
    let (status, out) = scan_cli(&st, &parcel(101));
    assert_eq!(status, 2, "{out}");
    d.kill9();
    let d = st.start();
    assert_eq!(
        received(&st, &parcel(100)),
        0,
        "a NOT SAVED scan never appears"
    );
    assert_eq!(received(&st, &parcel(101)), 0, "not even after a restart");
    support::scan_ok(&st, &["OP-017"]);
    for n in 10..40 {
        scan_acked(&st, parcel(n), &mut acked);
        support::scan_ok(&st, &["CMD-CANCEL"]);
    }
    // (c) Power cut: everything acknowledged is there, nothing else.
    d.kill9();
    fs.power_cut(Cut::Lost);
    let d = st.start();
    for code in acked.iter().filter(|c| c.starts_with("SF")) {
        assert_eq!(received(&st, code), 1, "{code} was acknowledged");
    }
    assert_eq!(received(&st, &parcel(100)) + received(&st, &parcel(101)), 0);
    let (status, out, err) = cli(&st, &["journal", "verify"]);
    assert_eq!(status, 0, "{out}{err}");
    // (d) A disk that fails again while the station checks it: stopped for storage, said
    // everywhere, until a later check passes; then work resumes without a restart.
    support::scan_ok(&st, &["OP-017"]);
    // Every fsync with something to write fails until the disk is healed: the commit's
    // and each re-verification's (the station tries again every few seconds).
    fs.fail_dirty_fsyncs("-wal", usize::MAX);
    let (status, _) = scan_cli(&st, &parcel(102));
    assert_eq!(status, 2);
    let (_, out, _) = cli(&st, &["sync", "status", "--json"]);
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(status["disk"]["storage_fault"].is_string(), "{status}");
    let r = scan_socket(&d, &parcel(103));
    assert_eq!(
        (r["outcome"].as_str(), r["code"].as_str()),
        (Some("not_stored"), Some("storage_fault")),
        "{r}"
    );
    fs.heal();
    let accepted = poll("the station to resume after re-verifying", || {
        let r = scan_socket(&d, &parcel(103));
        (r["outcome"] == "accepted").then_some(r)
    });
    assert!(accepted["seq_first"].is_i64(), "{accepted}");
    assert_eq!(received(&st, &parcel(102)), 0);
    assert_eq!(received(&st, &parcel(103)), 1);
    let (_, out, _) = cli(&st, &["sync", "status", "--json"]);
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(status["disk"]["storage_fault"].is_null(), "{status}");
    d.stop();
}
