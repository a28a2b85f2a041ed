//! `systemctl reload` (SIGHUP): `[[operators]]` take effect without a restart — a new
//! badge works at the bench, a removed operator's API session ends at once — every other
//! changed section is named as needing a restart, and a file with problems changes nothing.

use std::process::Command;

use serde_json::json;

use super::api_client::{addr, get, login, station};
use super::kit::control::Ctl;
use super::support::{Daemon, Station, poll, request, scan};

fn sighup(d: &Daemon) {
    let ok = Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP");
}

/// Wait until the daemon's log has `n` lines containing `what`.
fn wait_log(d: &Daemon, what: &str, n: usize) -> String {
    poll(what, || {
        let log = d.log_text();
        (log.matches(what).count() >= n).then_some(log)
    })
}

fn edit(st: &Station, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(&st.config).unwrap();
    std::fs::write(&st.config, f(text)).unwrap();
}

#[test]
fn sighup_applies_operators_ends_removed_sessions_and_names_what_needs_a_restart() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let keeper = login(&a, "017", "1111");
    let inspector = login(&a, "021", "2222");
    assert_eq!(get(&a, &inspector, "/api/v1/me").status, 200);
    let unknown = scan(&st, &["OP-040"]);
    assert_eq!(unknown[0]["code"], "unknown_operator", "{unknown:?}");
    // The inspector and the keeper are also logged in at benches by badge scan.
    let mut benches = Ctl::new(d.socket.clone());
    for (bench, badge) in [("bench-3", "OP-021"), ("bench-4", "OP-017")] {
        let r = benches.scan(bench, badge).unwrap();
        assert_eq!(r["code"], "logged_in", "{r}");
    }

    // The inspector leaves, a new keeper comes, and a setting that needs a restart moves.
    edit(&st, |t| {
        let t = t.replace(
            "[[operators]]\nbadge = \"021\"\nname = \"Inspector\"\nroles = [\"inspector\"]",
            "[[operators]]\nbadge = \"040\"\nname = \"New keeper\"\nroles = [\"keeper\"]\n\n#",
        );
        assert!(t.contains("badge = \"040\""), "edited: {t}");
        t.replace("double_read_window_ms = 0", "double_read_window_ms = 500")
    });
    sighup(&d);
    // The reload's two lines are written one after the other: wait for the second.
    let log = wait_log(&d, "in effect only after `systemctl restart returnsd`", 1);
    let line = log
        .lines()
        .find(|l| l.contains("in effect only after"))
        .unwrap_or_default();
    assert!(
        log.contains("config reloaded") && line.contains("[scan]"),
        "the changed [scan] is named as needing a restart: {log}"
    );

    // At once: the removed inspector's session is over, the keeper's is not.
    assert_eq!(get(&a, &inspector, "/api/v1/me").status, 401);
    assert_eq!(get(&a, &keeper, "/api/v1/me").status, 200);
    // Their bench logins too (contract 1.1 § 6.5): the station logs the inspector out of
    // bench-3; the keeper stays at bench-4.
    let out = st.events("operator.logged_out");
    assert!(
        out.iter().any(|e| e["data"]["badge"] == "021"
            && e["data"]["bench"] == "bench-3"
            && e["actor"] == "system"),
        "{out:?}"
    );
    assert!(!out.iter().any(|e| e["data"]["badge"] == "017"), "{out:?}");
    let r = benches.scan("bench-3", "SF9200000000002").unwrap();
    assert_eq!(r["code"], "login_required", "{r}");
    // The new badge works at the bench.
    let r = scan(&st, &["OP-040", "SF9200000000001"]);
    assert_eq!(r[0]["code"], "logged_in", "{r:?}");
    assert_eq!(r[1]["code"], "received_unannounced", "{r:?}");

    // A file with problems: refused with every problem named; nothing changes.
    edit(&st, |t| {
        t.replace("[station]\n", "[station]\nno_such_key = 1\n")
            .replace("badge = \"040\"", "badge = \"bad badge\"")
    });
    sighup(&d);
    let log = wait_log(&d, "reload refused", 1);
    assert!(log.contains("no_such_key"), "{log}");
    assert!(log.contains("operators"), "every problem named: {log}");
    let ping = request(&d.socket, &json!({"op": "ping"})).unwrap();
    assert_eq!(ping["ok"], true, "still running: {ping}");
    // (Through the control socket: the CLI itself refuses a config with problems.)
    let mut ctl = Ctl::new(d.socket.clone());
    ctl.scan("bench-2", "OP-040").unwrap();
    let r = ctl.scan("bench-2", "OP-040").unwrap();
    assert_eq!(r["ok"], true, "operators as before: {r}");
    d.stop();
}
