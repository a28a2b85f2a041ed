//! The operator API's state survives a restart of the real daemon — a clean stop (SIGTERM)
//! and a crash (SIGKILL): sessions (bearer, cookie and CSRF), their idle expiry, logouts,
//! wrong-PIN lockouts, and `Idempotency-Key` answers (a resent command is replayed, not
//! applied twice).

use serde_json::{Value, json};

use crate::api::{first_check_one, manifest};
use crate::api_client::{JSON, Resp, Sess, addr, get, http, login, login_resp, station};
use crate::support::{Daemon, Station};

/// How a daemon ends before the restart.
#[derive(Clone, Copy, Debug)]
enum End {
    Stop,
    Kill9,
}

fn restart(st: &Station, d: Daemon, end: End) -> (Daemon, String) {
    match end {
        End::Stop => {
            d.stop();
        }
        End::Kill9 => d.kill9(),
    }
    let d = st.start();
    let a = addr(&d);
    (d, a)
}

const REPRINT: &str = "/api/v1/returns/R-ST01-20260101-0001/reprint";

/// A mutating request by cookie: with the right CSRF token it reaches the engine (which
/// refuses the unknown return, 404); with a wrong one it is refused (403 csrf).
fn cookie_post(a: &str, s: &Sess, csrf: &str) -> Resp {
    http(
        a,
        "POST",
        REPRINT,
        &[("Cookie", &s.cookie()), ("X-CSRF-Token", csrf), JSON],
        br#"{"reason":"smudged"}"#,
    )
}

/// (a) A session opened before a restart still works after it, by bearer and by cookie,
/// and its CSRF token still guards cookie mutations — after a clean stop and after
/// kill -9. The token never reaches the log.
#[test]
fn sessions_survive_restart_and_kill_9() {
    let st = station("");
    let mut d = st.start();
    let s = login(&addr(&d), "017", "1111");
    for end in [End::Stop, End::Kill9] {
        let log = d.log_text();
        assert!(!log.contains(&s.token), "the token is in the log");
        let a;
        (d, a) = restart(&st, d, end);
        let me = get(&a, &s, "/api/v1/me");
        assert_eq!(
            me.status,
            200,
            "{end:?}: {}",
            String::from_utf8_lossy(&me.body)
        );
        assert_eq!(me.json()["badge"], "017");
        let me = http(&a, "GET", "/api/v1/me", &[("Cookie", &s.cookie())], b"");
        assert_eq!(
            (me.status, me.json()["auth"].clone()),
            (200, json!("cookie"))
        );
        let r = cookie_post(&a, &s, &s.csrf);
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (404, json!("unknown_return")),
            "{end:?}: the CSRF token still works"
        );
        let r = cookie_post(&a, &s, "wrong");
        assert_eq!((r.status, r.json()["error"].clone()), (403, json!("csrf")));
    }
    assert!(!d.log_text().contains(&s.token), "the token is in the log");
}

/// (b) A session that went idle past the timeout while the daemon was down is refused
/// after the restart, while one used recently is not. The downtime is simulated by moving
/// the stored last use back by two hours (the idle timeout is one) while stopped.
#[test]
fn session_idle_past_expiry_across_restart_is_refused() {
    let st = station("session_idle_s = 3600");
    let d = st.start();
    let a = addr(&d);
    let stale = login(&a, "017", "1111");
    let fresh = login(&a, "021", "2222");
    d.stop();
    {
        let db = rusqlite::Connection::open(st.db()).unwrap();
        let n = db
            .execute(
                "UPDATE api_sessions SET last_seen = last_seen - 7200000 WHERE badge = '017'",
                [],
            )
            .unwrap();
        assert_eq!(n, 1, "the session was stored at login");
    }
    let d = st.start();
    let a = addr(&d);
    let r = get(&a, &stale, "/api/v1/me");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (401, json!("session_expired"))
    );
    // Still refused on the next try (gone, not revived).
    assert_eq!(get(&a, &stale, "/api/v1/me").status, 401);
    let r = get(&a, &fresh, "/api/v1/me");
    assert_eq!((r.status, r.json()["badge"].clone()), (200, json!("021")));
    drop(d);
}

