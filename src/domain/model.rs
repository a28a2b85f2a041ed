//! The station's state, folded from events by [`Station::apply`]. The same fold runs live
//! (after each committed transaction) and when projections are rebuilt from the journal,
//! so the two can never disagree.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::event::{CheckLine, Event, EventBody, ItemException, PhotoRef, RtvLine};
use super::ids::{Badge, ReturnId, Waybill};
use super::kind::{BinClass, ExpectedLine, Grade, ItemZone, ReturnKind, Role, Visual};
use super::ports::Lookup;

/// The stage of a return, derived from its items and facts (see [`Return::stage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Received,
    Unpacked,
    FirstChecked,
    Inspected,
    PutAway,
    Closed,
    Voided,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Received => "received",
            Stage::Unpacked => "unpacked",
            Stage::FirstChecked => "first_checked",
            Stage::Inspected => "inspected",
            Stage::PutAway => "put_away",
            Stage::Closed => "closed",
            Stage::Voided => "voided",
        }
    }
    pub fn is_terminal(self) -> bool {
        matches!(self, Stage::Closed | Stage::Voided)
    }
}

/// One physical unit in a return.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub item_no: u32,
    pub sku: String,
    pub barcode: String,
    pub name: String,
    pub exception: Option<ItemException>,
    pub voided: bool,
    pub zone: ItemZone,
    pub grade: Option<Grade>,
    pub defect_reasons: Vec<String>,
    pub note: String,
    pub photos: Vec<PhotoRef>,
    /// The inspection standard's lines as the inspector answered them.
    pub checklist: Vec<CheckLine>,
    pub inspected_by: Option<String>,
    pub restocked: bool,
}

/// One returned parcel's case.
#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    pub id: ReturnId,
    pub waybill: Waybill,
    pub courier: String,
    pub kind: Option<ReturnKind>,
    pub announced: bool,
    pub manifest_version: Option<i64>,
    pub order_no: Option<String>,
    pub claimed_reason: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    pub free_shipping: bool,
    pub expected: Vec<ExpectedLine>,
    pub received_at: DateTime<Utc>,
    pub received_by: String,
    pub card_present: Option<bool>,
    pub unpacked: bool,
    pub labels_printed: u32,
    /// How many of those were reprints (counted: a reprint is an exception worth watching).
    pub reprints: u32,
    pub visual: Visual,
    pub first_checked_at: Option<DateTime<Utc>>,
    pub first_checked_by: Option<String>,
    pub exchange_ship_by: Option<DateTime<Utc>>,
    pub refund_due_by: Option<DateTime<Utc>>,
    pub items: Vec<Item>,
    pub closed: bool,
    pub voided: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The waybill of the exchange shipment, once shipped.
    pub exchange_waybill: Option<Waybill>,
}

impl Return {
    /// Live (non-voided) items.
    pub fn live_items(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| !i.voided)
    }

    pub fn item(&self, item_no: u32) -> Option<&Item> {
        self.live_items().find(|i| i.item_no == item_no)
    }

    pub fn stage(&self) -> Stage {
        if self.voided.is_some() {
            return Stage::Voided;
        }
        if self.closed {
            return Stage::Closed;
        }
        if self.first_checked_at.is_none() {
            return if self.unpacked {
                Stage::Unpacked
            } else {
                Stage::Received
            };
        }
        let mut any = false;
        let mut all_graded = true;
        let mut all_put = true;
        for i in self.live_items() {
            any = true;
            if i.grade.is_none() {
                all_graded = false;
            }
            if matches!(i.zone, ItemZone::Bench | ItemZone::Pending) {
                all_put = false;
            }
        }
        if !any || !all_graded {
            Stage::FirstChecked
        } else if !all_put {
            Stage::Inspected
        } else {
            Stage::PutAway
        }
    }

    /// Counted units per SKU in manifest order, then unexpected SKUs.
    pub fn counts(&self) -> Vec<(String, u32, u32)> {
        let mut out: Vec<(String, u32, u32)> = Vec::new();
        for line in &self.expected {
            match out.iter_mut().find(|(s, _, _)| *s == line.sku) {
                Some(row) => row.1 += line.qty,
                None => out.push((line.sku.clone(), line.qty, 0)),
            }
        }
        for item in self.live_items() {
            match out.iter_mut().find(|(s, _, _)| *s == item.sku) {
                Some(row) => row.2 += 1,
                None => out.push((item.sku.clone(), 0, 1)),
            }
        }
        out
    }

    /// Every unit is out of the station or released to sellable stock.
    pub fn all_done(&self) -> bool {
        let mut any = false;
        for i in self.live_items() {
            any = true;
            let done = i.zone.is_out() || (matches!(i.zone, ItemZone::Good(_)) && i.restocked);
            if !done {
                return false;
            }
        }
        any
    }
}

