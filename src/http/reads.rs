//! API endpoints that only read: the operator, returns (list, detail, inspection queue),
//! zones and stock, RTV notes, the items in the defect zone, devices, alarms, sync status, the journal and print jobs. Reads use the
//! HTTP server's reader connection (short read transactions on a blocking thread); customer
//! data is masked unless a supervisor asks `?reveal=1` on one return.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::HttpState;
use super::api::Ctx;
use super::dto::{AlarmOut, Page, ReturnDetailOut, ReturnSummary, ZoneStockOut};
use super::error::ApiError;
use crate::domain::ids::BinCode;
use crate::domain::kind::Role;
use crate::domain::model::Station;
use crate::i18n::message;
use crate::privacy::{mask_name, mask_phone_tail};
use crate::store::{self, StoreError};
use crate::views::{self, ReturnFilter};

/// Run `f` on the reader connection on a blocking thread.
pub async fn read<T: Send + 'static>(
    state: &HttpState,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    super::on_reader(state, f).await.map_err(|e| {
        tracing::error!(error = %e, "API read failed");
        ApiError::internal()
    })
}

fn query<T: serde::de::DeserializeOwned>(ctx: &Ctx) -> Result<T, ApiError> {
    let q = ctx.query.as_deref().unwrap_or("");
    serde_urlencoded_lite(q).and_then(|v| {
        serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("query: {e}")))
    })
}

/// Parse `a=1&b=x` into a JSON object of strings (numbers are parsed by the target types
/// through `deserialize_with`-free string fields).
fn serde_urlencoded_lite(q: &str) -> Result<Value, ApiError> {
    let mut m = serde_json::Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| -> Result<String, ApiError> {
            let s = s.replace('+', " ");
            let bytes = s.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let h = s
                        .get(i + 1..i + 3)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or_else(|| ApiError::bad_request("query: bad percent-encoding"))?;
                    out.push(h);
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).map_err(|_| ApiError::bad_request("query: not UTF-8"))
        };
        m.insert(dec(k)?, Value::String(dec(v)?));
    }
    Ok(Value::Object(m))
}

fn int(v: &Option<String>, name: &str, default: i64, lo: i64, hi: i64) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be {lo} to {hi}"))),
    }
}

fn flag(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1" | "true" | "yes"))
}

/// `GET /me`.
pub fn me(ctx: &Ctx) -> Value {
    let Some(c) = &ctx.caller else {
        return Value::Null;
    };
    json!({
        "badge": c.badge.as_str(),
        "name": c.name,
        "roles": c.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "lang": ctx.lang.code(),
        "auth": if c.via_cookie { "cookie" } else { "bearer" },
        "idle_timeout_s": ctx.state.api.auth.idle_secs(),
    })
}

#[derive(Deserialize)]
struct ReturnsQuery {
    stage: Option<String>,
    kind: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|t| crate::format::parse_time(t).ok())
}

fn age_h(received: &str, now: DateTime<Utc>) -> f64 {
    crate::format::parse_time(received)
        .map(|t| ((now - t).num_minutes() as f64 / 60.0 * 10.0).round() / 10.0)
        .unwrap_or(0.0)
}

/// `GET /returns` (newest first, filtered) and `GET /inspection-queue` (returns waiting
/// for the second inspection, oldest first).
pub async fn returns(ctx: &Ctx, queue: bool) -> Result<Value, ApiError> {
    let q: ReturnsQuery = query(ctx)?;
    let limit = int(&q.limit, "limit", if queue { 200 } else { 50 }, 1, 500)?;
    let offset = int(&q.offset, "offset", 0, 0, 1_000_000)?;
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 64) {
        return Err(ApiError::bad_request("q is at most 64 characters"));
    }
    let f = ReturnFilter {
        stage: if queue {
            Some("first_checked".into())
        } else {
            q.stage
        },
        kind: q.kind,
        q: q.q.filter(|s| !s.is_empty()),
        limit,
        offset,
        oldest_first: queue,
    };
    let rows = read(&ctx.state, move |conn| views::list_returns(conn, &f)).await?;
    let now = Utc::now();
    let items = rows
        .into_iter()
        .map(|r| {
            let refund = r.state["refund_due_by"].clone();
            let exchange = r.state["exchange_ship_by"].clone();
            let due = [time(&refund), time(&exchange)].into_iter().flatten().min();
            ReturnSummary {
                sla_age_h: age_h(&r.received_at, now),
                customer_name: mask_name(&r.customer_name),
                return_id: r.return_id,
                waybill: r.waybill,
                kind: r.kind,
                stage: r.stage,
                items: r.items,
                received_at: r.received_at,
                refund_due_by: refund,
                exchange_ship_by: exchange,
                due_in_min: due.map(|d| (d - now).num_minutes()),
            }
        })
        .collect();
    to_json(Page {
        items,
        limit,
        offset,
    })
}

