//! The station's state: its returns and their items, the benches, the ledger's balances,
//! the supervisors' bin edits and the RTV notes, with the questions the state machine asks
//! of them. Only the fold (`fold.rs`, [`Station::apply`]) changes it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::event::{CheckLine, ItemException, PhotoRef, RtvLine};
use super::ids::{Badge, BinCode, ReturnId, Waybill};
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
    /// The unit's number within its return, printed on its item label (`<return id>.<n>`)
    /// and named by commands; never reused, even after a void.
    pub item_no: u32,
    /// What the seller calls the product: counts against the manifest and the ledger are
    /// per SKU.
    pub sku: String,
    /// The barcode it matched (the manifest line's, or the code as scanned for an unlisted
    /// product): what the keeper actually scanned, shown in the return's detail.
    pub barcode: String,
    /// The manifest's product name, for people reading lists and labels (empty when the
    /// product was not listed).
    pub name: String,
    /// Why the scan did not match the manifest, if it did not: the first check lists it.
    pub exception: Option<ItemException>,
    /// Taken back at the bench (`CMD-VOID`): kept, so its number stays used, but not
    /// counted or moved.
    pub voided: bool,
    /// Where the unit is now; the ledger's balances must agree with it.
    pub zone: ItemZone,
    /// The second inspection's result; none until inspected, and put-away needs one.
    pub grade: Option<Grade>,
    /// The defect reason codes the inspector gave; they decide who is at fault for the
    /// freight and go on the defect tag.
    pub defect_reasons: Vec<String>,
    /// The inspector's note, kept for whoever handles the claim.
    pub note: String,
    /// Evidence of the unit's condition, for quality claims against the seller.
    pub photos: Vec<PhotoRef>,
    /// The inspection standard's lines as the inspector answered them.
    pub checklist: Vec<CheckLine>,
    /// The inspector's actor, for accountability and the two-person rule's audit.
    pub inspected_by: Option<String>,
    /// Released to sellable stock (`return.restocked`); the unit then moves to the
    /// `sellable` zone, out of the returns good zone, so its return can close.
    pub restocked: bool,
}

/// One returned parcel's case.
#[derive(Debug, Clone, PartialEq)]
pub struct Return {
    /// The id printed on the return label, by which every later scan and command finds it.
    pub id: ReturnId,
    /// The parcel's tracking number: scanning it again selects this return instead of
    /// receiving a second one.
    pub waybill: Waybill,
    /// The courier the waybill's pattern matched, for people tracing the parcel.
    pub courier: String,
    /// Customer return, carrier return or refused: decides whether a refund is due and who
    /// pays freight. From the manifest, else set at the bench before unpacking.
    pub kind: Option<ReturnKind>,
    /// The manifest announced this parcel; an unannounced one has no expected lines, so
    /// unlisted products are not exceptions against it.
    pub announced: bool,
    /// Which version of the manifest entry was copied in, to explain a count that differs
    /// from today's manifest.
    pub manifest_version: Option<i64>,
    /// The shop's order, so customer service can match the return to it.
    pub order_no: Option<String>,
    /// The customer's stated reason: whether a refund applies and who is at fault.
    pub claimed_reason: Option<String>,
    /// When the customer signed for the delivery: starts the 7-day no-reason window.
    pub signed_at: Option<DateTime<Utc>>,
    /// The order shipped free: changes who pays the outbound leg when the buyer is at fault.
    pub free_shipping: bool,
    /// The manifest's lines as received (a copy: the return stays self-contained).
    pub expected: Vec<ExpectedLine>,
    /// Starts the 24 h deadlines (refund, exchange) and lies inside or outside the window.
    pub received_at: DateTime<Utc>,
    /// The receiving actor, for accountability.
    pub received_by: String,
    /// The after-sales card is in the parcel or not (unknown until the keeper says); a
    /// missing card is a first-check exception.
    pub card_present: Option<bool>,
    /// Opened and labelled: items can be scanned only after, and a reprint needs it.
    pub unpacked: bool,
    /// Labels printed for this return, all templates and copies, for the audit of paper.
    pub labels_printed: u32,
    /// How many of those were reprints (counted: a reprint is an exception worth watching).
    pub reprints: u32,
    /// The keeper's look at the parcel; damage or missing parts is a first-check exception.
    pub visual: Visual,
    /// When the parcel was booked in; from then on it can be inspected, but not voided.
    pub first_checked_at: Option<DateTime<Utc>>,
    /// Who booked it in: under the two-person rule they may not inspect it.
    pub first_checked_by: Option<String>,
    /// The exchange must leave by then (24 h after receipt); lists and alarms show it.
    pub exchange_ship_by: Option<DateTime<Utc>>,
    /// The refund must be made by then, once it fell due at inspection; lists and alarms
    /// show it.
    pub refund_due_by: Option<DateTime<Utc>>,
    /// Every unit scanned, voided ones included (their numbers stay taken).
    pub items: Vec<Item>,
    /// Every unit left or was restocked: the return is finished and nothing may change it.
    pub closed: bool,
    /// The supervisor's reason, when the return was voided (received in error).
    pub voided: Option<String>,
    /// The last event's time, so lists can show what moved recently.
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

