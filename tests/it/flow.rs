//! A full parcel of each kind walks from receipt to disposition through the real binary,
//! fed by `returnsd scan` and the operator CLI; then the journal is read back and every
//! event is checked.

use serde_json::{Value, json};

use crate::support::{Station, scan, scan_ok};

fn manifest_csv() -> String {
    let signed = (chrono::Utc::now() - chrono::Duration::days(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        "waybill,version,kind,order_no,customer_name,customer_phone_tail,signed_at,claimed_reason,free_shipping,sku,barcode,name,qty
SF1000000000001,1,customer_return,O-1001,张三丰,1234,{signed},quality,true,SKU-A,6901234560015,Kettle,1
SF1000000000001,1,customer_return,O-1001,张三丰,1234,{signed},quality,true,SKU-B,6901234560022,Kettle lid,1
YT1234567890123,1,carrier_return,O-1002,李四,5678,,,false,SKU-C,6901234560039,Mug,2
JDVA12345678901,1,refused,O-1003,王五,9012,{signed},,false,SKU-D,6901234560046,Plate,1
"
    )
}

/// The journal rows of one return, in seq order.
fn of<'a>(journal: &'a [Value], rid: &str) -> Vec<&'a Value> {
    journal
        .iter()
        .filter(|e| e["return_id"] == json!(rid))
        .collect()
}

