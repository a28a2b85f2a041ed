//! The returns state machine: `step(state, command, now) -> Transition`. It decides; it
//! never performs I/O. The engine records the transition's events in one transaction and
//! then runs its effects.

use chrono::{DateTime, Utc};

use crate::domain::error::DomainError;
use crate::domain::event::{
    Actor, CheckLine, CountLine, Event, EventBody, FreightRecord, ItemException, PhotoRef,
    PrintReason, RtvLine,
};
use crate::domain::ids::{Badge, ItemRef, ReturnId, Waybill};
use crate::domain::kind::{BinClass, ExpectedLine, Grade, ItemZone, ReturnKind, Role, Visual};
use crate::domain::model::{Return, Station};
use crate::domain::policy;
use crate::domain::ports::{Lookup, Settings};
use crate::domain::scan::{CommandCode, ProductCode, ScanClass, ZoneScan};

mod supervise;

/// Everything the engine can ask the state machine to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// A scan at a bench, already classified by the scan grammar. `text` is its printable form.
    Scan {
        bench: String,
        text: String,
        class: ScanClass,
    },
    Inspect {
        by: Operator,
        return_id: ReturnId,
        /// Empty: every item not yet inspected.
        items: Vec<u32>,
        grade: Grade,
        defect_reasons: Vec<String>,
        note: String,
        photos: Vec<PhotoRef>,
        /// The inspection standard's lines, met or not.
        checklist: Vec<CheckLine>,
    },
    PutAway {
        by: Operator,
        return_id: ReturnId,
        /// Empty: every graded item still in pending.
        items: Vec<u32>,
        zone: ZoneScan,
    },
    ExchangeShipped {
        by: Operator,
        return_id: ReturnId,
        waybill: Waybill,
        /// Empty: every good item in a good zone.
        items: Vec<u32>,
    },
    Restock {
        by: Operator,
        return_id: ReturnId,
    },
    CreateRtvNote {
        by: Operator,
        vendor: String,
        items: Vec<ItemRef>,
    },
    Reprint {
        by: Operator,
        return_id: ReturnId,
        reason: String,
    },
    Void {
        by: Operator,
        return_id: ReturnId,
        reason: String,
    },
    /// Add, relabel, retire or reactivate a bin (supervisor only): `zone.bin_set`.
    SetBin {
        by: Operator,
        code: String,
        change: BinChange,
    },
    /// Record that an RTV note's goods were handed over (supervisor only):
    /// `rtv.note_closed`.
    CloseRtvNote {
        by: Operator,
        note_no: String,
        waybill: Option<Waybill>,
        note: String,
    },
    /// Record that a badge was locked out after repeated wrong PINs (by the station, not
    /// by an operator: the badge may not even exist).
    RecordLockout {
        badge: Badge,
        failures: u32,
        minutes: u32,
    },
}

/// What a supervisor does to a bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinChange {
    /// Add the bin, or set the class and label of an existing one (its active state stays;
    /// a new bin is active). An empty label means none.
    Upsert {
        class: BinClass,
        label: Option<String>,
    },
    /// Refuse further put-away into the bin (it must be empty).
    Retire,
    /// Accept put-away into a retired bin again.
    Reactivate,
}

/// An authenticated operator acting through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub badge: Badge,
    pub role: Role,
}

impl Operator {
    pub(super) fn actor(&self) -> Actor {
        Actor::operator(self.role, &self.badge)
    }
}

/// What the engine must do after committing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Print a label for a return: the return label (`item_no` None) or a per-item label
    /// such as the defect tag.
    PrintLabel {
        return_id: ReturnId,
        template: &'static str,
        reason: PrintReason,
        item_no: Option<u32>,
    },
    /// Print the label of a return-to-vendor note (it belongs to no single return).
    PrintRtvNote { note_no: String },
}

/// What the operator is told. `code` is a translation key; `params` fill its template.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub ok: bool,
    pub code: &'static str,
    pub params: Vec<(&'static str, String)>,
}

impl Feedback {
    pub(super) fn ok(code: &'static str, params: Vec<(&'static str, String)>) -> Feedback {
        Feedback {
            ok: true,
            code,
            params,
        }
    }
}

/// The outcome of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub events: Vec<Event>,
    pub effects: Vec<Effect>,
    pub feedback: Feedback,
    /// A scan that was rejected still records a `scan.recorded` event; this carries why.
    pub rejected: Option<DomainError>,
}