/// An operator logged in at a bench.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub badge: Badge,
    pub role: Role,
}

/// A returns bench (one scanner position).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bench {
    pub session: Option<Session>,
    pub current: Option<ReturnId>,
    /// The last return released from this bench, for reprint after DONE.
    pub last: Option<ReturnId>,
}

/// Stock of one SKU in one ledger zone.
pub type StockKey = (String, String);

/// A supervisor's edit of a bin (`zone.bin_set`): its whole state, overlaying the
/// configured bin of the same code (or adding a bin the config does not have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinEdit {
    pub class: BinClass,
    pub label: Option<String>,
    pub active: bool,
    pub at: DateTime<Utc>,
    pub by: String,
}

/// A bin as the station uses it now: the configured one, overlaid by the last edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveBin {
    pub code: String,
    pub class: BinClass,
    pub label: Option<String>,
    pub active: bool,
    /// A supervisor's edit decides it (else it is the config's bin as written).
    pub edited: bool,
}

/// A return-to-vendor note 《退厂单》, folded from `rtv.note_created` and `rtv.note_closed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtvNote {
    pub note_no: String,
    pub vendor: String,
    pub lines: Vec<RtvLine>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub closed: Option<RtvClosed>,
}

/// The handover of an RTV note's goods to the vendor or their carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtvClosed {
    pub at: DateTime<Utc>,
    pub by: String,
    pub waybill: Option<Waybill>,
    pub note: String,
}

/// Everything the station knows, folded from its journal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Station {
    pub returns: BTreeMap<ReturnId, Return>,
    pub by_waybill: HashMap<String, ReturnId>,
    pub benches: BTreeMap<String, Bench>,
    /// Highest return number used per local day.
    pub numbers: BTreeMap<NaiveDate, u32>,
    /// Highest RTV note number used per local day.
    pub rtv_numbers: BTreeMap<NaiveDate, u32>,
    /// Ledger balance per (zone, sku); derived from `ledger.entry` events.
    pub stock: BTreeMap<StockKey, i64>,
    /// Supervisors' bin edits by code (`zone.bin_set`); the config's bins lie beneath.
    pub bins: BTreeMap<String, BinEdit>,
    /// Return-to-vendor notes by number.
    pub rtv_notes: BTreeMap<String, RtvNote>,
}

impl Station {
    pub fn bench(&self, name: &str) -> Bench {
        self.benches.get(name).cloned().unwrap_or_default()
    }

    pub fn find_by_waybill(&self, waybill: &str) -> Option<&Return> {
        self.by_waybill
            .get(waybill)
            .and_then(|id| self.returns.get(id))
    }

    /// The bin `code` as it is now: the supervisor's last edit, else the configured bin.
    pub fn bin(&self, lk: &dyn Lookup, code: &str) -> Option<EffectiveBin> {
        if let Some(e) = self.bins.get(code) {
            return Some(EffectiveBin {
                code: code.to_string(),
                class: e.class,
                label: e.label.clone(),
                active: e.active,
                edited: true,
            });
        }
        lk.bin(code).map(|class| EffectiveBin {
            code: code.to_string(),
            class,
            label: None,
            active: true,
            edited: false,
        })
    }

