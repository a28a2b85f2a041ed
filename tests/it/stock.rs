//! Stock per zone through the real daemon: good units put away count in their zone or
//! bin while they wait; a restock (CLI or API) moves them out to `sellable` stock in the
//! same transaction as `return.restocked`, so `GET /zones`, `returnsd stock`, the `stock`
//! table and the bin's units show only what still waits, and `journal verify` agrees.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::api_client::{addr, get, login, post, station};
use crate::support::{Station, assert_journal_verifies, book_in_scans, scan_ok};

/// A return received at the bench, one unit, booked in and graded good; its id.
fn graded_good(st: &Station, waybill: &str) -> String {
    let r = scan_ok(st, &book_in_scans(waybill));
    let id = r[1]["return_id"].as_str().expect("return id").to_string();
    st.cli_ok(&["inspect", &id, "--badge", "021", "--grade", "good"]);
    id
}

/// `GET /zones`'s stock as zone → units (every SKU summed), and bin A01's units.
fn stock_per_zone(zones: &Value) -> (BTreeMap<String, i64>, i64) {
    let mut per = BTreeMap::new();
    for s in zones["stock"].as_array().expect("stock") {
        *per.entry(s["zone"].as_str().unwrap().to_string())
            .or_insert(0) += s["qty"].as_i64().unwrap();
    }
    let a01 = zones["bins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["code"] == "A01")
        .map(|b| b["units"].as_i64().unwrap())
        .expect("bin A01");
    (per, a01)
}

/// The `stock` table as the daemon left it, zone → units.
fn stock_table(st: &Station) -> BTreeMap<String, i64> {
    let c = Connection::open(st.db()).unwrap();
    let mut q = c
        .prepare("SELECT zone, SUM(qty) FROM stock GROUP BY zone")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// `returnsd stock --json` beside the running daemon, zone → units.
fn cli_stock(st: &Station) -> BTreeMap<String, i64> {
    let mut per = BTreeMap::new();
    for line in st.cli_ok(&["stock", "--json"]).lines() {
        let v: Value = serde_json::from_str(line).expect("one JSON object a line");
        *per.entry(v["zone"].as_str().unwrap().to_string())
            .or_insert(0) += v["qty"].as_i64().unwrap();
    }
    per
}

fn map(rows: &[(&str, i64)]) -> BTreeMap<String, i64> {
    rows.iter().map(|(z, n)| (z.to_string(), *n)).collect()
}

/// Two good units wait, one in bin A01 and one in the good zone: stock per zone shows
/// both. Restocked — one by the CLI, one by the API — they leave for `sellable` (an
/// `item.moved` and a `ledger.entry` with each `return.restocked`): nothing is left in a
/// good zone, bin A01 holds nothing and can be retired, the `stock` table says the same,
/// and `journal verify` passes.
#[test]
fn restock_moves_units_out_of_the_good_zone_in_stock_per_zone() {
    let st = station("");
    let d = st.start();
    let a = addr(&d);
    let in_bin = graded_good(&st, "SF1000000000001");
    let in_zone = graded_good(&st, "SF1000000000002");
    st.cli_ok(&["put-away", &in_bin, "--badge", "021", "--zone", "Z-A01"]);
    st.cli_ok(&["put-away", &in_zone, "--badge", "021", "--zone", "Z-GOOD"]);
    let sup = login(&a, "001", "3333");
    let zones = |what: &str| {
        let r = get(&a, &sup, "/api/v1/zones");
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        stock_per_zone(&r.json())
    };

    let (before, a01) = zones("before");
    assert_eq!(
        before,
        map(&[("good", 1), ("good/A01", 1)]),
        "both units wait for an exchange order"
    );
    assert_eq!(a01, 1);
    assert_eq!(cli_stock(&st), before, "returnsd stock says the same");
    let text = st.cli_ok(&["stock"]);
    assert!(
        text.contains("Good zone A01") && text.lines().any(|l| l.starts_with("Good zone  ")),
        "{text}"
    );

    st.cli_ok(&["restock", &in_bin, "--badge", "017"]);
    let keeper = login(&a, "017", "1111");
    let r = post(
        &a,
        &keeper,
        &format!("/api/v1/returns/{in_zone}/restock"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let (after, a01) = zones("after");
    assert_eq!(
        after,
        map(&[("sellable", 2)]),
        "nothing waits in a good zone: both units are back in sellable stock"
    );
    assert_eq!(a01, 0, "the bin no longer counts the restocked unit");
    assert_eq!(cli_stock(&st), after, "returnsd stock says the same");
    let text = st.cli_ok(&["stock"]);
    assert!(
        text.contains("Back in sellable stock") && !text.contains("Good zone"),
        "{text}"
    );
    let retire = post(&a, &sup, "/api/v1/zones/bins/A01/retire", &json!({}));
    assert_eq!(
        retire.status,
        200,
        "an empty bin retires: {}",
        retire.text()
    );
    d.stop();

    assert_eq!(stock_table(&st), map(&[("sellable", 2)]), "the stock table");
    let journal = st.journal();
    let of = |id: &str| -> Vec<Value> {
        journal
            .iter()
            .filter(|e| e["return_id"] == id)
            .cloned()
            .collect()
    };
    let bin_events = of(&in_bin);
    let at = bin_events
        .iter()
        .position(|e| e["type"] == "return.restocked")
        .expect("return.restocked");
    let tail: Vec<(&str, &Value, &Value)> = bin_events[at..]
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                &e["data"]["from"],
                &e["data"]["to"],
            )
        })
        .collect();
    assert_eq!(
        tail,
        [
            ("return.restocked", &Value::Null, &Value::Null),
            ("item.moved", &json!("good/A01"), &json!("sellable")),
            ("ledger.entry", &json!("good/A01"), &json!("sellable")),
            ("return.closed", &Value::Null, &Value::Null),
        ]
    );
    assert!(
        of(&in_zone).iter().any(|e| e["type"] == "ledger.entry"
            && e["data"]["from"] == "good"
            && e["data"]["to"] == "sellable"),
        "the API's restock writes the ledger entry too"
    );
    assert_journal_verifies(&st);
}