    /// Still on its way through the bench or the inspection: received, unpacked,
    /// first-checked or inspected (graded, not yet put away).
    pub fn is_open_work(&self) -> bool {
        matches!(
            self.stage(),
            Stage::Received | Stage::Unpacked | Stage::FirstChecked | Stage::Inspected
        )
    }

    /// Every unit is out of the station or released to sellable stock.
    pub fn all_done(&self) -> bool {
        let mut any = false;
        for i in self.live_items() {
            any = true;
            if !i.zone.is_out() {
                return false;
            }
        }
        any
    }
}

/// An operator logged in at a bench.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who scans at the bench: the actor of its scans' events.
    pub badge: Badge,
    /// The role they logged in with (their most capable one).
    pub role: Role,
}

/// A returns bench (one scanner position).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bench {
    /// The operator logged in here; every scan but a badge needs one.
    pub session: Option<Session>,
    /// The return open at this bench: item, kind and command scans act on it, and no
    /// other bench may open it at the same time.
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
    /// Which grade of goods put-away may bring to the bin.
    pub class: BinClass,
    /// What people call it (a shelf's name); none when not given.
    pub label: Option<String>,
    /// A retired bin refuses put-away but keeps its history.
    pub active: bool,
    /// When the supervisor edited it, shown beside the bin.
    pub at: DateTime<Utc>,
    /// Which supervisor edited it, for accountability.
    pub by: String,
}

/// A bin as the station uses it now: the configured one, overlaid by the last edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveBin {
    /// The bin's code, as scanned after `Z-`.
    pub code: BinCode,
    /// Which grade of goods it takes.
    pub class: BinClass,
    /// Its name for people, if any.
    pub label: Option<String>,
    /// Put-away into it is allowed.
    pub active: bool,
    /// A supervisor's edit decides it (else it is the config's bin as written).
    pub edited: bool,
}

/// A return-to-vendor note 《退厂单》, folded from `rtv.note_created` and `rtv.note_closed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtvNote {
    /// `RTV-<station>-<yyyymmdd>-<n>`: printed on the note, named when it is closed.
    pub note_no: String,
    /// Who the goods go back to.
    pub vendor: String,
    /// The units on the note; they left the ledger when it was created.
    pub lines: Vec<RtvLine>,
    /// When the note was made (the goods left the defect zone then).
    pub created_at: DateTime<Utc>,
    /// Who made it, for accountability.
    pub created_by: String,
    /// The handover, once recorded; an open note's goods are still waiting to be picked up.
    pub closed: Option<RtvClosed>,
}

/// The handover of an RTV note's goods to the vendor or their carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtvClosed {
    /// When the goods were handed over.
    pub at: DateTime<Utc>,
    /// The supervisor who recorded it.
    pub by: String,
    /// The carrier's tracking number, when the vendor's goods went by courier.
    pub waybill: Option<Waybill>,
    /// The supervisor's words about the handover (who took it, what was signed).
    pub note: String,
}

