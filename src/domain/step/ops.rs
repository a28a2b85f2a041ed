//! The operator commands after the bench (API and control socket): put-away of graded
//! items into zones and bins, the exchange shipped to the customer, good items restocked,
//! defects returned to the vendor on an RTV note, a return label reprinted, a return
//! voided before booking, and the lockout the station records. Goods that leave or are
//! restocked close their return when nothing is left to do.

use chrono::{DateTime, Utc};

use crate::domain::error::DomainError;
use crate::domain::event::{Actor, CloseReason, Event, EventBody, PrintReason, RtvLine};
use crate::domain::fold::apply_to_return;
use crate::domain::ids::{Badge, ItemRef, ReturnId, Waybill};
use crate::domain::kind::{BinClass, Grade, ItemZone, Role};
use crate::domain::model::{Item, Return, Station};
use crate::domain::scan::ZoneScan;

use super::command::Operator;
use super::shared::{Ctx, move_items, open_return, pick_items, print, require};
use super::transition::{Effect, Feedback, Out, Transition};

/// Units of one return grouped by a zone: the zone they go to (or come from), with each
/// unit's number and SKU, in the order first met.
type ByZone = Vec<(ItemZone, Vec<(u32, String)>)>;

fn add_to(groups: &mut ByZone, zone: &ItemZone, no: u32, sku: &str) {
    match groups.iter_mut().find(|(z, _)| z == zone) {
        Some(g) => g.1.push((no, sku.to_string())),
        None => groups.push((zone.clone(), vec![(no, sku.to_string())])),
    }
}

/// Put graded items (the listed ones, or every graded one still in pending) into a zone
/// or bin that takes their grade.
pub(super) fn put_away(
    cx: &Ctx,
    by: Operator,
    return_id: &ReturnId,
    items: &[u32],
    zone: &ZoneScan,
) -> Result<Transition, DomainError> {
    require(
        &by,
        &[Role::Keeper, Role::Inspector, Role::Supervisor],
        "put_away",
    )?;
    let r = open_return(cx.st, return_id)?;
    let targets = pick_items(r, items, |i| {
        i.grade.is_some() && matches!(i.zone, ItemZone::Pending)
    })?;
    if targets.is_empty() {
        return Err(DomainError::NothingToMove);
    }
    let mut groups = ByZone::new();
    for no in &targets {
        let i = r.item(*no).ok_or(DomainError::ItemNotFound {
            id: r.id.clone(),
            item_no: *no,
        })?;
        let grade = i
            .grade
            .ok_or(DomainError::ItemNotInspected { item_no: *no })?;
        if !matches!(i.zone, ItemZone::Pending) {
            return Err(DomainError::ItemNotInZone {
                item_no: *no,
                zone: "pending".into(),
            });
        }
        let to = target_zone(cx, grade, zone, *no)?;
        add_to(&mut groups, &to, *no, &i.sku);
    }
    let mut out = Out::new(cx.now, by.actor());
    let mut names = Vec::new();
    for (to, list) in &groups {
        move_items(&r.id, list, &ItemZone::Pending, to, &mut out);
        names.push(to.ledger_name());
    }
    Ok(out.done(Feedback::ok(
        "put_away",
        vec![
            ("return_id", r.id.to_string()),
            ("items", targets.len().to_string()),
            ("zone", names.join(",")),
        ],
    )))
}

/// Where an item of `grade` goes when `zone` is scanned: the good or defect zone of its
/// grade, or an active bin of its grade's class (the config's bin, overlaid by
/// supervisors' edits, `zone.bin_set`). Never back to pending.
fn target_zone(
    cx: &Ctx,
    grade: Grade,
    zone: &ZoneScan,
    item_no: u32,
) -> Result<ItemZone, DomainError> {
    let wrong = |z: &str| DomainError::WrongZoneForGrade {
        item_no,
        zone: z.to_string(),
    };
    match (grade, zone) {
        (_, ZoneScan::Pending) => Err(wrong("pending")),
        (Grade::Good, ZoneScan::Good) => Ok(ItemZone::Good(None)),
        (Grade::Defect, ZoneScan::Defect) => Ok(ItemZone::Defect(None)),
        (Grade::Good, ZoneScan::Defect) => Err(wrong("defect")),
        (Grade::Defect, ZoneScan::Good) => Err(wrong("good")),
        (g, ZoneScan::Bin(b)) => match (g, cx.st.bin(cx.lk, b)) {
            (_, None) => Err(DomainError::UnknownBin { bin: b.clone() }),
            (_, Some(bin)) if !bin.active => Err(DomainError::BinRetired { bin: b.clone() }),
            (Grade::Good, Some(bin)) if bin.class == BinClass::Good => {
                Ok(ItemZone::Good(Some(b.clone())))
            }
            (Grade::Defect, Some(bin)) if bin.class == BinClass::Defect => {
                Ok(ItemZone::Defect(Some(b.clone())))
            }
            _ => Err(wrong(b.as_str())),
        },
    }
}

