//! What the keeper's kiosk shows, as one JSON snapshot rendered from the rows the store
//! reads for it (`store::kiosk::KioskRows`, one read transaction, no event replay): the
//! bench's operator and current return, the expected-vs-scanned rows with their
//! exceptions, the next step, the devices of this bench and the printers, alarms, today's
//! counters and the bench's last scan.
//!
//! Dynamic texts are translated here, in the language the page asks for; the page's fixed
//! words come from `GET /api/v1/i18n`. The customer's name is only ever shown masked
//! (`张**`), and nothing here is logged. Rendering reads no database and no clock.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::kiosk_scan::{scan_json, text};
use crate::config::Config;
use crate::engine::Stats;
use crate::format::fmt_time;
use crate::i18n::{Lang, message};
use crate::store::kiosk::{DayCounters, KioskRows};

/// Print jobs queued or sent longer ago than this are an alarm ("long unconfirmed").
const JOB_WAIT_ALARM_S: i64 = 120;
/// Unsynced events older than this are an alarm (while a central is configured).
const BACKLOG_ALARM_S: i64 = 15 * 60;

/// Everything the snapshot needs besides the rows.
pub struct Inputs<'a> {
    pub cfg: &'a Config,
    pub stats: &'a Stats,
    /// The sync status as `GET /sync` shows it (`status::sync_json`).
    pub sync: &'a Value,
    pub devices: Vec<Value>,
    pub bench: &'a str,
    pub lang: Lang,
    pub now: DateTime<Utc>,
    /// The listener's certificate fingerprint, for pairing a handheld (None: plain HTTP).
    pub tls_fingerprint: Option<&'a str>,
}

/// 00:00 today in the station's time zone: where the day's counters start.
pub fn day_start(cfg: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&cfg.station.timezone).date_naive();
    local
        .and_hms_opt(0, 0, 0)
        .and_then(|t| cfg.station.timezone.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// A print job created before this and still unconfirmed has waited too long.
pub fn waiting_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::seconds(JOB_WAIT_ALARM_S)
}

/// The waybill of the return the kiosk shows, whose customer's name it masks.
pub fn shown_waybill(rows: &KioskRows) -> Option<&str> {
    rows.shown.as_ref().and_then(|st| st["waybill"].as_str())
}

/// The snapshot served by `GET /api/v1/kiosk/state`; `customer` is the shown return's
/// customer name from the manifest (masked here).
pub fn snapshot(rows: &KioskRows, customer: Option<&str>, cx: &Inputs<'_>) -> Value {
    let session = rows.bench.as_ref().and_then(|b| b.session.as_ref());
    let current = rows.bench.as_ref().and_then(|b| b.current.as_ref());
    let ret = match &rows.shown {
        Some(st) => return_view(st, customer, cx.lang),
        None => Value::Null,
    };
    let operator = match session {
        Some(s) => json!({
            "badge": s.badge.as_str(),
            "role": s.role.as_str(),
            "role_text": message(cx.lang, &format!("role.{}", s.role.as_str()), &[]),
        }),
        None => Value::Null,
    };
    let open = if current.is_some() {
        &ret
    } else {
        &Value::Null
    };
    let next = next_step(operator.is_object(), open);
    let devices = bench_devices(&cx.devices, cx.bench, cx.lang);
    json!({
        "station": {
            "id": cx.cfg.station.id.as_str(),
            "language": Lang::parse(&cx.cfg.station.language).code(),
            "tls_fingerprint": cx.tls_fingerprint,
        },
        "bench": cx.bench,
        "lang": cx.lang.code(),
        "operator": operator,
        "return": ret,
        "return_is_current": current.is_some(),
        "next_step": {"code": next, "text": message(cx.lang, next, &[])},
        "devices": devices,
        "alarms": alarms(rows, cx, &devices),
        "counters": counters(&rows.today),
        "last_scan": rows.last_scan.as_ref().map_or(Value::Null, |s| scan_json(s, cx.lang)),
        "last_seq": cx.stats.last_seq.load(Ordering::Relaxed),
        "at": fmt_time(cx.now),
    })
}

