//! The operator API through the real binary (port 0, temp state dir, the kit's plain HTTP
//! client over `std::net::TcpStream`): login, lockout, idle expiry, CSRF and origin
//! checks, the role of every mutating endpoint, limits and malformed requests, path
//! traversal, idempotency, masking, customer data kept out of the log, and the OpenAPI
//! document against the router.

use std::time::Duration;

use returnsd::http::api::{Access, ROUTES};
use serde_json::{Value, json};

use crate::api_client::{JSON, Sess, addr, get, http, login, login_resp, post, station};
use crate::support::{Station, scan_ok};

pub const CUSTOMER: &str = "张三丰";

/// Login sets a strict HttpOnly cookie and answers a bearer token; wrong PINs are refused
/// and lock the badge (with a WARN line naming the badge, never the PIN); cookie sessions
/// need the CSRF token to change anything, bearer sessions do not; foreign origins are
/// refused; logout ends the session.
#[test]
fn login_lockout_csrf_and_logout() {
    let st = station("lockout_after = 3");
    let d = st.start();
    let a = addr(&d);

    let r = login_resp(&a, "017", "1111");
    assert_eq!(r.status, 200);
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with("returnsd_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let v = r.json();
    assert_eq!(v["operator"]["roles"], json!(["keeper"]));
    let s = Sess {
        token: v["token"].as_str().unwrap().into(),
        csrf: v["csrf_token"].as_str().unwrap().into(),
    };
    assert_eq!(s.token.len(), 64);

    // Me, by cookie and by bearer; without either: 401.
    let me = http(&a, "GET", "/api/v1/me", &[("Cookie", &s.cookie())], b"");
    assert_eq!(me.json()["auth"], "cookie");
    assert_eq!(get(&a, &s, "/api/v1/me").json()["badge"], "017");
    let anon = http(
        &a,
        "GET",
        "/api/v1/me",
        &[("Accept-Language", "zh-CN")],
        b"",
    );
    assert_eq!(anon.status, 401);
    assert_eq!(anon.json()["error"], "unauthorized");
    assert_eq!(anon.json()["message"], "请先登录");

    // CSRF: a cookie without the header is refused; with it, the request goes through
    // (to the engine, which refuses an unknown return); bearer needs no CSRF token.
    let path = "/api/v1/returns/R-ST01-20260101-0001/reprint";
    let body = br#"{"reason":"smudged"}"#;
    let r = http(&a, "POST", path, &[("Cookie", &s.cookie()), JSON], body);
    assert_eq!((r.status, r.json()["error"].clone()), (403, json!("csrf")));
    let r = http(
        &a,
        "POST",
        path,
        &[("Cookie", &s.cookie()), ("X-CSRF-Token", "wrong"), JSON],
        body,
    );
    assert_eq!(r.status, 403);
    let r = http(
        &a,
        "POST",
        path,
        &[("Cookie", &s.cookie()), ("X-CSRF-Token", &s.csrf), JSON],
        body,
    );
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"], "unknown_return");
    let r = http(
        &a,
        "POST",
        path,
        &[("Authorization", &s.bearer()), JSON],
        body,
    );
    assert_eq!(r.status, 404);
    // A foreign Origin is refused, bearer or not; the station's own origin is fine.
    let r = http(
        &a,
        "POST",
        path,
        &[
            ("Authorization", &s.bearer()),
            ("Origin", "https://evil.example"),
            JSON,
        ],
        body,
    );
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (403, json!("cross_origin"))
    );
    let own = format!("http://{a}");
    let r = http(
        &a,
        "POST",
        path,
        &[("Authorization", &s.bearer()), ("Origin", &own), JSON],
        body,
    );
    assert_eq!(r.status, 404);

    // Wrong PINs: 401 twice, the third locks (429), and then even the right PIN is refused.
    for _ in 0..2 {
        let r = login_resp(&a, "021", "wrongpin");
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (401, json!("bad_credentials"))
        );
    }
    let r = login_resp(&a, "021", "wrongpin");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (429, json!("locked_out"))
    );
    let r = login_resp(&a, "021", "2222");
    assert_eq!(r.status, 429);
    assert!(r.json()["retry_after_s"].as_u64().unwrap() > 0);
    // Other badges are not affected; unknown badges are refused like wrong PINs.
    login(&a, "001", "3333");
    assert_eq!(login_resp(&a, "999", "1111").status, 401);
    let r = http(
        &a,
        "POST",
        "/api/v1/session",
        &[JSON],
        br#"{"badge":"017"}"#,
    );
    assert_eq!(r.status, 400);

    // Logout: the session is gone and the cookie is cleared.
    let r = http(
        &a,
        "DELETE",
        "/api/v1/session",
        &[("Authorization", &s.bearer())],
        b"",
    );
    assert_eq!(r.status, 200);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(get(&a, &s, "/api/v1/me").status, 401);

    let locked: Vec<Value> = st
        .journal()
        .into_iter()
        .filter(|e| e["type"] == "operator.locked_out")
        .collect();
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(locked[0]["actor"], "system");
    assert_eq!(
        locked[0]["data"],
        json!({"badge": "021", "failures": 3, "minutes": 15})
    );
    assert_eq!(locked[0]["return_id"], Value::Null);
    let verify = st.cli(&["journal", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // The whole log: stopped, the daemon has written its last line.
    let log = d.stop();
    let line = log
        .lines()
        .find(|l| l.contains("locked out"))
        .unwrap_or_else(|| panic!("no lockout line in {log}"));
    assert!(line.contains("021") && line.contains("WARN"), "{line}");
    for secret in ["wrongpin", &s.token, &s.csrf] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

/// A session unused for `session_idle_s` is gone.
#[test]
fn idle_sessions_expire() {
    let st = station("session_idle_s = 1");
    let d = st.start();
    let a = addr(&d);
    let s = login(&a, "017", "1111");
    assert_eq!(get(&a, &s, "/api/v1/me").status, 200);
    // The sleeps are the idle time this test is about, in real time: the daemon is another
    // process with its own clock (the rule itself, with the time passed in, is
    // `Auth::authenticate_at` in `src/http/auth/session.rs`). Half the timeout leaves the margin
    // for a loaded machine; past it by half is expired whatever the load.
    std::thread::sleep(Duration::from_millis(500));
    // Use keeps it alive.
    assert_eq!(get(&a, &s, "/api/v1/me").status, 200);
    std::thread::sleep(Duration::from_millis(1500));
    let r = get(&a, &s, "/api/v1/me");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (401, json!("session_expired"))
    );
    assert_eq!(get(&a, &s, "/api/v1/me").json()["error"], "unauthorized");
}

/// Every mutating endpoint (every POST of the route table but the login itself) checks
/// the session and the role: without a session it is 401, operators without an allowed
/// role get 403 `forbidden_role` before anything is parsed, those with one get past the
/// check. The endpoints come from the router's own table, so a new one cannot be missed.
#[test]
fn every_mutating_endpoint_checks_the_role() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let ops = [
        ("keeper", login(&a, "017", "1111")),
        ("inspector", login(&a, "021", "2222")),
        ("supervisor", login(&a, "001", "3333")),
    ];
    let roles_of = |who: &str| match who {
        "keeper" => vec!["keeper"],
        "inspector" => vec!["inspector"],
        _ => vec!["supervisor", "keeper"],
    };
    let mut checked = 0;
    for r in ROUTES
        .iter()
        .filter(|r| r.method == "POST" && r.path != "/session")
    {
        let Access::Roles(allowed) = r.access else {
            panic!("{} {} has no role check", r.method, r.path);
        };
        let path = format!(
            "/api/v1{}",
            r.path
                .replace("{id}", "R-ST01-20260101-0001")
                .replace("{bin}", "A01")
                .replace("{note}", "RTV-ST01-20260101-0001")
        );
        let anonymous = http(&a, "POST", &path, &[JSON], b"{}");
        assert_eq!(anonymous.status, 401, "no session {path}");
        assert_eq!(
            anonymous.json()["error"],
            "unauthorized",
            "no session {path}"
        );
        for (who, s) in &ops {
            let may = allowed
                .iter()
                .any(|role| roles_of(who).contains(&role.as_str()));
            let resp = post(&a, s, &path, &json!({}));
            let v = resp.json();
            if may {
                assert_ne!(v["error"], "forbidden_role", "{who} {path}: {v}");
            } else {
                assert_eq!(resp.status, 403, "{who} {path}: {v}");
                assert_eq!(v["error"], "forbidden_role", "{who} {path}");
            }
            checked += 1;
        }
    }
    let mutating = ROUTES
        .iter()
        .filter(|r| r.method == "POST" && r.path != "/session")
        .count();
    assert!(mutating >= 14, "the route table's POSTs: {mutating}");
    assert_eq!(
        checked,
        3 * mutating,
        "every mutating endpoint x 3 operators"
    );
    // The named cases of the issue.
    let inspect = "/api/v1/returns/R-ST01-20260101-0001/inspect";
    assert_eq!(
        post(&a, &ops[0].1, inspect, &json!({"grade": "good"})).status,
        403
    );
    let void = "/api/v1/returns/R-ST01-20260101-0001/void";
    assert_eq!(
        post(&a, &ops[1].1, void, &json!({"reason": "x"})).status,
        403
    );
    assert_eq!(
        post(&a, &ops[2].1, void, &json!({"reason": "x"})).status,
        404
    );
}

