//! The journal codec: domain events ⇄ the contract's `(type, data)` JSON. This is the only
//! place that knows the wire shape of each event type (README, "Event types").

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use crate::domain::event::{
    Actor, CheckLine, CloseReason, CountLine, Event, EventBody, FreightRecord, ItemException,
    PhotoRef, PrintReason, RtvLine,
};
use crate::domain::ids::{Badge, BinCode, ItemRef, ReturnId, Waybill};
use crate::domain::kind::{
    BinClass, ExpectedLine, Grade, ItemZone, Party, ReturnKind, Role, Visual,
};

pub use crate::format::{fmt_time, parse_time};

fn party(p: Party) -> &'static str {
    p.as_str()
}

pub(crate) fn expected_json(l: &ExpectedLine) -> Value {
    json!({"sku": l.sku, "barcode": l.barcode, "name": l.name, "qty": l.qty})
}

pub fn photo_json(p: &PhotoRef) -> Value {
    json!({"sha256": p.sha256, "bytes": p.bytes, "content_type": p.content_type})
}

/// The `data` object of an event.
pub(crate) fn check_line_json(l: &CheckLine) -> Value {
    json!({"code": l.code, "met": l.met})
}

/// An inspection's `checklist` (absent in journals written before it was recorded).
pub(crate) fn decode_checklist(o: &Obj) -> Result<Vec<CheckLine>, String> {
    match o.0.get("checklist") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|l| {
                let code = l["code"]
                    .as_str()
                    .ok_or("checklist: code must be a string")?;
                let met = l["met"]
                    .as_bool()
                    .ok_or("checklist: met must be a boolean")?;
                Ok(CheckLine {
                    code: code.to_string(),
                    met,
                })
            })
            .collect(),
        Some(_) => Err("checklist: not an array".into()),
    }
}

/// The contract's `data` of an event. The dispatch below is exhaustive: a new event type
/// must be given to one of the two families.
pub fn encode(body: &EventBody) -> Value {
    use EventBody as E;
    match body {
        E::LoggedIn { .. }
        | E::LoggedOut { .. }
        | E::ScanRecorded { .. }
        | E::Received { .. }
        | E::Unannounced { .. }
        | E::KindSet { .. }
        | E::CardRecorded { .. }
        | E::Selected { .. }
        | E::Released { .. }
        | E::Unpacked { .. }
        | E::LabelPrinted { .. }
        | E::ItemScanned { .. }
        | E::ItemVoided { .. }
        | E::VisualRecorded { .. }
        | E::FirstCompleted { .. } => encode_intake(body),
        E::Inspected { .. }
        | E::ItemMoved { .. }
        | E::Ledger { .. }
        | E::RefundDue { .. }
        | E::ExchangeShipped { .. }
        | E::RtvNoteCreated { .. }
        | E::RtvNoteClosed { .. }
        | E::BinSet { .. }
        | E::Restocked { .. }
        | E::Closed { .. }
        | E::Voided { .. }
        | E::LockedOut { .. }
        | E::Unlocked { .. }
        | E::PhotoLost { .. } => encode_after_intake(body),
    }
}