/// One return as the kiosk shows it: identity, masked customer, and the item rows.
fn return_view(st: &Value, customer: Option<&str>, lang: Lang) -> Value {
    let word = |prefix: &str, v: &Value| {
        v.as_str()
            .map(|s| message(lang, &format!("{prefix}.{s}"), &[]))
    };
    let rows = item_rows(st, lang);
    let exceptions = rows
        .iter()
        .filter(|r| r["status"] != "ok" && r["status"] != "short")
        .count();
    json!({
        "id": st["id"],
        "waybill": st["waybill"],
        "kind": st["kind"],
        "kind_text": word("kind", &st["kind"]),
        "stage": st["stage"],
        "stage_text": word("stage", &st["stage"]),
        "visual": st["visual"],
        "visual_text": word("visual", &st["visual"]),
        "announced": st["announced"],
        "order_no": st["order_no"],
        "customer": customer.map(crate::privacy::mask_name),
        "unpacked": st["unpacked"],
        "card_present": st["card_present"],
        "received_at": st["received_at"],
        "refund_due_by": st["refund_due_by"],
        "exchange_ship_by": st["exchange_ship_by"],
        "rows": rows,
        "exceptions": exceptions,
        "scanned": st["items"].as_array().map(|a| a.iter().filter(|i| i["voided"] != true).count()).unwrap_or(0),
        "expected": st["expected_items"].as_array().map(|a| a.iter().filter_map(|l| l["qty"].as_u64()).sum::<u64>()).unwrap_or(0),
    })
}

/// Expected lines against scanned items, one row per SKU: `ok`, `short`, `over`, or the
/// exception of an item not on the manifest (`unknown`, `unannounced`).
pub fn item_rows(st: &Value, lang: Lang) -> Vec<Value> {
    struct Row {
        name: String,
        expected: u64,
        scanned: u64,
        exception: Option<String>,
    }
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let empty = Vec::new();
    for l in st["expected_items"].as_array().unwrap_or(&empty) {
        let sku = l["sku"].as_str().unwrap_or("").to_string();
        if !rows.contains_key(&sku) {
            order.push(sku.clone());
        }
        let r = rows.entry(sku).or_insert(Row {
            name: l["name"].as_str().unwrap_or("").to_string(),
            expected: 0,
            scanned: 0,
            exception: None,
        });
        r.expected += l["qty"].as_u64().unwrap_or(0);
    }
    for i in st["items"].as_array().unwrap_or(&empty) {
        if i["voided"] == true {
            continue;
        }
        let sku = i["sku"].as_str().unwrap_or("").to_string();
        if !rows.contains_key(&sku) {
            order.push(sku.clone());
        }
        let r = rows.entry(sku).or_insert(Row {
            name: i["name"].as_str().unwrap_or("").to_string(),
            expected: 0,
            scanned: 0,
            exception: None,
        });
        r.scanned += 1;
        if let Some(e) = i["exception"].as_str()
            && e != "over"
        {
            r.exception = Some(e.to_string());
        }
    }
    order
        .iter()
        .filter_map(|sku| rows.get(sku).map(|r| (sku, r)))
        .map(|(sku, r)| {
            let status = match &r.exception {
                Some(e) => e.as_str(),
                None if r.scanned > r.expected => "over",
                None if r.scanned == r.expected => "ok",
                None => "short",
            };
            json!({
                "sku": sku,
                "name": r.name,
                "expected": r.expected,
                "scanned": r.scanned,
                "status": status,
                "status_text": message(lang, &format!("kiosk.row.{status}"), &[]),
            })
        })
        .collect()
}

/// The next thing the keeper scans, as an i18n code.
pub fn next_step(logged_in: bool, open: &Value) -> &'static str {
    if !logged_in {
        return "kiosk.next.login";
    }
    if !open.is_object() {
        return "kiosk.next.waybill";
    }
    let has_items = open["scanned"].as_u64().unwrap_or(0) > 0;
    if open["kind"].is_null() {
        "kiosk.next.kind"
    } else if open["unpacked"] != true {
        "kiosk.next.unpack"
    } else if !has_items {
        "kiosk.next.items"
    } else if open["visual"] == "not_recorded" {
        "kiosk.next.visual"
    } else {
        "kiosk.next.done"
    }
}

/// The printers and this bench's scanners, with their words in `lang`.
fn bench_devices(devices: &[Value], bench: &str, lang: Lang) -> Vec<Value> {
    devices
        .iter()
        .filter(|d| d["kind"] == "printer" || d["bench"].as_str() == Some(bench))
        .map(|d| {
            let mut d = d.clone();
            let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
            let state = crate::board::state_text(&d, lang);
            d["kind_text"] = json!(message(lang, &format!("device.kind.{}", s("kind")), &[]));
            d["state_text"] = json!(state);
            d
        })
        .collect()
}

fn alarm(lang: Lang, code: &str, params: &[(&str, String)]) -> Value {
    json!({"code": code, "text": text(lang, code, params)})
}