/// Oversized bodies, wrong content types, malformed JSON, traversal ids, unknown paths and
/// methods: each answered with a JSON error, never a file.
#[test]
fn malformed_requests_are_refused_with_json_errors() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let s = login(&a, "001", "3333");
    let auth = ("Authorization", s.bearer());
    let auth = (auth.0, auth.1.as_str());
    let reprint = "/api/v1/returns/R-ST01-20260101-0001/reprint";

    let big = format!(r#"{{"reason":"{}"}}"#, "x".repeat(100 * 1024));
    let r = http(&a, "POST", reprint, &[auth, JSON], big.as_bytes());
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (413, json!("payload_too_large"))
    );

    let r = http(
        &a,
        "POST",
        reprint,
        &[auth, ("Content-Type", "text/plain")],
        b"{}",
    );
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (415, json!("unsupported_media_type"))
    );
    let r = http(&a, "POST", reprint, &[auth], b"{}");
    assert_eq!(r.status, 415);
    let r = http(
        &a,
        "POST",
        "/api/v1/session",
        &[],
        br#"{"badge":"001","pin":"3333"}"#,
    );
    assert_eq!(r.status, 415);

    let r = http(&a, "POST", reprint, &[auth, JSON], br#"{"reason": "x",}"#);
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"], "bad_json");
    assert!(v["message"].as_str().unwrap().contains("line 1"), "{v}");
    let r = http(&a, "POST", reprint, &[auth, JSON], b"[1,2]");
    assert_eq!(r.json()["error"], "bad_json");
    let r = http(&a, "POST", reprint, &[auth, JSON], br#"{"reason": 5}"#);
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("reason"));

    for path in [
        "/api/v1/returns/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/returns/..%2F..%2Fetc%2Fpasswd/reprint",
        "/api/v1/returns/R-ST01-20260101-0001/../x",
        "/api/v1/returns/R-ST01-20260101-0001%2F..%2F..%2Fx",
        "/api/v1/returns/%2Fetc%2Fpasswd",
        "/api/v1/../../etc/passwd",
        "/api/v1/returns/R-ST01-20260101-0001%00",
        "/api/v1/returns/%ff%fe",
    ] {
        for method in ["GET", "POST"] {
            let r = http(&a, method, path, &[auth, JSON], br#"{"reason":"x"}"#);
            assert!(
                [400, 404, 405].contains(&r.status),
                "{method} {path}: {}",
                r.status
            );
            let v = r.json();
            assert!(v["error"].is_string(), "{path}: {v}");
            assert!(
                !String::from_utf8_lossy(&r.body).contains("root:"),
                "{path}"
            );
        }
    }
    let r = http(
        &a,
        "GET",
        "/api/v1/returns/..%2F..%2Fetc%2Fpasswd",
        &[auth],
        b"",
    );
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (400, json!("bad_id"))
    );
    let r = http(&a, "GET", "/api/v1/nothing-here", &[auth], b"");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("not_found"))
    );
    let r = http(&a, "PUT", "/api/v1/returns", &[auth, JSON], b"{}");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (405, json!("method_not_allowed"))
    );
    let r = http(&a, "GET", "/api/v1/returns?limit=abc", &[auth], b"");
    assert_eq!(r.status, 400);
}