fn to_json(v: impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|_| ApiError::internal())
}

#[derive(Deserialize)]
struct DetailQuery {
    reveal: Option<String>,
}

/// `GET /returns/{id}` (`?reveal=1`: unmasked, supervisors only).
pub async fn return_detail(ctx: &Ctx) -> Result<Value, ApiError> {
    let q: DetailQuery = query(ctx)?;
    let reveal = flag(&q.reveal);
    if reveal
        && !ctx
            .caller
            .as_ref()
            .is_some_and(|c| c.roles.contains(&Role::Supervisor))
    {
        let roles = ctx
            .caller
            .as_ref()
            .map(|c| c.roles_text())
            .unwrap_or_default();
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden_role").param("role", roles));
    }
    let Some(id) = ctx.id.clone() else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    let found = read(&ctx.state, move |conn| {
        let Some(d) = views::return_detail(conn, id.as_str())? else {
            return Ok(None);
        };
        let jobs = store::jobs::for_subject(conn, id.as_str(), 200)?;
        let checklists = crate::refdata::checklists(conn, &d.state)?;
        Ok(Some((id, d, jobs, checklists)))
    })
    .await?;
    let Some((id, mut d, jobs, checklists)) = found else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    if reveal && let Some(c) = &ctx.caller {
        // Who looked, never what they saw.
        tracing::info!(badge = %c.badge.as_str(), return_id = %id.as_str(), "customer data revealed");
    }
    let blind = blind_for(ctx);
    if blind {
        hide_first_check(&mut d.state, &mut d.events);
    }
    let received = d.state["received_at"].as_str().unwrap_or("").to_string();
    let claimed_reason_class = d.state["claimed_reason"]
        .as_str()
        .map(|t| crate::domain::policy::ClaimedReason::parse(t).as_str());
    to_json(ReturnDetailOut {
        claimed_reason_class,
        return_id: id.as_str().to_string(),
        customer_name: if reveal {
            d.customer_name
        } else {
            mask_name(&d.customer_name)
        },
        customer_phone_tail: if reveal {
            d.customer_phone_tail
        } else {
            mask_phone_tail(&d.customer_phone_tail)
        },
        masked: !reveal,
        sla_age_h: age_h(&received, Utc::now()),
        photos: views::photos_of(&d.events),
        state: d.state,
        events: d.events,
        labels: jobs.iter().map(crate::views::job_json).collect(),
        checklists,
        blind,
    })
}

/// Whether the caller gets the blind view (`inspection.blind`): an inspector who is not
/// also a supervisor. The bench PC's kiosk (no caller) is the keeper's own screen.
pub fn blind_for(ctx: &Ctx) -> bool {
    ctx.state.cfg.inspection.blind
        && ctx.caller.as_ref().is_some_and(|c| {
            c.roles.contains(&Role::Inspector) && !c.roles.contains(&Role::Supervisor)
        })
}

/// The journal event types that tell the keeper's first check (the scan log's command
/// codes would tell the visual result).
const FIRST_CHECK_TYPES: [&str; 3] = [
    "check.visual_recorded",
    "check.first_completed",
    "scan.recorded",
];

