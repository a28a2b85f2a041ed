//! Projection snapshots: a return's and a bench's folded state as JSON, written in the same
//! transaction as the events that changed them, so startup need not replay the journal.
//! `journal verify` replays the journal and checks it folds to exactly these snapshots.
//!
//! Bin edits and RTV notes concern no return: their snapshots are rows of the `meta` table
//! (`zone_bin:<code>`, `rtv_note:<note_no>`), written by the engine in the transaction of
//! their event, so they outlive the journal's pruning and need no table of their own.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::StoreError;
use super::codec::{
    Obj, bin_code, check_line_json, decode_checklist, decode_expected, decode_photo, expected_json,
    fmt_time, parse_time, photo_json,
};
use crate::domain::event::{EventBody, ItemException, RtvLine};
use crate::domain::ids::{Badge, BinCode, ItemRef, ReturnId, Waybill};
use crate::domain::kind::{BinClass, Grade, ReturnKind, Role, Visual};
use crate::domain::model::{Bench, BinEdit, Item, Return, RtvClosed, RtvNote, Session, Station};

/// A return's whole snapshot: its header ([`return_header_json`]) with its items.
pub fn return_json(r: &Return) -> Value {
    let mut v = return_header_json(r);
    v["items"] = r.items.iter().map(item_json).collect();
    v
}

/// A return's row in `returns`: everything but its items, which have rows of their own
/// (`return_items`, one per item: a scan rewrites its item and this header, never the
/// whole return), and `item_count`, the items not voided (what lists show).
pub fn return_header_json(r: &Return) -> Value {
    serde_json::to_value(Header::of(r)).expect("a return header is plain JSON")
}

/// [`return_header_json`] as the row's text, printed straight from the return: every scan
/// writes it, and building the JSON tree first cost 4 % of a scan's CPU.
pub fn return_header_text(r: &Return) -> String {
    serde_json::to_string(&Header::of(r)).expect("a return header is plain JSON")
}

/// A return's header as stored. The fields are in the order of their names, the order a
/// JSON object (`Value`) prints its keys: the text is the same either way.
#[derive(serde::Serialize)]
struct Header<'a> {
    announced: bool,
    card_present: Option<bool>,
    claimed_reason: &'a Option<String>,
    closed: bool,
    courier: &'a str,
    exchange_ship_by: Option<String>,
    exchange_waybill: Option<&'a str>,
    expected_items: Vec<Value>,
    first_checked_at: Option<String>,
    first_checked_by: &'a Option<String>,
    free_shipping: bool,
    id: &'a str,
    item_count: usize,
    kind: Option<&'static str>,
    labels_printed: u32,
    manifest_version: Option<i64>,
    order_no: &'a Option<String>,
    received_at: String,
    received_by: &'a str,
    refund_due_by: Option<String>,
    reprints: u32,
    signed_at: Option<String>,
    stage: &'static str,
    unpacked: bool,
    updated_at: String,
    visual: &'static str,
    voided: &'a Option<String>,
    waybill: &'a str,
}

impl<'a> Header<'a> {
    fn of(r: &'a Return) -> Self {
        Header {
            announced: r.announced,
            card_present: r.card_present,
            claimed_reason: &r.claimed_reason,
            closed: r.closed,
            courier: &r.courier,
            exchange_ship_by: r.exchange_ship_by.map(fmt_time),
            exchange_waybill: r.exchange_waybill.as_ref().map(|w| w.as_str()),
            expected_items: r.expected.iter().map(expected_json).collect(),
            first_checked_at: r.first_checked_at.map(fmt_time),
            first_checked_by: &r.first_checked_by,
            free_shipping: r.free_shipping,
            id: r.id.as_str(),
            item_count: r.items.iter().filter(|i| !i.voided).count(),
            kind: r.kind.map(|k| k.as_str()),
            labels_printed: r.labels_printed,
            manifest_version: r.manifest_version,
            order_no: &r.order_no,
            received_at: fmt_time(r.received_at),
            received_by: &r.received_by,
            refund_due_by: r.refund_due_by.map(fmt_time),
            reprints: r.reprints,
            signed_at: r.signed_at.map(fmt_time),
            stage: r.stage().as_str(),
            unpacked: r.unpacked,
            updated_at: fmt_time(r.updated_at),
            visual: r.visual.as_str(),
            voided: &r.voided,
            waybill: r.waybill.as_str(),
        }
    }
}

