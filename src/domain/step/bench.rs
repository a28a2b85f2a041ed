//! The bench flow: what a scan at a returns bench does. A keeper logs in with a badge,
//! scans a parcel's waybill (received, or selected again), sets its kind, unpacks it (the
//! return label prints), scans its items, records the visual check and the after-sales
//! card, and books the parcel into pending: the first check. Scans never fail: a rejected
//! scan is recorded with its reason and fed back at the bench.

use chrono::{DateTime, Utc};

use crate::domain::error::DomainError;
use crate::domain::event::{Actor, CountLine, Event, EventBody, ItemException, PrintReason};
use crate::domain::ids::{Badge, ReturnId, Waybill};
use crate::domain::kind::{ExpectedLine, ItemZone, ReturnKind, Visual};
use crate::domain::model::{Return, Session, Station};
use crate::domain::policy;
use crate::domain::scan::{CommandCode, ProductCode, ScanClass, ZoneScan};

use super::shared::{Ctx, move_items, open_return, print};
use super::transition::{Feedback, Out, Transition};

/// Decide what a scan at `bench` does. Its `scan.recorded` event comes first, accepted or
/// not; a rejected scan records nothing else.
pub(super) fn scan(cx: &Ctx, bench: &str, text: String, class: ScanClass) -> Transition {
    let b = cx.st.bench(bench);
    let actor = match &b.session {
        Some(s) => Actor::operator(s.role, &s.badge),
        None => Actor(format!("bench:{bench}")),
    };
    let class_name = class.kind();
    let mut out = Out::new(cx.now, actor.clone());
    let record = |out: &mut Out, accepted: bool, error: Option<String>, fb: &Feedback| {
        out.events.insert(
            0,
            Event {
                occurred_at: cx.now,
                actor: actor.clone(),
                return_id: None,
                body: EventBody::ScanRecorded {
                    bench: bench.to_string(),
                    code: text.clone(),
                    class: class_name.to_string(),
                    accepted,
                    error,
                    ok: fb.ok,
                    reply: fb.code.to_string(),
                    params: sorted_params(&fb.params),
                },
            },
        );
    };
    match decide(cx, bench, class, &mut out) {
        Ok(fb) => {
            record(&mut out, true, None, &fb);
            out.done(fb)
        }
        Err(e) => {
            let mut out = Out::new(cx.now, actor.clone());
            let feedback = Feedback {
                ok: false,
                code: e.code(),
                params: e.params(),
            };
            record(&mut out, false, Some(e.code().to_string()), &feedback);
            Transition {
                events: out.events,
                effects: Vec::new(),
                feedback,
                rejected: Some(e),
            }
        }
    }
}