/// Blind second inspection on the journal: the first-check events keep their seq, type
/// and time (so the journal still reads without gaps) but lose their data
/// (`"redacted": true`), and item scans lose their exception.
pub fn redact_first_check(events: &mut [Value]) {
    for e in events.iter_mut() {
        let ty = e["type"].as_str().unwrap_or("");
        if FIRST_CHECK_TYPES.contains(&ty) {
            e["data"] = json!({});
            e["redacted"] = json!(true);
        } else if ty == "item.scanned"
            && let Some(d) = e["data"].as_object_mut()
        {
            d.remove("exception");
        }
    }
}

/// Blind second inspection: drop the keeper's first-check results from a return's
/// projection and events (the visual result, each item's exception, the counts, and the
/// bench's scan log, whose command codes would tell the visual result).
pub fn hide_first_check(state: &mut Value, events: &mut Vec<Value>) {
    if let Some(o) = state.as_object_mut() {
        o.remove("visual");
    }
    if let Some(items) = state["items"].as_array_mut() {
        for i in items.iter_mut().filter_map(Value::as_object_mut) {
            i.remove("exception");
        }
    }
    events.retain(|e| !FIRST_CHECK_TYPES.contains(&e["type"].as_str().unwrap_or("")));
    redact_first_check(events);
}

/// `GET /inspection-standards`: every stored inspection standard and the built-in lines.
pub async fn inspection_standards(ctx: &Ctx) -> Result<Value, ApiError> {
    read(&ctx.state, crate::refdata::inspection_standards).await
}

/// `GET /defect-reasons`: the reasons (code, zh/en labels, seller fault) and whether the
/// station requires a photo for defects (`inspection.defect_photo_required`).
pub async fn defect_reasons(ctx: &Ctx) -> Result<Value, ApiError> {
    let cfg = ctx.state.cfg.clone();
    let reasons = read(&ctx.state, move |conn| {
        crate::refdata::defect_reasons(conn, &cfg)
    })
    .await?;
    Ok(json!({
        "reasons": reasons,
        "photo_required": ctx.state.cfg.inspection.defect_photo_required,
    }))
}

/// `GET /zones`: the effective bins (the config's `[[zones.bins]]` overlaid by
/// supervisors' edits, `zone.bin_set`) with the units each holds, and the stock per zone
/// and SKU.
pub async fn zones(ctx: &Ctx) -> Result<Value, ApiError> {
    let (stock, edits) = read(&ctx.state, |conn| {
        let stock = views::zone_stock(conn)?;
        let mut st = Station::default();
        store::snapshot::load_meta(conn, &mut st)?;
        Ok((stock, st.bins))
    })
    .await?;
    let config = &ctx.state.cfg.zones.bins;
    let codes: std::collections::BTreeSet<&BinCode> = config.keys().chain(edits.keys()).collect();
    let bins: Vec<Value> = codes
        .into_iter()
        .map(|code| {
            let units: i64 = stock
                .iter()
                .filter(|(zone, _, _)| zone.split_once('/').is_some_and(|(_, b)| b == code.as_str()))
                .map(|(_, _, n)| *n)
                .sum();
            let configured = config.get(code).map(|c| c.as_str());
            match edits.get(code) {
                Some(e) => json!({"code": code.as_str(), "class": e.class.as_str(), "label": e.label,
                    "active": e.active, "source": "edited", "configured_class": configured,
                    "units": units, "edited_at": store::codec::fmt_time(e.at), "edited_by": e.by}),
                None => json!({"code": code.as_str(), "class": configured, "label": null, "active": true,
                    "source": "config", "configured_class": configured, "units": units,
                    "edited_at": null, "edited_by": null}),
            }
        })
        .collect();
    let stock: Vec<ZoneStockOut> = stock
        .into_iter()
        .map(|(zone, sku, qty)| ZoneStockOut { zone, sku, qty })
        .collect();
    Ok(json!({"bins": bins, "stock": stock}))
}

#[derive(Deserialize)]
struct RtvQuery {
    state: Option<String>,
    limit: Option<String>,
}