pub fn manifest(st: &Station) {
    let signed = (chrono::Utc::now() - chrono::Duration::days(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let csv = st.dir.path().join("log.csv");
    std::fs::write(
        &csv,
        format!(
            "waybill,version,kind,order_no,customer_name,customer_phone_tail,signed_at,claimed_reason,free_shipping,sku,barcode,name,qty
SF1000000000001,1,customer_return,O-1001,{CUSTOMER},4821,{signed},quality,true,SKU-A,6901234560015,Kettle,1
"
        ),
    )
    .unwrap();
    let out = st.cli(&["manifest", "import", csv.to_str().unwrap()]);
    assert!(out.status.success());
}

/// Keeper 017 receives the manifest's parcel SF1000000000001 at the bench and first-checks
/// it (card, unpack, its item, visual OK, to pending): the return waits for inspection.
/// Its return id.
pub fn first_check_one(st: &Station) -> String {
    let r = scan_ok(st, &["OP-017", "SF1000000000001"]);
    let rid = r[1]["return_id"].as_str().unwrap().to_string();
    scan_ok(
        st,
        &[
            "CMD-CARD-YES",
            "CMD-UNPACK",
            "6901234560015",
            "CMD-VIS-OK",
            "Z-PENDING",
        ],
    );
    rid
}

/// A return received by scanner, then inspected and put away through the API: lists and
/// the queue mask the customer, only a supervisor may reveal, an Idempotency-Key retry is
/// answered the first answer and journaled once, the read endpoints answer, and the
/// customer's name never reaches the daemon's log.
#[test]
fn api_flow_with_idempotency_and_masking() {
    let st = station("");
    manifest(&st);
    let d = st.start();
    let a = addr(&d);
    let rid = first_check_one(&st);
    let keeper = login(&a, "017", "1111");
    let inspector = login(&a, "021", "2222");
    let sup = login(&a, "001", "3333");

    let q = get(&a, &inspector, "/api/v1/inspection-queue").json();
    let row = &q["items"][0];
    assert_eq!(row["return_id"], json!(rid));
    assert_eq!(row["customer_name"], "张**");
    assert!(row["sla_age_h"].as_f64().unwrap() >= 0.0);
    assert!(row["exchange_ship_by"].is_string(), "{row}");
    assert!(row["due_in_min"].as_i64().unwrap() > 0);
    let list = get(&a, &keeper, "/api/v1/returns?q=SF100&stage=first_checked").json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["customer_name"], "张**");
    let none = get(&a, &keeper, "/api/v1/returns?q=YT").json();
    assert_eq!(none["items"], json!([]));

    let detail = format!("/api/v1/returns/{rid}");
    // Nowhere in a masked answer, not even inside the projection or the events.
    for path in [
        detail.as_str(),
        "/api/v1/returns",
        "/api/v1/inspection-queue",
        "/api/v1/journal?limit=1000",
    ] {
        let body = get(&a, &sup, path).body;
        assert!(!String::from_utf8_lossy(&body).contains(CUSTOMER), "{path}");
    }
    let v = get(&a, &keeper, &detail).json();
    assert_eq!(
        (v["customer_name"].clone(), v["masked"].clone()),
        (json!("张**"), json!(true))
    );
    assert_eq!(v["customer_phone_tail"], "**21");
    assert!(v["events"].as_array().unwrap().len() > 3);
    assert_eq!(v["labels"][0]["template"], "return_label");
    assert_eq!(get(&a, &keeper, &format!("{detail}?reveal=1")).status, 403);
    let v = get(&a, &sup, &format!("{detail}?reveal=1")).json();
    assert_eq!(v["customer_name"], CUSTOMER);
    assert_eq!(v["customer_phone_tail"], "4821");

    // Inspect with an Idempotency-Key, twice: one answer, one event.
    let inspect = format!("{detail}/inspect");
    let body = json!({"grade": "good"}).to_string();
    let send = |key: &str, body: &str| {
        http(
            &a,
            "POST",
            &inspect,
            &[
                ("Authorization", &inspector.bearer()),
                ("Idempotency-Key", key),
                JSON,
            ],
            body.as_bytes(),
        )
    };
    let first = send("k-0001", &body);
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let again = send("k-0001", &body);
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), first.json());
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    let other = send("k-0001", &json!({"grade": "defect"}).to_string());
    assert_eq!(other.json()["error"], "idempotency_key_reused");
    // Without the key, a second inspection is refused by the engine (already inspected).
    let dup = post(&a, &inspector, &inspect, &json!({"grade": "good"}));
    assert_eq!(dup.status, 409, "{}", String::from_utf8_lossy(&dup.body));
    let inspections = st
        .journal()
        .iter()
        .filter(|e| e["type"] == "inspection.completed")
        .count();
    assert_eq!(inspections, 1);

    let r = post(
        &a,
        &keeper,
        &format!("{detail}/put-away"),
        &json!({"zone": "Z-A01"}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["ok"], true);
    let zones = get(&a, &keeper, "/api/v1/zones").json();
    assert!(
        zones["stock"]
            .as_array()
            .unwrap()
            .iter()
            .any(|z| z["zone"] == "good/A01" && z["sku"] == "SKU-A" && z["qty"] == 1),
        "{zones}"
    );
    for path in [
        "/api/v1/devices",
        "/api/v1/alarms",
        "/api/v1/sync",
        "/api/v1/print-jobs?all=1",
    ] {
        let r = get(&a, &keeper, path);
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let j = get(&a, &keeper, "/api/v1/journal?after=0&limit=5").json();
    assert_eq!(j["events"].as_array().unwrap().len(), 5);
    assert!(j["last_seq"].as_i64().unwrap() > 5);
    let r = http(
        &a,
        "GET",
        "/api/v1/alarms",
        &[
            ("Authorization", &keeper.bearer()),
            ("Accept-Language", "zh-CN"),
        ],
        b"",
    );
    assert!(r.json()["alarms"].is_array());

    // The whole log: stopped, the daemon has written its last line.
    let log = d.stop();
    assert!(log.contains("customer data revealed"), "{log}");
    assert!(!log.contains(CUSTOMER), "customer name in the log: {log}");
}

/// The served document and the router agree: every documented path and method answers
/// (not 404/405), every route of the table is documented, and an undocumented method on
/// a documented path is 405.
#[test]
fn openapi_matches_the_router() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let r = http(&a, "GET", "/api/v1/openapi.json", &[], b"");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, ops) in paths {
        let concrete = format!(
            "/api/v1{}",
            path.replace("{id}", "R-ST01-20260101-0001")
                .replace("{bin}", "A01")
                .replace("{note}", "RTV-ST01-20260101-0001")
        );
        for m in ops.as_object().unwrap().keys() {
            let method = m.to_ascii_uppercase();
            if path == "/events" {
                // An event stream never ends; tests/it/kiosk.rs reads it.
                documented.push((method, path.clone()));
                continue;
            }
            let r = http(&a, &method, &concrete, &[JSON], b"{}");
            assert!(
                ![404, 405].contains(&r.status) || r.json()["error"] == "unknown_return",
                "{method} {concrete} documented but answers {}",
                r.status
            );
            documented.push((method, path.clone()));
        }
        let r = http(&a, "PUT", &concrete, &[JSON], b"{}");
        assert_eq!(r.status, 405, "PUT {concrete}");
    }
    let mut table: Vec<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .chain(
            returnsd::http::kiosk::API_ROUTES
                .iter()
                .map(|(m, p)| (m.to_string(), p.trim_start_matches("/api/v1").to_string())),
        )
        .collect();
    table.sort();
    documented.sort();
    assert_eq!(table, documented);
}