/// A feedback's parameters as journaled: owned and sorted by name (the journal's JSON
/// object keeps no order).
fn sorted_params(params: &[(&'static str, String)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    v.sort();
    v
}

/// What a classified scan means at this bench: a badge logs in; anything else needs a
/// session, and then the open return (received here, not yet first-checked) decides.
fn decide(cx: &Ctx, bench: &str, class: ScanClass, out: &mut Out) -> Result<Feedback, DomainError> {
    let b = cx.st.bench(bench);
    if let ScanClass::Unrecognised(r) = class {
        return Err(DomainError::Unrecognised(r));
    }
    if let ScanClass::Badge(badge) = &class {
        return login(cx, bench, b.session.as_ref(), badge, out);
    }
    let Some(session) = &b.session else {
        return Err(DomainError::LoginRequired);
    };
    let in_progress = b
        .current
        .as_ref()
        .and_then(|id| cx.st.returns.get(id))
        .filter(|r| r.first_checked_at.is_none() && !r.stage().is_terminal());

    match class {
        // Both were answered above.
        ScanClass::Unrecognised(_) | ScanClass::Badge(_) => {
            Err(DomainError::NotNow { what: "scan" })
        }
        ScanClass::Waybill { waybill, courier } => {
            receive(cx, bench, in_progress, waybill, courier, out)
        }
        ScanClass::Ambiguous {
            waybill,
            courier,
            product,
        } => {
            // Context decides (README, "ambiguous codes"): a manifest waybill wins; inside an
            // open return the code is a product; otherwise it is a waybill.
            if cx.lk.manifest(waybill.as_str()).is_some()
                || cx.st.find_by_waybill(waybill.as_str()).is_some()
            {
                receive(cx, bench, in_progress, waybill, courier, out)
            } else if let Some(r) = in_progress {
                item(r, product, out)
            } else {
                receive(cx, bench, in_progress, waybill, courier, out)
            }
        }
        ScanClass::ReturnId(id) => select(cx.st, bench, in_progress, &id, out),
        ScanClass::Item(item) => select(cx.st, bench, in_progress, &item.return_id, out),
        ScanClass::Product(p) => {
            let r = in_progress.ok_or(DomainError::NoCurrentReturn)?;
            item(r, p, out)
        }
        ScanClass::Zone(z) => {
            let r = in_progress.ok_or(DomainError::NoCurrentReturn)?;
            match z {
                ZoneScan::Pending => first_check(r, bench, out),
                _ => Err(DomainError::FirstCheckGoesToPending),
            }
        }
        ScanClass::Command(c) => command(cx.st, bench, &session.badge, in_progress, c, out),
    }
}

/// A badge scan: the operator logs in at the bench in their most capable role, logging
/// out whoever was there. An unknown badge is refused.
fn login(
    cx: &Ctx,
    bench: &str,
    session: Option<&Session>,
    badge: &Badge,
    out: &mut Out,
) -> Result<Feedback, DomainError> {
    let op = cx
        .lk
        .operator(badge.as_str())
        .ok_or_else(|| DomainError::UnknownOperator {
            badge: badge.as_str().to_string(),
        })?;
    let role = op.bench_role();
    if let Some(s) = session {
        out.push(
            None,
            EventBody::LoggedOut {
                bench: bench.to_string(),
                badge: s.badge.clone(),
            },
        );
    }
    out.actor = Actor::operator(role, badge);
    out.push(
        None,
        EventBody::LoggedIn {
            bench: bench.to_string(),
            badge: badge.clone(),
            role,
        },
    );
    Ok(Feedback::ok(
        "logged_in",
        vec![
            ("badge", badge.as_str().into()),
            ("role", role.as_str().into()),
        ],
    ))
}

/// A waybill scan: a parcel already received is selected again; a new one is received as
/// the next return of the local day, announced (its manifest entry copied in) or not.
fn receive(
    cx: &Ctx,
    bench: &str,
    in_progress: Option<&Return>,
    waybill: Waybill,
    courier: String,
    out: &mut Out,
) -> Result<Feedback, DomainError> {
    if let Some(existing) = cx.st.find_by_waybill(waybill.as_str()) {
        return select(cx.st, bench, in_progress, &existing.id.clone(), out);
    }
    if let Some(r) = in_progress {
        return Err(DomainError::ReturnInProgress {
            current: r.id.clone(),
        });
    }
    let date = cx.now.with_timezone(&cx.cfg.tz).date_naive();
    let number = cx.st.numbers.get(&date).copied().unwrap_or(0) + 1;
    let id = ReturnId::new(&cx.cfg.station, date, number);
    let m = cx.lk.manifest(waybill.as_str());
    let body = EventBody::Received {
        bench: bench.to_string(),
        waybill: waybill.clone(),
        courier,
        kind: m.as_ref().map(|m| m.kind),
        number_date: date,
        number,
        announced: m.is_some(),
        manifest_version: m.as_ref().map(|m| m.version),
        order_no: m.as_ref().map(|m| m.order_no.clone()),
        claimed_reason: m.as_ref().map(|m| m.claimed_reason.clone()),
        signed_at: m.as_ref().and_then(|m| m.signed_at),
        free_shipping: m.as_ref().is_some_and(|m| m.free_shipping),
        expected: m.as_ref().map(|m| m.items.clone()).unwrap_or_default(),
    };
    out.push(Some(&id), body);
    match m {
        Some(m) => {
            let expected: u32 = m.items.iter().map(|l| l.qty).sum();
            Ok(Feedback::ok(
                "received",
                vec![
                    ("return_id", id.to_string()),
                    ("kind", m.kind.as_str().into()),
                    ("order_no", m.order_no.clone()),
                    ("expected", expected.to_string()),
                ],
            ))
        }
        None => {
            out.push(Some(&id), EventBody::Unannounced { waybill });
            Ok(Feedback::ok(
                "received_unannounced",
                vec![("return_id", id.to_string())],
            ))
        }
    }
}

/// Open return `id` at this bench (a return-id or item-label scan, or a known waybill),
/// unless another return is in progress here or it is open at another bench.
fn select(
    st: &Station,
    bench: &str,
    in_progress: Option<&Return>,
    id: &ReturnId,
    out: &mut Out,
) -> Result<Feedback, DomainError> {
    let r = st
        .returns
        .get(id)
        .ok_or_else(|| DomainError::UnknownReturn { id: id.to_string() })?;
    if let Some(cur) = in_progress {
        if cur.id == r.id {
            return Ok(Feedback::ok(
                "selected",
                vec![
                    ("return_id", id.to_string()),
                    ("stage", r.stage().as_str().into()),
                ],
            ));
        }
        return Err(DomainError::ReturnInProgress {
            current: cur.id.clone(),
        });
    }
    if r.stage().is_terminal() {
        return Err(DomainError::Terminal {
            id: r.id.clone(),
            stage: r.stage(),
        });
    }
    if let Some((other, _)) = st
        .benches
        .iter()
        .find(|(name, b)| name.as_str() != bench && b.current.as_ref() == Some(&r.id))
    {
        return Err(DomainError::AtOtherBench {
            id: r.id.clone(),
            bench: other.clone(),
        });
    }
    out.push(
        Some(id),
        EventBody::Selected {
            bench: bench.to_string(),
        },
    );
    Ok(Feedback::ok(
        "selected",
        vec![
            ("return_id", id.to_string()),
            ("stage", r.stage().as_str().into()),
        ],
    ))
}

/// A product scan inside the open return: one more unit, matched to the manifest's line by
/// barcode, or an exception (over the expected count, unknown, unannounced parcel).
fn item(r: &Return, p: ProductCode, out: &mut Out) -> Result<Feedback, DomainError> {
    if r.kind.is_none() {
        return Err(DomainError::KindRequired);
    }
    if !r.unpacked {
        return Err(DomainError::NotUnpacked);
    }
    let line: Option<&ExpectedLine> = r.expected.iter().find(|l| p.matches_barcode(&l.barcode));
    let item_no = r.items.iter().map(|i| i.item_no).max().unwrap_or(0) + 1;
    // Units of a SKU: the manifest expects, and already counted in the parcel.
    let expected_of = |sku: &str| -> u32 {
        r.expected
            .iter()
            .filter(|x| x.sku == sku)
            .map(|x| x.qty)
            .sum()
    };
    let counted_of = |sku: &str| r.live_items().filter(|i| i.sku == sku).count() as u32;
    let (sku, barcode, name, exception) = match line {
        Some(l) => {
            let exc = (counted_of(&l.sku) + 1 > expected_of(&l.sku)).then_some(ItemException::Over);
            (l.sku.clone(), l.barcode.clone(), l.name.clone(), exc)
        }
        None => {
            let exc = if r.announced {
                ItemException::Unknown
            } else {
                ItemException::Unannounced
            };
            let code = p
                .gtin
                .as_ref()
                .map(|g| g.display_form())
                .unwrap_or(p.code.clone());
            (code.clone(), code, String::new(), Some(exc))
        }
    };
    let counted = counted_of(&sku) + 1;
    let expected = expected_of(&sku);
    out.push(
        Some(&r.id),
        EventBody::ItemScanned {
            item_no,
            sku: sku.clone(),
            barcode,
            name,
            exception,
        },
    );
    let code = match exception {
        None => "item_counted",
        Some(ItemException::Over) => "item_over",
        Some(ItemException::Unknown) => "item_unknown",
        Some(ItemException::Unannounced) => "item_unannounced",
    };
    Ok(Feedback {
        ok: exception.is_none() || exception == Some(ItemException::Unannounced),
        code,
        params: vec![
            ("sku", sku),
            ("counted", counted.to_string()),
            ("expected", expected.to_string()),
            ("item_no", item_no.to_string()),
        ],
    })
}

/// Book the open return in (`CMD-DONE` or a `Z-PENDING` scan): record the counts against
/// the manifest and the exceptions, move every unit to pending, release the bench.
fn first_check(r: &Return, bench: &str, out: &mut Out) -> Result<Feedback, DomainError> {
    if r.kind.is_none() {
        return Err(DomainError::KindRequired);
    }
    if !r.unpacked {
        return Err(DomainError::NotUnpacked);
    }
    if r.live_items().next().is_none() {
        return Err(DomainError::NoItems);
    }
    let counts: Vec<CountLine> = r
        .counts()
        .into_iter()
        .map(|(sku, expected, counted)| CountLine {
            sku,
            expected,
            counted,
        })
        .collect();
    let mut exceptions = Vec::new();
    for c in &counts {
        if c.counted < c.expected {
            exceptions.push(format!("under:{}", c.sku));
        } else if c.counted > c.expected && c.expected > 0 {
            exceptions.push(format!("over:{}", c.sku));
        } else if c.expected == 0 && r.announced {
            exceptions.push(format!("unknown:{}", c.sku));
        }
    }
    if r.visual != Visual::Ok && r.visual != Visual::NotRecorded {
        exceptions.push(format!("visual:{}", r.visual.as_str()));
    }
    if r.card_present == Some(false) {
        exceptions.push("card_missing".to_string());
    }
    let n_exc = exceptions.len();
    out.push(
        Some(&r.id),
        EventBody::FirstCompleted {
            visual: r.visual,
            counts: counts.clone(),
            exceptions,
            exchange_ship_by: policy::exchange_ship_by(r.received_at),
        },
    );
    let moves: Vec<(u32, String)> = r.live_items().map(|i| (i.item_no, i.sku.clone())).collect();
    move_items(&r.id, &moves, &ItemZone::Bench, &ItemZone::Pending, out);
    out.push(
        Some(&r.id),
        EventBody::Released {
            bench: bench.to_string(),
        },
    );
    Ok(Feedback::ok(
        "first_check_done",
        vec![
            ("return_id", r.id.to_string()),
            ("items", moves.len().to_string()),
            ("exceptions", n_exc.to_string()),
        ],
    ))
}

/// A command code from the printed sheet (`CMD-…`). Most act on the open return.
fn command(
    st: &Station,
    bench: &str,
    badge: &Badge,
    in_progress: Option<&Return>,
    c: CommandCode,
    out: &mut Out,
) -> Result<Feedback, DomainError> {
    let open = || in_progress.ok_or(DomainError::NoCurrentReturn);
    match c {
        CommandCode::KindCustomer => set_kind(open()?, ReturnKind::CustomerReturn, out),
        CommandCode::KindCarrier => set_kind(open()?, ReturnKind::CarrierReturn, out),
        CommandCode::KindRefused => set_kind(open()?, ReturnKind::Refused, out),
        CommandCode::VisualOk => record_visual(open()?, Visual::Ok, out),
        CommandCode::VisualDamaged => record_visual(open()?, Visual::Damaged, out),
        CommandCode::VisualMissingParts => record_visual(open()?, Visual::MissingParts, out),
        CommandCode::CardPresent => record_card(open()?, true, out),
        CommandCode::CardMissing => record_card(open()?, false, out),
        CommandCode::Unpack => unpack(open()?, bench, out),
        CommandCode::Done => first_check(open()?, bench, out),
        CommandCode::Void => void_last(in_progress.ok_or(DomainError::NothingToVoid)?, out),
        CommandCode::Reprint => reprint(st, bench, out),
        CommandCode::Cancel => cancel(st, bench, out),
        CommandCode::Logout => logout(st, bench, badge, out),
    }
}

/// `CMD-KIND-…`: the kind of parcel, once (an announced parcel has it from the manifest).
fn set_kind(r: &Return, kind: ReturnKind, out: &mut Out) -> Result<Feedback, DomainError> {
    if r.kind.is_some() {
        return Err(DomainError::KindAlreadySet);
    }
    out.push(Some(&r.id), EventBody::KindSet { kind });
    Ok(Feedback::ok(
        "kind_set",
        vec![
            ("return_id", r.id.to_string()),
            ("kind", kind.as_str().into()),
        ],
    ))
}

/// `CMD-VISUAL-…`: the keeper's look at the parcel; the last one scanned counts.
fn record_visual(r: &Return, visual: Visual, out: &mut Out) -> Result<Feedback, DomainError> {
    out.push(Some(&r.id), EventBody::VisualRecorded { visual });
    Ok(Feedback::ok(
        "visual_recorded",
        vec![("visual", visual.as_str().into())],
    ))
}

/// `CMD-CARD-…`: the after-sales card is in the parcel or not.
fn record_card(r: &Return, present: bool, out: &mut Out) -> Result<Feedback, DomainError> {
    out.push(Some(&r.id), EventBody::CardRecorded { present });
    Ok(Feedback::ok(
        if present {
            "card_present"
        } else {
            "card_missing"
        },
        vec![("return_id", r.id.to_string())],
    ))
}

/// `CMD-UNPACK`: the parcel is opened (its kind known first) and its return label prints.
fn unpack(r: &Return, bench: &str, out: &mut Out) -> Result<Feedback, DomainError> {
    if r.kind.is_none() {
        return Err(DomainError::KindRequired);
    }
    if r.unpacked {
        return Err(DomainError::AlreadyUnpacked);
    }
    out.push(
        Some(&r.id),
        EventBody::Unpacked {
            bench: bench.to_string(),
        },
    );
    print(&r.id, PrintReason::First, "", out);
    Ok(Feedback::ok(
        "unpacked",
        vec![("return_id", r.id.to_string())],
    ))
}

/// `CMD-VOID`: take back the last item scan.
fn void_last(r: &Return, out: &mut Out) -> Result<Feedback, DomainError> {
    let last = r
        .live_items()
        .max_by_key(|i| i.item_no)
        .ok_or(DomainError::NothingToVoid)?;
    out.push(
        Some(&r.id),
        EventBody::ItemVoided {
            item_no: last.item_no,
        },
    );
    Ok(Feedback::ok(
        "item_voided",
        vec![
            ("sku", last.sku.clone()),
            ("item_no", last.item_no.to_string()),
        ],
    ))
}

/// `CMD-REPRINT`: the return label again, for the open return or the one just released.
fn reprint(st: &Station, bench: &str, out: &mut Out) -> Result<Feedback, DomainError> {
    let b = st.bench(bench);
    let id = b.current.or(b.last).ok_or(DomainError::NoCurrentReturn)?;
    let r = open_return(st, &id)?;
    if !r.unpacked {
        return Err(DomainError::NotUnpacked);
    }
    print(&id, PrintReason::Reprint, "bench: CMD-REPRINT", out);
    Ok(Feedback::ok(
        "reprinted",
        vec![("return_id", id.to_string())],
    ))
}

/// `CMD-CANCEL`: release the bench's return without booking it in (it can be selected
/// again).
fn cancel(st: &Station, bench: &str, out: &mut Out) -> Result<Feedback, DomainError> {
    let b = st.bench(bench);
    let id = b.current.ok_or(DomainError::NoCurrentReturn)?;
    out.push(
        Some(&id),
        EventBody::Released {
            bench: bench.to_string(),
        },
    );
    Ok(Feedback::ok(
        "cancelled",
        vec![("return_id", id.to_string())],
    ))
}

/// The station ends every bench login of `badges` (removed operators, or changed roles or
/// PIN): each such bench releases its return, if any, and logs out — the same events as
/// `CMD-LOGOUT`, by the station. Benches of other operators are left alone.
pub(super) fn end_sessions(st: &Station, now: DateTime<Utc>, badges: &[Badge]) -> Transition {
    let mut out = Out::new(now, Actor::system());
    let mut ended = Vec::new();
    for (name, b) in &st.benches {
        let Some(s) = b.session.as_ref().filter(|s| badges.contains(&s.badge)) else {
            continue;
        };
        if let Some(id) = &b.current {
            out.push(
                Some(id),
                EventBody::Released {
                    bench: name.clone(),
                },
            );
        }
        out.push(
            None,
            EventBody::LoggedOut {
                bench: name.clone(),
                badge: s.badge.clone(),
            },
        );
        ended.push(name.clone());
    }
    out.done(Feedback::ok(
        "bench_sessions_ended",
        vec![("benches", ended.join(", "))],
    ))
}

/// `CMD-LOGOUT`: release the bench's return, if any, and end the session.
fn logout(
    st: &Station,
    bench: &str,
    badge: &Badge,
    out: &mut Out,
) -> Result<Feedback, DomainError> {
    let b = st.bench(bench);
    if let Some(id) = &b.current {
        out.push(
            Some(id),
            EventBody::Released {
                bench: bench.to_string(),
            },
        );
    }
    out.push(
        None,
        EventBody::LoggedOut {
            bench: bench.to_string(),
            badge: badge.clone(),
        },
    );
    Ok(Feedback::ok(
        "logged_out",
        vec![("badge", badge.as_str().into())],
    ))
}