/// (c) A logged-out token stays refused after a restart (clean stop and kill -9).
#[test]
fn logout_survives_restart() {
    let st = station("");
    let mut d = st.start();
    let mut a = addr(&d);
    for end in [End::Stop, End::Kill9] {
        let s = login(&a, "017", "1111");
        let other = login(&a, "017", "1111");
        let r = http(
            &a,
            "DELETE",
            "/api/v1/session",
            &[("Authorization", &s.bearer())],
            b"",
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(get(&a, &s, "/api/v1/me").status, 401);
        (d, a) = restart(&st, d, end);
        let r = get(&a, &s, "/api/v1/me");
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (401, json!("unauthorized")),
            "{end:?}: the logged-out token came back"
        );
        // The operator's other session is untouched.
        assert_eq!(get(&a, &other, "/api/v1/me").status, 200, "{end:?}");
    }
}

/// (d) Wrong PINs counted before a restart still count after it, and a lockout is not
/// lifted by a restart (clean stop, then kill -9).
#[test]
fn lockout_survives_restart() {
    let st = station("lockout_after = 3");
    let d = st.start();
    let a = addr(&d);
    for _ in 0..2 {
        let r = login_resp(&a, "021", "wrongpin");
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (401, json!("bad_credentials"))
        );
    }
    let (d, a) = restart(&st, d, End::Stop);
    // The third wrong PIN (the first since the restart) locks.
    let r = login_resp(&a, "021", "wrongpin");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (429, json!("locked_out")),
        "the count was reset by the restart"
    );
    let (d, a) = restart(&st, d, End::Kill9);
    let r = login_resp(&a, "021", "2222");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (429, json!("locked_out")),
        "the restart lifted the lockout"
    );
    assert!(r.json()["retry_after_s"].as_u64().unwrap() > 0);
    // Other badges were never affected.
    login(&a, "017", "1111");
    drop(d);
}

/// (e) A command sent with an Idempotency-Key, the daemon killed with SIGKILL right after
/// it answered, restarted: the same request with the same key gets the same answer
/// (marked replayed) and the journal holds the command's events once; the key with
/// another body is refused, and does not disturb the key's own replay.
#[test]
fn idempotency_key_survives_kill_9() {
    let st = station("");
    manifest(&st);
    let d = st.start();
    let rid = first_check_one(&st);
    let a = addr(&d);
    let inspector = login(&a, "021", "2222");
    let inspect = format!("/api/v1/returns/{rid}/inspect");
    let send = |a: &str, key: &str, body: &Value| {
        http(
            a,
            "POST",
            &inspect,
            &[
                ("Authorization", &inspector.bearer()),
                ("Idempotency-Key", key),
                JSON,
            ],
            body.to_string().as_bytes(),
        )
    };
    let good = json!({"grade": "good"});
    let first = send(&a, "k-crash-1", &good);
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(first.header("idempotent-replayed"), None);
    let inspections = |st: &Station| {
        st.journal()
            .iter()
            .filter(|e| e["type"] == "inspection.completed" && e["return_id"] == json!(rid))
            .count()
    };
    let (d, a) = restart(&st, d, End::Kill9);
    assert_eq!(inspections(&st), 1, "the answered command is on disk");
    let again = send(&a, "k-crash-1", &good);
    assert_eq!(again.status, first.status);
    assert_eq!(again.json(), first.json());
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(inspections(&st), 1, "the resent command was applied again");
    // The same key with another body: refused, nothing applied; the key still replays.
    let other = send(&a, "k-crash-1", &json!({"grade": "defect"}));
    assert_eq!(
        (other.status, other.json()["error"].clone()),
        (422, json!("idempotency_key_reused"))
    );
    let third = send(&a, "k-crash-1", &good);
    assert_eq!((third.status, third.json()), (200, first.json()));
    assert_eq!(third.header("idempotent-replayed").as_deref(), Some("true"));
    // And once more across a clean stop, now answered from memory-less start again.
    let (d, a) = restart(&st, d, End::Stop);
    let fourth = send(&a, "k-crash-1", &good);
    assert_eq!((fourth.status, fourth.json()), (200, first.json()));
    let other = send(&a, "k-crash-1", &json!({"grade": "defect"}));
    assert_eq!(other.status, 422);
    assert_eq!(inspections(&st), 1);
    drop(d);
}

