//! The engine's working set: what the writer holds in memory is the open work — returns
//! still on their way through the bench and the inspection (received, unpacked,
//! first-checked, inspected), the benches and what they point at, the stock balances and
//! the RTV notes — never the station's whole history. A return that was put away, closed
//! or voided is read back from its snapshot row when an input names it (a waybill scanned
//! again, a restock, an exchange, an RTV note, a reprint) and let go again once the batch
//! that used it commits. So the writer's memory and its startup follow the open work, not
//! the months behind it.
//!
//! [`load_station`] still folds every snapshot (all returns) for the readers that compare
//! the whole state: `journal verify` and the property tests.

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::{StoreError, snapshot};
use crate::domain::ids::{ReturnId, StationId};
use crate::domain::model::{Return, Station, parse_rtv_number};

/// The stages of the open work, as the `returns.stage` column spells them (the
/// `returns_stage` index serves the query).
const OPEN_STAGES: &str = "'received', 'unpacked', 'first_checked', 'inspected'";

/// The working set as of the last commit: the open returns, the benches and the returns
/// they point at, stock, RTV numbers. Return numbers are read per day when first needed
/// ([`last_number`]).
pub fn load_open(conn: &Connection) -> Result<Station, StoreError> {
    let mut st = Station::default();
    let mut q = conn.prepare(&format!(
        "SELECT return_id, state FROM returns WHERE stage IN ({OPEN_STAGES})"
    ))?;
    let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (id, state) = row?;
        st.admit(decode_return(conn, &id, &state)?);
    }
    load_benches(conn, &mut st)?;
    let held: Vec<ReturnId> = st
        .benches
        .values()
        .flat_map(|b| [b.current.clone(), b.last.clone()])
        .flatten()
        .collect();
    for id in held {
        if !st.returns.contains_key(&id)
            && let Some(r) = fetch(conn, id.as_str())?
        {
            st.admit(r);
        }
    }
    load_stock(conn, &mut st)?;
    load_rtv_numbers(conn, &mut st)?;
    Ok(st)
}

/// Fold every snapshot, the benches, the stock and the numbering counters back into a
/// [`Station`] holding the whole history (for `journal verify`).
pub fn load_station(conn: &Connection) -> Result<Station, StoreError> {
    let mut st = Station::default();
    let mut q = conn.prepare("SELECT return_id, state FROM returns")?;
    let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (id, state) = row?;
        let r = decode_return(conn, &id, &state)?;
        let n = st.numbers.entry(r.id.date()).or_insert(0);
        *n = (*n).max(r.id.number());
        st.admit(r);
    }
    load_benches(conn, &mut st)?;
    load_stock(conn, &mut st)?;
    load_rtv_numbers(conn, &mut st)?;
    Ok(st)
}

/// One return from its snapshot row, or None when there is no such return.
pub fn fetch(conn: &Connection, id: &str) -> Result<Option<Return>, StoreError> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM returns WHERE return_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    state.map(|s| decode_return(conn, id, &s)).transpose()
}

/// `meta` key set (in the same transaction) once the returns restocked before restock
/// moved units to `sellable` have been corrected ([`restocked_in_good`]).
pub const RESTOCK_MOVED_KEY: &str = "restock_moved";

/// Whether the one-time correction of older restocks is still to run on this database.
pub fn restock_correction_due(conn: &Connection) -> Result<bool, StoreError> {
    let done: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([RESTOCK_MOVED_KEY], |r| r.get(0))
        .optional()?;
    Ok(done.is_none())
}

/// Record, in the correction's transaction, that it ran.
pub fn mark_restock_corrected(conn: &Connection) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, '1')
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [RESTOCK_MOVED_KEY],
    )?;
    Ok(())
}

/// The returns with a unit restocked but still in a good zone or bin (restocked before
/// restock moved units to `sellable`), in return-id order after `after`, at most `limit`:
/// the correction goes through a year's returns a slice at a time (one pass over the
/// primary key), so neither its memory nor its transactions grow with the history.
pub fn restocked_in_good(
    conn: &Connection,
    after: &str,
    limit: usize,
) -> Result<Vec<Return>, StoreError> {
    let mut q = conn.prepare_cached(
        "SELECT r.return_id, r.state FROM returns r
         WHERE r.return_id > ?1
           AND r.stage IN ('first_checked', 'inspected', 'put_away', 'closed')
           AND EXISTS (SELECT 1 FROM return_items i
                       WHERE i.return_id = r.return_id
                         AND json_extract(i.state, '$.restocked')
                         AND json_extract(i.state, '$.zone') LIKE 'good%')
         ORDER BY r.return_id LIMIT ?2",
    )?;
    let rows = q.query_map(rusqlite::params![after, limit as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, state) = row?;
        out.push(decode_return(conn, &id, &state)?);
    }
    Ok(out)
}

/// The return received under `waybill`, or None.
pub fn fetch_by_waybill(conn: &Connection, waybill: &str) -> Result<Option<Return>, StoreError> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT return_id, state FROM returns WHERE waybill = ?1")?
        .query_row([waybill], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(id, s)| decode_return(conn, &id, &s)).transpose()
}