/// `GET /rtv-notes?state=open|closed&limit=`: return-to-vendor notes, newest first, each
/// with its lines and, once closed, the handover (when, who, carrier waybill, note).
pub async fn rtv_notes(ctx: &Ctx) -> Result<Value, ApiError> {
    let q: RtvQuery = query(ctx)?;
    let limit = int(&q.limit, "limit", 200, 1, 1000)? as usize;
    let want = match q.state.as_deref() {
        None | Some("") => None,
        Some("open") => Some(false),
        Some("closed") => Some(true),
        Some(_) => return Err(ApiError::bad_request("state must be open or closed")),
    };
    let notes = read(&ctx.state, |conn| {
        let mut st = Station::default();
        store::snapshot::load_meta(conn, &mut st)?;
        Ok(st.rtv_notes)
    })
    .await?;
    let mut notes: Vec<_> = notes
        .into_values()
        .filter(|n| want.is_none_or(|closed| n.closed.is_some() == closed))
        .collect();
    notes.sort_by(|a, b| (b.created_at, &b.note_no).cmp(&(a.created_at, &a.note_no)));
    let notes: Vec<Value> = notes
        .iter()
        .take(limit)
        .map(|n| {
            let mut v = store::snapshot::rtv_note_json(n);
            v["state"] = json!(if n.closed.is_some() { "closed" } else { "open" });
            v["items"] = json!(n.lines.len());
            if let Some(lines) = v["lines"].as_array_mut() {
                for l in lines.iter_mut() {
                    l["ref"] = json!(format!(
                        "{}.{}",
                        l["return_id"].as_str().unwrap_or(""),
                        l["item_no"]
                    ));
                }
            }
            v
        })
        .collect();
    Ok(json!({"notes": notes}))
}

/// `GET /defect-items`: every unit now in the defect zone or a defect bin, in one read
/// (the RTV pick list): return id, item number and label, SKU, name, zone and bin, the
/// defect reasons, who graded it and since when it is there.
pub async fn defect_items(ctx: &Ctx) -> Result<Value, ApiError> {
    let items = read(&ctx.state, |conn| {
        let mut q = conn.prepare(
            "SELECT return_id, state FROM returns WHERE stage IN ('inspected', 'put_away')
             ORDER BY return_id",
        )?;
        let rows = q
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut moved = conn.prepare_cached(
            "SELECT json_extract(data, '$.item_no'), json_extract(data, '$.to'), occurred_at
             FROM journal WHERE return_id = ?1 AND type = 'item.moved' ORDER BY seq",
        )?;
        let mut out = Vec::new();
        for (id, state) in rows {
            let v: Value = serde_json::from_str(&state)
                .map_err(|e| StoreError::decode(format!("returns[{id}]"), e.to_string()))?;
            let here: Vec<&Value> = v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| {
                    i["voided"] != json!(true)
                        && i["zone"]
                            .as_str()
                            .is_some_and(|z| z == "defect" || z.starts_with("defect/"))
                })
                .collect();
            if here.is_empty() {
                continue;
            }
            // When each unit last moved (into where it is now).
            let mut since: std::collections::HashMap<i64, (String, String)> =
                std::collections::HashMap::new();
            let moves = moved.query_map([&id], |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for m in moves {
                if let (Some(no), Some(to), at) = m? {
                    since.insert(no, (to, at));
                }
            }
            for i in here {
                let no = i["item_no"].as_i64().unwrap_or(0);
                let zone = i["zone"].as_str().unwrap_or("defect").to_string();
                let at = since
                    .get(&no)
                    .filter(|(to, _)| *to == zone)
                    .map(|(_, at)| at.clone());
                out.push(json!({
                    "ref": format!("{id}.{no}"),
                    "return_id": id,
                    "item_no": no,
                    "sku": i["sku"],
                    "name": i["name"],
                    "zone": zone,
                    "bin": zone.split_once('/').map(|(_, b)| b),
                    "defect_reasons": i["defect_reasons"],
                    "inspected_by": i["inspected_by"],
                    "since": at,
                }));
            }
        }
        Ok(out)
    })
    .await?;
    Ok(json!({"items": items}))
}

