//! Bin edits (`zone.bin_set`), RTV-note closing (`rtv.note_closed`) and the defect-items
//! read through the real daemon's API: role checks on each new mutating endpoint, bad
//! input, path traversal in `{bin}` and `{note}`, put-away into an added bin, and the
//! edits and the closed note surviving a restart.

use serde_json::{Value, json};

use crate::api_client::{JSON, Sess, addr, get, http, login, post, station};
use crate::support::{Station, scan_ok};

/// A station (defects need no photo) with one return whose item is graded defect and
/// waits in pending; answers its return id.
fn with_graded_defect(st: &Station) -> String {
    let r = scan_ok(
        st,
        &[
            "OP-017",
            "SF1000000000008",
            "CMD-KIND-CUSTOMER",
            "CMD-UNPACK",
        ],
    );
    scan_ok(st, &["6901234560015", "CMD-VIS-OK", "Z-PENDING"]);
    let id = r[1]["return_id"].as_str().unwrap().to_string();
    let out = st.cli(&[
        "inspect",
        &id,
        "--badge",
        "021",
        "--grade",
        "defect",
        "--reason",
        "damaged_casing",
    ]);
    assert!(out.status.success(), "{out:?}");
    id
}

fn defect_station() -> Station {
    let st = station("");
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    text.push_str("\n[inspection]\ndefect_photo_required = false\n");
    std::fs::write(&st.config, text).unwrap();
    st
}

fn bin<'a>(zones: &'a Value, code: &str) -> &'a Value {
    zones["bins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["code"] == code)
        .unwrap_or_else(|| panic!("no bin {code}: {zones}"))
}

/// Only a supervisor edits zones or closes an RTV note: a keeper (who may create a note)
/// and an inspector get 403 `forbidden_role` on each new mutating endpoint, with nothing
/// journaled; the supervisor gets past the check.
#[test]
fn zone_and_rtv_close_endpoints_check_the_role() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let keeper = login(&a, "017", "1111");
    let inspector = login(&a, "021", "2222");
    let sup = login(&a, "001", "3333");
    let endpoints = [
        (
            "/api/v1/zones/bins",
            json!({"code": "B07", "class": "good"}),
        ),
        ("/api/v1/zones/bins/A01/retire", json!({})),
        ("/api/v1/zones/bins/A01/reactivate", json!({})),
        ("/api/v1/rtv-notes/RTV-ST01-20260101-0001/close", json!({})),
    ];
    for (path, body) in &endpoints {
        for (who, s) in [("keeper", &keeper), ("inspector", &inspector)] {
            let r = post(&a, s, path, body);
            assert_eq!(
                (r.status, r.json()["error"].clone()),
                (403, json!("forbidden_role")),
                "{who} {path}"
            );
        }
    }
    assert!(st.events("zone.bin_set").is_empty());
    // The supervisor: added; retired; reactivated; the note does not exist.
    let answers: Vec<(u16, Value)> = endpoints
        .iter()
        .map(|(path, body)| {
            let r = post(&a, &sup, path, body);
            let v = r.json();
            let code = if v["ok"] == true {
                &v["code"]
            } else {
                &v["error"]
            };
            (r.status, code.clone())
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            (200, json!("bin_added")),
            (200, json!("bin_retired_ok")),
            (200, json!("bin_reactivated")),
            (404, json!("unknown_rtv_note")),
        ]
    );
    assert_eq!(st.events("zone.bin_set").len(), 3);
    d.stop();
}