/// One item's row in `return_items`.
pub fn item_json(i: &Item) -> Value {
    json!({
        "item_no": i.item_no,
        "sku": i.sku,
        "barcode": i.barcode,
        "name": i.name,
        "exception": i.exception.map(|e| e.as_str()),
        "voided": i.voided,
        "zone": i.zone.ledger_name(),
        "grade": i.grade.map(|g| g.as_str()),
        "defect_reasons": i.defect_reasons,
        "note": i.note,
        "photos": i.photos.iter().map(photo_json).collect::<Vec<_>>(),
        "checklist": i.checklist.iter().map(check_line_json).collect::<Vec<_>>(),
        "inspected_by": i.inspected_by,
        "restocked": i.restocked,
    })
}

fn opt_time(o: &Obj, k: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    o.opt_str(k)?.map(|s| parse_time(&s)).transpose()
}

pub fn return_from_json(v: &Value) -> Result<Return, String> {
    let o = Obj::of(v)?;
    let id = o.str("id")?;
    let wb = o.str("waybill")?;
    Ok(Return {
        id: ReturnId::parse(&id).map_err(|e| format!("bad id {id:?}: {}", e.code()))?,
        waybill: Waybill::parse(&wb).map_err(|e| format!("bad waybill {wb:?}: {}", e.code()))?,
        courier: o.str("courier")?,
        kind: o
            .opt_str("kind")?
            .map(|k| ReturnKind::parse(&k).ok_or(format!("bad kind {k:?}")))
            .transpose()?,
        announced: o.bool("announced")?,
        manifest_version: o.0.get("manifest_version").and_then(Value::as_i64),
        order_no: o.opt_str("order_no")?,
        claimed_reason: o.opt_str("claimed_reason")?,
        signed_at: opt_time(&o, "signed_at")?,
        free_shipping: o.bool("free_shipping")?,
        expected: o
            .arr("expected_items")?
            .iter()
            .map(decode_expected)
            .collect::<Result<_, String>>()?,
        received_at: parse_time(&o.str("received_at")?)?,
        received_by: o.str("received_by")?,
        card_present: o.0.get("card_present").and_then(Value::as_bool),
        unpacked: o.bool("unpacked")?,
        labels_printed: o.u32("labels_printed")?,
        reprints: o.u32("reprints")?,
        visual: Visual::parse(&o.str("visual")?).ok_or("bad visual")?,
        first_checked_at: opt_time(&o, "first_checked_at")?,
        first_checked_by: o.opt_str("first_checked_by")?,
        exchange_ship_by: opt_time(&o, "exchange_ship_by")?,
        refund_due_by: opt_time(&o, "refund_due_by")?,
        items: o
            .arr("items")?
            .iter()
            .map(item_from_json)
            .collect::<Result<_, String>>()?,
        closed: o.bool("closed")?,
        voided: o.opt_str("voided")?,
        updated_at: parse_time(&o.str("updated_at")?)?,
        exchange_waybill: o
            .opt_str("exchange_waybill")?
            .map(|w| Waybill::parse(&w).map_err(|e| e.code().to_string()))
            .transpose()?,
    })
}