/// `GET /devices`.
pub fn devices(ctx: &Ctx) -> Value {
    json!({"devices": ctx.state.board.to_json()})
}

async fn sync_status(ctx: &Ctx) -> Result<Value, ApiError> {
    let status = ctx.state.sync.clone();
    let mut v = read(&ctx.state, move |conn| {
        Ok(crate::views::sync_status_json(
            &store::sync_counters(conn)?,
            &status,
            Utc::now(),
        ))
    })
    .await?;
    let cfg = &ctx.state.cfg;
    v["disk"] = views::disk_json(
        &ctx.state.engine.stats,
        cfg.storage.cap_bytes,
        cfg.storage.high_water_pct,
    );
    Ok(v)
}

/// `GET /sync`.
pub async fn sync(ctx: &Ctx) -> Result<Value, ApiError> {
    sync_status(ctx).await
}

/// `GET /alarms`: everything that needs an operator now, each with a stable code.
pub async fn alarms(ctx: &Ctx) -> Result<Value, ApiError> {
    let lang = ctx.lang;
    let mut out: Vec<AlarmOut> = Vec::new();
    let mut add =
        |code: &'static str, critical: bool, subject: Option<String>, p: &[(&str, String)]| {
            out.push(AlarmOut {
                code,
                severity: if critical { "critical" } else { "warning" },
                subject,
                message: message(lang, &format!("alarm.{code}"), p),
            })
        };
    for d in ctx.state.board.snapshot() {
        if d.state.is_alarm() {
            let state = d.state.as_str().to_string();
            add(
                "device",
                true,
                Some(d.id.clone()),
                &[("device", d.id), ("state", state)],
            );
        }
    }
    let s = sync_status(ctx).await?;
    let push = s["push"]["state"].as_str().unwrap_or("").to_string();
    if !matches!(push.as_str(), "idle" | "sending" | "disabled" | "") {
        let critical = push != "backoff";
        add("sync_push", critical, None, &[("state", push)]);
    }
    let disk = &s["disk"];
    if let Some(detail) = disk["storage_fault"].as_str() {
        add(
            "storage_fault",
            true,
            None,
            &[("detail", detail.to_string())],
        );
    }
    if disk["full_reason"] == "filesystem" {
        let free = views::mib(disk["fs_free_bytes"].as_u64().unwrap_or(0));
        add("fs_full", true, None, &[("free", free)]);
    } else if disk["full_reason"] == "cap" {
        add("disk_full", true, None, &[]);
    } else if disk["high_water"] == json!(true) {
        add("disk_high_water", false, None, &[]);
    }
    if s["clock_alarm"] == json!(true) {
        let off = s["clock_offset_ms"].to_string();
        add("clock_offset", false, None, &[("offset_ms", off)]);
    }
    let jobs = read(&ctx.state, |conn| store::jobs::list(conn, false, 500)).await?;
    for j in jobs {
        let id = j.id.to_string();
        if j.state == "failed" {
            add("print_failed", true, Some(id.clone()), &[("job", id)]);
        } else if j.state == "queued" && j.attempts > 0 {
            add("print_stuck", false, Some(id.clone()), &[("job", id)]);
        }
    }
    Ok(json!({"alarms": to_json(out)?}))
}

