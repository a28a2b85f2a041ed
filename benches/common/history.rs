//! A station's history for the benches: a journal of a realistic event mix (per parcel of
//! ten: waybill scan, `return.received`, two product scans with `item.scanned`, the DONE
//! command scan, two `ledger.entry`, `label.printed`), appended through the store's real
//! writer (`Store::begin` / `Batch::append` / `commit`) in 50,000-event transactions.
//! Events only: the returns' projections are not built (a year-sized generator through the
//! engine is issue #12's).

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use returnsd::domain::event::{Actor, Event, EventBody, ItemException, PrintReason as Print};
use returnsd::domain::ids::{ReturnId, StationId, Waybill};
use returnsd::domain::kind::ReturnKind;
use returnsd::domain::model::Station;
use returnsd::store::Store;
use rusqlite::Connection;

pub const STATION: &str = "ST01";
const EVENTS_PER_TX: i64 = 50_000;

const PRODUCTS: [(&str, &str, &str); 4] = [
    (
        "SKU-100234",
        "6901234567892",
        "小米 Redmi Buds 5 Pro 真无线降噪蓝牙耳机 曜石黑",
    ),
    (
        "SKU-200871",
        "4006381333931",
        "Anker PowerCore 10000 mAh power bank, black",
    ),
    (
        "SKU-310045",
        "6920202888883",
        "罗技 M330 静音无线鼠标 石墨黑 (Logitech silent mouse)",
    ),
    (
        "SKU-402210",
        "6935364070052",
        "TP-LINK 千兆无线路由器 AX3000 双频 Wi-Fi 6",
    ),
];

/// The ten events of parcel `n`, starting at `t`.
pub fn parcel(station: &StationId, n: i64, t: DateTime<Utc>) -> Vec<Event> {
    let day = t.date_naive();
    let number = (n % 100_000 + 1) as u32;
    let rid = ReturnId::new(station, day, number);
    let bench = format!("bench-{:02}", n % 12 + 1);
    let keeper = Actor(format!("keeper:{:03}", 10 + n % 20));
    let wb = format!("SF{:013}", 1_400_000_000_000 + n);
    let p1 = PRODUCTS[(n % 4) as usize];
    let p2 = PRODUCTS[((n + 1) % 4) as usize];
    let ms = |i: i64| t + chrono::Duration::milliseconds(i * 1_700);
    let ev = |i: i64, rid: Option<&ReturnId>, actor: &Actor, body: EventBody| Event {
        occurred_at: ms(i),
        actor: actor.clone(),
        return_id: rid.cloned(),
        body,
    };
    let scan = |code: String, class: &str| EventBody::ScanRecorded {
        bench: bench.clone(),
        code,
        class: class.to_string(),
        accepted: true,
        error: None,
        ok: true,
        reply: "scan_accepted".to_string(),
        params: Vec::new(),
    };
    let gs1 = |gtin: &str| format!("]d201{gtin}0021{:08X}\u{1d}17281231", n as u64);
    let item = |no: u32, p: (&str, &str, &str)| EventBody::ItemScanned {
        item_no: no,
        sku: p.0.to_string(),
        barcode: p.1.to_string(),
        name: p.2.to_string(),
        exception: Some(ItemException::Unannounced),
    };
    let ledger = |p: (&str, &str, &str)| EventBody::Ledger {
        sku: p.0.to_string(),
        from: "in".to_string(),
        to: "pending".to_string(),
        qty: 1,
    };
    vec![
        ev(0, None, &keeper, scan(wb.clone(), "waybill")),
        ev(
            0,
            Some(&rid),
            &keeper,
            EventBody::Received {
                bench: bench.clone(),
                waybill: Waybill::parse(&wb).expect("waybill"),
                courier: "SF".to_string(),
                kind: Some(ReturnKind::CustomerReturn),
                number_date: day,
                number,
                announced: false,
                manifest_version: None,
                order_no: None,
                claimed_reason: None,
                signed_at: None,
                free_shipping: false,
                expected: Vec::new(),
            },
        ),
        ev(1, Some(&rid), &keeper, scan(gs1(p1.1), "gs1")),
        ev(1, Some(&rid), &keeper, item(1, p1)),
        ev(2, Some(&rid), &keeper, scan(gs1(p2.1), "gs1")),
        ev(2, Some(&rid), &keeper, item(2, p2)),
        ev(
            3,
            Some(&rid),
            &keeper,
            scan("CMD-DONE".to_string(), "command"),
        ),
        ev(3, Some(&rid), &Actor::system(), ledger(p1)),
        ev(3, Some(&rid), &Actor::system(), ledger(p2)),
        ev(
            3,
            Some(&rid),
            &Actor::system(),
            EventBody::LabelPrinted {
                template: "return_label_60x40".to_string(),
                reason: Print::First,
                copies: 1,
                note: String::new(),
            },
        ),
    ]
}

pub struct Built {
    pub epoch: String,
    pub secs: f64,
    pub db_bytes: u64,
    pub mean_data_bytes: f64,
    pub max_data_bytes: i64,
    pub mean_event_json_bytes: f64,
}

pub fn build_station(db: &Path, events: i64) -> Built {
    let t = Instant::now();
    let station_id = StationId::parse(STATION).expect("station id");
    let mut store = Store::open(db, STATION).expect("open station db");
    // The build is not the thing measured: no fsync per transaction.
    store
        .conn()
        .execute_batch("PRAGMA synchronous=OFF;")
        .expect("pragma");
    let empty = Station::default();
    // A backlog of the last ~8 days (100,000 parcels, 7 s apart): inside the default
    // 30-day retention, so nothing is pruned between rounds.
    let t0 = Utc::now() - chrono::Duration::days(9);
    let mut n: i64 = 0;
    let mut parcel_no: i64 = 0;
    while n < events {
        let mut batch = store.begin().expect("begin");
        let mut in_tx = 0;
        while in_tx < EVENTS_PER_TX && n < events {
            let at = t0 + chrono::Duration::seconds(parcel_no * 7);
            for ev in parcel(&station_id, parcel_no, at) {
                if n >= events {
                    break;
                }
                batch.append(&ev).expect("append");
                n += 1;
                in_tx += 1;
            }
            parcel_no += 1;
        }
        batch.commit(&empty).expect("commit");
    }
    let epoch = store.epoch().to_string();
    assert_eq!(
        store.last_seq(),
        events,
        "station journal has the wrong length"
    );
    let (mean_data, max_data): (f64, i64) = store
        .conn()
        .query_row(
            "SELECT AVG(LENGTH(data)), MAX(LENGTH(data)) FROM journal",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("data sizes");
    let sample = returnsd::store::journal_after(store.conn(), 0, 10_000).expect("sample");
    let mean_json = sample
        .iter()
        .map(|r| r.to_json().to_string().len())
        .sum::<usize>() as f64
        / sample.len().max(1) as f64;
    drop(store);
    // Fold the WAL into the file so the daemon starts from one clean database.
    let c = Connection::open(db).expect("reopen");
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(c);
    Built {
        epoch,
        secs: t.elapsed().as_secs_f64(),
        db_bytes: std::fs::metadata(db).map(|m| m.len()).unwrap_or(0),
        mean_data_bytes: mean_data,
        max_data_bytes: max_data,
        mean_event_json_bytes: mean_json,
    }
}