/// The highest return number used on `date` by this station (0: none yet): a range of
/// the primary key, that day's returns only. Numbers above 9999 print with more digits,
/// so the maximum is taken over the numbers, not the text.
pub fn last_number(
    conn: &Connection,
    station: &StationId,
    date: NaiveDate,
) -> Result<u32, StoreError> {
    let prefix = ReturnId::new(station, date, 0)
        .as_str()
        .trim_end_matches('0')
        .to_string();
    debug_assert!(prefix.ends_with('-'));
    // `-` + 1 = `.`: every id of the day sorts between the two.
    let end = format!("{}.", &prefix[..prefix.len() - 1]);
    let mut q = conn
        .prepare_cached("SELECT return_id FROM returns WHERE return_id >= ?1 AND return_id < ?2")?;
    let rows = q.query_map([&prefix, &end], |r| r.get::<_, String>(0))?;
    let mut max = 0;
    for id in rows {
        if let Ok(id) = ReturnId::parse(&id?)
            && id.date() == date
        {
            max = max.max(id.number());
        }
    }
    Ok(max)
}

fn decode_return(conn: &Connection, id: &str, state: &str) -> Result<Return, StoreError> {
    let v = whole_state(conn, id, state)?;
    snapshot::return_from_json(&v).map_err(|e| StoreError::decode(format!("returns[{id}]"), e))
}

/// A return's whole snapshot: its `returns` row (`header`, JSON text) with its items from
/// `return_items`, in item order — the shape every reader of a return's state takes.
pub fn whole_state(conn: &Connection, id: &str, header: &str) -> Result<Value, StoreError> {
    let mut v: Value = serde_json::from_str(header)
        .map_err(|e| StoreError::decode(format!("returns[{id}]"), e.to_string()))?;
    let mut q = conn.prepare_cached(
        "SELECT item_no, state FROM return_items WHERE return_id = ?1 ORDER BY item_no",
    )?;
    let rows = q.query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut items = Vec::new();
    for row in rows {
        let (n, text) = row?;
        items.push(
            serde_json::from_str::<Value>(&text).map_err(|e| {
                StoreError::decode(format!("return_items[{id}, {n}]"), e.to_string())
            })?,
        );
    }
    v["items"] = Value::Array(items);
    Ok(v)
}

fn load_benches(conn: &Connection, st: &mut Station) -> Result<(), StoreError> {
    let mut q = conn.prepare("SELECT bench, state FROM benches")?;
    let rows = q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (name, state) = row?;
        let v: Value = serde_json::from_str(&state)
            .map_err(|e| StoreError::decode(format!("benches[{name}]"), e.to_string()))?;
        let b = snapshot::bench_from_json(&v)
            .map_err(|e| StoreError::decode(format!("benches[{name}]"), e))?;
        if b != Default::default() {
            st.benches.insert(name, b);
        }
    }
    Ok(())
}

/// The balances the station holds (the `stock` table, kept with every ledger entry),
/// without what has left it (to the vendor, back to the customer, to sellable stock:
/// `kind::OUT_ZONES`).
fn load_stock(conn: &Connection, st: &mut Station) -> Result<(), StoreError> {
    let mut q = conn.prepare(
        "SELECT zone, sku, qty FROM stock WHERE zone NOT IN ('vendor', 'customer', 'sellable') AND qty != 0",
    )?;
    let rows = q.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (zone, sku, n) = row?;
        st.stock.insert((zone, sku), n);
    }
    Ok(())
}

fn load_rtv_numbers(conn: &Connection, st: &mut Station) -> Result<(), StoreError> {
    let mut q = conn.prepare(
        // The first term is the partial index's (`journal_station_events`).
        concat!(
            "SELECT json_extract(data, '$.note_no') FROM journal WHERE ",
            super::schema::station_events!(),
            " AND type = 'rtv.note_created'"
        ),
    )?;
    let rows = q.query_map([], |r| r.get::<_, String>(0))?;
    for row in rows {
        if let Some((date, n)) = parse_rtv_number(&row?) {
            let e = st.rtv_numbers.entry(date).or_insert(0);
            *e = (*e).max(n);
        }
    }
    Ok(())
}

/// Keep the `stock` table with a ledger entry: `qty` units of `sku` from one zone to
/// another (`in` is where received goods come from and holds no balance).
pub(super) fn move_stock(
    conn: &Connection,
    sku: &str,
    from: &str,
    to: &str,
    qty: i64,
) -> Result<(), StoreError> {
    let mut add = conn.prepare_cached(
        "INSERT INTO stock(zone, sku, qty) VALUES (?1, ?2, ?3)
         ON CONFLICT(zone, sku) DO UPDATE SET qty = qty + excluded.qty",
    )?;
    let mut drop_empty =
        conn.prepare_cached("DELETE FROM stock WHERE zone = ?1 AND sku = ?2 AND qty = 0")?;
    for (zone, delta) in [(from, -qty), (to, qty)] {
        if zone == "in" {
            continue;
        }
        add.execute(rusqlite::params![zone, sku, delta])?;
        drop_empty.execute([zone, sku])?;
    }
    Ok(())
}