/// Device alarms, sync trouble, disk, clock and print jobs that need someone.
fn alarms(rows: &KioskRows, cx: &Inputs<'_>, devices: &[Value]) -> Vec<Value> {
    let lang = cx.lang;
    let mut out = Vec::new();
    for d in devices.iter().filter(|d| d["alarm"] == true) {
        let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
        out.push(alarm(
            lang,
            "kiosk.alarm.device",
            &[
                ("device", s("kind_text")),
                ("path", s("path")),
                ("state", s("state_text")),
            ],
        ));
    }
    sync_alarms(&mut out, cx);
    disk_alarms(&mut out, cx);
    if cx.sync["clock_alarm"] == true {
        let ms = cx.sync["clock_offset_ms"].to_string();
        out.push(alarm(lang, "kiosk.alarm.clock", &[("ms", ms)]));
    }
    if rows.jobs_failed > 0 {
        let n = rows.jobs_failed.to_string();
        out.push(alarm(lang, "kiosk.alarm.jobs_failed", &[("n", n)]));
    }
    if rows.jobs_waiting > 0 {
        let n = rows.jobs_waiting.to_string();
        out.push(alarm(lang, "kiosk.alarm.jobs_waiting", &[("n", n)]));
    }
    out
}

/// The push worker in trouble, a backlog waiting too long.
fn sync_alarms(out: &mut Vec<Value>, cx: &Inputs<'_>) {
    let (lang, sync) = (cx.lang, cx.sync);
    let push = sync["push"]["state"].as_str().unwrap_or("");
    if !matches!(push, "idle" | "sending" | "disabled" | "") {
        let state = message(lang, &format!("sync.push.{push}"), &[]);
        out.push(alarm(lang, "kiosk.alarm.push", &[("state", state)]));
    }
    let age = sync["oldest_unacked_age_s"].as_i64().unwrap_or(0);
    if push != "disabled" && age > BACKLOG_ALARM_S {
        out.push(alarm(
            lang,
            "kiosk.alarm.backlog",
            &[
                ("events", sync["backlog"].to_string()),
                ("minutes", (age / 60).to_string()),
            ],
        ));
    }
}

/// A storage fault, a full disk or filesystem, the high-water mark.
fn disk_alarms(out: &mut Vec<Value>, cx: &Inputs<'_>) {
    let lang = cx.lang;
    let storage = &cx.cfg.storage;
    let used = cx.stats.disk_used.load(Ordering::Relaxed);
    let cap = storage.cap_bytes.max(1);
    let disk = crate::views::disk_json(cx.stats, storage.cap_bytes, storage.high_water_pct);
    if disk["storage_fault"].is_string() {
        out.push(alarm(lang, "kiosk.alarm.storage_fault", &[]));
    }
    if disk["full_reason"] == "filesystem" {
        let free = crate::views::mib(disk["fs_free_bytes"].as_u64().unwrap_or(0));
        out.push(alarm(lang, "kiosk.alarm.fs_full", &[("free", free)]));
    } else if disk["full_reason"] == "cap" {
        out.push(alarm(lang, "kiosk.alarm.disk_full", &[]));
    } else if used.saturating_mul(100) >= cap.saturating_mul(u64::from(storage.high_water_pct)) {
        let pct = used.saturating_mul(100) / cap;
        out.push(alarm(
            lang,
            "kiosk.alarm.disk_high",
            &[("pct", pct.to_string())],
        ));
    }
}