#[derive(Deserialize)]
struct JournalQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /journal?after=&limit=`: the station's journal, read-only (no customer data).
pub async fn journal(ctx: &Ctx) -> Result<Value, ApiError> {
    let q: JournalQuery = query(ctx)?;
    let after = int(&q.after, "after", 0, 0, i64::MAX)?;
    let limit = int(&q.limit, "limit", 100, 1, 1000)?;
    let (rows, last) = read(&ctx.state, move |conn| {
        let tx = conn.unchecked_transaction()?;
        let rows = store::journal_after(&tx, after, limit)?;
        let last: Option<i64> = tx.query_row("SELECT MAX(seq) FROM journal", [], |r| r.get(0))?;
        tx.finish()?;
        Ok((rows, last.unwrap_or(0)))
    })
    .await?;
    let mut events: Vec<Value> = rows.iter().map(store::JournalRow::to_json).collect();
    if blind_for(ctx) {
        redact_first_check(&mut events);
    }
    Ok(json!({"events": events, "last_seq": last}))
}

#[derive(Deserialize)]
struct JobsQuery {
    all: Option<String>,
    limit: Option<String>,
}

/// `GET /print-jobs` (unconfirmed jobs; `?all=1`: the newest of every state).
pub async fn print_jobs(ctx: &Ctx) -> Result<Value, ApiError> {
    let q: JobsQuery = query(ctx)?;
    let all = flag(&q.all);
    let limit = int(&q.limit, "limit", 100, 1, 1000)?;
    let jobs = read(&ctx.state, move |conn| store::jobs::list(conn, all, limit)).await?;
    let jobs: Vec<Value> = jobs.iter().map(crate::views::job_json).collect();
    Ok(json!({"jobs": jobs}))
}

/// `GET /print-jobs/{job}/preview.png`: the job's label as a PNG, rendered from the bytes
/// as sent (`printing::view::preview`); 404 when there is no such job.
pub async fn print_job_preview(ctx: Ctx) -> Result<super::api::Outcome, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let Some(id) = ctx.job else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    let cfg = ctx.state.cfg.print_settings();
    let found = read(&ctx.state, move |conn| {
        if store::jobs::get(conn, id)?.is_none() {
            return Ok(None);
        }
        Ok(Some(crate::printing::view::preview(
            &cfg,
            conn,
            Some(id),
            None,
        )))
    })
    .await?;
    let png = match found {
        None => return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found")),
        Some(Err(e)) => {
            tracing::warn!(job = id, error = %e, "label preview failed");
            return Err(ApiError::internal());
        }
        Some(Ok((_, png))) => png,
    };
    let r = (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        png,
    )
        .into_response();
    Ok(super::api::Outcome::Response(r))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Blind inspection: the visual result, each item's exception, the first-check events
    /// and the scan log are gone; everything else stays.
    #[test]
    fn blind_hides_the_first_check() {
        let mut state = json!({"stage": "first_checked", "visual": "damaged", "items": [
            {"item_no": 1, "sku": "A", "exception": "over"}]});
        let mut events = vec![
            json!({"type": "return.received", "data": {"waybill": "SF1"}}),
            json!({"type": "scan.recorded", "data": {"code": "CMD-VIS-DAMAGED"}}),
            json!({"type": "item.scanned", "data": {"item_no": 1, "sku": "A", "exception": "over"}}),
            json!({"type": "check.visual_recorded", "data": {"visual": "damaged"}}),
            json!({"type": "check.first_completed", "data": {"visual": "damaged", "counts": []}}),
        ];
        super::hide_first_check(&mut state, &mut events);
        let text = format!("{state} {}", json!(events));
        assert!(
            !text.contains("damaged") && !text.contains("over"),
            "{text}"
        );
        assert_eq!(state["stage"], "first_checked");
        assert_eq!(state["items"][0]["sku"], "A");
        assert_eq!(events.len(), 2);
        assert_eq!(events[1]["data"]["sku"], "A");
    }

    /// Blind inspection on the journal: first-check events keep seq and type, lose data.
    #[test]
    fn blind_redacts_the_journal() {
        let mut events = vec![
            json!({"seq": 1, "type": "scan.recorded", "data": {"code": "CMD-VIS-DAMAGED"}}),
            json!({"seq": 2, "type": "check.visual_recorded", "data": {"visual": "damaged"}}),
            json!({"seq": 3, "type": "item.scanned", "data": {"sku": "A", "exception": "over"}}),
            json!({"seq": 4, "type": "inspection.completed", "data": {"grade": "good"}}),
        ];
        super::redact_first_check(&mut events);
        let text = json!(events).to_string();
        assert!(
            !text.contains("damaged") && !text.contains("over"),
            "{text}"
        );
        let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        assert_eq!(events[0]["redacted"], true);
        assert_eq!(events[2]["data"]["sku"], "A");
        assert_eq!(events[3]["data"]["grade"], "good");
    }
}
