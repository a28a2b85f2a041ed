//! The daemon started inside a test's own tokio runtime (`app::Daemon`): built on a fresh
//! state directory, driven through its control socket, stopped by a future the test
//! resolves — what tests and benches need to run it without the binary or signals.

use serde_json::json;

use returnsd::app::{Daemon, DaemonError, RunOptions};
use returnsd::engine::system_clock;

use crate::support::Station;

async fn build(st: &Station) -> Result<Daemon, DaemonError> {
    let cfg = returnsd::config::load(&st.config).expect("config");
    Daemon::build(cfg, RunOptions::default(), system_clock()).await
}

/// A daemon built in-process records a scan sent to its control socket, and stops (socket
/// removed, state directory released) when its shutdown future resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_daemon_scans_and_stops_on_its_shutdown_future() {
    let st = Station::new("");
    let daemon = build(&st).await.expect("build");
    let socket = daemon.control_socket().to_path_buf();
    assert!(daemon.http_addr().is_some(), "http.listen port 0 resolved");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run_until(async {
        let _ = stopped.await;
    }));

    let reply = returnsd::control::request(&socket, &json!({"op": "scan", "code": "OP-017"}))
        .await
        .expect("answer");
    assert_eq!(reply["outcome"], "accepted", "{reply}");
    assert_eq!(reply["seq_first"], 1, "{reply}");

    stop.send(()).expect("daemon still running");
    running.await.expect("run_until ran").expect("stopped");
    assert!(!socket.exists(), "the control socket is removed at stop");
    // The lock is released and the engine's commit is on disk: a new daemon starts on the
    // same state directory and answers from the journal.
    let again = build(&st).await.expect("build again");
    assert_eq!(
        again
            .engine()
            .stats
            .last_seq
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    again.run_until(async {}).await.expect("stopped");
}

/// Whatever stops a start fails in `build`, before anything is served: a second daemon on
/// a held state directory is refused with the holder named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_cannot_succeed_fails_in_build() {
    let st = Station::new("");
    let first = build(&st).await.expect("build");
    let refused = build(&st).await.err().expect("a second daemon is refused");
    assert!(
        matches!(refused, DaemonError::Locked(_)),
        "refused for the lock: {refused}"
    );
    assert!(
        refused.to_string().contains("returnsd run (PID"),
        "{refused}"
    );
    first.run_until(async {}).await.expect("stopped");
}

/// Wait (up to 10 s) for the engine to publish `n` returns held: it lets go of settled
/// returns right after it has answered, so the count follows the answer by a moment.
async fn held_becomes(stats: &returnsd::engine::Stats, n: u64, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = stats
            .held_returns
            .load(std::sync::atomic::Ordering::Relaxed);
        if now == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {now} held, not {n}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// The engine holds the open work in memory, not the history: returns put away leave
/// memory once their batch commits, a restart loads only the open ones, and a put-away
/// return named again — its waybill scanned, a restock — is read back from its row and
/// acted on as before (the waybill finds it: no second return is received).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_holds_the_open_work_and_recalls_the_rest_when_named() {
    use returnsd::control::request;
    let st = Station::new("\n[inspection]\ndefect_photo_required = false\n");
    let daemon = build(&st).await.expect("build");
    let socket = daemon.control_socket().to_path_buf();
    let held = daemon.engine().stats.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run_until(async {
        let _ = stopped.await;
    }));
    let scan = |code: &'static str| {
        let socket = socket.clone();
        async move {
            let r = request(&socket, &json!({"op": "scan", "code": code}))
                .await
                .expect("answer");
            assert_eq!(r["outcome"], "accepted", "{code}: {r}");
            r
        }
    };
    let op = |v: serde_json::Value| {
        let socket = socket.clone();
        async move {
            let r = request(&socket, &v).await.expect("answer");
            assert_eq!(r["outcome"], "accepted", "{v}: {r}");
            r
        }
    };
    let mut ids = Vec::new();
    scan("OP-017").await;
    for waybill in ["SF1000000000001", "SF1000000000002", "SF1000000000003"] {
        let r = scan(waybill).await;
        ids.push(r["return_id"].as_str().unwrap().to_string());
        for code in [
            "CMD-KIND-CUSTOMER",
            "CMD-UNPACK",
            "6901234560015",
            "CMD-VIS-OK",
            "Z-PENDING",
        ] {
            scan(code).await;
        }
    }
    held_becomes(&held, 3, "three returns waiting for inspection").await;
    for id in &ids[..2] {
        op(json!({"op": "inspect", "badge": "021", "return_id": id, "grade": "good"})).await;
        op(json!({"op": "put_away", "badge": "021", "return_id": id, "zone": "A01"})).await;
    }
    held_becomes(&held, 1, "the two put away left memory").await;
    stop.send(()).expect("running");
    running.await.expect("ran").expect("stopped");

    let again = build(&st).await.expect("build again");
    let socket = again.control_socket().to_path_buf();
    let held = again.engine().stats.clone();
    held_becomes(&held, 1, "a restart loads the open work only").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(again.run_until(async {
        let _ = stopped.await;
    }));
    let r = request(&socket, &json!({"op": "scan", "code": "SF1000000000001"}))
        .await
        .expect("answer");
    assert_eq!(r["return_id"].as_str(), Some(ids[0].as_str()), "{r}");
    // The bench now points at it (for a reprint): held while it does.
    held_becomes(&held, 2, "the open one and the bench's").await;
    let r = request(
        &socket,
        &json!({"op": "restock", "badge": "017", "return_id": ids[1]}),
    )
    .await
    .expect("answer");
    assert_eq!(r["outcome"], "accepted", "{r}");
    // The engine settles a batch before it takes the next: once this answer is back the
    // restock's batch has been settled, so a count of 3 would show.
    request(&socket, &json!({"op": "scan", "code": "OP-017"}))
        .await
        .expect("answer");
    held_becomes(&held, 2, "the restocked one recalled, then let go").await;
    stop.send(()).expect("running");
    running.await.expect("ran").expect("stopped");
    let db = rusqlite::Connection::open(st.db()).unwrap();
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM returns", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n, 3,
        "no second return was received for a waybill scanned again"
    );
}

