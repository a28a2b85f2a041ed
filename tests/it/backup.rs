//! `returnsd backup` and `returnsd restore` through the real binary: a backup taken while
//! scans stream restores every scan acknowledged before it began; a restore takes a new
//! epoch and the central (the contract-faithful double behind the fault proxy) receives
//! the restored copy's events under it from seq 1, with `restored_from` and their original
//! ids, each id held once as primary; refusals while the daemon runs and of files that are
//! not intact backups, naming them, with nothing changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::kit::central::{Central, CentralOptions, sha256_hex};
use crate::kit::control::Ctl;
use crate::proxy::{FaultMode, FaultProxy};
use crate::support::{Station, assert_journal_verifies, inspect_with_photo, poll, request};

fn sync_cfg(url: &str) -> String {
    format!(
        "\n[sync]\ncentral_url = \"{url}\"\nstation_token = \"station-token\"\nbackoff_cap_s = 1\n\
         slow_retry_s = 1\nrequest_timeout_s = 2\nfeed_poll_s = 1\n"
    )
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn backup(st: &Station, file: &Path) -> String {
    st.cli_ok(&["backup", "--out", file.to_str().unwrap()])
}

fn restore(st: &Station, file: &Path) -> std::process::Output {
    st.cli(&["restore", "--from", file.to_str().unwrap()])
}

fn epoch_of(st: &Station) -> String {
    let v = request(&st.socket(), &json!({"op": "ping"})).expect("ping");
    v["epoch"].as_str().expect("epoch").to_string()
}

/// `returnsd sync status --json` (None if it did not answer JSON).
fn sync_status(st: &Station) -> Option<Value> {
    serde_json::from_slice(&st.cli(&["sync", "status", "--json"]).stdout).ok()
}

/// The station's acknowledged cursor, as `sync status` reports it (local seqs).
fn station_acked(st: &Station) -> i64 {
    let v = sync_status(st).expect("sync status JSON");
    v["acked_through"].as_i64().expect("acked_through")
}

/// `n` unrecognised scans over one control connection: one `scan.recorded` each.
fn junk(st: &Station, prefix: &str, n: usize) {
    let mut ctl = Ctl::new(st.socket());
    for i in 0..n {
        let v = ctl.scan("junk", &format!("{prefix}-{i}")).expect("scan");
        assert_eq!(v["stored"], true, "{v}");
    }
}

/// A PNG photo in the photo store, referenced by an inspection: its sha256.
fn inspected_with_photo(st: &Station) -> String {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let file = st.dir.path().join("evidence.png");
    std::fs::write(&file, &png).unwrap();
    let photo = st
        .cli_ok(&["photo", "add", file.to_str().unwrap()])
        .trim()
        .to_string();
    let out = inspect_with_photo(st, &photo);
    assert!(out.status.success(), "{}", text(&out));
    sha256_hex(&png)
}

fn photo_path(st: &Station, sha: &str) -> PathBuf {
    st.state_dir()
        .join("photos")
        .join(&sha[..2])
        .join(format!("{sha}.png"))
}

/// The journal as `seq → event`.
fn by_seq(st: &Station) -> BTreeMap<i64, Value> {
    st.journal()
        .into_iter()
        .map(|e| (e["seq"].as_i64().unwrap(), e))
        .collect()
}

/// A backup taken while several hundred scans stream in over the control socket restores
/// into a fresh state directory: `journal verify` passes, every scan acknowledged before
/// the backup began is there with its seq and code, the inspection's photo is back in the
/// photo store, and the restored station runs under a new epoch.
#[test]
fn backup_while_scans_stream_restores_every_acknowledged_scan() {
    let st = Station::new("");
    let d = st.start();
    let old_epoch = epoch_of(&st);
    let sha = inspected_with_photo(&st);
    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let streamer = {
        let (acked, done, socket) = (acked.clone(), done.clone(), st.socket());
        std::thread::spawn(move || {
            let mut ctl = Ctl::new(socket);
            for i in 0..600 {
                let code = format!("STREAM-{i}");
                let v = ctl.scan("stream", &code).expect("scan");
                assert_eq!(v["stored"], true, "{v}");
                let seq = v["seq_first"].as_i64().expect("seq");
                acked.lock().unwrap().push((seq, code));
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    poll("100 scans acknowledged", || {
        (acked.lock().unwrap().len() >= 100).then_some(())
    });
    let before = acked.lock().unwrap().clone();
    let file = st.dir.path().join("station.backup");
    let said = backup(&st, &file);
    let during = acked.lock().unwrap().len();
    assert!(said.contains("1 photo(s)"), "{said}");
    streamer.join().expect("streamer");
    assert!(done.load(Ordering::SeqCst));
    assert!(
        during > before.len() && during < 600,
        "the backup ran while scans streamed ({} before, {during} after)",
        before.len()
    );
    d.stop();

    let fresh = Station::new("");
    let out = restore(&fresh, &file);
    assert!(out.status.success(), "{}", text(&out));
    assert_journal_verifies(&fresh);
    let journal = by_seq(&fresh);
    for (seq, code) in &before {
        assert_eq!(
            journal.get(seq).map(|e| e["data"]["code"].clone()),
            Some(json!(code)),
            "scan {code} (seq {seq}) acknowledged before the backup began"
        );
    }
    let restored_scans = journal
        .values()
        .filter(|e| {
            e["data"]["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("STREAM-"))
        })
        .count();
    assert!(restored_scans >= before.len() && restored_scans < 600);
    let photo = std::fs::read(photo_path(&fresh, &sha)).expect("photo restored");
    assert_eq!(sha256_hex(&photo), sha);

    let d = fresh.start();
    let new_epoch = epoch_of(&fresh);
    assert_ne!(
        new_epoch, old_epoch,
        "a restored database takes a new epoch"
    );
    let marker: Value = serde_json::from_str(
        &std::fs::read_to_string(fresh.state_dir().join("returnsd.db.created")).unwrap(),
    )
    .unwrap();
    assert_eq!(marker["epoch"], json!(new_epoch), "a fresh creation marker");
    d.stop();
}

/// The disk of a syncing station dies after a backup; the backup is restored. Before the
/// backup the central acknowledged events 1–10, stored 11–20 without the station hearing
/// its answer, and never got 21–30. After the restore the central sees a new epoch from
/// seq 1: old 11–30 as 1–20 with `restored_from` and their original ids (11–20 copies of
/// events it holds, 21–30 new to it), then the new events; every id is primary exactly
/// once, no seq_conflict, no contract breach, and every event of the backup is held.
#[test]
fn restore_takes_a_new_epoch_and_resends_what_the_central_never_acknowledged() {
    let central = Central::start(CentralOptions::default());
    let proxy = FaultProxy::start(central.addr());
    let st = Station::new(&sync_cfg(&proxy.url()));
    let d = st.start();
    let old_epoch = epoch_of(&st);
    junk(&st, "ACKED", 10);
    poll("1–10 acknowledged", || {
        (central.acked_through(&old_epoch) == 10 && station_acked(&st) == 10).then_some(())
    });
    proxy.set(FaultMode::ResetAfterUpstream);
    junk(&st, "UNHEARD", 10);
    poll("11–20 stored by the central", || {
        (central.acked_through(&old_epoch) == 20).then_some(())
    });
    proxy.set(FaultMode::Refuse);
    junk(&st, "UNSENT", 10);
    assert_eq!(
        station_acked(&st),
        10,
        "the station never heard 11–20 acknowledged"
    );
    let file = st.dir.path().join("station.backup");
    backup(&st, &file);
    let backed_up = st.journal();
    assert_eq!(backed_up.len(), 30);
    junk(&st, "LOST", 5);
    // The disk dies: events after the backup that never left the station are gone.
    d.kill9();

    let out = restore(&st, &file);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("20 event(s)"), "{}", text(&out));
    let kept: Vec<_> = std::fs::read_dir(st.state_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("returnsd.db.replaced-"))
        .collect();
    assert!(!kept.is_empty(), "the lost database is kept aside");
    proxy.set(FaultMode::Pass);
    let d = st.start();
    let new_epoch = epoch_of(&st);
    assert_ne!(new_epoch, old_epoch);
    junk(&st, "AFTER", 5);
    poll("the new epoch pushed", || {
        (central.acked_through(&new_epoch) == 25).then_some(())
    });
    let got = central.events(&new_epoch);
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=25).collect::<Vec<i64>>(),
        "the new epoch starts at seq 1, gapless"
    );
    for (i, e) in got.iter().enumerate().take(20) {
        let old = &backed_up[10 + i];
        assert_eq!(json!(e.id), old["id"], "original id at new seq {}", e.seq);
        assert_eq!(
            e.restored_from,
            Some((old_epoch.clone(), old["seq"].as_i64().unwrap())),
            "restored_from of new seq {}",
            e.seq
        );
        assert_eq!(
            e.primary,
            i >= 10,
            "held before: a copy; new to the central: primary"
        );
    }
    for e in &got[20..] {
        assert_eq!((e.restored_from.clone(), e.primary), (None, true), "{e:?}");
        assert!(e.data["code"].as_str().unwrap().starts_with("AFTER-"));
    }
    let primary = central.primary_ids();
    assert!(primary.values().all(|n| *n == 1), "{primary:?}");
    for e in backed_up.iter().chain(&st.journal()) {
        let id = e["id"].as_str().unwrap();
        assert_eq!(primary.get(id), Some(&1), "event {e} held once as primary");
    }
    assert!(
        central.violations().is_empty(),
        "{:?}",
        central.violations()
    );
    let status = sync_status(&st).expect("sync status JSON");
    assert_ne!(status["push"]["state"], "conflict", "{status}");
    assert_journal_verifies(&st);
    d.stop();
}

/// The pull feed answers the new epoch in its own seqs from after=0, with `restored_from`,
/// and the central's pull ack moves the station's cursor in local seqs.
#[test]
fn the_pull_feed_serves_a_restored_database_in_the_new_epochs_seqs() {
    let st = Station::new("\n[sync]\ncentral_token = \"central-token\"\n");
    let d = st.start();
    let old_epoch = epoch_of(&st);
    junk(&st, "A", 4);
    let file = st.dir.path().join("b");
    backup(&st, &file);
    let old = st.journal();
    d.stop();
    let out = restore(&st, &file);
    assert!(out.status.success(), "{}", text(&out));
    let d = st.start();
    let epoch = epoch_of(&st);
    junk(&st, "B", 1);
    let addr = request(&st.socket(), &json!({"op": "ping"})).unwrap()["http"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |path: &str| {
        crate::kit::http::http(
            &addr,
            "GET",
            path,
            &[("authorization", "Bearer central-token")],
            b"",
        )
    };
    let r = get(&format!("/v1/sync/events?epoch={epoch}&after=0"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = r.json();
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(v["last_seq"], 5);
    for (i, e) in events.iter().enumerate().take(4) {
        assert_eq!(e["seq"], json!(i + 1));
        assert_eq!(e["id"], old[i]["id"]);
        assert_eq!(
            e["restored_from"],
            json!({"epoch": old_epoch, "seq": i + 1})
        );
    }
    assert!(events[4].get("restored_from").is_none());
    let r = get(&format!("/v1/sync/events?epoch={old_epoch}&after=0"));
    assert_eq!(r.status, 409, "the old epoch is not served");
    let ack = crate::kit::http::http(
        &addr,
        "POST",
        "/v1/sync/ack",
        &[
            ("authorization", "Bearer central-token"),
            ("content-type", "application/json"),
        ],
        json!({"epoch": epoch, "acked_through": 5})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(ack.status, 204, "{}", ack.text());
    assert_eq!(
        station_acked(&st),
        5,
        "wire 5 is local 5 (nothing was acked before)"
    );
    let r = get(&format!("/v1/sync/events?epoch={epoch}&after=5"));
    assert_eq!(r.json()["events"], json!([]));
    d.stop();
}

/// While the daemon runs, a restore is refused naming the lock and the daemon's PID, and
/// nothing changes (same epoch, no database moved aside).
#[test]
fn restore_refuses_while_the_daemon_runs() {
    let st = Station::new("");
    let d = st.start();
    junk(&st, "X", 3);
    let epoch = epoch_of(&st);
    let file = st.dir.path().join("b");
    backup(&st, &file);
    let out = restore(&st, &file);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("returnsd.lock") && err.contains(&d.child.id().to_string()),
        "{err}"
    );
    assert_eq!(epoch_of(&st), epoch);
    assert!(
        std::fs::read_dir(st.state_dir())
            .unwrap()
            .filter_map(Result::ok)
            .all(|e| !e.file_name().to_string_lossy().contains("replaced")),
        "nothing moved aside"
    );
    d.stop();
}

/// What is not an intact backup is refused naming the file, exit 2, nothing changed: a
/// text file, the station database itself, a backup with damaged pages, a backup whose
/// journal has a hole (`journal verify` fails), a backup of another station, and a backup
/// into a directory that does not exist.
#[test]
fn restore_refuses_what_is_not_an_intact_backup_naming_it() {
    let st = Station::new("");
    let d = st.start();
    junk(&st, "X", 200);
    let good = st.dir.path().join("good.backup");
    backup(&st, &good);
    let missing = st.dir.path().join("no-such-dir").join("b");
    let out = st.cli(&["backup", "--out", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no-such-dir: the backup's directory does not exist"));
    d.stop();
    let epoch_before = st.cli_ok(&["export", "--since", "2000-01-01", "--format", "jsonl"]);

    let damaged = st.dir.path().join("damaged.backup");
    let mut bytes = std::fs::read(&good).unwrap();
    let page = 4096;
    assert!(bytes.len() > 8 * page);
    for b in &mut bytes[2 * page..6 * page] {
        *b = 0x5A;
    }
    std::fs::write(&damaged, &bytes).unwrap();

    let holed = st.dir.path().join("holed.backup");
    std::fs::copy(&good, &holed).unwrap();
    {
        let c = rusqlite::Connection::open(&holed).unwrap();
        c.execute("DELETE FROM journal WHERE seq = 100", [])
            .unwrap();
    }
    let other = st.dir.path().join("other.backup");
    std::fs::copy(&good, &other).unwrap();
    {
        let c = rusqlite::Connection::open(&other).unwrap();
        c.execute(
            "UPDATE backup_info SET value = 'ST99' WHERE key = 'station_id'",
            [],
        )
        .unwrap();
    }

    let cases: [(PathBuf, &str); 5] = [
        (
            st.config.clone(),
            "not a returnsd backup (not an SQLite database)",
        ),
        (
            st.db(),
            "not a returnsd backup (it has no backup_info table)",
        ),
        (damaged.clone(), "the backup is damaged"),
        (holed.clone(), "journal verify fails: 1 gap(s)"),
        (other.clone(), "the backup is of station \"ST99\""),
    ];
    for (file, says) in cases {
        let out = restore(&st, &file);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            file.display(),
            text(&out)
        );
        assert!(
            err.contains(&file.display().to_string()) && err.contains(says),
            "{}: expected {says:?} in {err}",
            file.display()
        );
    }
    let names: BTreeSet<String> = std::fs::read_dir(st.state_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("replaced") && !n.contains("restoring")),
        "{names:?}"
    );
    let after = st.cli_ok(&["export", "--since", "2000-01-01", "--format", "jsonl"]);
    assert_eq!(after, epoch_before, "the database is untouched");
    // The good one still restores.
    let out = restore(&st, &good);
    assert!(out.status.success(), "{}", text(&out));
}

/// The contract's recovery after a `seq_conflict`: the stopped station's own database is
/// backed up and restored. The new epoch carries every event the central did not
/// acknowledge (with `restored_from`, original ids, from seq 1) and the push runs again;
/// the forged event stays alone under the old epoch.
#[test]
fn a_seq_conflict_is_recovered_by_backup_and_restore() {
    let central = Central::start(CentralOptions::default());
    let st = Station::new(&sync_cfg(&central.url()));
    let d = st.start();
    let old_epoch = epoch_of(&st);
    junk(&st, "OK", 3);
    poll("1–3 acknowledged", || {
        (station_acked(&st) == 3).then_some(())
    });
    // Another writer of this epoch (a copied database, say) got seq 4 to the central first.
    let now = crate::kit::central::contract_time(chrono::Utc::now());
    let forged = json!({
        "station_id": "ST01", "epoch": old_epoch, "sent_at": now,
        "events": [{"seq": 4, "id": uuid::Uuid::now_v7().to_string(), "type": "scan.recorded",
                    "occurred_at": now, "actor": "system", "return_id": null,
                    "data": {"code": "FORGED"}}],
    });
    let r = crate::kit::http::http(
        &central.addr().to_string(),
        "POST",
        "/v1/stations/ST01/events",
        &[
            ("authorization", "Bearer station-token"),
            ("content-type", "application/json"),
        ],
        forged.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    junk(&st, "MINE", 3);
    poll("push stopped in conflict", || {
        let v = sync_status(&st)?;
        (v["push"]["state"] == "conflict").then_some(())
    });
    d.stop();

    let file = st.dir.path().join("recover.backup");
    backup(&st, &file);
    let out = restore(&st, &file);
    assert!(out.status.success(), "{}", text(&out));
    let mine = st.journal();
    let d = st.start();
    let new_epoch = epoch_of(&st);
    poll("the new epoch pushed", || {
        (central.acked_through(&new_epoch) == 3).then_some(())
    });
    let got = central.events(&new_epoch);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
        assert_eq!(json!(e.id), mine[3 + i]["id"]);
        assert_eq!(e.restored_from, Some((old_epoch.clone(), 4 + i as i64)));
        assert!(e.primary);
    }
    assert_eq!(central.events(&old_epoch).len(), 4, "1–3 and the forged 4");
    poll("the push idle again, everything acknowledged", || {
        let v = sync_status(&st)?;
        (v["push"]["state"] == "idle" && v["backlog"] == 0).then_some(())
    });
    assert!(
        central
            .violations()
            .iter()
            .all(|v| v.contains("seq_conflict")),
        "only the conflict itself: {:?}",
        central.violations()
    );
    d.stop();
}

/// A database copied to another state directory (another file: the disk was replaced, say)
/// is noticed at start: the push is held in state `moved` with the reason, the pull feed
/// answers 503, and the central gets nothing under the old epoch. `restore
/// --confirm-moved` (refused where nothing moved) takes a new epoch in place, and the
/// unacknowledged events go out under it with `restored_from`.
#[test]
fn a_moved_database_is_held_until_a_restore_is_confirmed() {
    let central = Central::start(CentralOptions::default());
    let proxy = FaultProxy::start(central.addr());
    let extra = format!(
        "{}central_token = \"central-token\"\n",
        sync_cfg(&proxy.url())
    );
    let st = Station::new(&extra);
    let d = st.start();
    let old_epoch = epoch_of(&st);
    junk(&st, "SENT", 4);
    poll("1–4 acknowledged", || {
        (station_acked(&st) == 4).then_some(())
    });
    proxy.set(FaultMode::Refuse);
    junk(&st, "HELD", 3);
    d.stop();
    let out = st.cli(&["restore", "--confirm-moved"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no move to confirm"), "{}", text(&out));

    let copy = Station::new(&extra);
    std::fs::create_dir_all(copy.state_dir()).unwrap();
    std::fs::copy(st.db(), copy.db()).unwrap();
    proxy.set(FaultMode::Pass);
    let d = copy.start();
    let held = poll("the push held", || {
        let v = sync_status(&copy)?;
        (v["push"]["state"] == "moved").then_some(v)
    });
    let why = held["push"]["last_error"].as_str().unwrap_or_default();
    assert!(
        why.contains(&copy.db().display().to_string()) && why.contains("--confirm-moved"),
        "{held}"
    );
    let addr = request(&copy.socket(), &json!({"op": "ping"})).unwrap()["http"]
        .as_str()
        .unwrap()
        .to_string();
    let r = crate::kit::http::http(
        &addr,
        "GET",
        &format!("/v1/sync/events?epoch={old_epoch}&after=0"),
        &[("authorization", "Bearer central-token")],
        b"",
    );
    assert_eq!((r.status, r.json()["error"].clone()), (503, json!("moved")));
    assert_eq!(
        central.acked_through(&old_epoch),
        4,
        "nothing more under the old epoch"
    );
    assert_eq!(central.epochs(), std::slice::from_ref(&old_epoch));
    d.stop();

    let out = copy.cli(&["restore", "--confirm-moved"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("3 event(s)"), "{}", text(&out));
    let d = copy.start();
    let new_epoch = epoch_of(&copy);
    assert_ne!(new_epoch, old_epoch);
    poll("the held events pushed under the new epoch", || {
        (central.acked_through(&new_epoch) == 3).then_some(())
    });
    let journal = copy.journal();
    for (i, e) in central.events(&new_epoch).iter().enumerate() {
        assert_eq!(json!(e.id), journal[4 + i]["id"]);
        assert_eq!(e.restored_from, Some((old_epoch.clone(), 5 + i as i64)));
    }
    assert!(
        central.violations().is_empty(),
        "{:?}",
        central.violations()
    );
    d.stop();
    // Started again where it now lives: not moved any more.
    let d = copy.start();
    junk(&copy, "NEXT", 1);
    poll("pushing normally", || {
        (central.acked_through(&new_epoch) == 4).then_some(())
    });
    d.stop();
}

/// A backup onto a full disk is refused naming the target (exit 2), leaves no temp file
/// behind there, and does not disturb the daemon; with room again it is written. Needs
/// root (a small tmpfs).
#[test]
fn a_backup_onto_a_full_disk_is_refused_naming_it() {
    let st = Station::new("");
    let d = st.start();
    junk(&st, "BIG", 400);
    let target = crate::edges::Tmpfs::mount(&st.dir.path().join("small"), "64k");
    let file = target.dir.join("station.backup");
    let out = st.cli(&["backup", "--out", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{}: the disk is full", file.display())),
        "{}",
        text(&out)
    );
    let left: Vec<_> = std::fs::read_dir(&target.dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
    junk(&st, "STILL", 1);
    drop(target);
    let roomy = st.dir.path().join("station.backup");
    backup(&st, &roomy);
    d.stop();
}