/// Everything the station knows, folded from its journal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Station {
    /// Every return the station knows, by id: the state every command decides on.
    pub returns: BTreeMap<ReturnId, Return>,
    /// A waybill scanned again finds its return instead of receiving a second one.
    pub by_waybill: HashMap<String, ReturnId>,
    /// The benches by name; one left with nothing open is dropped at logout.
    pub benches: BTreeMap<String, Bench>,
    /// Highest return number used per local day.
    pub numbers: BTreeMap<NaiveDate, u32>,
    /// Highest RTV note number used per local day.
    pub rtv_numbers: BTreeMap<NaiveDate, u32>,
    /// Ledger balance per (zone, sku); derived from `ledger.entry` events.
    pub stock: BTreeMap<StockKey, i64>,
    /// Supervisors' bin edits by code (`zone.bin_set`); the config's bins lie beneath.
    pub bins: BTreeMap<BinCode, BinEdit>,
    /// Return-to-vendor notes by number.
    pub rtv_notes: BTreeMap<String, RtvNote>,
}

impl Station {
    /// Hold `r` (read back from its snapshot, or just received) in the working state.
    pub fn admit(&mut self, r: Return) {
        self.by_waybill
            .insert(r.waybill.as_str().to_string(), r.id.clone());
        self.returns.insert(r.id.clone(), r);
    }

    /// Let go of the return `id` when it is no longer open work (put away, closed or
    /// voided) and no bench points at it: the engine's memory holds the open work only
    /// (`store::working`), and the snapshot row has it.
    pub fn settle(&mut self, id: &ReturnId) {
        let Some(r) = self.returns.get(id) else {
            return;
        };
        let held = self
            .benches
            .values()
            .any(|b| b.current.as_ref() == Some(id) || b.last.as_ref() == Some(id));
        if r.is_open_work() || held {
            return;
        }
        if let Some(r) = self.returns.remove(id) {
            self.by_waybill.remove(r.waybill.as_str());
        }
    }

    /// Count the RTV notes held (their `meta` snapshots outlive journal pruning) in the
    /// numbering, so a note number is never given twice.
    pub fn number_rtv_notes(&mut self) {
        for no in self.rtv_notes.keys() {
            if let Some((date, n)) = parse_rtv_number(no) {
                let e = self.rtv_numbers.entry(date).or_insert(0);
                *e = (*e).max(n);
            }
        }
    }

    pub fn bench(&self, name: &str) -> Bench {
        self.benches.get(name).cloned().unwrap_or_default()
    }

    pub fn find_by_waybill(&self, waybill: &str) -> Option<&Return> {
        self.by_waybill
            .get(waybill)
            .and_then(|id| self.returns.get(id))
    }

    /// The bin `code` as it is now: the supervisor's last edit, else the configured bin.
    pub fn bin(&self, lk: &dyn Lookup, code: &BinCode) -> Option<EffectiveBin> {
        if let Some(e) = self.bins.get(code) {
            return Some(EffectiveBin {
                code: code.clone(),
                class: e.class,
                label: e.label.clone(),
                active: e.active,
                edited: true,
            });
        }
        lk.bin(code).map(|class| EffectiveBin {
            code: code.clone(),
            class,
            label: None,
            active: true,
            edited: false,
        })
    }

    /// Units the ledger holds in bin `code` (under either class's zone name).
    pub fn units_in_bin(&self, code: &BinCode) -> i64 {
        let good = ItemZone::Good(Some(code.clone())).ledger_name();
        let defect = ItemZone::Defect(Some(code.clone())).ledger_name();
        self.stock
            .iter()
            .filter(|((zone, _), _)| *zone == good || *zone == defect)
            .map(|(_, n)| *n)
            .sum()
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

/// `RTV-<station>-<yyyymmdd>-<n>` → (date, n).
pub fn parse_rtv_number(note_no: &str) -> Option<(NaiveDate, u32)> {
    let mut parts = note_no.rsplitn(3, '-');
    let n = parts.next()?.parse().ok()?;
    let date = NaiveDate::parse_from_str(parts.next()?, "%Y%m%d").ok()?;
    Some((date, n))
}
