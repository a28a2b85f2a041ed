//! Projection snapshots: a return's and a bench's folded state as JSON, written in the same
//! transaction as the events that changed them, so startup need not replay the journal.
//! `journal verify` replays the journal and checks it folds to exactly these snapshots.

use serde_json::{Value, json};

use super::codec::{
    Obj, check_line_json, decode_checklist, decode_expected, decode_photo, expected_json, fmt_time,
    parse_time, photo_json,
};
use crate::domain::event::ItemException;
use crate::domain::ids::{Badge, ReturnId, Waybill};
use crate::domain::kind::{Grade, ReturnKind};
use crate::domain::model::{Bench, Item, Return, Role, Session, Visual};

pub fn return_json(r: &Return) -> Value {
    json!({
        "id": r.id.as_str(),
        "waybill": r.waybill.as_str(),
        "courier": r.courier,
        "kind": r.kind.map(|k| k.as_str()),
        "announced": r.announced,
        "manifest_version": r.manifest_version,
        "order_no": r.order_no,
        "claimed_reason": r.claimed_reason,
        "signed_at": r.signed_at.map(fmt_time),
        "free_shipping": r.free_shipping,
        "expected_items": r.expected.iter().map(expected_json).collect::<Vec<_>>(),
        "received_at": fmt_time(r.received_at),
        "received_by": r.received_by,
        "card_present": r.card_present,
        "unpacked": r.unpacked,
        "labels_printed": r.labels_printed,
        "reprints": r.reprints,
        "visual": r.visual.as_str(),
        "first_checked_at": r.first_checked_at.map(fmt_time),
        "first_checked_by": r.first_checked_by,
        "exchange_ship_by": r.exchange_ship_by.map(fmt_time),
        "refund_due_by": r.refund_due_by.map(fmt_time),
        "items": r.items.iter().map(item_json).collect::<Vec<_>>(),
        "closed": r.closed,
        "voided": r.voided,
        "updated_at": fmt_time(r.updated_at),
        "exchange_waybill": r.exchange_waybill.as_ref().map(|w| w.as_str()),
        "stage": r.stage().as_str(),
    })
}

fn item_json(i: &Item) -> Value {
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