/// The exchange went out to the customer under `waybill`: the listed good items (or
/// every good item in a good zone) leave for the customer.
pub(super) fn exchange_shipped(
    cx: &Ctx,
    by: Operator,
    return_id: &ReturnId,
    waybill: Waybill,
    items: &[u32],
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Keeper, Role::Supervisor], "exchange_shipped")?;
    let r = open_return(cx.st, return_id)?;
    let targets = pick_items(r, items, |i| {
        matches!(i.zone, ItemZone::Good(_)) && i.grade == Some(Grade::Good)
    })?;
    if targets.is_empty() {
        return Err(DomainError::NothingToMove);
    }
    let mut out = Out::new(cx.now, by.actor());
    out.push(
        Some(&r.id),
        EventBody::ExchangeShipped {
            waybill,
            items: targets.clone(),
        },
    );
    let mut by_zone = ByZone::new();
    for no in &targets {
        let i = r.item(*no).ok_or(DomainError::ItemNotFound {
            id: r.id.clone(),
            item_no: *no,
        })?;
        if !matches!(i.zone, ItemZone::Good(_)) {
            return Err(DomainError::ItemNotInZone {
                item_no: *no,
                zone: "good".into(),
            });
        }
        add_to(&mut by_zone, &i.zone, *no, &i.sku);
    }
    for (from, list) in &by_zone {
        move_items(&r.id, list, from, &ItemZone::Customer, &mut out);
    }
    close_if_done(cx.st, &r.id, &mut out);
    Ok(out.done(Feedback::ok(
        "exchange_shipped",
        vec![
            ("return_id", r.id.to_string()),
            ("items", targets.len().to_string()),
        ],
    )))
}

/// Release every good item still in a good zone or bin to sellable stock: the
/// `return.restocked` fact, then each unit moves out of the returns good zone to
/// `sellable` (an `item.moved` per unit, a `ledger.entry` per SKU and zone), so stock per
/// zone shows only the units still waiting (for an exchange, …).
pub(super) fn restock(
    cx: &Ctx,
    by: Operator,
    return_id: &ReturnId,
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Keeper, Role::Supervisor], "restock")?;
    let r = open_return(cx.st, return_id)?;
    let in_good = in_good_zones(r, |_| true);
    if in_good.is_empty() {
        return Err(DomainError::NothingToMove);
    }
    let items: Vec<u32> = in_good
        .iter()
        .flat_map(|(_, l)| l.iter().map(|(no, _)| *no))
        .collect();
    let mut out = Out::new(cx.now, by.actor());
    out.push(
        Some(&r.id),
        EventBody::Restocked {
            items: items.clone(),
        },
    );
    for (from, list) in &in_good {
        move_items(&r.id, list, from, &ItemZone::Sellable, &mut out);
    }
    close_if_done(cx.st, &r.id, &mut out);
    Ok(out.done(Feedback::ok(
        "restocked",
        vec![
            ("return_id", r.id.to_string()),
            ("items", items.len().to_string()),
        ],
    )))
}

/// The live units of `r` in a good zone or bin that `pick` selects, grouped by that zone.
fn in_good_zones(r: &Return, pick: impl Fn(&Item) -> bool) -> ByZone {
    let mut groups = ByZone::new();
    for i in r.live_items() {
        if matches!(i.zone, ItemZone::Good(_)) && pick(i) {
            add_to(&mut groups, &i.zone, i.item_no, &i.sku);
        }
    }
    groups
}

/// The one-time correction for a return restocked before a restock moved its units (they
/// stayed in a good zone with `restocked` set, so stock per zone counted them as
/// waiting): the station (actor `system`) moves them to `sellable` now, an `item.moved`
/// per unit and a `ledger.entry` per SKU and zone. Nothing else changes: no
/// `return.restocked` again, no label, the return stays as closed or open as it was. Empty
/// when the return has no such unit.
pub fn restocked_to_sellable(r: &Return, now: DateTime<Utc>) -> Vec<Event> {
    let mut out = Out::new(now, Actor::system());
    for (from, list) in &in_good_zones(r, |i| i.restocked) {
        move_items(&r.id, list, from, &ItemZone::Sellable, &mut out);
    }
    out.events
}

/// A return-to-vendor note for `vendor` over defect items of any open returns: numbered
/// per local day, printed, and its items leave for the vendor.
pub(super) fn create_rtv_note(
    cx: &Ctx,
    by: Operator,
    vendor: String,
    items: &[ItemRef],
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Keeper, Role::Supervisor], "rtv_note")?;
    if items.is_empty() {
        return Err(DomainError::NothingToMove);
    }
    if vendor.trim().is_empty() || vendor.chars().count() > 200 {
        return Err(DomainError::BadInput {
            field: "vendor",
            problem: "must be 1 to 200 characters".into(),
        });
    }
    let lines = rtv_lines(cx.st, items)?;
    let date = cx.now.with_timezone(&cx.cfg.tz).date_naive();
    let n = cx.st.rtv_numbers.get(&date).copied().unwrap_or(0) + 1;
    let note_no = format!(
        "RTV-{}-{}-{:04}",
        cx.cfg.station.as_str(),
        date.format("%Y%m%d"),
        n
    );
    let mut out = Out::new(cx.now, by.actor());
    out.effects.push(Effect::PrintRtvNote {
        note_no: note_no.clone(),
    });
    out.push(
        None,
        EventBody::RtvNoteCreated {
            note_no: note_no.clone(),
            vendor,
            lines: lines.iter().map(|l| l.0.clone()).collect(),
        },
    );
    let mut touched: Vec<ReturnId> = Vec::new();
    for (line, from) in &lines {
        move_items(
            &line.item.return_id,
            &[(line.item.item_no, line.sku.clone())],
            from,
            &ItemZone::Vendor,
            &mut out,
        );
        if !touched.contains(&line.item.return_id) {
            touched.push(line.item.return_id.clone());
        }
    }
    for id in &touched {
        close_if_done(cx.st, id, &mut out);
    }
    Ok(out.done(Feedback::ok(
        "rtv_created",
        vec![("note_no", note_no), ("items", lines.len().to_string())],
    )))
}