/// Decide what a command does. Scans never fail: a rejected scan is recorded with its
/// reason and fed back. API commands return a typed error and record nothing.
pub fn step(
    st: &Station,
    lk: &dyn Lookup,
    cfg: &Settings,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Transition, DomainError> {
    match cmd {
        Command::Scan { bench, text, class } => Ok(scan(st, lk, cfg, &bench, text, class, now)),
        Command::RecordLockout {
            badge,
            failures,
            minutes,
        } => {
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
            Ok(out.done(Feedback::ok("lockout_recorded", vec![("badge", shown)])))
        }
        other => api(st, lk, cfg, other, now),
    }
}

pub(super) struct Out {
    now: DateTime<Utc>,
    actor: Actor,
    events: Vec<Event>,
    effects: Vec<Effect>,
}

impl Out {
    pub(super) fn new(now: DateTime<Utc>, actor: Actor) -> Out {
        Out {
            now,
            actor,
            events: Vec::new(),
            effects: Vec::new(),
        }
    }
    pub(super) fn push(&mut self, return_id: Option<&ReturnId>, body: EventBody) {
        self.events.push(Event {
            occurred_at: self.now,
            actor: self.actor.clone(),
            return_id: return_id.cloned(),
            body,
        });
    }
    pub(super) fn done(self, feedback: Feedback) -> Transition {
        Transition {
            events: self.events,
            effects: self.effects,
            feedback,
            rejected: None,
        }
    }
}

fn scan(
    st: &Station,
    lk: &dyn Lookup,
    cfg: &Settings,
    bench: &str,
    text: String,
    class: ScanClass,
    now: DateTime<Utc>,
) -> Transition {
    let b = st.bench(bench);
    let actor = match &b.session {
        Some(s) => Actor::operator(s.role, &s.badge),
        None => Actor(format!("bench:{bench}")),
    };
    let class_name = class.kind();
    let mut out = Out::new(now, actor.clone());
    let record = |out: &mut Out, accepted: bool, error: Option<String>, fb: &Feedback| {
        out.events.insert(
            0,
            Event {
                occurred_at: now,
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
    match scan_inner(st, lk, cfg, bench, class, &mut out) {
        Ok(fb) => {
            record(&mut out, true, None, &fb);
            out.done(fb)
        }
        Err(e) => {
            let mut out = Out::new(now, actor.clone());
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

/// An inspection's checklist: at most 50 lines, codes of 1 to 64 letters, digits, `_-.`,
/// each once.
fn check_checklist(lines: &[CheckLine]) -> Result<(), DomainError> {
    let bad = |problem: String| DomainError::BadInput {
        field: "checklist",
        problem,
    };
    if lines.len() > 50 {
        return Err(bad("more than 50 lines".into()));
    }
    for (n, l) in lines.iter().enumerate() {
        let ok = (1..=64).contains(&l.code.len())
            && l.code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !ok {
            return Err(bad(format!(
                "line {}: a code is 1 to 64 letters, digits, _ - .",
                n + 1
            )));
        }
        if lines[..n].iter().any(|o| o.code == l.code) {
            return Err(bad(format!("{} listed twice", l.code)));
        }
    }
    Ok(())
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

fn scan_inner(
    st: &Station,
    lk: &dyn Lookup,
    cfg: &Settings,
    bench: &str,
    class: ScanClass,
    out: &mut Out,
) -> Result<Feedback, DomainError> {
    let b = st.bench(bench);
    if let ScanClass::Unrecognised(r) = class {
        return Err(DomainError::Unrecognised(r));
    }
    if let ScanClass::Badge(badge) = &class {
        let op = lk
            .operator(badge.as_str())
            .ok_or_else(|| DomainError::UnknownOperator {
                badge: badge.as_str().to_string(),
            })?;
        let role = op.primary_role();
        if let Some(s) = &b.session {
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
        return Ok(Feedback::ok(
            "logged_in",
            vec![
                ("badge", badge.as_str().into()),
                ("role", role.as_str().into()),
            ],
        ));
    }
    let Some(session) = &b.session else {
        return Err(DomainError::LoginRequired);
    };
    let in_progress = b
        .current
        .as_ref()
        .and_then(|id| st.returns.get(id))
        .filter(|r| r.first_checked_at.is_none() && !r.stage().is_terminal());

    match class {
        ScanClass::Unrecognised(_) | ScanClass::Badge(_) => {
            Err(DomainError::NotNow { what: "scan" })
        }
        ScanClass::Waybill { waybill, courier } => {
            receive(st, lk, cfg, bench, in_progress, waybill, courier, out)
        }
        ScanClass::Ambiguous {
            waybill,
            courier,
            product,
        } => {
            // Context decides (README, "ambiguous codes"): a manifest waybill wins; inside an
            // open return the code is a product; otherwise it is a waybill.
            if lk.manifest(waybill.as_str()).is_some()
                || st.find_by_waybill(waybill.as_str()).is_some()
            {
                receive(st, lk, cfg, bench, in_progress, waybill, courier, out)
            } else if let Some(r) = in_progress {
                item(r, product, out)
            } else {
                receive(st, lk, cfg, bench, in_progress, waybill, courier, out)
            }
        }
        ScanClass::ReturnId(id) => select(st, bench, in_progress, &id, out),
        ScanClass::Item(item) => select(st, bench, in_progress, &item.return_id, out),
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
        ScanClass::Command(c) => command(st, bench, session.badge.clone(), in_progress, c, out),
    }
}

#[allow(clippy::too_many_arguments)]
fn receive(
    st: &Station,
    lk: &dyn Lookup,
    cfg: &Settings,
    bench: &str,
    in_progress: Option<&Return>,
    waybill: Waybill,
    courier: String,
    out: &mut Out,
) -> Result<Feedback, DomainError> {
    if let Some(existing) = st.find_by_waybill(waybill.as_str()) {
        return select(st, bench, in_progress, &existing.id.clone(), out);
    }
    if let Some(r) = in_progress {
        return Err(DomainError::ReturnInProgress {
            current: r.id.clone(),
        });
    }
    let date = out.now.with_timezone(&cfg.tz).date_naive();
    let number = st.numbers.get(&date).copied().unwrap_or(0) + 1;
    let id = ReturnId::new(&cfg.station, date, number);
    let m = lk.manifest(waybill.as_str());
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

fn item(r: &Return, p: ProductCode, out: &mut Out) -> Result<Feedback, DomainError> {
    if r.kind.is_none() {
        return Err(DomainError::KindRequired);
    }
    if !r.unpacked {
        return Err(DomainError::NotUnpacked);
    }
    let line: Option<&ExpectedLine> = r.expected.iter().find(|l| p.matches_barcode(&l.barcode));
    let item_no = r.items.iter().map(|i| i.item_no).max().unwrap_or(0) + 1;
    let (sku, barcode, name, exception) = match line {
        Some(l) => {
            let expected: u32 = r
                .expected
                .iter()
                .filter(|x| x.sku == l.sku)
                .map(|x| x.qty)
                .sum();
            let counted = r.live_items().filter(|i| i.sku == l.sku).count() as u32;
            let exc = (counted + 1 > expected).then_some(ItemException::Over);
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
    let counted = r.live_items().filter(|i| i.sku == sku).count() as u32 + 1;
    let expected: u32 = r
        .expected
        .iter()
        .filter(|x| x.sku == sku)
        .map(|x| x.qty)
        .sum();
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

/// Move units from one zone to another: an `item.moved` per unit and one `ledger.entry`
/// per SKU, so the ledger always balances against the items.
fn move_items(
    id: &ReturnId,
    items: &[(u32, String)],
    from: &ItemZone,
    to: &ItemZone,
    out: &mut Out,
) {
    let mut per_sku: Vec<(String, u32)> = Vec::new();
    for (no, sku) in items {
        out.push(
            Some(id),
            EventBody::ItemMoved {
                item_no: *no,
                from: from.clone(),
                to: to.clone(),
            },
        );
        match per_sku.iter_mut().find(|(s, _)| s == sku) {
            Some(e) => e.1 += 1,
            None => per_sku.push((sku.clone(), 1)),
        }
    }
    for (sku, qty) in per_sku {
        out.push(
            Some(id),
            EventBody::Ledger {
                sku,
                from: from.ledger_name(),
                to: to.ledger_name(),
                qty,
            },
        );
    }
}

fn command(
    st: &Station,
    bench: &str,
    badge: Badge,
    in_progress: Option<&Return>,
    c: CommandCode,
    out: &mut Out,
) -> Result<Feedback, DomainError> {
    let kind = match c {
        CommandCode::KindCustomer => Some(ReturnKind::CustomerReturn),
        CommandCode::KindCarrier => Some(ReturnKind::CarrierReturn),
        CommandCode::KindRefused => Some(ReturnKind::Refused),
        _ => None,
    };
    if let Some(kind) = kind {
        let r = in_progress.ok_or(DomainError::NoCurrentReturn)?;
        if r.kind.is_some() {
            return Err(DomainError::KindAlreadySet);
        }
        out.push(Some(&r.id), EventBody::KindSet { kind });
        return Ok(Feedback::ok(
            "kind_set",
            vec![
                ("return_id", r.id.to_string()),
                ("kind", kind.as_str().into()),
            ],
        ));
    }
    let visual = match c {
        CommandCode::VisualOk => Some(Visual::Ok),
        CommandCode::VisualDamaged => Some(Visual::Damaged),
        CommandCode::VisualMissingParts => Some(Visual::MissingParts),
        _ => None,
    };
    if let Some(visual) = visual {
        let r = in_progress.ok_or(DomainError::NoCurrentReturn)?;
        out.push(Some(&r.id), EventBody::VisualRecorded { visual });
        return Ok(Feedback::ok(
            "visual_recorded",
            vec![("visual", visual.as_str().into())],
        ));
    }
    match c {
        CommandCode::CardPresent | CommandCode::CardMissing => {
            let r = in_progress.ok_or(DomainError::NoCurrentReturn)?;
            let present = c == CommandCode::CardPresent;
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
        CommandCode::Unpack => {
            let r = in_progress.ok_or(DomainError::NoCurrentReturn)?;
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
        CommandCode::Done => {
            let r = in_progress.ok_or(DomainError::NoCurrentReturn)?;
            first_check(r, bench, out)
        }
        CommandCode::Void => {
            let r = in_progress.ok_or(DomainError::NothingToVoid)?;
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
        CommandCode::Reprint => {
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
        CommandCode::Cancel => {
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
        CommandCode::Logout => {
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
        _ => Err(DomainError::NotNow { what: "command" }),
    }
}

fn print(id: &ReturnId, reason: PrintReason, note: &str, out: &mut Out) {
    out.push(
        Some(id),
        EventBody::LabelPrinted {
            template: "return_label".to_string(),
            reason,
            copies: 1,
            note: note.to_string(),
        },
    );
    out.effects.push(Effect::PrintLabel {
        return_id: id.clone(),
        template: "return_label",
        reason,
        item_no: None,
    });
}

pub(super) fn require(
    by: &Operator,
    allowed: &[Role],
    action: &'static str,
) -> Result<(), DomainError> {
    if allowed.contains(&by.role) {
        Ok(())
    } else {
        Err(DomainError::RoleNotAllowed {
            role: by.role,
            action,
        })
    }
}

fn open_return<'a>(st: &'a Station, id: &ReturnId) -> Result<&'a Return, DomainError> {
    let r = st
        .returns
        .get(id)
        .ok_or_else(|| DomainError::UnknownReturn { id: id.to_string() })?;
    if r.stage().is_terminal() {
        return Err(DomainError::Terminal {
            id: r.id.clone(),
            stage: r.stage(),
        });
    }
    Ok(r)
}

fn api(
    st: &Station,
    lk: &dyn Lookup,
    cfg: &Settings,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Transition, DomainError> {
    match cmd {
        Command::Scan { .. } => Err(DomainError::NotNow { what: "scan" }),
        Command::RecordLockout { .. } => Err(DomainError::NotNow { what: "lockout" }),
        Command::Inspect {
            by,
            return_id,
            items,
            grade,
            defect_reasons,
            note,
            photos,
            checklist,
        } => {
            require(&by, &[Role::Inspector, Role::Supervisor], "inspect")?;
            let r = open_return(st, &return_id)?;
            if r.first_checked_at.is_none() {
                return Err(DomainError::NotFirstChecked { id: r.id.clone() });
            }
            let actor = by.actor();
            if cfg.two_person_check && r.first_checked_by.as_deref() == Some(actor.as_str()) {
                return Err(DomainError::SamePerson);
            }
            if cfg.two_person_check
                && let Some(fc) = &r.first_checked_by
                && fc.rsplit(':').next() == Some(by.badge.as_str())
            {
                return Err(DomainError::SamePerson);
            }
            let targets = pick_items(r, &items, |i| i.grade.is_none())?;
            for no in &targets {
                let i = r.item(*no).ok_or(DomainError::ItemNotFound {
                    id: r.id.clone(),
                    item_no: *no,
                })?;
                if i.grade.is_some() {
                    return Err(DomainError::ItemAlreadyInspected { item_no: *no });
                }
            }
            if targets.is_empty() {
                return Err(DomainError::NothingToInspect);
            }
            match grade {
                Grade::Defect => {
                    if defect_reasons.is_empty() {
                        return Err(DomainError::DefectNeedsReason);
                    }
                    if cfg.defect_photo_required && photos.is_empty() {
                        return Err(DomainError::PhotoRequired);
                    }
                }
                Grade::Good => {
                    if !defect_reasons.is_empty() {
                        return Err(DomainError::ReasonsOnlyForDefects);
                    }
                }
            }
            for code in &defect_reasons {
                if lk.defect_reason(code).is_none() {
                    return Err(DomainError::UnknownDefectReason { code: code.clone() });
                }
            }
            if note.chars().count() > 2000 {
                return Err(DomainError::BadInput {
                    field: "note",
                    problem: "longer than 2000 characters".into(),
                });
            }
            check_checklist(&checklist)?;
            let mut out = Out::new(now, actor);
            out.push(
                Some(&r.id),
                EventBody::Inspected {
                    items: targets.clone(),
                    grade,
                    defect_reasons: defect_reasons.clone(),
                    note,
                    photos,
                    checklist,
                },
            );
            // Each defective item gets a defect tag (with the reasons) to go with it to the
            // defect zone.
            if grade == Grade::Defect {
                out.push(
                    Some(&r.id),
                    EventBody::LabelPrinted {
                        template: "defect_tag".to_string(),
                        reason: PrintReason::First,
                        copies: targets.len() as u32,
                        note: String::new(),
                    },
                );
                for no in &targets {
                    out.effects.push(Effect::PrintLabel {
                        return_id: r.id.clone(),
                        template: "defect_tag",
                        reason: PrintReason::First,
                        item_no: Some(*no),
                    });
                }
            }
            // When this completes the inspection of the whole return, the refund falls due.
            let remaining = r
                .live_items()
                .filter(|i| i.grade.is_none() && !targets.contains(&i.item_no))
                .count();
            if remaining == 0 {
                refund_due(r, lk, cfg, &targets, grade, &defect_reasons, &mut out);
            }
            Ok(out.done(Feedback::ok(
                "inspected",
                vec![
                    ("return_id", r.id.to_string()),
                    ("items", targets.len().to_string()),
                    ("grade", grade.as_str().into()),
                ],
            )))
        }
        Command::PutAway {
            by,
            return_id,
            items,
            zone,
        } => {
            require(
                &by,
                &[Role::Keeper, Role::Inspector, Role::Supervisor],
                "put_away",
            )?;
            let r = open_return(st, &return_id)?;
            let targets = pick_items(r, &items, |i| {
                i.grade.is_some() && matches!(i.zone, ItemZone::Pending)
            })?;
            if targets.is_empty() {
                return Err(DomainError::NothingToMove);
            }
            let mut groups: Vec<(ItemZone, Vec<(u32, String)>)> = Vec::new();
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
                let to = target_zone(st, lk, grade, &zone, *no)?;
                match groups.iter_mut().find(|(z, _)| *z == to) {
                    Some(g) => g.1.push((*no, i.sku.clone())),
                    None => groups.push((to, vec![(*no, i.sku.clone())])),
                }
            }
            let mut out = Out::new(now, by.actor());
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
        Command::ExchangeShipped {
            by,
            return_id,
            waybill,
            items,
        } => {
            require(&by, &[Role::Keeper, Role::Supervisor], "exchange_shipped")?;
            let r = open_return(st, &return_id)?;
            let targets = pick_items(r, &items, |i| {
                matches!(i.zone, ItemZone::Good(_)) && i.grade == Some(Grade::Good)
            })?;
            if targets.is_empty() {
                return Err(DomainError::NothingToMove);
            }
            let mut out = Out::new(now, by.actor());
            out.push(
                Some(&r.id),
                EventBody::ExchangeShipped {
                    waybill,
                    items: targets.clone(),
                },
            );
            let mut by_zone: Vec<(ItemZone, Vec<(u32, String)>)> = Vec::new();
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
                match by_zone.iter_mut().find(|(z, _)| *z == i.zone) {
                    Some(g) => g.1.push((*no, i.sku.clone())),
                    None => by_zone.push((i.zone.clone(), vec![(*no, i.sku.clone())])),
                }
            }
            for (from, list) in &by_zone {
                move_items(&r.id, list, from, &ItemZone::Customer, &mut out);
            }
            close_if_done(st, &r.id, &mut out);
            Ok(out.done(Feedback::ok(
                "exchange_shipped",
                vec![
                    ("return_id", r.id.to_string()),
                    ("items", targets.len().to_string()),
                ],
            )))
        }
        Command::Restock { by, return_id } => {
            require(&by, &[Role::Keeper, Role::Supervisor], "restock")?;
            let r = open_return(st, &return_id)?;
            let targets: Vec<u32> = r
                .live_items()
                .filter(|i| matches!(i.zone, ItemZone::Good(_)) && !i.restocked)
                .map(|i| i.item_no)
                .collect();
            if targets.is_empty() {
                return Err(DomainError::NothingToMove);
            }
            let mut out = Out::new(now, by.actor());
            out.push(
                Some(&r.id),
                EventBody::Restocked {
                    items: targets.clone(),
                },
            );
            close_if_done(st, &r.id, &mut out);
            Ok(out.done(Feedback::ok(
                "restocked",
                vec![
                    ("return_id", r.id.to_string()),
                    ("items", targets.len().to_string()),
                ],
            )))
        }
        Command::CreateRtvNote { by, vendor, items } => {
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
            let mut lines = Vec::new();
            for it in &items {
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
                if lines.iter().any(|l: &(RtvLine, ItemZone)| l.0.item == *it) {
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
            let date = now.with_timezone(&cfg.tz).date_naive();
            let n = st.rtv_numbers.get(&date).copied().unwrap_or(0) + 1;
            let note_no = format!(
                "RTV-{}-{}-{:04}",
                cfg.station.as_str(),
                date.format("%Y%m%d"),
                n
            );
            let mut out = Out::new(now, by.actor());
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
                close_if_done(st, id, &mut out);
            }
            Ok(out.done(Feedback::ok(
                "rtv_created",
                vec![("note_no", note_no), ("items", lines.len().to_string())],
            )))
        }
        Command::Reprint {
            by,
            return_id,
            reason,
        } => {
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
            let r = open_return(st, &return_id)?;
            if !r.unpacked {
                return Err(DomainError::NotUnpacked);
            }
            let mut out = Out::new(now, by.actor());
            print(&r.id, PrintReason::Reprint, reason.trim(), &mut out);
            Ok(out.done(Feedback::ok(
                "reprinted",
                vec![("return_id", r.id.to_string())],
            )))
        }
        Command::SetBin { by, code, change } => supervise::set_bin(st, lk, by, code, change, now),
        Command::CloseRtvNote {
            by,
            note_no,
            waybill,
            note,
        } => supervise::close_rtv_note(st, by, note_no, waybill, note, now),
        Command::Void {
            by,
            return_id,
            reason,
        } => {
            require(&by, &[Role::Supervisor], "void")?;
            let r = open_return(st, &return_id)?;
            if r.first_checked_at.is_some() {
                return Err(DomainError::VoidAfterBooking);
            }
            if reason.trim().is_empty() {
                return Err(DomainError::BadInput {
                    field: "reason",
                    problem: "a void needs a reason".into(),
                });
            }
            let mut out = Out::new(now, by.actor());
            out.push(Some(&r.id), EventBody::Voided { reason });
            Ok(out.done(Feedback::ok(
                "voided",
                vec![("return_id", r.id.to_string())],
            )))
        }
    }
}

/// The items a command targets: the listed ones (each must exist), or every item that
/// `default` selects when the list is empty.
fn pick_items(
    r: &Return,
    items: &[u32],
    default: impl Fn(&crate::domain::model::Item) -> bool,
) -> Result<Vec<u32>, DomainError> {
    if items.is_empty() {
        return Ok(r
            .live_items()
            .filter(|i| default(i))
            .map(|i| i.item_no)
            .collect());
    }
    let mut out = Vec::new();
    for no in items {
        if r.item(*no).is_none() {
            return Err(DomainError::ItemNotFound {
                id: r.id.clone(),
                item_no: *no,
            });
        }
        if !out.contains(no) {
            out.push(*no);
        }
    }
    Ok(out)
}

fn target_zone(
    st: &Station,
    lk: &dyn Lookup,
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
        // The effective bin: the config's, overlaid by supervisors' edits (`zone.bin_set`).
        (g, ZoneScan::Bin(b)) => match (g, st.bin(lk, b)) {
            (_, None) => Err(DomainError::UnknownBin { bin: b.clone() }),
            (_, Some(bin)) if !bin.active => Err(DomainError::BinRetired { bin: b.clone() }),
            (Grade::Good, Some(bin)) if bin.class == BinClass::Good => {
                Ok(ItemZone::Good(Some(b.clone())))
            }
            (Grade::Defect, Some(bin)) if bin.class == BinClass::Defect => {
                Ok(ItemZone::Defect(Some(b.clone())))
            }
            _ => Err(wrong(b)),
        },
    }
}

/// Close a return when every unit has left or been restocked, looking at the state the
/// events pushed so far would produce.
fn close_if_done(st: &Station, id: &ReturnId, out: &mut Out) {
    let Some(mut r) = st.returns.get(id).cloned() else {
        return;
    };
    for ev in &out.events {
        if ev.return_id.as_ref() == Some(id) {
            crate::domain::model::apply_to_return(&mut r, &ev.body, &ev.actor.0, ev.occurred_at);
        }
    }
    if r.all_done() && !r.closed {
        out.push(
            Some(id),
            EventBody::Closed {
                reason: crate::domain::event::CloseReason::Completed,
            },
        );
    }
}

fn refund_due(
    r: &Return,
    lk: &dyn Lookup,
    cfg: &Settings,
    targets: &[u32],
    grade: Grade,
    reasons: &[String],
    out: &mut Out,
) {
    let Some(kind) = r.kind else { return };
    let claimed_s = r.claimed_reason.clone().unwrap_or_default();
    let claimed = policy::ClaimedReason::parse(&claimed_s);
    if !policy::refund_applies(kind, claimed) {
        return;
    }
    // The worst finding across the parcel decides fault: a seller-fault defect wins.
    let mut seller_defect = false;
    let mut other_defect = false;
    let mut check = |g: Grade, rs: &[String]| {
        if g == Grade::Defect {
            if rs
                .iter()
                .any(|c| lk.defect_reason(c).is_some_and(|d| d.seller_fault))
            {
                seller_defect = true;
            } else {
                other_defect = true;
            }
        }
    };
    for i in r.live_items() {
        if targets.contains(&i.item_no) {
            check(grade, reasons);
        } else if let Some(g) = i.grade {
            check(g, &i.defect_reasons);
        }
    }
    let finding = if seller_defect {
        policy::Finding::Defect { seller_fault: true }
    } else if other_defect {
        policy::Finding::Defect {
            seller_fault: false,
        }
    } else {
        policy::Finding::Good
    };
    let d = policy::decide_freight(&policy::FreightInput {
        kind,
        claimed,
        finding,
        free_shipping: r.free_shipping,
    });
    let within = r
        .signed_at
        .map(|s| policy::no_reason_window(s, cfg.tz).contains(r.received_at));
    out.push(
        Some(&r.id),
        EventBody::RefundDue {
            due_by: policy::refund_due_by(r.received_at),
            freight: FreightRecord {
                fault: d.fault.as_str().to_string(),
                outbound: d.outbound,
                return_leg: d.return_leg,
                rule: d.rule.to_string(),
            },
            claimed_reason: claimed.as_str().to_string(),
            within_no_reason_window: within,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(code: &str, met: bool) -> CheckLine {
        CheckLine {
            code: code.to_string(),
            met,
        }
    }

    /// A checklist's lines: codes of the standard's kind, each once, at most 50.
    #[test]
    fn checklists_are_checked() {
        assert!(check_checklist(&[]).is_ok());
        assert!(check_checklist(&[line("tags_on", true), line("no_odour", false)]).is_ok());
        let refused = |lines: &[CheckLine]| match check_checklist(lines) {
            Err(DomainError::BadInput { field, problem }) => {
                assert_eq!(field, "checklist");
                problem
            }
            other => panic!("{other:?}"),
        };
        assert!(refused(&[line("a", true), line("a", false)]).contains("twice"));
        assert!(refused(&[line("", true)]).contains("line 1"));
        assert!(refused(&[line("ok", true), line("<script>", true)]).contains("line 2"));
        let many: Vec<CheckLine> = (0..51).map(|i| line(&format!("l{i}"), true)).collect();
        assert!(refused(&many).contains("50"));
    }
}