/// The events of a parcel's way to the end of its first check (and the bench's own).
fn encode_intake(body: &EventBody) -> Value {
    match body {
        EventBody::LoggedIn { bench, badge, role } => {
            json!({"bench": bench, "badge": badge.as_str(), "role": role.as_str()})
        }
        EventBody::LoggedOut { bench, badge } => json!({"bench": bench, "badge": badge.as_str()}),
        EventBody::ScanRecorded {
            bench,
            code,
            class,
            accepted,
            error,
            ok,
            reply,
            params,
        } => {
            let params: Map<String, Value> = params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({"bench": bench, "code": code, "class": class, "accepted": accepted,
                "error": error, "ok": ok, "reply": reply, "params": params})
        }
        EventBody::Received {
            bench,
            waybill,
            courier,
            kind,
            number_date,
            number,
            announced,
            manifest_version,
            order_no,
            claimed_reason,
            signed_at,
            free_shipping,
            expected,
        } => json!({
            "bench": bench,
            "waybill": waybill.as_str(),
            "courier": courier,
            "kind": kind.map(|k| k.as_str()),
            "number_date": number_date.format("%Y-%m-%d").to_string(),
            "number": number,
            "announced": announced,
            "manifest_version": manifest_version,
            "order_no": order_no,
            "claimed_reason": claimed_reason,
            "signed_at": signed_at.map(fmt_time),
            "free_shipping": free_shipping,
            "expected_items": expected.iter().map(expected_json).collect::<Vec<_>>(),
        }),
        EventBody::Unannounced { waybill } => json!({"waybill": waybill.as_str()}),
        EventBody::KindSet { kind } => json!({"kind": kind.as_str()}),
        EventBody::CardRecorded { present } => json!({"present": present}),
        EventBody::Selected { bench } | EventBody::Released { bench } => json!({"bench": bench}),
        EventBody::Unpacked { bench } => json!({"bench": bench}),
        EventBody::LabelPrinted {
            template,
            reason,
            copies,
            note,
        } => {
            json!({"template": template, "reason": reason.as_str(), "copies": copies, "note": note})
        }
        EventBody::ItemScanned {
            item_no,
            sku,
            barcode,
            name,
            exception,
        } => json!({"item_no": item_no, "sku": sku, "barcode": barcode, "name": name,
                    "exception": exception.map(|e| e.as_str())}),
        EventBody::ItemVoided { item_no } => json!({"item_no": item_no}),
        EventBody::VisualRecorded { visual } => json!({"visual": visual.as_str()}),
        EventBody::FirstCompleted {
            visual,
            counts,
            exceptions,
            exchange_ship_by,
        } => json!({
            "visual": visual.as_str(),
            "counts": counts.iter().map(|c| json!({"sku": c.sku, "expected": c.expected, "counted": c.counted})).collect::<Vec<_>>(),
            "exceptions": exceptions,
            "zone": "pending",
            "exchange_ship_by": fmt_time(*exchange_ship_by),
        }),
        // Given to the other family by `encode`.
        _ => Value::Null,
    }
}

/// The events after the first check.
fn encode_after_intake(body: &EventBody) -> Value {
    match body {
        EventBody::Inspected {
            items,
            grade,
            defect_reasons,
            note,
            photos,
            checklist,
        } => json!({"items": items, "grade": grade.as_str(), "defect_reasons": defect_reasons,
                    "note": note, "photos": photos.iter().map(photo_json).collect::<Vec<_>>(),
                    "checklist": checklist.iter().map(check_line_json).collect::<Vec<_>>()}),
        EventBody::ItemMoved { item_no, from, to } => {
            json!({"item_no": item_no, "from": from.ledger_name(), "to": to.ledger_name()})
        }
        EventBody::Ledger { sku, from, to, qty } => {
            json!({"sku": sku, "from": from, "to": to, "qty": qty})
        }
        EventBody::RefundDue {
            due_by,
            freight,
            claimed_reason,
            within_no_reason_window,
        } => json!({
            "due_by": fmt_time(*due_by),
            "claimed_reason": claimed_reason,
            "within_no_reason_window": within_no_reason_window,
            "freight": {"fault": freight.fault, "outbound": party(freight.outbound),
                        "return_leg": party(freight.return_leg), "rule": freight.rule},
        }),
        EventBody::ExchangeShipped { waybill, items } => {
            json!({"waybill": waybill.as_str(), "items": items})
        }
        EventBody::RtvNoteCreated {
            note_no,
            vendor,
            lines,
        } => json!({"note_no": note_no, "vendor": vendor,
                    "items": lines.iter().map(|l| json!({"return_id": l.item.return_id.as_str(), "item_no": l.item.item_no, "sku": l.sku})).collect::<Vec<_>>()}),
        EventBody::RtvNoteClosed {
            note_no,
            waybill,
            note,
        } => {
            json!({"note_no": note_no, "waybill": waybill.as_ref().map(|w| w.as_str()), "note": note})
        }
        EventBody::BinSet {
            code,
            class,
            label,
            active,
        } => {
            json!({"code": code.as_str(), "class": class.as_str(), "label": label, "active": active})
        }
        EventBody::Restocked { items } => json!({"items": items}),
        EventBody::Closed { reason } => {
            json!({"reason": match reason { CloseReason::Completed => "completed" }})
        }
        EventBody::Voided { reason } => json!({"reason": reason}),
        EventBody::LockedOut {
            badge,
            failures,
            minutes,
        } => json!({"badge": badge.as_str(), "failures": failures, "minutes": minutes}),
        EventBody::Unlocked { badge } => json!({"badge": badge.as_str()}),
        EventBody::PhotoLost { sha256, reason } => json!({"sha256": sha256, "reason": reason}),
        // Given to the other family by `encode`.
        _ => Value::Null,
    }
}