/// The OpenAPI schema of version 3.0 as the Debian package
/// `python3-djangorestframework-spectacular` ships it (the OpenAPI Initiative's JSON
/// schema; `tests/run-all.sh` installs the package).
const OPENAPI_3_0_SCHEMA: &str =
    "/usr/lib/python3/dist-packages/drf_spectacular/validation/openapi3_schema.json";

/// The served document validates against the OpenAPI 3.0 JSON schema (python3-jsonschema,
/// draft 4, as the schema declares), so client generators take it; every error is listed.
#[test]
fn openapi_document_validates_as_openapi_3_0() {
    assert!(
        std::path::Path::new(OPENAPI_3_0_SCHEMA).exists(),
        "{OPENAPI_3_0_SCHEMA} missing: apt-get install python3-djangorestframework-spectacular (tests/run-all.sh does)"
    );
    let st = station("");
    let d = st.start();
    let r = http(&addr(&d), "GET", "/api/v1/openapi.json", &[], b"");
    d.stop();
    assert_eq!(r.status, 200);
    let script = format!(
        r#"import json, sys, jsonschema
schema = json.load(open({OPENAPI_3_0_SCHEMA:?}))
doc = json.load(sys.stdin)
errors = list(jsonschema.Draft4Validator(schema).iter_errors(doc))
for e in errors:
    print("/".join(str(p) for p in e.absolute_path), ":", e.message[:300])
sys.exit(1 if errors else 0)
"#
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &r.body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenAPI document does not validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The check can fail: a document with an empty `required` list does not validate.
    let mut bad: serde_json::Value = r.json();
    bad["components"]["schemas"]["Bad"] = json!({"type": "object", "required": []});
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), bad.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "an empty required list must fail");
}