    /// Units the ledger holds in bin `code` (under either class's zone name).
    pub fn units_in_bin(&self, code: &str) -> i64 {
        let good = ItemZone::Good(Some(code.to_string())).ledger_name();
        let defect = ItemZone::Defect(Some(code.to_string())).ledger_name();
        self.stock
            .iter()
            .filter(|((zone, _), _)| *zone == good || *zone == defect)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Fold one committed event into the state.
    pub fn apply(&mut self, ev: &Event) {
        let at = ev.occurred_at;
        let rid = ev.return_id.clone();
        match &ev.body {
            EventBody::LoggedIn { bench, badge, role } => {
                let b = self.benches.entry(bench.clone()).or_default();
                b.session = Some(Session {
                    badge: badge.clone(),
                    role: *role,
                });
            }
            EventBody::LoggedOut { bench, .. } => {
                let b = self.benches.entry(bench.clone()).or_default();
                b.session = None;
                self.benches.retain(|_, b| *b != Bench::default());
            }
            EventBody::ScanRecorded { .. } => {}
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
            } => {
                let Some(id) = rid else { return };
                let n = self.numbers.entry(*number_date).or_insert(0);
                *n = (*n).max(*number);
                self.by_waybill
                    .insert(waybill.as_str().to_string(), id.clone());
                self.returns.insert(
                    id.clone(),
                    Return {
                        id: id.clone(),
                        waybill: waybill.clone(),
                        courier: courier.clone(),
                        kind: *kind,
                        announced: *announced,
                        manifest_version: *manifest_version,
                        order_no: order_no.clone(),
                        claimed_reason: claimed_reason.clone(),
                        signed_at: *signed_at,
                        free_shipping: *free_shipping,
                        expected: expected.clone(),
                        received_at: at,
                        received_by: ev.actor.0.clone(),
                        card_present: None,
                        unpacked: false,
                        labels_printed: 0,
                        reprints: 0,
                        visual: Visual::NotRecorded,
                        first_checked_at: None,
                        first_checked_by: None,
                        exchange_ship_by: None,
                        refund_due_by: None,
                        items: Vec::new(),
                        closed: false,
                        voided: None,
                        updated_at: at,
                        exchange_waybill: None,
                    },
                );
                let b = self.benches.entry(bench.clone()).or_default();
                b.current = Some(id);
            }
            EventBody::Selected { bench } => {
                let b = self.benches.entry(bench.clone()).or_default();
                b.current = rid;
            }
            EventBody::Released { bench } => {
                let b = self.benches.entry(bench.clone()).or_default();
                if b.current.is_some() {
                    b.last = b.current.take();
                }
            }
            EventBody::Ledger { sku, from, to, qty } => {
                let q = i64::from(*qty);
                if from != "in" {
                    *self.stock.entry((from.clone(), sku.clone())).or_insert(0) -= q;
                }
                if to != "vendor" && to != "customer" {
                    *self.stock.entry((to.clone(), sku.clone())).or_insert(0) += q;
                }
                self.stock.retain(|_, v| *v != 0);
            }
            EventBody::RtvNoteCreated {
                note_no,
                vendor,
                lines,
            } => {
                if let Some((date, n)) = parse_rtv_number(note_no) {
                    let e = self.rtv_numbers.entry(date).or_insert(0);
                    *e = (*e).max(n);
                }
                self.rtv_notes.insert(
                    note_no.clone(),
                    RtvNote {
                        note_no: note_no.clone(),
                        vendor: vendor.clone(),
                        lines: lines.clone(),
                        created_at: at,
                        created_by: ev.actor.0.clone(),
                        closed: None,
                    },
                );
            }
            EventBody::RtvNoteClosed {
                note_no,
                waybill,
                note,
            } => {
                if let Some(n) = self.rtv_notes.get_mut(note_no) {
                    n.closed = Some(RtvClosed {
                        at,
                        by: ev.actor.0.clone(),
                        waybill: waybill.clone(),
                        note: note.clone(),
                    });
                }
            }
            EventBody::BinSet {
                code,
                class,
                label,
                active,
            } => {
                self.bins.insert(
                    code.clone(),
                    BinEdit {
                        class: *class,
                        label: label.clone(),
                        active: *active,
                        at,
                        by: ev.actor.0.clone(),
                    },
                );
            }
            body => {
                let Some(id) = rid else { return };
                let Some(r) = self.returns.get_mut(&id) else {
                    return;
                };
                r.updated_at = at;
                apply_to_return(r, body, &ev.actor.0, at);
                if r.stage().is_terminal() {
                    for b in self.benches.values_mut() {
                        if b.current.as_ref() == Some(&id) {
                            b.last = b.current.take();
                        }
                    }
                }
            }
        }
    }

