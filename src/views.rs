//! Read models over the projections, shared by the CLI (`returns list/show`) and the HTTP
//! API: the returns list with filters, one return with its events, print jobs and photos,
//! the inspection queue, stock per zone. Rows carry the customer's name and phone tail
//! unmasked; callers mask them (`privacy`) unless a supervisor asked to reveal. These
//! types deliberately do not implement `Debug`, so they cannot end up in a log line.

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};

use crate::store::{self, StoreError};

/// The customer's name and phone tail from the manifest, or empty strings.
pub fn customer_of(conn: &Connection, waybill: &str) -> (String, String) {
    match crate::feed::get(conn, "expected_return", waybill) {
        Ok(Some((_, d))) => (
            d.get("customer_name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            d.get("customer_phone_tail")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
        _ => (String::new(), String::new()),
    }
}

/// Which returns to list. `q` is a prefix of the waybill or the return id.
#[derive(Debug, Clone, Default)]
pub struct ReturnFilter {
    pub stage: Option<String>,
    pub kind: Option<String>,
    pub q: Option<String>,
    pub limit: i64,
    pub offset: i64,
    /// Oldest first (the inspection queue) instead of newest first.
    pub oldest_first: bool,
}

/// One row of the returns list.
pub struct ReturnRow {
    pub return_id: String,
    pub waybill: String,
    pub kind: Option<String>,
    pub stage: String,
    pub received_at: String,
    /// Unmasked: mask before showing.
    pub customer_name: String,
    pub customer_phone_tail: String,
    /// Items not voided.
    pub items: usize,
    /// The projection snapshot (due times, items).
    pub state: Value,
}

/// Returns matching the filter, newest first (or oldest first).
pub fn list_returns(conn: &Connection, f: &ReturnFilter) -> Result<Vec<ReturnRow>, StoreError> {
    let order = if f.oldest_first {
        "received_at ASC, return_id ASC"
    } else {
        "received_at DESC, return_id DESC"
    };
    let sql = format!(
        "SELECT return_id, waybill, kind, stage, received_at, state FROM returns
         WHERE (?1 IS NULL OR stage = ?1) AND (?2 IS NULL OR kind = ?2)
           AND (?3 IS NULL OR substr(waybill, 1, length(?3)) = ?3
                           OR substr(return_id, 1, length(?3)) = ?3)
         ORDER BY {order} LIMIT ?4 OFFSET ?5"
    );
    let mut q = conn.prepare(&sql)?;
    let rows = q.query_map(
        rusqlite::params![f.stage, f.kind, f.q, f.limit, f.offset],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (return_id, waybill, kind, stage, received_at, state) = row?;
        let (customer_name, customer_phone_tail) = customer_of(conn, &waybill);
        let state: Value = serde_json::from_str(&state).unwrap_or(Value::Null);
        let items = state["items"]
            .as_array()
            .map(|a| a.iter().filter(|i| i["voided"] != json!(true)).count())
            .unwrap_or(0);
        out.push(ReturnRow {
            return_id,
            waybill,
            kind,
            stage,
            received_at,
            customer_name,
            customer_phone_tail,
            items,
            state,
        });
    }
    Ok(out)
}

/// One return with everything an operator may look at.
pub struct ReturnDetail {
    /// The projection snapshot (items, due times, stage…), without customer data.
    pub state: Value,
    pub customer_name: String,
    pub customer_phone_tail: String,
    /// Its journal events in the contract's JSON form, in seq order.
    pub events: Vec<Value>,
}

/// One return, or None when there is no such return.
pub fn return_detail(conn: &Connection, id: &str) -> Result<Option<ReturnDetail>, StoreError> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM returns WHERE return_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(state) = state else {
        return Ok(None);
    };
    let state: Value = serde_json::from_str(&state)
        .map_err(|e| StoreError::decode("returns.state", e.to_string()))?;
    let waybill = state["waybill"].as_str().unwrap_or("").to_string();
    let (customer_name, customer_phone_tail) = customer_of(conn, &waybill);
    let mut q = conn.prepare(&format!(
        "SELECT {} FROM journal WHERE return_id = ?1 ORDER BY seq",
        store::JOURNAL_COLUMNS
    ))?;
    let events = q
        .query_map([id], store::JournalRow::from_row)?
        .filter_map(Result::ok)
        .map(|r| r.to_json())
        .collect();
    Ok(Some(ReturnDetail {
        state,
        customer_name,
        customer_phone_tail,
        events,
    }))
}

/// Photos referenced by a return's `inspection.completed` events (`sha256`, `bytes`,
/// `content_type`), once each.
pub fn photos_of(events: &[Value]) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    events
        .iter()
        .filter(|e| e["type"] == "inspection.completed")
        .flat_map(|e| e["data"]["photos"].as_array().cloned().unwrap_or_default())
        .filter(|p| seen.insert(p["sha256"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// Stock per zone and SKU from the ledger (sum of moves in minus moves out), without the
/// `in` source.
pub fn zone_stock(conn: &Connection) -> Result<Vec<(String, String, i64)>, StoreError> {
    let mut q = conn.prepare(
        "SELECT zone, sku, SUM(delta) FROM (
             SELECT to_zone AS zone, sku, qty AS delta FROM ledger
             UNION ALL SELECT from_zone AS zone, sku, -qty AS delta FROM ledger)
         WHERE zone != 'in' GROUP BY zone, sku HAVING SUM(delta) != 0 ORDER BY zone, sku",
    )?;
    let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Disk use against the cap and the storage's state, as `sync status`, the API, the
/// kiosk's alarms and `/metrics` show it: `full` with `full_reason` "cap" (the station's
/// own cap) or "filesystem" (the disk under the state directory filled first), and
/// `storage_fault` while the station is stopped for storage after an I/O error.
pub fn disk_json(stats: &crate::engine::Stats, cap_bytes: u64, high_water_pct: u8) -> Value {
    use std::sync::atomic::Ordering;
    let used = stats.disk_used.load(Ordering::Relaxed);
    let fs_full = stats.fs_full.load(Ordering::Relaxed);
    let cap_full = stats.cap_full.load(Ordering::Relaxed) || used >= cap_bytes;
    let reason = if fs_full {
        Some("filesystem")
    } else if cap_full {
        Some("cap")
    } else {
        None
    };
    json!({
        "used_bytes": used,
        "cap_bytes": cap_bytes,
        "high_water": used >= cap_bytes / 100 * u64::from(high_water_pct),
        "full": reason.is_some(),
        "full_reason": reason,
        "fs_free_bytes": fs_full.then(|| stats.fs_free.load(Ordering::Relaxed)),
        "storage_fault": stats.storage_fault(),
        "refused_inputs": stats.refused_full.load(Ordering::Relaxed),
        "pruned_events": stats.pruned.load(Ordering::Relaxed),
    })
}

/// Bytes for people: "1.5 MiB".
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}