/// A typed view over a JSON object that names the missing or mistyped field.
pub(crate) struct Obj<'a>(pub(crate) &'a Map<String, Value>);

impl<'a> Obj<'a> {
    pub(crate) fn of(v: &'a Value) -> Result<Obj<'a>, String> {
        v.as_object()
            .map(Obj)
            .ok_or_else(|| "data is not an object".to_string())
    }
    pub(crate) fn get(&self, k: &str) -> Result<&'a Value, String> {
        self.0.get(k).ok_or_else(|| format!("missing field {k}"))
    }
    pub(crate) fn str(&self, k: &str) -> Result<String, String> {
        self.get(k)?
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{k} is not a string"))
    }
    pub(crate) fn opt_str(&self, k: &str) -> Result<Option<String>, String> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| format!("{k} is not a string")),
        }
    }
    pub(crate) fn u32(&self, k: &str) -> Result<u32, String> {
        self.get(k)?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("{k} is not a small unsigned number"))
    }
    pub(crate) fn bool(&self, k: &str) -> Result<bool, String> {
        self.get(k)?
            .as_bool()
            .ok_or_else(|| format!("{k} is not a boolean"))
    }
    pub(crate) fn arr(&self, k: &str) -> Result<&'a Vec<Value>, String> {
        self.get(k)?
            .as_array()
            .ok_or_else(|| format!("{k} is not an array"))
    }
    pub(crate) fn u32s(&self, k: &str) -> Result<Vec<u32>, String> {
        self.arr(k)?
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("{k} has a non-number"))
            })
            .collect()
    }
    pub(crate) fn strs(&self, k: &str) -> Result<Vec<String>, String> {
        self.arr(k)?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{k} has a non-string"))
            })
            .collect()
    }
    pub(crate) fn zone(&self, k: &str) -> Result<ItemZone, String> {
        let s = self.str(k)?;
        ItemZone::parse_ledger_name(&s).ok_or_else(|| format!("{k}: unknown zone {s:?}"))
    }
}

fn badge(s: String) -> Result<Badge, String> {
    Badge::parse(&s).map_err(|e| format!("bad badge {s:?}: {}", e.code()))
}

fn waybill(s: String) -> Result<Waybill, String> {
    Waybill::parse(&s).map_err(|e| format!("bad waybill {s:?}: {}", e.code()))
}

pub(crate) fn bin_code(s: String) -> Result<BinCode, String> {
    BinCode::parse(&s).map_err(|e| format!("bad bin code {s:?}: {}", e.code()))
}

fn kind(s: &str) -> Result<ReturnKind, String> {
    ReturnKind::parse(s).ok_or_else(|| format!("unknown kind {s:?}"))
}

fn party_of(s: &str) -> Result<Party, String> {
    match s {
        "seller" => Ok(Party::Seller),
        "buyer" => Ok(Party::Buyer),
        _ => Err(format!("unknown party {s:?}")),
    }
}

pub(crate) fn decode_expected(v: &Value) -> Result<ExpectedLine, String> {
    let l = Obj::of(v)?;
    Ok(ExpectedLine {
        sku: l.str("sku")?,
        barcode: l.str("barcode")?,
        name: l.str("name")?,
        qty: l.u32("qty")?,
    })
}

