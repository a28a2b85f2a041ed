//! API reads of returns and the journal: the operator (`GET /me`), returns (list,
//! detail, inspection queue), the inspection standards and defect reasons an inspector
//! picks from, and the journal. Reads go through the server's reader (short read
//! transactions on a blocking thread); customer data is masked unless a supervisor asks
//! `?reveal=1` on one return, and an inspector under `inspection.blind` does not see the
//! keeper's first check.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ctx::Ctx;
use super::dto::{Page, ReturnDetailOut, ReturnSummary, to_json};
use super::error::ApiError;
use super::print_jobs::job_json;
use super::query::{flag, int, query};
use crate::domain::kind::Role;
use crate::privacy::{mask_name, mask_phone_tail};
use crate::store::{JournalRow, api_reads, jobs};
use crate::views::{self, ReturnFilter};

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

/// Hours since `received`, never negative: a receipt that seems to lie in the future
/// means the wall clock stepped back since, and the return has waited no time, not less.
fn age_h(received: &str, now: DateTime<Utc>) -> f64 {
    crate::format::parse_time(received)
        .map(|t| ((now - t).num_minutes().max(0) as f64 / 60.0 * 10.0).round() / 10.0)
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
    let rows = ctx.state.read(move |r| views::list_returns(r, &f)).await?;
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
    let found = ctx
        .state
        .read(move |r| {
            let conn = r;
            let Some(d) = views::return_detail(conn, id.as_str())? else {
                return Ok(None);
            };
            let jobs = jobs::for_subject(conn, id.as_str(), 200)?;
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
        labels: jobs.iter().map(job_json).collect(),
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
    let standards = ctx.state.read(crate::refdata::inspection_standards).await?;
    Ok(standards)
}

/// `GET /defect-reasons`: the reasons (code, zh/en labels, seller fault) and whether the
/// station requires a photo for defects (`inspection.defect_photo_required`).
pub async fn defect_reasons(ctx: &Ctx) -> Result<Value, ApiError> {
    let cfg = ctx.state.cfg.clone();
    let reasons = ctx
        .state
        .read(move |r| crate::refdata::defect_reasons(r, &cfg))
        .await?;
    Ok(json!({
        "reasons": reasons,
        "photo_required": ctx.state.cfg.inspection.defect_photo_required,
    }))
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
    let page = ctx
        .state
        .read(move |r| api_reads::journal_page(r, after, limit))
        .await?;
    let mut events: Vec<Value> = page.rows.iter().map(JournalRow::to_json).collect();
    if blind_for(ctx) {
        redact_first_check(&mut events);
    }
    Ok(json!({"events": events, "last_seq": page.last_seq.unwrap_or(0)}))
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

    /// Found by `clock::clock_steps_keep_seq_order_numbering_and_sane_timers`: with the
    /// wall clock stepped back behind a receipt, the queue showed a negative SLA age.
    #[test]
    fn sla_age_is_never_negative_after_the_clock_steps_back() {
        let now = crate::format::parse_time("2026-12-10T02:00:00Z").unwrap();
        assert_eq!(super::age_h("2026-12-10T09:00:00Z", now), 0.0);
        assert_eq!(super::age_h("2026-12-09T20:00:00Z", now), 6.0);
    }
}