fn types(rows: &[&Value]) -> Vec<String> {
    rows.iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Customer return, carrier return, refused parcel and an unannounced parcel, end to end.
#[test]
fn every_kind_from_receipt_to_disposition() {
    let st = Station::new("");
    let csv = st.dir.path().join("returns-log.csv");
    std::fs::write(&csv, manifest_csv()).unwrap();
    let imported = st.cli_ok(&["manifest", "import", csv.to_str().unwrap()]);
    assert!(imported.contains("3 stored"), "{imported}");
    let d = st.start();

    // --- customer return: quality claim, one defect (seller fault), one good item.
    let r = scan_ok(&st, &["OP-017", "SF1000000000001"]);
    let cust = r[1]["return_id"].as_str().unwrap().to_string();
    assert_eq!(r[1]["code"], "received");
    assert!(
        r[1]["message_en"]
            .as_str()
            .unwrap()
            .contains("customer return")
    );
    scan_ok(
        &st,
        &[
            "CMD-CARD-YES",
            "CMD-UNPACK",
            "6901234560015",
            "6901234560022",
            "CMD-VIS-OK",
            "Z-PENDING",
        ],
    );
    let png = st.dir.path().join("crack.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..2040u32).map(|i| (i % 251) as u8));
    std::fs::write(&png, &bytes).unwrap();
    let photo = st
        .cli_ok(&["photo", "add", png.to_str().unwrap()])
        .trim()
        .to_string();
    assert!(photo.ends_with(":2048:image/png"), "{photo}");
    st.cli_ok(&[
        "inspect",
        &cust,
        "--badge",
        "021",
        "--grade",
        "defect",
        "--reason",
        "damaged_casing",
        "--items",
        "1",
        "--photo",
        &photo,
        "--note",
        "cracked",
    ]);
    st.cli_ok(&["inspect", &cust, "--badge", "021", "--grade", "good"]);
    st.cli_ok(&[
        "put-away", &cust, "--badge", "017", "--zone", "Z-DEFECT", "--items", "1",
    ]);
    st.cli_ok(&[
        "put-away", &cust, "--badge", "017", "--zone", "Z-A01", "--items", "2",
    ]);
    st.cli_ok(&[
        "exchange-shipped",
        &cust,
        "--badge",
        "017",
        "--waybill",
        "SF2000000000001",
    ]);
    let item1 = format!("{cust}.1");
    let rtv = st.cli_ok(&["rtv", "--badge", "017", "--vendor", "ACME Kettles", &item1]);
    assert!(rtv.contains("RTV-ST01-"), "{rtv}");

    // --- carrier return: two units of one line, all good, restocked.
    let r = scan_ok(
        &st,
        &[
            "YT1234567890123",
            "CMD-UNPACK",
            "6901234560039",
            "6901234560039",
            "CMD-DONE",
        ],
    );
    let carrier = r[0]["return_id"].as_str().unwrap().to_string();
    st.cli_ok(&["inspect", &carrier, "--badge", "021", "--grade", "good"]);
    st.cli_ok(&["put-away", &carrier, "--badge", "017", "--zone", "Z-GOOD"]);
    st.cli_ok(&["restock", &carrier, "--badge", "017"]);

    // --- refused parcel with an extra item not on the manifest.
    let r = scan_ok(&st, &["JDVA12345678901", "CMD-UNPACK", "6901234560046"]);
    let refused = r[0]["return_id"].as_str().unwrap().to_string();
    let extra = scan(&st, &["4006381333931"]);
    assert_eq!(
        extra[0]["code"], "item_unknown",
        "an unexpected item is a visible exception"
    );
    assert_eq!(extra[0]["stored"], true);
    scan_ok(&st, &["CMD-VIS-DAMAGED", "CMD-DONE"]);
    st.cli_ok(&["inspect", &refused, "--badge", "021", "--grade", "good"]);
    st.cli_ok(&["put-away", &refused, "--badge", "017", "--zone", "Z-GOOD"]);
    st.cli_ok(&["restock", &refused, "--badge", "017"]);

    // --- unannounced parcel: received, kind scanned, then voided by a supervisor.
    let r = scan_ok(&st, &["SF1999999999999"]);
    assert_eq!(r[0]["code"], "received_unannounced");
    let unannounced = r[0]["return_id"].as_str().unwrap().to_string();
    let refused_unpack = scan(&st, &["CMD-UNPACK"]);
    assert_eq!(
        refused_unpack[0]["code"], "kind_required",
        "unpack before kind is refused"
    );
    scan_ok(&st, &["CMD-KIND-REFUSED", "CMD-CANCEL"]);
    let keeper_void = st.cli(&["void", &unannounced, "--badge", "017", "--reason", "x"]);
    assert_eq!(keeper_void.status.code(), Some(1), "a keeper may not void");
    st.cli_ok(&[
        "void",
        &unannounced,
        "--badge",
        "001",
        "--reason",
        "scanned the wrong parcel",
    ]);
    let again = scan(&st, &["SF1999999999999"]);
    assert_eq!(
        again[0]["code"], "return_terminal",
        "a voided return stays voided"
    );

    d.stop();

    // ---------------------------------------------------------------- the journal
    let j = st.journal();
    for (i, e) in j.iter().enumerate() {
        assert_eq!(e["seq"], json!(i as i64 + 1), "seq contiguous from 1");
        let id = e["id"].as_str().unwrap();
        assert_eq!(
            uuid::Uuid::parse_str(id).unwrap().get_version_num(),
            7,
            "UUID v7 ids"
        );
        let at = e["occurred_at"].as_str().unwrap();
        assert!(
            at.ends_with('Z') && at.len() == 24,
            "RFC 3339 UTC with ms: {at}"
        );
        assert!(e["actor"].as_str().unwrap().contains(':') || e["actor"] == "system");
    }
    let mut ids: Vec<&str> = j.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), j.len(), "event ids unique");
    // Every scan was journaled, accepted or not.
    let scans = j.iter().filter(|e| e["type"] == "scan.recorded").count();
    assert_eq!(scans, 2 + 6 + 5 + 3 + 1 + 2 + 1 + 1 + 2 + 1);

    let c = of(&j, &cust);
    assert_eq!(
        types(&c),
        [
            "return.received",
            "return.card_recorded",
            "return.unpacked",
            "label.printed",
            "item.scanned",
            "item.scanned",
            "check.visual_recorded",
            "check.first_completed",
            "item.moved",
            "item.moved",
            "ledger.entry",
            "ledger.entry",
            "bench.return_released",
            "inspection.completed",
            "label.printed",
            "inspection.completed",
            "refund.due",
            "item.moved",
            "ledger.entry",
            "item.moved",
            "ledger.entry",
            "exchange.shipped",
            "item.moved",
            "ledger.entry",
            "item.moved",
            "ledger.entry",
            "return.closed",
        ]
    );
    let received = c[0];
    assert_eq!(received["data"]["kind"], "customer_return");
    assert_eq!(received["data"]["announced"], true);
    assert_eq!(received["data"]["order_no"], "O-1001");
    assert_eq!(received["actor"], "keeper:017");
    assert!(
        !received.to_string().contains("张三丰"),
        "customer names never travel in events"
    );
    assert_eq!(c[3]["data"]["reason"], "first");
    assert_eq!(c[4]["data"]["sku"], "SKU-A");
    assert_eq!(c[4]["data"]["exception"], Value::Null);
    assert_eq!(c[7]["data"]["exceptions"], json!([]));
    assert_eq!(
        c[10]["data"],
        json!({"sku": "SKU-A", "from": "in", "to": "pending", "qty": 1})
    );
    assert_eq!(c[13]["actor"], "inspector:021");
    assert_eq!(c[13]["data"]["grade"], "defect");
    assert_eq!(c[13]["data"]["defect_reasons"], json!(["damaged_casing"]));
    assert_eq!(c[13]["data"]["photos"][0]["bytes"], 2048);
    assert_eq!(c[13]["data"]["photos"][0]["content_type"], "image/png");
    let refund = &c[16]["data"];
    assert_eq!(
        refund["freight"]["fault"], "seller",
        "quality confirmed: seller at fault"
    );
    assert_eq!(refund["freight"]["outbound"], "seller");
    assert_eq!(refund["freight"]["return_leg"], "seller");
    assert_eq!(refund["within_no_reason_window"], true);
    assert_eq!(
        c[18]["data"],
        json!({"sku": "SKU-A", "from": "pending", "to": "defect", "qty": 1})
    );
    assert_eq!(
        c[20]["data"],
        json!({"sku": "SKU-B", "from": "pending", "to": "good/A01", "qty": 1})
    );
    assert_eq!(c[21]["data"]["waybill"], "SF2000000000001");
    assert_eq!(
        c[23]["data"],
        json!({"sku": "SKU-B", "from": "good/A01", "to": "customer", "qty": 1})
    );
    assert_eq!(
        c[25]["data"],
        json!({"sku": "SKU-A", "from": "defect", "to": "vendor", "qty": 1})
    );
    let rtv_ev = j.iter().find(|e| e["type"] == "rtv.note_created").unwrap();
    assert_eq!(
        rtv_ev["return_id"],
        Value::Null,
        "an RTV note concerns no single return"
    );
    assert_eq!(rtv_ev["data"]["items"][0]["return_id"], json!(cust));
    assert_eq!(rtv_ev["data"]["vendor"], "ACME Kettles");

    let k = of(&j, &carrier);
    assert_eq!(
        types(&k),
        [
            "return.received",
            "return.unpacked",
            "label.printed",
            "item.scanned",
            "item.scanned",
            "check.first_completed",
            "item.moved",
            "item.moved",
            "ledger.entry",
            "bench.return_released",
            "inspection.completed",
            "item.moved",
            "item.moved",
            "ledger.entry",
            "return.restocked",
            "item.moved",
            "item.moved",
            "ledger.entry",
            "return.closed",
        ]
    );
    assert_eq!(k[0]["data"]["kind"], "carrier_return");
    assert_eq!(
        k[8]["data"]["qty"], 2,
        "one ledger entry per SKU per movement"
    );
    assert!(
        !types(&k).contains(&"refund.due".to_string()),
        "an undeliverable parcel is not a refund"
    );

    let f = of(&j, &refused);
    assert_eq!(
        types(&f),
        [
            "return.received",
            "return.unpacked",
            "label.printed",
            "item.scanned",
            "item.scanned",
            "check.visual_recorded",
            "check.first_completed",
            "item.moved",
            "item.moved",
            "ledger.entry",
            "ledger.entry",
            "bench.return_released",
            "inspection.completed",
            "refund.due",
            "item.moved",
            "item.moved",
            "ledger.entry",
            "ledger.entry",
            "return.restocked",
            "item.moved",
            "item.moved",
            "ledger.entry",
            "ledger.entry",
            "return.closed",
        ]
    );
    assert_eq!(f[4]["data"]["exception"], "unknown");
    let exc = f[6]["data"]["exceptions"].as_array().unwrap();
    assert!(
        exc.contains(&json!("unknown:4006381333931")) && exc.contains(&json!("visual:damaged")),
        "{exc:?}"
    );
    assert_eq!(
        f[13]["data"]["freight"]["fault"], "buyer",
        "refused, nothing wrong found: buyer"
    );

    let u = of(&j, &unannounced);
    assert_eq!(
        types(&u),
        [
            "return.received",
            "return.unannounced",
            "return.kind_set",
            "bench.return_released",
            "return.voided"
        ]
    );
    assert_eq!(u[0]["data"]["announced"], false);
    assert_eq!(u[4]["actor"], "supervisor:001");

    // The projections are exactly the journal's rebuild, and stages are final.
    crate::support::assert_journal_verifies(&st);
    let list = st.cli_ok(&["returns", "list", "--json"]);
    let stages: Vec<Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stage_of =
        |id: &str| stages.iter().find(|s| s["return_id"] == json!(id)).unwrap()["stage"].clone();
    assert_eq!(stage_of(&cust), "closed");
    assert_eq!(stage_of(&carrier), "closed");
    assert_eq!(stage_of(&refused), "closed");
    assert_eq!(stage_of(&unannounced), "voided");
    let cust_row = stages
        .iter()
        .find(|s| s["return_id"] == json!(cust))
        .unwrap();
    assert_eq!(cust_row["customer"], "张**", "names are masked in lists");
}

