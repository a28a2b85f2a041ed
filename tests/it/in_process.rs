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
