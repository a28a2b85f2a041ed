//! Returns as operators look at them: the list with filters (newest first, or oldest first
//! for the inspection queue), one return with its events, a return's projection snapshot,
//! and the customer the manifest names for a waybill. Rows carry the customer's name and
//! phone tail unmasked; callers mask them (`privacy`) unless a supervisor asked to reveal.
//! These types deliberately do not implement `Debug`, so they cannot end up in a log line.

use rusqlite::OptionalExtension;
use serde_json::Value;

use super::super::reader::Sql;
use super::super::{JOURNAL_COLUMNS, JournalRow, Read, StoreError, feed_items};

/// The customer the manifest names for a waybill: empty strings when there is no manifest
/// entry (or it names nobody).
pub struct Customer {
    pub name: String,
    pub phone_tail: String,
}

/// The customer's name and phone tail from the manifest's `expected_return` item.
pub fn customer(db: &dyn Read, waybill: &str) -> Customer {
    let d = match feed_items::get(db, "expected_return", waybill) {
        Ok(Some((_, d))) => d,
        _ => Value::Null,
    };
    let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Customer {
        name: s("customer_name"),
        phone_tail: s("customer_phone_tail"),
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
pub fn list(db: &dyn Read, f: &ReturnFilter) -> Result<Vec<ReturnRow>, StoreError> {
    let order = if f.oldest_first {
        "received_at ASC, return_id ASC"
    } else {
        "received_at DESC, return_id DESC"
    };
    // Only the filters given are in the WHERE clause, each a term an index serves
    // (`(?1 IS NULL OR stage = ?1)` would make SQLite walk the whole table): the stage by
    // `returns_stage`, the prefix by the waybill and return id keys as ranges, no filter
    // by `returns_received`. A page costs the same with a year of closed returns behind it.
    let mut terms = Vec::new();
    if f.stage.is_some() {
        terms.push("stage = :stage");
    }
    if f.kind.is_some() {
        terms.push("kind = :kind");
    }
    if f.q.is_some() {
        terms.push(
            "((waybill >= :q AND waybill < :q || char(1114111))
              OR (return_id >= :q AND return_id < :q || char(1114111)))",
        );
    }
    let filter = if terms.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", terms.join(" AND "))
    };
    let sql = format!(
        "SELECT return_id, waybill, kind, stage, received_at, state FROM returns {filter}
         ORDER BY {order} LIMIT :limit OFFSET :offset"
    );
    let mut q = db.sql().prepare_cached(&sql)?;
    let mut args: Vec<(&str, &dyn rusqlite::ToSql)> =
        vec![(":limit", &f.limit), (":offset", &f.offset)];
    for (name, v) in [(":stage", &f.stage), (":kind", &f.kind), (":q", &f.q)] {
        if let Some(v) = v {
            args.push((name, v));
        }
    }
    let rows = q.query_map(args.as_slice(), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (return_id, waybill, kind, stage, received_at, state) = row?;
        let customer = customer(db, &waybill);
        // The header row (no items): `item_count` is the items not voided.
        let state: Value = serde_json::from_str(&state).unwrap_or(Value::Null);
        let items = state["item_count"].as_u64().unwrap_or(0) as usize;
        out.push(ReturnRow {
            return_id,
            waybill,
            kind,
            stage,
            received_at,
            customer_name: customer.name,
            customer_phone_tail: customer.phone_tail,
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

/// A return's projection snapshot, or None when there is no such return.
pub fn state(db: &dyn Read, id: &str) -> Result<Option<Value>, StoreError> {
    let state: Option<String> = db
        .sql()
        .prepare_cached("SELECT state FROM returns WHERE return_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    state
        .map(|s| crate::store::working::whole_state(db.sql(), id, &s))
        .transpose()
}

/// One return, or None when there is no such return.
pub fn detail(db: &dyn Read, id: &str) -> Result<Option<ReturnDetail>, StoreError> {
    let Some(state) = state(db, id)? else {
        return Ok(None);
    };
    let waybill = state["waybill"].as_str().unwrap_or("");
    let customer = customer(db, waybill);
    let mut q = db.sql().prepare_cached(&format!(
        "SELECT {JOURNAL_COLUMNS} FROM journal WHERE return_id = ?1 ORDER BY seq"
    ))?;
    let events = q
        .query_map([id], JournalRow::from_row)?
        .filter_map(Result::ok)
        .map(|r| r.to_json())
        .collect();
    Ok(Some(ReturnDetail {
        state,
        customer_name: customer.name,
        customer_phone_tail: customer.phone_tail,
        events,
    }))
}