/// A keeper logged in at bench-1 with the customer return of `waybill` unpacked, ready for
/// its product scans; the control connection it was scanned on.
fn unpacked_at_bench_1(st: &Station, waybill: &str) -> crate::kit::control::Ctl {
    let mut ctl = crate::kit::control::Ctl::new(st.socket());
    for code in ["OP-017", waybill, "CMD-KIND-CUSTOMER", "CMD-UNPACK"] {
        let v = ctl.scan("bench-1", code).unwrap();
        assert_eq!(v["ok"], true, "{code}: {v}");
    }
    ctl
}

/// A wholesale return of 400 units: each scan writes what it changed — the item it added
/// and the return's header — never the whole return again, so the 400th scan hands SQLite
/// about as many bytes as the first (the store's SQL trace counts the values bound to
/// every write). Then the return reads back whole and `journal verify` proves the rows.
#[test]
fn a_scan_writes_its_item_not_the_whole_return() {
    const ITEMS: u32 = 400;
    let st = Station::new("");
    let trace = st.config.with_file_name("sql-trace.log");
    let d = st.start_with_env("RETURNSD_TEST_SQL_TRACE", trace.to_str().unwrap());
    let mut ctl = unpacked_at_bench_1(&st, "SF1000000000777");
    // Bytes bound to the writes of each product scan, read from the trace between scans.
    let written_since = |from: usize| -> (usize, usize) {
        let text = std::fs::read(&trace).unwrap();
        let bytes = String::from_utf8_lossy(&text[from..])
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(_, sql)| {
                let verb = sql.split_whitespace().next().unwrap_or("");
                ["INSERT", "UPDATE", "REPLACE", "DELETE"].contains(&verb)
            })
            .map(|(n, _)| n.parse::<usize>().unwrap())
            .sum();
        (bytes, text.len())
    };
    let mut at = std::fs::metadata(&trace).unwrap().len() as usize;
    let mut per_scan = Vec::new();
    for n in 1..=ITEMS {
        let v = ctl.scan("bench-1", &crate::kit::codes::ean13(n)).unwrap();
        assert_eq!(v["stored"], true, "item {n}: {v}");
        let (bytes, end) = written_since(at);
        per_scan.push(bytes);
        at = end;
    }
    d.stop();
    let (first, last) = (per_scan[0], per_scan[ITEMS as usize - 1]);
    assert!(first > 0, "the trace saw the first scan's writes");
    assert!(
        last as f64 <= 1.5 * first as f64,
        "item {ITEMS}'s scan wrote {last} bytes, item 1's {first}: {per_scan:?}"
    );
    let out = st.cli_ok(&["returns", "list", "--json"]);
    let row: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(row["items"], json!(ITEMS), "{row}");
    let id = row["return_id"].as_str().unwrap();
    let shown = st.cli_ok(&["returns", "show", id, "--json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let items = shown["items"].as_array().unwrap();
    assert_eq!(items.len(), ITEMS as usize);
    assert_eq!(items[399]["item_no"], json!(ITEMS));
    crate::support::assert_journal_verifies(&st);
}

/// The pages of the last transaction in a WAL file (its frames' page numbers), read from
/// the frame headers: a frame whose header carries the WAL's current salt belongs to this
/// generation of the log, and a non-zero "database size" field marks a commit's last frame.
fn last_commit_pages(wal: &[u8]) -> Vec<u32> {
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    let page_size = be(&wal[8..12]) as usize;
    let salt = &wal[16..24];
    let mut frames = Vec::new();
    let mut at = 32;
    while at + 24 + page_size <= wal.len() && &wal[at + 8..at + 16] == salt {
        frames.push((be(&wal[at..at + 4]), be(&wal[at + 4..at + 8]) != 0));
        at += 24 + page_size;
    }
    let ends: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].1).collect();
    match ends[..] {
        [] => Vec::new(),
        [.., last] => {
            let first = ends.len().checked_sub(2).map_or(0, |i| ends[i] + 1);
            frames[first..=last].iter().map(|f| f.0).collect()
        }
    }
}