    /// Units per (ledger zone, sku) counted from the items themselves; the ledger balance
    /// must always equal this (an invariant the property tests check).
    pub fn stock_from_items(&self) -> BTreeMap<StockKey, i64> {
        let mut out = BTreeMap::new();
        for r in self.returns.values() {
            if r.first_checked_at.is_none() {
                continue;
            }
            for i in r.live_items() {
                if matches!(i.zone, ItemZone::Bench) || i.zone.is_out() {
                    continue;
                }
                *out.entry((i.zone.ledger_name(), i.sku.clone()))
                    .or_insert(0) += 1;
            }
        }
        out
    }
}

pub(crate) fn apply_to_return(r: &mut Return, body: &EventBody, actor: &str, at: DateTime<Utc>) {
    match body {
        EventBody::Unannounced { .. } => {}
        EventBody::KindSet { kind } => r.kind = Some(*kind),
        EventBody::CardRecorded { present } => r.card_present = Some(*present),
        EventBody::Unpacked { .. } => r.unpacked = true,
        EventBody::LabelPrinted { copies, reason, .. } => {
            r.labels_printed += copies;
            if *reason == super::event::PrintReason::Reprint {
                r.reprints += copies;
            }
        }
        EventBody::ItemScanned {
            item_no,
            sku,
            barcode,
            name,
            exception,
        } => r.items.push(Item {
            item_no: *item_no,
            sku: sku.clone(),
            barcode: barcode.clone(),
            name: name.clone(),
            exception: *exception,
            voided: false,
            zone: ItemZone::Bench,
            grade: None,
            defect_reasons: Vec::new(),
            note: String::new(),
            photos: Vec::new(),
            checklist: Vec::new(),
            inspected_by: None,
            restocked: false,
        }),
        EventBody::ItemVoided { item_no } => {
            if let Some(i) = r.items.iter_mut().find(|i| i.item_no == *item_no) {
                i.voided = true;
            }
        }
        EventBody::VisualRecorded { visual } => r.visual = *visual,
        EventBody::FirstCompleted {
            exchange_ship_by, ..
        } => {
            r.first_checked_at = Some(at);
            r.first_checked_by = Some(actor.to_string());
            r.exchange_ship_by = Some(*exchange_ship_by);
        }
        EventBody::Inspected {
            items,
            grade,
            defect_reasons,
            note,
            photos,
            checklist,
        } => {
            for i in r.items.iter_mut().filter(|i| items.contains(&i.item_no)) {
                i.grade = Some(*grade);
                i.defect_reasons = defect_reasons.clone();
                i.note = note.clone();
                i.photos = photos.clone();
                i.checklist = checklist.clone();
                i.inspected_by = Some(actor.to_string());
            }
        }
        EventBody::ItemMoved { item_no, to, .. } => {
            if let Some(i) = r.items.iter_mut().find(|i| i.item_no == *item_no) {
                i.zone = to.clone();
            }
        }
        EventBody::RefundDue { due_by, .. } => r.refund_due_by = Some(*due_by),
        EventBody::ExchangeShipped { waybill, .. } => r.exchange_waybill = Some(waybill.clone()),
        EventBody::Restocked { items } => {
            for i in r.items.iter_mut().filter(|i| items.contains(&i.item_no)) {
                i.restocked = true;
            }
        }
        EventBody::Closed { .. } => r.closed = true,
        EventBody::Voided { reason } => r.voided = Some(reason.clone()),
        _ => {}
    }
}

/// `RTV-<station>-<yyyymmdd>-<n>` → (date, n).
pub fn parse_rtv_number(note_no: &str) -> Option<(NaiveDate, u32)> {
    let mut parts = note_no.rsplitn(3, '-');
    let n = parts.next()?.parse().ok()?;
    let date = NaiveDate::parse_from_str(parts.next()?, "%Y%m%d").ok()?;
    Some((date, n))
}