fn item_from_json(v: &Value) -> Result<Item, String> {
    let o = Obj::of(v)?;
    Ok(Item {
        item_no: o.u32("item_no")?,
        sku: o.str("sku")?,
        barcode: o.str("barcode")?,
        name: o.str("name")?,
        exception: o
            .opt_str("exception")?
            .map(|e| ItemException::parse(&e).ok_or("bad exception"))
            .transpose()?,
        voided: o.bool("voided")?,
        zone: o.zone("zone")?,
        grade: o
            .opt_str("grade")?
            .map(|g| Grade::parse(&g).ok_or("bad grade"))
            .transpose()?,
        defect_reasons: o.strs("defect_reasons")?,
        note: o.str("note")?,
        photos: o
            .arr("photos")?
            .iter()
            .map(decode_photo)
            .collect::<Result<_, String>>()?,
        checklist: decode_checklist(&o)?,
        inspected_by: o.opt_str("inspected_by")?,
        restocked: o.bool("restocked")?,
    })
}

pub fn bench_json(b: &Bench) -> Value {
    json!({
        "badge": b.session.as_ref().map(|s| s.badge.as_str()),
        "role": b.session.as_ref().map(|s| s.role.as_str()),
        "current": b.current.as_ref().map(|r| r.as_str()),
        "last": b.last.as_ref().map(|r| r.as_str()),
    })
}

pub fn bench_from_json(v: &Value) -> Result<Bench, String> {
    let o = Obj::of(v)?;
    let rid = |k: &str| -> Result<Option<ReturnId>, String> {
        o.opt_str(k)?
            .map(|s| ReturnId::parse(&s).map_err(|e| e.code().to_string()))
            .transpose()
    };
    let session = match (o.opt_str("badge")?, o.opt_str("role")?) {
        (Some(b), Some(r)) => Some(Session {
            badge: Badge::parse(&b).map_err(|e| e.code().to_string())?,
            role: Role::parse(&r).ok_or("bad role")?,
        }),
        _ => None,
    };
    Ok(Bench {
        session,
        current: rid("current")?,
        last: rid("last")?,
    })
}

/// `meta` key prefix of a bin edit's snapshot.
pub const BIN_KEY: &str = "zone_bin:";
/// `meta` key prefix of an open RTV note's snapshot.
pub const RTV_KEY: &str = "rtv_note:";
/// `meta` key prefix of a closed RTV note's snapshot: history, read only when asked for
/// (the engine holds the open notes; the API lists the recent closed ones).
pub const RTV_DONE_KEY: &str = "rtv_done:";
/// `meta` key set once the bin and RTV snapshots are in their current layout (open and
/// closed notes apart): until then a start folds the journal's bin and RTV events once.
const LAYOUT_KEY: &str = "meta_layout";
const LAYOUT: &str = "2";

pub fn bin_json(code: &BinCode, b: &BinEdit) -> Value {
    json!({
        "code": code.as_str(),
        "class": b.class.as_str(),
        "label": b.label,
        "active": b.active,
        "at": fmt_time(b.at),
        "by": b.by,
    })
}

pub fn bin_from_json(v: &Value) -> Result<(BinCode, BinEdit), String> {
    let o = Obj::of(v)?;
    Ok((
        bin_code(o.str("code")?)?,
        BinEdit {
            class: BinClass::parse(&o.str("class")?).ok_or("bad class")?,
            label: o.opt_str("label")?,
            active: o.bool("active")?,
            at: parse_time(&o.str("at")?)?,
            by: o.str("by")?,
        },
    ))
}

pub fn rtv_line_json(l: &RtvLine) -> Value {
    json!({"return_id": l.item.return_id.as_str(), "item_no": l.item.item_no, "sku": l.sku})
}

pub fn rtv_note_json(n: &RtvNote) -> Value {
    json!({
        "note_no": n.note_no,
        "vendor": n.vendor,
        "lines": n.lines.iter().map(rtv_line_json).collect::<Vec<_>>(),
        "created_at": fmt_time(n.created_at),
        "created_by": n.created_by,
        "closed": n.closed.as_ref().map(|c| json!({
            "at": fmt_time(c.at),
            "by": c.by,
            "waybill": c.waybill.as_ref().map(|w| w.as_str()),
            "note": c.note,
        })),
    })
}