/// The note's lines, each with the defect zone its unit leaves: every item must be in a
/// defect zone of an open return, and listed once.
fn rtv_lines(st: &Station, items: &[ItemRef]) -> Result<Vec<(RtvLine, ItemZone)>, DomainError> {
    let mut lines: Vec<(RtvLine, ItemZone)> = Vec::new();
    for it in items {
        let r = open_return(st, &it.return_id)?;
        let i = r.item(it.item_no).ok_or(DomainError::ItemNotFound {
            id: r.id.clone(),
            item_no: it.item_no,
        })?;
        if !matches!(i.zone, ItemZone::Defect(_)) {
            return Err(DomainError::ItemNotInZone {
                item_no: it.item_no,
                zone: "defect".into(),
            });
        }
        if lines.iter().any(|l| l.0.item == *it) {
            return Err(DomainError::BadInput {
                field: "items",
                problem: format!("{}.{} listed twice", it.return_id, it.item_no),
            });
        }
        lines.push((
            RtvLine {
                item: it.clone(),
                sku: i.sku.clone(),
            },
            i.zone.clone(),
        ));
    }
    Ok(lines)
}

/// Print the return label again, with the operator's reason (counted as a reprint).
pub(super) fn reprint(
    cx: &Ctx,
    by: Operator,
    return_id: &ReturnId,
    reason: &str,
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Keeper, Role::Supervisor], "reprint")?;
    if reason.trim().is_empty() {
        return Err(DomainError::BadInput {
            field: "reason",
            problem: "a reprint needs a reason".into(),
        });
    }
    if reason.chars().count() > 200 {
        return Err(DomainError::BadInput {
            field: "reason",
            problem: "longer than 200 characters".into(),
        });
    }
    let r = open_return(cx.st, return_id)?;
    if !r.unpacked {
        return Err(DomainError::NotUnpacked);
    }
    let mut out = Out::new(cx.now, by.actor());
    print(&r.id, PrintReason::Reprint, reason.trim(), &mut out);
    Ok(out.done(Feedback::ok(
        "reprinted",
        vec![("return_id", r.id.to_string())],
    )))
}

/// Void a return received in error (supervisor only, with a reason): only before it is
/// booked in, since nothing has reached the ledger yet.
pub(super) fn void(
    cx: &Ctx,
    by: Operator,
    return_id: &ReturnId,
    reason: String,
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Supervisor], "void")?;
    let r = open_return(cx.st, return_id)?;
    if r.first_checked_at.is_some() {
        return Err(DomainError::VoidAfterBooking);
    }
    if reason.trim().is_empty() {
        return Err(DomainError::BadInput {
            field: "reason",
            problem: "a void needs a reason".into(),
        });
    }
    let mut out = Out::new(cx.now, by.actor());
    out.push(Some(&r.id), EventBody::Voided { reason });
    Ok(out.done(Feedback::ok(
        "voided",
        vec![("return_id", r.id.to_string())],
    )))
}

/// Record that `badge` was locked out after `failures` wrong PINs, for `minutes`. The
/// station records it, not an operator: the badge may not even exist.
pub(super) fn record_lockout(
    now: DateTime<Utc>,
    badge: Badge,
    failures: u32,
    minutes: u32,
) -> Transition {
    let mut out = Out::new(now, Actor::system());
    let shown = badge.as_str().to_string();
    out.push(
        None,
        EventBody::LockedOut {
            badge,
            failures,
            minutes,
        },
    );
    out.done(Feedback::ok("lockout_recorded", vec![("badge", shown)]))
}

/// Close a return when every unit has left or been restocked, looking at the state the
/// events pushed so far would produce.
fn close_if_done(st: &Station, id: &ReturnId, out: &mut Out) {
    let Some(mut r) = st.returns.get(id).cloned() else {
        return;
    };
    for ev in &out.events {
        if ev.return_id.as_ref() == Some(id) {
            apply_to_return(&mut r, &ev.body, &ev.actor.0, ev.occurred_at);
        }
    }
    if r.all_done() && !r.closed {
        out.push(
            Some(id),
            EventBody::Closed {
                reason: CloseReason::Completed,
            },
        );
    }
}