/// A locked badge is listed for the supervisor, who lifts the lock — over the API, or with
/// `returnsd unlock` through the control socket — journaled as `operator.unlocked`; the
/// badge logs in at once. A keeper may neither list nor unlock.
#[test]
fn a_supervisor_unlocks_a_locked_badge() {
    let st = station("lockout_after = 3");
    let d = st.start();
    let a = addr(&d);
    let lock = |badge: &str| {
        for _ in 0..3 {
            login_resp(&a, badge, "wrongpin");
        }
        assert_eq!(login_resp(&a, badge, "0000").status, 429, "{badge} locked");
    };
    lock("021");
    let sup = login(&a, "001", "3333");
    let keeper = login(&a, "017", "1111");
    let r = get(&a, &sup, "/api/v1/operators/lockouts");
    assert_eq!(r.status, 200);
    let list = r.json()["lockouts"].clone();
    assert_eq!(list[0]["badge"], "021", "{list}");
    assert!(list[0]["locked_for_s"].as_u64().unwrap() > 0, "{list}");
    assert_eq!(get(&a, &keeper, "/api/v1/operators/lockouts").status, 403);
    let body = json!({"unlock_badge": "021"});
    assert_eq!(
        post(&a, &keeper, "/api/v1/operators/unlock", &body).status,
        403
    );

    let r = post(&a, &sup, "/api/v1/operators/unlock", &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], "badge_unlocked");
    // The lock is lifted as soon as the event commits (the API follows the journal).
    crate::support::poll("021 may log in again", || {
        (login_resp(&a, "021", "2222").status == 200).then_some(())
    });
    let list = get(&a, &sup, "/api/v1/operators/lockouts").json();
    assert_eq!(list["lockouts"], json!([]), "{list}");

    // The same from the command line, for the PC at the bench.
    lock("021");
    let out = st.cli(&["unlock", "021", "--badge", "001"]);
    assert!(out.status.success(), "{out:?}");
    crate::support::poll("021 unlocked by the CLI", || {
        (login_resp(&a, "021", "2222").status == 200).then_some(())
    });
    let out = st.cli(&["unlock", "021", "--badge", "017"]);
    assert_eq!(out.status.code(), Some(1), "a keeper is refused: {out:?}");

    let unlocked: Vec<Value> = st
        .journal()
        .into_iter()
        .filter(|e| e["type"] == "operator.unlocked")
        .collect();
    assert_eq!(unlocked.len(), 2, "{unlocked:?}");
    assert_eq!(unlocked[0]["actor"], "supervisor:001");
    assert_eq!(unlocked[0]["data"], json!({"badge": "021"}));
    let verify = st.cli(&["journal", "verify"]);
    assert!(verify.status.success(), "{verify:?}");
    d.stop();
}

