//! The quality-check sheet and the day's picture over HTTP: `GET /returns/{id}/qc-sheet`
//! (one return's sheet, printable HTML), `GET /qc-sheets?date=` (every sheet of the
//! returns inspected that day in one file for customer service, photos inside) and
//! `GET /reports/daily?date=` (the day's figures and defect Pareto, JSON). The day is the
//! station's local day (`station.timezone`); without `date`, today. `lang=zh-CN|en` picks
//! the sheet's language (default: the caller's). Pages carry no script: their CSP allows
//! only their own style and their images.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::auth;
use super::ctx::{Ctx, Outcome};
use super::error::ApiError;
use super::query::query;
use super::reads::{blind_for, hide_first_check};
use crate::config::LiveOperators;
use crate::format::fmt_time;
use crate::i18n::Lang;
use crate::qc::{self, DAY_EVENT_TYPES, SheetContext, SheetReturn};
use crate::store::read::day;
use crate::store::{JournalRow, Reader, StoreError};
use crate::views;

/// The sheets' CSP: no script at all, their inline style, their photos (by URL on the
/// station, inside as `data:` in the day's file).
const SHEET_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Photos put inside one day's file at most (bytes); the rest are named, not embedded, so
/// a day of many photos cannot blow the station's memory.
const EMBED_BUDGET: usize = 32 * 1024 * 1024;

#[derive(Deserialize)]
struct SheetQuery {
    lang: Option<String>,
    date: Option<String>,
}

fn lang_of(ctx: &Ctx, q: &SheetQuery) -> Lang {
    q.lang.as_deref().map(Lang::parse).unwrap_or(ctx.lang)
}

/// The station's local day `date` (`YYYY-MM-DD`, default today) as a UTC range
/// `[from, to)`.
fn day_range(
    ctx: &Ctx,
    date: Option<&str>,
) -> Result<(NaiveDate, DateTime<Utc>, DateTime<Utc>), ApiError> {
    let tz = ctx.state.cfg.station.timezone;
    let date = match date {
        None | Some("") => Utc::now().with_timezone(&tz).date_naive(),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::bad_request(format!("date {d:?} is not YYYY-MM-DD")))?,
    };
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| tz.from_local_datetime(&t).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ApiError::bad_request(format!("date {d} is out of range")))
    };
    let next = date
        .succ_opt()
        .ok_or_else(|| ApiError::bad_request(format!("date {date} is out of range")))?;
    Ok((date, start(date)?, start(next)?))
}

/// `role:badge` as people read it: the operator's name and badge (the badge alone for
/// someone the station no longer knows; `system` as is).
fn people(
    r: &Reader,
    operators: &LiveOperators,
    actors: BTreeSet<String>,
) -> BTreeMap<String, String> {
    actors
        .into_iter()
        .map(|a| {
            let badge = a.split_once(':').map(|(_, b)| b).unwrap_or(&a);
            let shown = match auth::lookup_operator(r, operators, badge) {
                Ok(Some(o)) => format!("{} ({badge})", o.name),
                _ => badge.to_string(),
            };
            (a, shown)
        })
        .collect()
}

/// Every actor a return's sheet names.
fn actors_of(state: &Value, events: &[Value], into: &mut BTreeSet<String>) {
    for k in ["received_by", "first_checked_by"] {
        if let Some(a) = state[k].as_str() {
            into.insert(a.to_string());
        }
    }
    for e in events
        .iter()
        .filter(|e| e["type"] == "inspection.completed")
    {
        if let Some(a) = e["actor"].as_str() {
            into.insert(a.to_string());
        }
    }
}

/// A return as its sheet needs it.
struct Loaded {
    state: Value,
    events: Vec<Value>,
    checklists: Vec<Value>,
}

fn load(r: &Reader, id: &str) -> Result<Option<Loaded>, StoreError> {
    let Some(d) = views::return_detail(r, id)? else {
        return Ok(None);
    };
    let checklists = crate::refdata::checklists(r, &d.state)?;
    Ok(Some(Loaded {
        state: d.state,
        events: d.events,
        checklists,
    }))
}

fn html(body: String, filename: Option<String>) -> Outcome {
    let mut r = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SHEET_CSP),
    );
    if let Some(name) = filename
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Outcome::Response(r)
}

/// `GET /returns/{id}/qc-sheet`: one return's sheet (the blind view for an inspector
/// under `inspection.blind`).
pub async fn sheet(ctx: Ctx) -> Result<Outcome, ApiError> {
    let q: SheetQuery = query(&ctx)?;
    let lang = lang_of(&ctx, &q);
    let Some(id) = ctx.id.clone() else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    let cfg = ctx.state.cfg.clone();
    let blind = blind_for(&ctx);
    let operators = ctx.state.engine.operators.clone();
    let found = ctx
        .state
        .read(move |r| {
            let Some(mut l) = load(r, id.as_str())? else {
                return Ok(None);
            };
            if blind {
                hide_first_check(&mut l.state, &mut l.events);
            }
            let reasons = crate::refdata::defect_reasons(r, &cfg)?;
            let mut actors = BTreeSet::new();
            actors_of(&l.state, &l.events, &mut actors);
            Ok(Some((l, reasons, people(r, &operators, actors))))
        })
        .await?;
    let Some((l, reasons, names)) = found else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    let who = |a: &str| names.get(a).cloned().unwrap_or_else(|| a.to_string());
    let src = |sha: &str| Ok(format!("/api/v1/photos/{sha}"));
    let now = fmt_time(Utc::now());
    let cx = SheetContext {
        lang,
        tz: ctx.state.cfg.station.timezone,
        station: ctx.state.cfg.station.id.as_str(),
        generated_at: &now,
        reasons: &reasons,
        who: &who,
        photo_src: &src,
    };
    let title = format!(
        "{} {}",
        crate::i18n::template(lang, "qc.title").unwrap_or("QC"),
        l.state["id"].as_str().unwrap_or("")
    );
    let body = qc::document(
        &cx,
        &title,
        &[SheetReturn {
            state: &l.state,
            events: &l.events,
            checklists: &l.checklists,
        }],
    );
    Ok(html(body, None))
}