pub fn decode_photo(v: &Value) -> Result<PhotoRef, String> {
    let o = Obj::of(v)?;
    Ok(PhotoRef {
        sha256: o.str("sha256")?,
        bytes: o.get("bytes")?.as_u64().ok_or("bytes is not a number")?,
        content_type: o.str("content_type")?,
    })
}

/// Parse a journal row back into a domain event (for rebuilds and verification).
pub fn decode(
    ty: &str,
    data: &Value,
    occurred_at: DateTime<Utc>,
    actor: &str,
    return_id: Option<&str>,
) -> Result<Event, String> {
    let o = Obj::of(data)?;
    let body = match decode_intake(ty, &o)? {
        Some(b) => b,
        None => decode_after_intake(ty, &o)?.ok_or_else(|| format!("unknown event type {ty:?}"))?,
    };
    let return_id = match return_id {
        None => None,
        Some(s) => {
            Some(ReturnId::parse(s).map_err(|e| format!("bad return id {s:?}: {}", e.code()))?)
        }
    };
    Ok(Event {
        occurred_at,
        actor: Actor(actor.to_string()),
        return_id,
        body,
    })
}

/// A scan answer's parameters: an object of strings (absent in older journals).
fn decode_params(o: &Obj<'_>) -> Result<Vec<(String, String)>, String> {
    match o.0.get("params") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_string()))
                    .ok_or_else(|| format!("params.{k}: not a string"))
            })
            .collect(),
        Some(_) => Err("params: not an object".into()),
    }
}

/// The events of a parcel's way to the end of its first check (and the bench's own):
/// `None` for another type.
fn decode_intake(ty: &str, o: &Obj<'_>) -> Result<Option<EventBody>, String> {
    Ok(Some(match ty {
        "operator.logged_in" => EventBody::LoggedIn {
            bench: o.str("bench")?,
            badge: badge(o.str("badge")?)?,
            role: Role::parse(&o.str("role")?).ok_or("unknown role")?,
        },
        "operator.logged_out" => EventBody::LoggedOut {
            bench: o.str("bench")?,
            badge: badge(o.str("badge")?)?,
        },
        "scan.recorded" => EventBody::ScanRecorded {
            bench: o.str("bench")?,
            code: o.str("code")?,
            class: o.str("class")?,
            accepted: o.bool("accepted")?,
            error: o.opt_str("error")?,
            // Journals written before the answer was recorded: accepted = green, and the
            // refusal's code (or nothing) as the answer.
            ok: match o.0.get("ok") {
                Some(v) => v.as_bool().ok_or("ok: not a boolean")?,
                None => o.bool("accepted")?,
            },
            reply: match o.opt_str("reply")? {
                Some(r) => r,
                None => o.opt_str("error")?.unwrap_or_default(),
            },
            params: decode_params(o)?,
        },
        "return.received" => EventBody::Received {
            bench: o.str("bench")?,
            waybill: waybill(o.str("waybill")?)?,
            courier: o.str("courier")?,
            kind: o.opt_str("kind")?.map(|k| kind(&k)).transpose()?,
            number_date: NaiveDate::parse_from_str(&o.str("number_date")?, "%Y-%m-%d")
                .map_err(|e| format!("number_date: {e}"))?,
            number: o.u32("number")?,
            announced: o.bool("announced")?,
            manifest_version: o.0.get("manifest_version").and_then(Value::as_i64),
            order_no: o.opt_str("order_no")?,
            claimed_reason: o.opt_str("claimed_reason")?,
            signed_at: o
                .opt_str("signed_at")?
                .map(|s| parse_time(&s))
                .transpose()?,
            free_shipping: o.bool("free_shipping")?,
            expected: o
                .arr("expected_items")?
                .iter()
                .map(decode_expected)
                .collect::<Result<_, String>>()?,
        },
        "return.unannounced" => EventBody::Unannounced {
            waybill: waybill(o.str("waybill")?)?,
        },
        "return.kind_set" => EventBody::KindSet {
            kind: kind(&o.str("kind")?)?,
        },
        "return.card_recorded" => EventBody::CardRecorded {
            present: o.bool("present")?,
        },
        "bench.return_selected" => EventBody::Selected {
            bench: o.str("bench")?,
        },
        "bench.return_released" => EventBody::Released {
            bench: o.str("bench")?,
        },
        "return.unpacked" => EventBody::Unpacked {
            bench: o.str("bench")?,
        },
        "label.printed" => EventBody::LabelPrinted {
            template: o.str("template")?,
            reason: match o.str("reason")?.as_str() {
                "first" => PrintReason::First,
                "reprint" => PrintReason::Reprint,
                r => return Err(format!("unknown print reason {r:?}")),
            },
            copies: o.u32("copies")?,
            note: o.opt_str("note")?.unwrap_or_default(),
        },
        "item.scanned" => EventBody::ItemScanned {
            item_no: o.u32("item_no")?,
            sku: o.str("sku")?,
            barcode: o.str("barcode")?,
            name: o.str("name")?,
            exception: match o.opt_str("exception")? {
                None => None,
                Some(e) => Some(ItemException::parse(&e).ok_or("unknown exception")?),
            },
        },
        "item.voided" => EventBody::ItemVoided {
            item_no: o.u32("item_no")?,
        },
        "check.visual_recorded" => EventBody::VisualRecorded {
            visual: Visual::parse(&o.str("visual")?).ok_or("unknown visual")?,
        },
        "check.first_completed" => EventBody::FirstCompleted {
            visual: Visual::parse(&o.str("visual")?).ok_or("unknown visual")?,
            counts: o
                .arr("counts")?
                .iter()
                .map(|v| {
                    let c = Obj::of(v)?;
                    Ok(CountLine {
                        sku: c.str("sku")?,
                        expected: c.u32("expected")?,
                        counted: c.u32("counted")?,
                    })
                })
                .collect::<Result<_, String>>()?,
            exceptions: o.strs("exceptions")?,
            exchange_ship_by: parse_time(&o.str("exchange_ship_by")?)?,
        },
        _ => return Ok(None),
    }))
}