/// Bad bodies and path ids: a malformed code or label is 422 `bad_input`, an unknown
/// class or a malformed waybill 400, an unknown bin in the path 404; `{bin}` and `{note}`
/// with traversal or foreign characters are 400 `bad_id` (or 404 when the router never
/// matches), always JSON, never a file.
#[test]
fn zone_and_rtv_endpoints_refuse_bad_input() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let s = login(&a, "001", "3333");
    let add = "/api/v1/zones/bins";
    let cases = [
        (json!({"code": "b07", "class": "good"}), 422, "bad_input"),
        (json!({"code": "GOOD", "class": "good"}), 422, "bad_input"),
        (
            json!({"code": "B07", "class": "good", "label": "x".repeat(101)}),
            422,
            "bad_input",
        ),
        (json!({"code": "B07", "class": "blue"}), 400, "bad_request"),
        (json!({"code": "B07"}), 400, "bad_request"),
        (json!({"code": 7, "class": "good"}), 400, "bad_request"),
        (
            json!({"code": "B07", "class": "good", "label": 5}),
            400,
            "bad_request",
        ),
    ];
    for (body, status, error) in cases {
        let r = post(&a, &s, add, &body);
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (status, json!(error)),
            "{body}"
        );
    }
    let r = post(&a, &s, "/api/v1/zones/bins/NOPE/retire", &json!({}));
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (404, json!("unknown_bin"))
    );
    let r = post(
        &a,
        &s,
        "/api/v1/rtv-notes/RTV-ST01-20260101-0001/close",
        &json!({"waybill": "no/slash"}),
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(st.events("zone.bin_set").is_empty());

    let auth = ("Authorization", s.bearer());
    let auth = (auth.0, auth.1.as_str());
    for path in [
        "/api/v1/zones/bins/..%2F..%2Fetc%2Fpasswd/retire",
        "/api/v1/zones/bins/%2E%2E/retire",
        "/api/v1/zones/bins/a01/retire",
        "/api/v1/zones/bins/A01%00/retire",
        "/api/v1/zones/bins/ABCDEFGHIJKLMNOPQ/reactivate",
        "/api/v1/zones/bins/A01/../../x/retire",
        "/api/v1/rtv-notes/..%2F..%2Fetc%2Fpasswd/close",
        "/api/v1/rtv-notes/RTV-ST01%2F..%2Fx/close",
        "/api/v1/rtv-notes/RTV-ST01-20260101-0001.json/close",
        "/api/v1/rtv-notes/R-ST01-20260101-0001/close",
        "/api/v1/rtv-notes/%ff%fe/close",
    ] {
        let r = http(&a, "POST", path, &[auth, JSON], b"{}");
        assert!([400, 404].contains(&r.status), "{path}: {}", r.status);
        let v = r.json();
        if r.status == 400 {
            assert_eq!(v["error"], "bad_id", "{path}: {v}");
        }
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{path}"
        );
    }
    let r = http(
        &a,
        "POST",
        "/api/v1/zones/bins/..%2F..%2Fetc%2Fpasswd/retire",
        &[auth, JSON],
        b"{}",
    );
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (400, json!("bad_id"))
    );
    assert!(st.events("zone.bin_set").is_empty());
    assert!(st.events("rtv.note_closed").is_empty());
    d.stop();
}

fn zones(a: &str, s: &Sess) -> Value {
    let r = get(a, s, "/api/v1/zones");
    assert_eq!(r.status, 200);
    r.json()
}

