//! API reads of where the goods are: `GET /zones` (the effective bins and the stock per
//! zone), `GET /rtv-notes` (return-to-vendor notes) and `GET /defect-items` (every unit in
//! the defect zone: the RTV pick list).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Value, json};

use super::ctx::Ctx;
use super::dto::{DefectItemOut, ZoneStockOut};
use super::error::ApiError;
use super::query::{int, query};
use crate::domain::ids::BinCode;
use crate::format::fmt_time;
use crate::store::{api_reads, snapshot};
use crate::views;

/// `GET /zones`: the effective bins (the config's `[[zones.bins]]` overlaid by
/// supervisors' edits, `zone.bin_set`) with the units each holds, and the stock per zone
/// and SKU.
pub async fn zones(ctx: &Ctx) -> Result<Value, ApiError> {
    let (stock, edits) = ctx
        .state
        .read(|r| Ok((views::zone_stock(r)?, api_reads::bin_edits(r)?)))
        .await?;
    let config = &ctx.state.cfg.zones.bins;
    let codes: BTreeSet<&BinCode> = config.keys().chain(edits.keys()).collect();
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
                    "units": units, "edited_at": fmt_time(e.at), "edited_by": e.by}),
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
    let notes = ctx.state.read(api_reads::rtv_notes).await?;
    let mut notes: Vec<_> = notes
        .into_values()
        .filter(|n| want.is_none_or(|closed| n.closed.is_some() == closed))
        .collect();
    notes.sort_by(|a, b| (b.created_at, &b.note_no).cmp(&(a.created_at, &a.note_no)));
    let notes: Vec<Value> = notes
        .iter()
        .take(limit)
        .map(|n| {
            let mut v = snapshot::rtv_note_json(n);
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
    let items = ctx.state.read(api_reads::defect_items).await?;
    let items: Vec<DefectItemOut> = items.into_iter().map(DefectItemOut::from).collect();
    Ok(json!({"items": items}))
}