/// The events after the first check: inspection, moves, ledger, refunds, exchanges, RTV,
/// bins, closing: `None` for another type.
fn decode_after_intake(ty: &str, o: &Obj<'_>) -> Result<Option<EventBody>, String> {
    Ok(Some(match ty {
        "inspection.completed" => EventBody::Inspected {
            items: o.u32s("items")?,
            grade: Grade::parse(&o.str("grade")?).ok_or("unknown grade")?,
            defect_reasons: o.strs("defect_reasons")?,
            note: o.str("note")?,
            photos: o
                .arr("photos")?
                .iter()
                .map(decode_photo)
                .collect::<Result<_, String>>()?,
            checklist: decode_checklist(o)?,
        },
        "item.moved" => EventBody::ItemMoved {
            item_no: o.u32("item_no")?,
            from: o.zone("from")?,
            to: o.zone("to")?,
        },
        "ledger.entry" => EventBody::Ledger {
            sku: o.str("sku")?,
            from: o.str("from")?,
            to: o.str("to")?,
            qty: o.u32("qty")?,
        },
        "refund.due" => {
            let f = Obj::of(o.get("freight")?)?;
            EventBody::RefundDue {
                due_by: parse_time(&o.str("due_by")?)?,
                claimed_reason: o.str("claimed_reason")?,
                within_no_reason_window: o
                    .0
                    .get("within_no_reason_window")
                    .and_then(Value::as_bool),
                freight: FreightRecord {
                    fault: f.str("fault")?,
                    outbound: party_of(&f.str("outbound")?)?,
                    return_leg: party_of(&f.str("return_leg")?)?,
                    rule: f.str("rule")?,
                },
            }
        }
        "exchange.shipped" => EventBody::ExchangeShipped {
            waybill: waybill(o.str("waybill")?)?,
            items: o.u32s("items")?,
        },
        "rtv.note_created" => EventBody::RtvNoteCreated {
            note_no: o.str("note_no")?,
            vendor: o.str("vendor")?,
            lines: o
                .arr("items")?
                .iter()
                .map(|v| {
                    let l = Obj::of(v)?;
                    let rid = l.str("return_id")?;
                    Ok(RtvLine {
                        item: ItemRef {
                            return_id: ReturnId::parse(&rid)
                                .map_err(|e| format!("bad return id {rid:?}: {}", e.code()))?,
                            item_no: l.u32("item_no")?,
                        },
                        sku: l.str("sku")?,
                    })
                })
                .collect::<Result<_, String>>()?,
        },
        "rtv.note_closed" => EventBody::RtvNoteClosed {
            note_no: o.str("note_no")?,
            waybill: o.opt_str("waybill")?.map(waybill).transpose()?,
            note: o.opt_str("note")?.unwrap_or_default(),
        },
        "zone.bin_set" => EventBody::BinSet {
            code: bin_code(o.str("code")?)?,
            class: BinClass::parse(&o.str("class")?).ok_or("unknown bin class")?,
            label: o.opt_str("label")?,
            active: o.bool("active")?,
        },
        "return.restocked" => EventBody::Restocked {
            items: o.u32s("items")?,
        },
        "return.closed" => EventBody::Closed {
            reason: CloseReason::Completed,
        },
        "return.voided" => EventBody::Voided {
            reason: o.str("reason")?,
        },
        "operator.locked_out" => EventBody::LockedOut {
            badge: badge(o.str("badge")?)?,
            failures: o.u32("failures")?,
            minutes: o.u32("minutes")?,
        },
        "operator.unlocked" => EventBody::Unlocked {
            badge: badge(o.str("badge")?)?,
        },
        "photo.lost" => EventBody::PhotoLost {
            sha256: o.str("sha256")?,
            reason: o.str("reason")?,
        },
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(body: EventBody) -> Value {
        let at = parse_time("2026-11-25T08:30:00.123Z").unwrap();
        let data = encode(&body);
        let ev = decode(body.type_name(), &data, at, "supervisor:S1", None).unwrap();
        assert_eq!(ev.body, body);
        assert_eq!(ev.actor.as_str(), "supervisor:S1");
        assert_eq!(ev.occurred_at, at);
        data
    }

    /// `photo.lost` carries the contract's `{sha256, reason}` and decodes to the same event.
    #[test]
    fn photo_lost_round_trips() {
        let data = round_trip(EventBody::PhotoLost {
            sha256: "ab".repeat(32),
            reason: "照片文件损坏".into(),
        });
        assert_eq!(
            data,
            json!({"sha256": "ab".repeat(32), "reason": "照片文件损坏"})
        );
    }

    /// `zone.bin_set` encodes its whole state and decodes to the same event, with and
    /// without a label.
    #[test]
    fn bin_set_round_trips() {
        let data = round_trip(EventBody::BinSet {
            code: BinCode::parse("D-09").unwrap(),
            class: BinClass::Defect,
            label: Some("货架 9".into()),
            active: false,
        });
        assert_eq!(
            data,
            json!({"code": "D-09", "class": "defect", "label": "货架 9", "active": false})
        );
        round_trip(EventBody::BinSet {
            code: BinCode::parse("A01").unwrap(),
            class: BinClass::Good,
            label: None,
            active: true,
        });
    }

    /// `rtv.note_closed` round-trips with and without the carrier's waybill.
    #[test]
    fn rtv_note_closed_round_trips() {
        let data = round_trip(EventBody::RtvNoteClosed {
            note_no: "RTV-ST01-20261125-0001".into(),
            waybill: Some(Waybill::parse("SF9876543210").unwrap()),
            note: "driver Li".into(),
        });
        assert_eq!(
            data,
            json!({"note_no": "RTV-ST01-20261125-0001", "waybill": "SF9876543210", "note": "driver Li"})
        );
        round_trip(EventBody::RtvNoteClosed {
            note_no: "RTV-ST01-20261125-0002".into(),
            waybill: None,
            note: String::new(),
        });
    }
}