pub fn rtv_note_from_json(v: &Value) -> Result<RtvNote, String> {
    let o = Obj::of(v)?;
    let lines = o
        .arr("lines")?
        .iter()
        .map(|l| {
            let l = Obj::of(l)?;
            let rid = l.str("return_id")?;
            Ok(RtvLine {
                item: ItemRef {
                    return_id: ReturnId::parse(&rid).map_err(|e| e.code().to_string())?,
                    item_no: l.u32("item_no")?,
                },
                sku: l.str("sku")?,
            })
        })
        .collect::<Result<_, String>>()?;
    let closed = match o.0.get("closed") {
        None | Some(Value::Null) => None,
        Some(c) => {
            let c = Obj::of(c)?;
            Some(RtvClosed {
                at: parse_time(&c.str("at")?)?,
                by: c.str("by")?,
                waybill: c
                    .opt_str("waybill")?
                    .map(|w| Waybill::parse(&w).map_err(|e| e.code().to_string()))
                    .transpose()?,
                note: c.str("note")?,
            })
        }
    };
    Ok(RtvNote {
        note_no: o.str("note_no")?,
        vendor: o.str("vendor")?,
        lines,
        created_at: parse_time(&o.str("created_at")?)?,
        created_by: o.str("created_by")?,
        closed,
    })
}

fn put_meta(conn: &Connection, key: &str, v: &Value) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, v.to_string()])?;
    Ok(())
}

/// The `meta` key of a note's snapshot: open and closed notes are kept apart.
fn note_key(n: &RtvNote) -> String {
    let prefix = if n.closed.is_some() {
        RTV_DONE_KEY
    } else {
        RTV_KEY
    };
    format!("{prefix}{}", n.note_no)
}