/// A product scan's commit writes the pages of what it changed and no others: the journal
/// (its rows, the id index, the return index), the item and the return's header. Not the
/// indexes of what it leaves as it was — the stage (`returns_stage`), the received time,
/// the waybill, the bench — and one page of the return index, not a second for the scan's
/// own event, which has no return (the index holds events of a return only). Each commit's
/// pages are read from the WAL's frame headers after its reply and named afterwards from
/// SQLite's `dbstat` table.
#[test]
fn a_product_scan_writes_only_the_pages_it_changed() {
    const ITEMS: u32 = 120;
    let st = Station::new("");
    let d = st.start();
    let mut ctl = unpacked_at_bench_1(&st, "SF1000000000778");
    let mut wal = st.db().into_os_string();
    wal.push("-wal");
    let mut commits = Vec::new();
    for n in 1..=ITEMS {
        let v = ctl.scan("bench-1", &crate::kit::codes::ean13(n)).unwrap();
        assert_eq!(v["stored"], true, "item {n}: {v}");
        commits.push(last_commit_pages(&std::fs::read(&wal).unwrap()));
    }
    // Page → (b-tree, "leaf" or "internal").
    let names: std::collections::HashMap<u32, (String, String)> = {
        let c = rusqlite::Connection::open(st.db()).unwrap();
        let mut q = c
            .prepare("SELECT pageno, name, pagetype FROM dbstat")
            .unwrap();
        q.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    d.stop();
    let mut pages = 0;
    for (n, commit) in commits.iter().enumerate() {
        assert!(
            !commit.is_empty(),
            "item {}: its commit is in the WAL",
            n + 1
        );
        pages += commit.len();
        let pages_of = |tree: &str, kind: &str| {
            commit
                .iter()
                .filter(|p| names.get(p).is_some_and(|(t, k)| t == tree && k == kind))
                .count()
        };
        let named: Vec<&str> = commit
            .iter()
            .map(|p| names.get(p).map_or("(header or pointer map)", |(t, _)| t))
            .collect();
        for untouched in [
            "returns_stage",
            "returns_received",
            "sqlite_autoindex_returns_2",
            "benches",
        ] {
            assert!(
                !named.contains(&untouched),
                "item {}'s commit wrote a page of {untouched}: {named:?}",
                n + 1
            );
        }
        // Two leaves of the return index only when one split (its parent is written too).
        assert!(
            pages_of("journal_return", "leaf") <= 1 || pages_of("journal_return", "internal") > 0,
            "item {}'s commit wrote two leaves of journal_return: {named:?}",
            n + 1
        );
    }
    // Five leaf pages (journal, its id index, its return index, the item, the header),
    // now and then an interior page, the file header and the pointer map when a page is
    // added.
    let mean = pages as f64 / commits.len() as f64;
    assert!(mean <= 6.5, "{mean:.2} pages per product scan: {commits:?}");
}
