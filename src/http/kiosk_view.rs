//! What the keeper's kiosk shows, as one JSON snapshot read from the projections (no event
//! replay): the bench's operator and current return (from `benches` and `returns`), the
//! expected-vs-scanned rows with their exceptions, the next step, the devices of this bench
//! and the printers, alarms, today's counters and the bench's last scan.
//!
//! Dynamic texts are translated here, in the language the page asks for; the page's fixed
//! words come from `GET /api/v1/i18n`. The customer's name is only ever shown masked
//! (`张**`), and nothing here is logged.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};

use crate::config::Config;
use crate::engine::Stats;
use crate::format::fmt_time;
use crate::i18n::{Lang, message};
use crate::store::StoreError;

/// Print jobs queued or sent longer ago than this are an alarm ("long unconfirmed").
const JOB_WAIT_ALARM_S: i64 = 120;
/// Unsynced events older than this are an alarm (while a central is configured).
const BACKLOG_ALARM_S: i64 = 15 * 60;

/// Everything the snapshot needs besides the database.
pub struct Ctx<'a> {
    pub cfg: &'a Config,
    pub stats: &'a Stats,
    pub sync: &'a crate::sync_status::SharedStatus,
    pub devices: Vec<Value>,
    pub bench: &'a str,
    pub lang: Lang,
    pub now: DateTime<Utc>,
    /// The listener's certificate fingerprint, for pairing a handheld (None: plain HTTP).
    pub tls_fingerprint: Option<&'a str>,
}

/// A message in `lang` with its parameters; placeholders nobody could fill show as `…`
/// rather than as `{name}`.
pub fn text(lang: Lang, code: &str, params: &[(&str, String)]) -> String {
    let out = message(lang, code, params);
    match regex::Regex::new(r"\{[a-z_]+\}") {
        Ok(re) => re.replace_all(&out, "…").into_owned(),
        Err(_) => out,
    }
}