/// Write the snapshot of the bin or RTV note an event changed (after it was folded into
/// `st`), in the event's transaction. Other events write nothing here.
pub fn save_for_event(conn: &Connection, st: &Station, body: &EventBody) -> Result<(), StoreError> {
    match body {
        EventBody::BinSet { code, .. } => {
            if let Some(b) = st.bins.get(code) {
                put_meta(conn, &format!("{BIN_KEY}{code}"), &bin_json(code, b))?;
            }
        }
        EventBody::RtvNoteCreated { note_no, .. } | EventBody::RtvNoteClosed { note_no, .. } => {
            if let Some(n) = st.rtv_notes.get(note_no) {
                if n.closed.is_some() {
                    conn.prepare_cached("DELETE FROM meta WHERE key = ?1")?
                        .execute([format!("{RTV_KEY}{note_no}")])?;
                }
                put_meta(conn, &note_key(n), &rtv_note_json(n))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The `meta` rows whose key starts with `prefix` (a range of the key: no table scan).
fn meta_rows(conn: &Connection, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
    // Every prefix ends in `:`; `;` is the next character.
    let end = format!("{};", &prefix[..prefix.len() - 1]);
    let mut q = conn.prepare_cached("SELECT key, value FROM meta WHERE key >= ?1 AND key < ?2")?;
    let rows = q.query_map([prefix, end.as_str()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, value) = row?;
        let v: Value = serde_json::from_str(&value)
            .map_err(|e| StoreError::decode(key.clone(), e.to_string()))?;
        out.push((key, v));
    }
    Ok(out)
}

/// The supervisors' bin edits from their `meta` snapshots into `st`.
pub fn load_bins(conn: &Connection, st: &mut Station) -> Result<(), StoreError> {
    for (key, v) in meta_rows(conn, BIN_KEY)? {
        let (code, b) = bin_from_json(&v).map_err(|e| StoreError::decode(key, e))?;
        st.bins.insert(code, b);
    }
    Ok(())
}

/// The RTV notes under `prefix` (open: [`RTV_KEY`], closed: [`RTV_DONE_KEY`]) into `st`.
fn load_notes(conn: &Connection, prefix: &str, st: &mut Station) -> Result<(), StoreError> {
    for (key, v) in meta_rows(conn, prefix)? {
        let n = rtv_note_from_json(&v).map_err(|e| StoreError::decode(key, e))?;
        st.rtv_notes.insert(n.note_no.clone(), n);
    }
    Ok(())
}

/// What the engine holds: the bin edits and the open RTV notes.
pub fn load_open_meta(conn: &Connection, st: &mut Station) -> Result<(), StoreError> {
    load_bins(conn, st)?;
    load_notes(conn, RTV_KEY, st)
}

/// Every bin edit and RTV note, open and closed (`journal verify`, the tests).
pub fn load_meta(conn: &Connection, st: &mut Station) -> Result<(), StoreError> {
    load_open_meta(conn, st)?;
    load_notes(conn, RTV_DONE_KEY, st)
}

/// One RTV note by number, open or closed, or None.
pub fn rtv_note(conn: &Connection, note_no: &str) -> Result<Option<RtvNote>, StoreError> {
    for prefix in [RTV_KEY, RTV_DONE_KEY] {
        let key = format!("{prefix}{note_no}");
        let value: Option<String> = conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([&key], |r| r.get(0))
            .optional()?;
        if let Some(value) = value {
            let v: Value = serde_json::from_str(&value)
                .map_err(|e| StoreError::decode(key.clone(), e.to_string()))?;
            return rtv_note_from_json(&v)
                .map(Some)
                .map_err(|e| StoreError::decode(key, e));
        }
    }
    Ok(None)
}

/// The highest RTV note number of `date` among the snapshots (open and closed) — the
/// numbering never gives a number twice, whatever memory holds.
pub fn last_rtv_number(
    conn: &Connection,
    station: &str,
    date: chrono::NaiveDate,
) -> Result<u32, StoreError> {
    let day = format!("RTV-{station}-{}-", date.format("%Y%m%d"));
    let mut max = 0;
    for prefix in [RTV_KEY, RTV_DONE_KEY] {
        let from = format!("{prefix}{day}");
        let to = format!("{prefix}{}.", &day[..day.len() - 1]);
        let mut q = conn.prepare_cached("SELECT key FROM meta WHERE key >= ?1 AND key < ?2")?;
        let keys = q.query_map([&from, &to], |r| r.get::<_, String>(0))?;
        for key in keys {
            let key = key?;
            if let Some((d, n)) = crate::domain::model::parse_rtv_number(&key[prefix.len()..])
                && d == date
            {
                max = max.max(n);
            }
        }
    }
    Ok(max)
}

/// The most recent RTV notes: every open one and the `closed` latest closed ones (by
/// number, which starts with the day), for the supervisor's list.
pub fn recent_rtv_notes(conn: &Connection, closed: usize) -> Result<Station, StoreError> {
    let mut st = Station::default();
    load_notes(conn, RTV_KEY, &mut st)?;
    let mut q = conn.prepare_cached(
        "SELECT key, value FROM meta WHERE key >= ?1 AND key < ?2 ORDER BY key DESC LIMIT ?3",
    )?;
    let rows = q.query_map(
        rusqlite::params![RTV_DONE_KEY, "rtv_done;", closed as i64],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )?;
    for row in rows {
        let (key, value) = row?;
        let v: Value = serde_json::from_str(&value)
            .map_err(|e| StoreError::decode(key.clone(), e.to_string()))?;
        let n = rtv_note_from_json(&v).map_err(|e| StoreError::decode(key, e))?;
        st.rtv_notes.insert(n.note_no.clone(), n);
    }
    Ok(st)
}

/// Replace every bin-edit and RTV-note snapshot with `st`'s (`journal rebuild`).
pub fn replace_meta(conn: &Connection, st: &Station) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM meta WHERE substr(key, 1, 9) IN ('zone_bin:', 'rtv_note:', 'rtv_done:')",
        [],
    )?;
    for (code, b) in &st.bins {
        put_meta(conn, &format!("{BIN_KEY}{code}"), &bin_json(code, b))?;
    }
    for n in st.rtv_notes.values() {
        put_meta(conn, &note_key(n), &rtv_note_json(n))?;
    }
    Ok(())
}

/// At start: the bin edits and the open RTV notes into `st` from their `meta` snapshots.
/// Once per database (until [`LAYOUT_KEY`] says the snapshots are in their current
/// layout): fold the bin and RTV events still in the journal (notes made before their
/// snapshots existed), let the snapshots override them (they outlive pruning and hold the
/// latest state) and write every one back, open and closed notes apart.
pub fn load_and_backfill(conn: &Connection, st: &mut Station) -> Result<(), StoreError> {
    let layout: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [LAYOUT_KEY], |r| {
            r.get(0)
        })
        .optional()?;
    if layout.as_deref() != Some(LAYOUT) {
        let mut q = conn.prepare(&format!(
            concat!(
                "SELECT {} FROM journal WHERE ",
                super::schema::station_events!(),
                " ORDER BY seq"
            ),
            super::JOURNAL_COLUMNS
        ))?;
        let rows = q.query_map([], super::JournalRow::from_row)?;
        let mut folded = Station::default();
        for row in rows {
            let row = row?;
            let ev = row
                .decode()
                .map_err(|e| StoreError::decode(format!("journal[{}]", row.seq), e))?;
            folded.apply(&ev);
        }
        load_meta(conn, &mut folded)?;
        replace_meta(conn, &folded)?;
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [LAYOUT_KEY, LAYOUT],
        )?;
    }
    load_open_meta(conn, st)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A return with every header field set (none null), read the way the engine reads its
    /// row at start.
    fn every_field_set() -> Return {
        return_from_json(&json!({
            "id": "R-ST01-20261125-0001", "waybill": "SF1000000000778", "courier": "SF",
            "kind": "customer_return", "announced": true, "manifest_version": 3,
            "order_no": "SO-1", "claimed_reason": "尺码不合适", "signed_at": "2026-11-20T08:00:00Z",
            "free_shipping": true,
            "expected_items": [{"sku": "A-1", "barcode": "6901234567892", "name": "杯子 \"大\"", "qty": 2}],
            "received_at": "2026-11-25T08:00:00Z", "received_by": "017", "card_present": false,
            "unpacked": true, "labels_printed": 3, "reprints": 1, "visual": "damaged",
            "first_checked_at": "2026-11-25T08:05:00Z", "first_checked_by": "017",
            "exchange_ship_by": "2026-11-26T08:00:00Z", "refund_due_by": "2026-11-26T09:00:00Z",
            "items": [], "closed": true, "voided": "wrong parcel",
            "updated_at": "2026-11-25T09:00:00Z", "exchange_waybill": "SF1000000000779",
        }))
        .unwrap()
    }

    #[test]
    fn the_header_text_is_the_header_objects_text() {
        let r = every_field_set();
        let text = return_header_text(&r);
        let value: Value = serde_json::from_str(&text).unwrap();
        // A JSON object prints its keys in order: the same text means the fields are in
        // that order and nothing is printed differently.
        assert_eq!(text, value.to_string());
        let nulls: Vec<&String> = value
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k)
            .collect();
        assert!(nulls.is_empty(), "fields printed null: {nulls:?}");
    }

    #[test]
    fn the_header_text_reads_back_as_the_return() {
        let r = every_field_set();
        let mut v: Value = serde_json::from_str(&return_header_text(&r)).unwrap();
        v["items"] = json!([]);
        assert_eq!(return_from_json(&v).unwrap(), r);
    }
}