/// `POST /photos/lost` (contract 1.1) is the supervisor's: a keeper gets 403, an empty
/// reason 422 (`reason_required`), a photo no event waiting for the central references
/// 404 (`photo_not_waiting`), each worded in the caller's language; nothing is journaled.
/// The accepted path runs on the supervisor's page (`supervisor.rs`).
#[test]
fn photo_lost_refusals_over_the_api() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let sha = "ab".repeat(32);
    let ask = |s: &Sess, reason: &str| {
        let r = post(
            &a,
            s,
            "/api/v1/photos/lost",
            &json!({"sha256": sha, "reason": reason}),
        );
        (r.status, r.json())
    };
    let (status, v) = ask(&login(&a, "017", "1111"), "gone");
    assert_eq!(
        (status, &v["error"]),
        (403, &json!("forbidden_role")),
        "{v}"
    );
    let sup = login(&a, "001", "3333");
    let (status, v) = ask(&sup, "  ");
    assert_eq!(
        (status, &v["error"]),
        (422, &json!("reason_required")),
        "{v}"
    );
    let (status, v) = ask(&sup, "gone");
    assert_eq!(
        (status, &v["error"]),
        (404, &json!("photo_not_waiting")),
        "{v}"
    );
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains(&sha)),
        "{v}"
    );
    d.stop();
    assert!(st.journal().iter().all(|e| e["type"] != "photo.lost"));
}