/// The snapshot served by `GET /api/v1/kiosk/state`.
pub fn snapshot(conn: &Connection, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let bench_state: Value = conn
        .query_row(
            "SELECT state FROM benches WHERE bench = ?1",
            [cx.bench],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    let current = bench_state["current"].as_str().map(str::to_string);
    let shown = current
        .clone()
        .or_else(|| bench_state["last"].as_str().map(str::to_string));
    let ret = match &shown {
        Some(id) => return_view(conn, id, cx.lang)?,
        None => Value::Null,
    };
    let operator = match (bench_state["badge"].as_str(), bench_state["role"].as_str()) {
        (Some(b), Some(r)) => json!({
            "badge": b,
            "role": r,
            "role_text": message(cx.lang, &format!("role.{r}"), &[]),
        }),
        _ => Value::Null,
    };
    let open = if current.is_some() {
        &ret
    } else {
        &Value::Null
    };
    let next = next_step(operator.is_object(), open);
    let today = first_seq_since(conn, local_midnight(cx.cfg, cx.now))?;
    let devices = bench_devices(&cx.devices, cx.bench, cx.lang);
    Ok(json!({
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
        "alarms": alarms(conn, cx, &devices)?,
        "counters": counters(conn, today)?,
        "last_scan": last_scan(conn, today, cx.bench, cx.lang)?,
        "last_seq": cx.stats.last_seq.load(Ordering::Relaxed),
        "at": fmt_time(cx.now),
    }))
}

/// One return as the kiosk shows it: identity, masked customer, and the item rows.
fn return_view(conn: &Connection, id: &str, lang: Lang) -> Result<Value, StoreError> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM returns WHERE return_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(st) = state.and_then(|s| serde_json::from_str::<Value>(&s).ok()) else {
        return Ok(Value::Null);
    };
    let waybill = st["waybill"].as_str().unwrap_or("");
    let customer = crate::store::feed_items::get(conn, "expected_return", waybill)?
        .and_then(|(_, d)| {
            d.get("customer_name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .map(|n| crate::privacy::mask_name(&n));
    let word = |prefix: &str, v: &Value| {
        v.as_str()
            .map(|s| message(lang, &format!("{prefix}.{s}"), &[]))
    };
    let rows = item_rows(&st, lang);
    let exceptions = rows
        .iter()
        .filter(|r| r["status"] != "ok" && r["status"] != "short")
        .count();
    Ok(json!({
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
        "customer": customer,
        "unpacked": st["unpacked"],
        "card_present": st["card_present"],
        "received_at": st["received_at"],
        "refund_due_by": st["refund_due_by"],
        "exchange_ship_by": st["exchange_ship_by"],
        "rows": rows,
        "exceptions": exceptions,
        "scanned": st["items"].as_array().map(|a| a.iter().filter(|i| i["voided"] != true).count()).unwrap_or(0),
        "expected": st["expected_items"].as_array().map(|a| a.iter().filter_map(|l| l["qty"].as_u64()).sum::<u64>()).unwrap_or(0),
    }))
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
fn alarms(conn: &Connection, cx: &Ctx<'_>, devices: &[Value]) -> Result<Vec<Value>, StoreError> {
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
    let sync = crate::views::sync_status_json(&crate::store::sync_counters(conn)?, cx.sync, cx.now);
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
    let used = cx.stats.disk_used.load(Ordering::Relaxed);
    let cap = cx.cfg.storage.cap_bytes.max(1);
    let disk = crate::views::disk_json(
        cx.stats,
        cx.cfg.storage.cap_bytes,
        cx.cfg.storage.high_water_pct,
    );
    if disk["storage_fault"].is_string() {
        out.push(alarm(lang, "kiosk.alarm.storage_fault", &[]));
    }
    if disk["full_reason"] == "filesystem" {
        let free = crate::views::mib(disk["fs_free_bytes"].as_u64().unwrap_or(0));
        out.push(alarm(lang, "kiosk.alarm.fs_full", &[("free", free)]));
    } else if disk["full_reason"] == "cap" {
        out.push(alarm(lang, "kiosk.alarm.disk_full", &[]));
    } else if used.saturating_mul(100)
        >= cap.saturating_mul(u64::from(cx.cfg.storage.high_water_pct))
    {
        let pct = used.saturating_mul(100) / cap;
        out.push(alarm(
            lang,
            "kiosk.alarm.disk_high",
            &[("pct", pct.to_string())],
        ));
    }
    if sync["clock_alarm"] == true {
        out.push(alarm(
            lang,
            "kiosk.alarm.clock",
            &[("ms", sync["clock_offset_ms"].to_string())],
        ));
    }
    let midnight = fmt_time(local_midnight(cx.cfg, cx.now));
    let failed: i64 = conn.query_row(
        "SELECT COUNT(*) FROM print_jobs WHERE state = 'failed' AND created_at >= ?1",
        [&midnight],
        |r| r.get(0),
    )?;
    if failed > 0 {
        out.push(alarm(
            lang,
            "kiosk.alarm.jobs_failed",
            &[("n", failed.to_string())],
        ));
    }
    let old = fmt_time(cx.now - chrono::Duration::seconds(JOB_WAIT_ALARM_S));
    let waiting: i64 = conn.query_row(
        "SELECT COUNT(*) FROM print_jobs WHERE state IN ('queued', 'sent') AND created_at < ?1",
        [&old],
        |r| r.get(0),
    )?;
    if waiting > 0 {
        out.push(alarm(
            lang,
            "kiosk.alarm.jobs_waiting",
            &[("n", waiting.to_string())],
        ));
    }
    Ok(out)
}

/// 00:00 today in the station's time zone.
fn local_midnight(cfg: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&cfg.station.timezone).date_naive();
    local
        .and_hms_opt(0, 0, 0)
        .and_then(|t| cfg.station.timezone.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// The first seq that occurred at or after `t`: a binary search over the seq key (events are
/// appended in time order), so the day's counters never scan the whole journal.
fn first_seq_since(conn: &Connection, t: DateTime<Utc>) -> Result<i64, StoreError> {
    let (lo, hi): (Option<i64>, Option<i64>) =
        conn.query_row("SELECT MIN(seq), MAX(seq) FROM journal", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(mut lo), Some(hi)) = (lo, hi) else {
        return Ok(1);
    };
    let t = fmt_time(t);
    let mut hi = hi + 1;
    let mut q =
        conn.prepare("SELECT occurred_at FROM journal WHERE seq >= ?1 ORDER BY seq LIMIT 1")?;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at: Option<String> = q.query_row([mid], |r| r.get(0)).optional()?;
        if at.as_deref().is_some_and(|a| a < t.as_str()) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Today's station-wide counters.
fn counters(conn: &Connection, from_seq: i64) -> Result<Value, StoreError> {
    let mut q = conn.prepare(
        "SELECT type, COUNT(*), SUM(COALESCE(json_extract(data, '$.copies'), 1)) FROM journal
         WHERE seq >= ?1 AND type IN ('return.received', 'check.first_completed', 'label.printed', 'scan.recorded')
         GROUP BY type",
    )?;
    let mut c = json!({"received": 0, "first_checks": 0, "labels_printed": 0, "scans": 0});
    let rows = q.query_map([from_seq], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (ty, n, copies) = row?;
        match ty.as_str() {
            "return.received" => c["received"] = json!(n),
            "check.first_completed" => c["first_checks"] = json!(n),
            "label.printed" => c["labels_printed"] = json!(copies),
            _ => c["scans"] = json!(n),
        }
    }
    Ok(c)
}

/// The bench's last scan today, with its result in `lang`.
fn last_scan(
    conn: &Connection,
    from_seq: i64,
    bench: &str,
    lang: Lang,
) -> Result<Value, StoreError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM journal
             WHERE seq >= ?1 AND type = 'scan.recorded' AND json_extract(data, '$.bench') = ?2
             ORDER BY seq DESC LIMIT 1",
            rusqlite::params![from_seq, bench],
            |r| r.get(0),
        )
        .optional()?;
    match seq {
        Some(seq) => super::kiosk_scan::read_scan(conn, seq, lang),
        None => Ok(Value::Null),
    }
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
        for s in ["backoff", "auth_failed", "rejected", "conflict"] {
            assert!(known.contains(&format!("sync.push.{s}").as_str()));
        }
        assert!(n > 15, "{n}");
    }
}