/// The returns that have an `inspection.completed` in the day's events, in order.
fn inspected_ids(events: &[JournalRow]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    events
        .iter()
        .filter(|e| e.ty == "inspection.completed")
        .filter_map(|e| e.return_id.clone())
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

/// `GET /qc-sheets?date=`: the sheets of every return inspected that day, one file
/// (photos inside up to a budget), as a download.
pub async fn day_sheets(ctx: Ctx) -> Result<Outcome, ApiError> {
    let q: SheetQuery = query(&ctx)?;
    let lang = lang_of(&ctx, &q);
    let (date, from, to) = day_range(&ctx, q.date.as_deref())?;
    let cfg = ctx.state.cfg.clone();
    let operators = ctx.state.engine.operators.clone();
    let (loaded, reasons, names, photos) = ctx
        .state
        .read(move |r| {
            let events = day::events(r, from, to, &["inspection.completed"])?;
            let mut loaded = Vec::new();
            let mut actors = BTreeSet::new();
            for id in inspected_ids(&events) {
                if let Some(l) = load(r, &id)? {
                    actors_of(&l.state, &l.events, &mut actors);
                    loaded.push(l);
                }
            }
            let reasons = crate::refdata::defect_reasons(r, &cfg)?;
            // The photos inside the file, up to the budget.
            let mut photos: BTreeMap<String, Result<String, &'static str>> = BTreeMap::new();
            let mut budget = EMBED_BUDGET;
            for l in &loaded {
                for p in views::photos_of(&l.events) {
                    let Some(sha) = p["sha256"].as_str() else {
                        continue;
                    };
                    if photos.contains_key(sha) {
                        continue;
                    }
                    let got = match crate::photos::read(&cfg.storage.state_dir, sha) {
                        Ok(Some((bytes, ct))) if bytes.len() <= budget => {
                            budget -= bytes.len();
                            Ok(format!("data:{ct};base64,{}", qc::base64(&bytes)))
                        }
                        Ok(Some(_)) => Err("qc.photo_not_embedded"),
                        _ => Err("qc.photo_missing"),
                    };
                    photos.insert(sha.to_string(), got);
                }
            }
            Ok((loaded, reasons, people(r, &operators, actors), photos))
        })
        .await?;
    let who = |a: &str| names.get(a).cloned().unwrap_or_else(|| a.to_string());
    let src = |sha: &str| photos.get(sha).cloned().unwrap_or(Err("qc.photo_missing"));
    let now = fmt_time(Utc::now());
    let station = ctx.state.cfg.station.id.as_str();
    let cx = SheetContext {
        lang,
        tz: ctx.state.cfg.station.timezone,
        station,
        generated_at: &now,
        reasons: &reasons,
        who: &who,
        photo_src: &src,
    };
    let title = crate::i18n::message(
        lang,
        "qc.day_title",
        &[("station", station.to_string()), ("date", date.to_string())],
    );
    let sheets: Vec<SheetReturn<'_>> = loaded
        .iter()
        .map(|l| SheetReturn {
            state: &l.state,
            events: &l.events,
            checklists: &l.checklists,
        })
        .collect();
    let body = qc::document(&cx, &title, &sheets);
    Ok(html(body, Some(format!("qc-sheets-{station}-{date}.html"))))
}

/// `GET /reports/daily?date=`: the day's figures and defect Pareto.
pub async fn daily_report(ctx: &Ctx) -> Result<Value, ApiError> {
    let q: SheetQuery = query(ctx)?;
    let lang = lang_of(ctx, &q);
    let (date, from, to) = day_range(ctx, q.date.as_deref())?;
    let cfg = ctx.state.cfg.clone();
    let (received, events, items, reasons) = ctx
        .state
        .read(move |r| {
            let received = day::received(r, from, to)?;
            let events = day::events(r, from, to, DAY_EVENT_TYPES)?;
            let mut items = BTreeMap::new();
            for id in inspected_ids(&events) {
                if let Some(s) = views::return_state(r, &id)? {
                    items.insert(id, s["items"].as_array().cloned().unwrap_or_default());
                }
            }
            let reasons = crate::refdata::defect_reasons(r, &cfg)?;
            Ok((received, events, items, reasons))
        })
        .await?;
    let events: Vec<Value> = events.iter().map(JournalRow::to_json).collect();
    let date = date.to_string();
    let mut v = qc::day_report(&qc::DayInput {
        lang,
        date: &date,
        station: ctx.state.cfg.station.id.as_str(),
        received: &received,
        events: &events,
        items: &items,
        reasons: &reasons,
        now: Utc::now(),
    });
    v["timezone"] = Value::String(ctx.state.cfg.station.timezone.name().to_string());
    Ok(v)
}