/// The whole life of an added bin and an RTV note over the API: the supervisor adds a
/// defect bin (GET /zones: edited, active, no units); an inspector puts the defect item
/// away into it; GET /defect-items lists it there; retiring or re-classing the bin is
/// refused while it holds the unit (409 with the count); a keeper's RTV note takes the
/// unit out; the bin then retires (put-away refused with `bin_retired`); GET /rtv-notes
/// shows the note open; the supervisor closes it with a waybill (409 the second time); a
/// restart keeps the edited bin and the closed note.
#[test]
fn bins_and_rtv_notes_over_the_api() {
    let st = defect_station();
    let d = st.start();
    let a = addr(&d);
    let id = with_graded_defect(&st);
    let sup = login(&a, "001", "3333");
    let keeper = login(&a, "017", "1111");
    let inspector = login(&a, "021", "2222");

    let z = zones(&a, &sup);
    assert_eq!(bin(&z, "A01")["source"], "config");
    assert_eq!(bin(&z, "A01")["active"], true);
    let r = post(
        &a,
        &sup,
        "/api/v1/zones/bins",
        &json!({"code": "D09", "class": "defect", "label": "Rack 9 / 9号货架"}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["message"], "Bin D09 added");
    let z = zones(&a, &sup);
    let b = bin(&z, "D09");
    assert_eq!(
        (
            &b["class"],
            &b["label"],
            &b["active"],
            &b["source"],
            &b["units"]
        ),
        (
            &json!("defect"),
            &json!("Rack 9 / 9号货架"),
            &json!(true),
            &json!("edited"),
            &json!(0)
        )
    );
    assert_eq!(b["edited_by"], "supervisor:001");

    // Put away into the new bin.
    let put = format!("/api/v1/returns/{id}/put-away");
    let r = post(&a, &inspector, &put, &json!({"zone": "Z-D09"}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(bin(&zones(&a, &sup), "D09")["units"], 1);
    let items = get(&a, &keeper, "/api/v1/defect-items").json();
    let items = items["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    let it = &items[0];
    assert_eq!(it["ref"], format!("{id}.1"));
    assert_eq!(
        (
            &it["zone"],
            &it["bin"],
            &it["defect_reasons"],
            &it["inspected_by"]
        ),
        (
            &json!("defect/D09"),
            &json!("D09"),
            &json!(["damaged_casing"]),
            &json!("inspector:021")
        )
    );
    assert!(it["since"].is_string(), "{it}");
    assert!(it["sku"].is_string() && it["item_no"] == 1, "{it}");

    // A bin holding stock keeps its class and stays active.
    let r = post(&a, &sup, "/api/v1/zones/bins/D09/retire", &json!({}));
    let v = r.json();
    assert_eq!((r.status, &v["error"]), (409, &json!("bin_holds_stock")));
    assert_eq!(v["params"]["units"], "1", "{v}");
    assert_eq!(
        v["message"],
        "Bin D09 still holds 1 unit(s): move them out before retiring it or changing its class"
    );
    let r = post(
        &a,
        &sup,
        "/api/v1/zones/bins",
        &json!({"code": "D09", "class": "good"}),
    );
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (409, json!("bin_holds_stock"))
    );

    // The RTV note takes the unit to the vendor; the empty bin retires.
    let r = post(
        &a,
        &keeper,
        "/api/v1/rtv-notes",
        &json!({"vendor": "ACME", "items": [format!("{id}.1")]}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let note_no = r.json()["params"]["note_no"].as_str().unwrap().to_string();
    assert!(
        get(&a, &keeper, "/api/v1/defect-items").json()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = post(&a, &sup, "/api/v1/zones/bins/D09/retire", &json!({}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let b = bin(&zones(&a, &sup), "D09").clone();
    assert_eq!((&b["active"], &b["units"]), (&json!(false), &json!(0)));

    let notes = get(&a, &keeper, "/api/v1/rtv-notes").json();
    let n = &notes["notes"][0];
    assert_eq!(
        (&n["note_no"], &n["state"], &n["vendor"], &n["items"]),
        (&json!(note_no), &json!("open"), &json!("ACME"), &json!(1))
    );
    assert_eq!(n["lines"][0]["ref"], format!("{id}.1"));
    assert_eq!(n["created_by"], "keeper:017");
    assert!(n["closed"].is_null());

    // Close: the supervisor, once.
    let close = format!("/api/v1/rtv-notes/{note_no}/close");
    let body = json!({"waybill": "sf9876543210", "note": "driver Li"});
    let r = post(&a, &sup, &close, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], "rtv_closed");
    let r = post(&a, &sup, &close, &body);
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (409, json!("rtv_note_already_closed"))
    );
    let closed = st.events("rtv.note_closed");
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(
        closed[0]["data"],
        json!({"note_no": note_no, "waybill": "SF9876543210", "note": "driver Li"})
    );
    assert_eq!(closed[0]["actor"], "supervisor:001");
    assert!(closed[0]["return_id"].is_null());
    let sets = st.events("zone.bin_set");
    assert_eq!(
        sets.last().unwrap()["data"],
        json!({"code": "D09", "class": "defect", "label": "Rack 9 / 9号货架", "active": false})
    );
    assert_eq!(
        get(&a, &keeper, "/api/v1/rtv-notes?state=open").json()["notes"],
        json!([])
    );

    // A restart folds the same state back.
    d.stop();
    let d = st.start();
    let a = addr(&d);
    let sup = login(&a, "001", "3333");
    let b = bin(&zones(&a, &sup), "D09").clone();
    assert_eq!(
        (&b["active"], &b["source"], &b["label"]),
        (&json!(false), &json!("edited"), &json!("Rack 9 / 9号货架"))
    );
    let n = get(&a, &sup, "/api/v1/rtv-notes?state=closed").json()["notes"][0].clone();
    assert_eq!(n["note_no"], note_no.as_str());
    assert_eq!(n["state"], "closed");
    assert_eq!(n["closed"]["waybill"], "SF9876543210");
    assert_eq!(n["closed"]["by"], "supervisor:001");
    // The engine folded it too: closing again is still refused, and the retired bin
    // refuses a put-away.
    let r = post(&a, &sup, &close, &body);
    assert_eq!(r.status, 409);
    let other = scan_ok(
        &st,
        &[
            "OP-017",
            "SF1000000000009",
            "CMD-KIND-CUSTOMER",
            "CMD-UNPACK",
        ],
    )[1]["return_id"]
        .as_str()
        .unwrap()
        .to_string();
    scan_ok(&st, &["6901234560015", "CMD-VIS-OK", "Z-PENDING"]);
    let out = st.cli(&[
        "inspect",
        &other,
        "--badge",
        "021",
        "--grade",
        "defect",
        "--reason",
        "damaged_casing",
    ]);
    assert!(out.status.success(), "{out:?}");
    let r = post(
        &a,
        &sup,
        &format!("/api/v1/returns/{other}/put-away"),
        &json!({"zone": "Z-D09"}),
    );
    let v = r.json();
    assert_eq!((r.status, &v["error"]), (409, &json!("bin_retired")), "{v}");
    assert_eq!(
        v["message"],
        "Bin D09 is retired: put the goods away into another bin"
    );
    d.stop();
}

/// The CLI goes through the same commands (control socket → `commands::build`): `bin set`
/// and `bin retire` journal `zone.bin_set` as the supervisor; a keeper is refused; closing
/// an unknown note fails with its code.
#[test]
fn cli_edits_bins_and_closes_notes() {
    let st = station("");
    let d = st.start();
    let ok = |args: &[&str]| {
        let out = st.cli(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    ok(&[
        "bin", "set", "B07", "--badge", "001", "--class", "good", "--label", "Shelf 7",
    ]);
    ok(&["bin", "retire", "B07", "--badge", "001"]);
    let refused = st.cli(&["bin", "reactivate", "B07", "--badge", "017"]);
    assert!(!refused.status.success(), "{refused:?}");
    let sets = st.events("zone.bin_set");
    assert_eq!(sets.len(), 2, "{sets:?}");
    assert_eq!(sets[0]["actor"], "supervisor:001");
    assert_eq!(
        sets[1]["data"],
        json!({"code": "B07", "class": "good", "label": "Shelf 7", "active": false})
    );
    let out = st.cli(&["rtv-close", "RTV-ST01-20260101-0001", "--badge", "001"]);
    assert!(!out.status.success(), "{out:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("unknown_rtv_note") || text.contains("No RTV note"),
        "{text}"
    );
    d.stop();
}

/// `journal verify` checks the bin edits and RTV notes (kept as `meta` snapshots) against
/// the journal's fold: a damaged snapshot is reported (exit 1) and `journal rebuild`
/// restores it (exit 0), after which verify agrees again.
#[test]
fn journal_verify_and_rebuild_cover_bins_and_rtv_notes() {
    let st = defect_station();
    let d = st.start();
    let rid = with_graded_defect(&st);
    let ok = |args: &[&str]| {
        let out = st.cli(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    ok(&["bin", "set", "B07", "--badge", "001", "--class", "defect"]);
    ok(&["put-away", &rid, "--badge", "017", "--zone", "Z-B07"]);
    ok(&[
        "rtv",
        "--badge",
        "017",
        "--vendor",
        "ACME",
        &format!("{rid}.1"),
    ]);
    let note = st.events("rtv.note_created")[0]["data"]["note_no"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&[
        "rtv-close",
        &note,
        "--badge",
        "001",
        "--waybill",
        "SF1234567890123",
    ]);
    ok(&["bin", "retire", "B07", "--badge", "001"]);
    d.stop();

    let out = ok(&["journal", "verify"]);
    assert!(
        out.contains("bins and RTV notes: match the rebuild"),
        "{out}"
    );
    // Damage both snapshots: the bin active again, the note open again.
    let db = rusqlite::Connection::open(st.db()).unwrap();
    db.execute(
        "UPDATE meta SET value = json_set(value, '$.active', json('true')) WHERE key = 'zone_bin:B07'",
        [],
    )
    .unwrap();
    let changed = db
        .execute(
            "UPDATE meta SET value = json_set(value, '$.closed', json('null')) WHERE key = ?1",
            // A closed note's snapshot is kept under `rtv_done:` (history, out of memory).
            [format!("rtv_done:{note}")],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let bad = st.cli(&["journal", "verify"]);
    let text = String::from_utf8_lossy(&bad.stdout).to_string();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("bins and RTV notes: DIFFER"), "{text}");
    let out = ok(&["journal", "rebuild"]);
    assert!(out.trim_end().ends_with("OK"), "{out}");
    let out = ok(&["journal", "verify"]);
    assert!(
        out.contains("bins and RTV notes: match the rebuild"),
        "{out}"
    );
    // And the daemon reads the restored state: the bin retired, the note handed over.
    let d = st.start();
    let a = addr(&d);
    let sup = login(&a, "001", "3333");
    let z = zones(&a, &sup);
    assert_eq!(bin(&z, "B07")["active"], false, "{z}");
    let notes = get(&a, &sup, "/api/v1/rtv-notes").json();
    assert_eq!(notes["notes"][0]["state"], "closed", "{notes}");
    d.stop();
}