/// Today's station-wide counters.
fn counters(c: &DayCounters) -> Value {
    json!({"received": c.received, "first_checks": c.first_checks,
           "labels_printed": c.labels_printed, "scans": c.scans})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ret(items: Value) -> Value {
        json!({
            "expected_items": [{"sku": "A", "name": "Kettle", "qty": 1}, {"sku": "B", "name": "Lid", "qty": 2}],
            "items": items,
        })
    }

    /// Rows count expected against scanned per SKU; voided items do not count; items not on
    /// the manifest keep their exception.
    #[test]
    fn rows_compare_expected_and_scanned() {
        let st = ret(json!([
            {"sku": "A", "name": "Kettle", "voided": false, "exception": null},
            {"sku": "A", "name": "Kettle", "voided": false, "exception": "over"},
            {"sku": "B", "name": "Lid", "voided": true, "exception": null},
            {"sku": "6901234567892", "name": "", "voided": false, "exception": "unknown"},
        ]));
        let rows = item_rows(&st, Lang::En);
        let status: Vec<(&str, u64, u64, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r["sku"].as_str().unwrap(),
                    r["expected"].as_u64().unwrap(),
                    r["scanned"].as_u64().unwrap(),
                    r["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            status,
            vec![
                ("A", 1, 2, "over"),
                ("B", 2, 0, "short"),
                ("6901234567892", 0, 1, "unknown")
            ]
        );
        assert_eq!(rows[0]["status_text"], "over");
    }

    /// The next step follows the bench flow: login, waybill, kind, unpack, items, visual, done.
    #[test]
    fn next_step_follows_the_flow() {
        assert_eq!(next_step(false, &Value::Null), "kiosk.next.login");
        assert_eq!(next_step(true, &Value::Null), "kiosk.next.waybill");
        let mut r =
            json!({"kind": null, "unpacked": false, "scanned": 0, "visual": "not_recorded"});
        assert_eq!(next_step(true, &r), "kiosk.next.kind");
        r["kind"] = json!("refused");
        assert_eq!(next_step(true, &r), "kiosk.next.unpack");
        r["unpacked"] = json!(true);
        assert_eq!(next_step(true, &r), "kiosk.next.items");
        r["scanned"] = json!(1);
        assert_eq!(next_step(true, &r), "kiosk.next.visual");
        r["visual"] = json!("ok");
        assert_eq!(next_step(true, &r), "kiosk.next.done");
    }

    /// The snapshot renders from the store's rows alone, without a database or a clock:
    /// the operator, the open return with its masked customer and rows, the next step,
    /// today's counters, the last scan in the page's language and the print-job alarms.
    #[test]
    fn the_snapshot_renders_from_rows() {
        use crate::domain::ids::{Badge, ReturnId};
        use crate::domain::kind::Role;
        use crate::domain::model::{Bench, Session};
        use crate::store::kiosk::ScanRow;
        let text =
            "[station]\nid = \"ST01\"\nlanguage = \"en\"\n[storage]\nstate_dir = \"/srv/st\"\n";
        let cfg = crate::config::parse(text, "t.toml", std::path::Path::new("/t.toml"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let id = "R-ST01-20261125-0001";
        let rows = KioskRows {
            bench: Some(Bench {
                session: Some(Session {
                    badge: Badge::parse("017").unwrap(),
                    role: Role::Keeper,
                }),
                current: Some(ReturnId::parse(id).unwrap()),
                last: None,
            }),
            shown: Some(
                json!({"id": id, "waybill": "SF1", "kind": "customer_return",
                "unpacked": true, "visual": "not_recorded",
                "items": [{"sku": "A", "name": "Kettle", "voided": false}],
                "expected_items": [{"sku": "A", "name": "Kettle", "qty": 1}]}),
            ),
            today: DayCounters {
                received: 3,
                first_checks: 2,
                labels_printed: 4,
                scans: 9,
            },
            last_scan: Some(ScanRow {
                seq: 7,
                data: json!({"code": "SF1", "class": "waybill", "accepted": true}),
                occurred_at: "2026-11-25T08:00:00Z".into(),
            }),
            jobs_failed: 1,
            jobs_waiting: 0,
        };
        let stats = Stats::default();
        let sync = json!({"push": {"state": "disabled"}});
        let cx = Inputs {
            cfg: &cfg,
            stats: &stats,
            sync: &sync,
            devices: Vec::new(),
            bench: "bench-1",
            lang: Lang::En,
            now: Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap(),
            tls_fingerprint: None,
        };
        let v = snapshot(&rows, Some("张三"), &cx);
        assert_eq!(
            (&v["operator"]["badge"], &v["operator"]["role"]),
            (&json!("017"), &json!("keeper"))
        );
        assert_eq!(v["return"]["customer"], "张**");
        assert_eq!(v["return"]["rows"][0]["status"], "ok");
        assert_eq!(v["return_is_current"], true);
        assert_eq!(v["next_step"]["code"], "kiosk.next.visual");
        assert_eq!(
            v["counters"],
            json!({"received": 3, "first_checks": 2, "labels_printed": 4, "scans": 9})
        );
        assert_eq!(
            (&v["last_scan"]["seq"], &v["last_scan"]["message"]),
            (&json!(7), &json!("Waybill SF1"))
        );
        let alarms: Vec<&str> = (v["alarms"].as_array().unwrap().iter())
            .filter_map(|a| a["code"].as_str())
            .collect();
        assert_eq!(alarms, ["kiosk.alarm.jobs_failed"]);
        assert_eq!(v["at"], "2026-11-25T09:00:00.000Z");
    }

    /// Every code the snapshot can name has both translations.
    #[test]
    fn kiosk_codes_are_translated() {
        let known: Vec<&str> = crate::i18n::codes().collect();
        let src = [include_str!("kiosk_view.rs"), include_str!("kiosk_scan.rs")].concat();
        let re = regex::Regex::new(r#""(kiosk\.(?:next|scan|alarm)\.[a-z_]+)""#).unwrap();
        let mut n = 0;
        for c in re.captures_iter(&src) {
            n += 1;
            assert!(known.contains(&&c[1]), "{} has no translation", &c[1]);
        }
        for s in ["ok", "short", "over", "unknown", "unannounced"] {
            assert!(known.contains(&format!("kiosk.row.{s}").as_str()));
        }
        for s in ["backoff", "auth_failed", "rejected", "conflict", "moved"] {
            assert!(known.contains(&format!("sync.push.{s}").as_str()));
        }
        assert!(n > 15, "{n}");
    }
}