/// The engine keeps a keyed command's answer in the command's own transaction: a domain
/// refusal is recorded as the render made it, the same request again is answered from the
/// record without running (nor rendering) again, another request under the key is a
/// mismatch, keys are per badge, and the maintenance prune forgets records past 24 h.
#[test]
fn engine_keeps_keyed_answers_for_24_hours() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    use returnsd::domain::ids::Badge;
    use returnsd::engine::{Keep, Kept};

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let path = dir.path().join("test.toml");
    let cfg = returnsd::config::parse(
        &crate::support::config_text(&state, ""),
        "test.toml",
        &path,
        &[],
    )
    .unwrap_or_else(|e| panic!("config: {e}"));
    let cfg = Arc::new(cfg);
    let t0 = 1_780_000_000_000i64;
    let clock_ms = Arc::new(AtomicI64::new(t0));
    let c = clock_ms.clone();
    let clock: returnsd::engine::Clock = Arc::new(move || {
        chrono::DateTime::from_timestamp_millis(c.load(Ordering::SeqCst)).unwrap()
    });
    let (h, _effects, join) = returnsd::engine::start(cfg.clone(), clock).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let renders = Arc::new(AtomicUsize::new(0));
    let badge = Badge::parse("017").unwrap();
    let send = |badge: &Badge, key: &str, reason: &str| {
        let req = json!({"return_id": "R-ST01-20260101-0001", "reason": reason});
        let cmd = returnsd::commands::build("reprint", &req, badge, &state).unwrap();
        let n = renders.clone();
        let keep = Keep {
            badge: badge.as_str().to_string(),
            key: key.to_string(),
            fingerprint: [reason.len() as u8; 32],
            render: Box::new(move |r| {
                n.fetch_add(1, Ordering::SeqCst);
                (404, json!({"error": r.code, "n": 1}))
            }),
        };
        rt.block_on(h.command_kept(badge.clone(), None, cmd, Some(keep)))
    };
    let r = send(&badge, "k1", "smudged");
    assert_eq!(r.code, "unknown_return");
    let recorded = Kept::Recorded(404, json!({"error": "unknown_return", "n": 1}));
    assert_eq!(r.kept, Some(recorded));
    assert_eq!(renders.load(Ordering::SeqCst), 1);
    let r = send(&badge, "k1", "smudged");
    assert_eq!(
        r.kept,
        Some(Kept::Replay(
            404,
            json!({"error": "unknown_return", "n": 1})
        ))
    );
    assert_eq!(
        renders.load(Ordering::SeqCst),
        1,
        "a replay does not run again"
    );
    assert_eq!(send(&badge, "k1", "torn").kept, Some(Kept::Mismatch));
    // Keys are per operator.
    let other = Badge::parse("001").unwrap();
    assert!(matches!(
        send(&other, "k1", "torn").kept,
        Some(Kept::Recorded(..))
    ));
    // A day later the maintenance prune forgets the key: the request runs again.
    clock_ms.store(t0 + 24 * 3600 * 1000 + 1, Ordering::SeqCst);
    rt.block_on(h.prune()).unwrap();
    let db = rusqlite::Connection::open(&cfg.storage.database).unwrap();
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM idempotency_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "records past 24 h are pruned");
    assert!(matches!(
        send(&badge, "k1", "torn").kept,
        Some(Kept::Recorded(..))
    ));
    assert_eq!(renders.load(Ordering::SeqCst), 3);
    rt.block_on(h.close());
    join.join().unwrap();
}