/// A closed RTV note leaves the engine's memory (its snapshot stays on disk): after a
/// restart the next note of the day still takes the next number, and closing the old
/// note again is refused as already closed (it is read back by its number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_rtv_notes_leave_memory_and_keep_their_numbers() {
    use returnsd::control::request;
    let st = Station::new("\n[inspection]\ndefect_photo_required = false\n");
    let ask = |socket: std::path::PathBuf, v: serde_json::Value| async move {
        request(&socket, &v).await.expect("answer")
    };
    // A defect unit in the defect zone, on an RTV note: the note's number.
    let defect_on_note = |socket: std::path::PathBuf, waybill: &'static str| async move {
        let mut id = String::new();
        for code in crate::support::book_in_scans(waybill) {
            let r = request(&socket, &json!({"op": "scan", "code": code}))
                .await
                .unwrap();
            assert_eq!(r["outcome"], "accepted", "{code}: {r}");
            if code == waybill {
                id = r["return_id"].as_str().unwrap().to_string();
            }
        }
        for v in [
            json!({"op": "inspect", "badge": "021", "return_id": id, "grade": "defect", "defect_reasons": ["damaged_casing"]}),
            json!({"op": "put_away", "badge": "021", "return_id": id, "zone": "Z-DEFECT"}),
            json!({"op": "rtv", "badge": "017", "vendor": "ACME", "items": [format!("{id}.1")]}),
        ] {
            let r = request(&socket, &v).await.unwrap();
            assert_eq!(r["outcome"], "accepted", "{v}: {r}");
            if v["op"] == "rtv" {
                return r["params"]["note_no"].as_str().unwrap().to_string();
            }
        }
        unreachable!()
    };
    let daemon = build(&st).await.expect("build");
    let socket = daemon.control_socket().to_path_buf();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run_until(async {
        let _ = stopped.await;
    }));
    let first = defect_on_note(socket.clone(), "SF1000000000001").await;
    assert!(first.ends_with("-0001"), "{first}");
    let close =
        json!({"op": "rtv_close", "badge": "001", "note_no": first, "waybill": "SF1999999999999"});
    let r = ask(socket.clone(), close.clone()).await;
    assert_eq!(r["outcome"], "accepted", "{r}");
    stop.send(()).expect("running");
    running.await.expect("ran").expect("stopped");

    let daemon = build(&st).await.expect("build again");
    let socket = daemon.control_socket().to_path_buf();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run_until(async {
        let _ = stopped.await;
    }));
    let second = defect_on_note(socket.clone(), "SF1000000000002").await;
    assert_eq!(
        second,
        first.replace("-0001", "-0002"),
        "the day's next number"
    );
    let r = ask(socket.clone(), close).await;
    assert_eq!(r["code"], "rtv_note_already_closed", "{r}");
    stop.send(()).expect("running");
    running.await.expect("ran").expect("stopped");
}
