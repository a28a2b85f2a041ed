//! Domain events: the immutable facts the station records. `step` produces them,
//! `Station::apply` (`fold.rs`) folds them into state, and the store's codec turns them
//! into the journal's `(type, data)` pairs of the sync contract. Seq, id and epoch are the
//! store's business.

use chrono::{DateTime, NaiveDate, Utc};

use super::ids::{Badge, BinCode, ItemRef, ReturnId, Waybill};
use super::kind::{BinClass, ExpectedLine, Grade, ItemZone, Party, ReturnKind, Role, Visual};

/// Who did it: `"<role>:<badge>"` for operators, `"system"` or `"central"` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor(pub String);

impl Actor {
    pub fn operator(role: Role, badge: &Badge) -> Actor {
        Actor(format!("{}:{}", role.as_str(), badge.as_str()))
    }
    pub fn system() -> Actor {
        Actor("system".to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One recorded fact. `return_id` is `None` for facts that concern no single return.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When it happened: the command's time, passed in (deadlines and the day's numbering
    /// count from it).
    pub occurred_at: DateTime<Utc>,
    /// Who did it, for accountability and the two-person rule.
    pub actor: Actor,
    /// The return it concerns, so the fold and the journal's readers can find a return's
    /// history.
    pub return_id: Option<ReturnId>,
    /// What happened: the contract's event type and its data.
    pub body: EventBody,
}

/// Reference to a stored photo (content-addressed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRef {
    /// The photo's content hash: its name in the photo store, so the same photo is stored
    /// once and cannot be swapped.
    pub sha256: String,
    /// Its size as stored, recorded with the evidence it belongs to.
    pub bytes: u64,
    /// How to serve it (`image/jpeg`, …).
    pub content_type: String,
}

/// Why an item scan is an exception to the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemException {
    /// More units of this line than the manifest expects.
    Over,
    /// A product the manifest does not list for this parcel.
    Unknown,
    /// The parcel has no manifest line at all.
    Unannounced,
}

impl ItemException {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemException::Over => "over",
            ItemException::Unknown => "unknown",
            ItemException::Unannounced => "unannounced",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "over" => Some(Self::Over),
            "unknown" => Some(Self::Unknown),
            "unannounced" => Some(Self::Unannounced),
            _ => None,
        }
    }
}

/// How a return left the station's responsibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Every item shipped to the customer or returned to the vendor, or restocked.
    Completed,
}

/// Why a label was printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintReason {
    First,
    Reprint,
}

impl PrintReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PrintReason::First => "first",
            PrintReason::Reprint => "reprint",
        }
    }
}

/// Line of a first-check summary: expected vs counted per SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountLine {
    /// The product counted.
    pub sku: String,
    /// Units the manifest announced (0 for a product it does not list).
    pub expected: u32,
    /// Units the keeper scanned: a difference is a first-check exception.
    pub counted: u32,
}

/// The freight decision as recorded (the policy's decision, with its rule id owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreightRecord {
    /// Whose fault the return is (`seller`, `buyer`, `unclear`): decides the legs.
    pub fault: String,
    /// Who pays the leg that brought the goods to the customer.
    pub outbound: Party,
    /// Who pays the leg that brought them back.
    pub return_leg: Party,
    /// Which rule decided, so a disputed charge can be traced to the seed text.
    pub rule: String,
}

/// One line of an inspection standard's checklist as the inspector answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// The line's code in the standard (`packaging_intact`, …).
    pub code: String,
    /// The inspector's answer: an unmet line is evidence for the grade.
    pub met: bool,
}

/// One unit in a return-to-vendor note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtvLine {
    /// The unit on the note, by its item label.
    pub item: ItemRef,
    /// Its SKU, so the note can be read (and the ledger entry made) without the return.
    pub sku: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// `operator.logged_in`
    LoggedIn {
        bench: String,
        badge: Badge,
        role: Role,
    },
    /// `operator.logged_out`
    LoggedOut { bench: String, badge: Badge },
    /// `scan.recorded`: every acknowledged scan, accepted or not, with what the station
    /// answered at the bench: `ok` (the green or red feedback: an over item is accepted but
    /// red), the answer's message `reply` code and its `params` (never customer fields).
    ScanRecorded {
        bench: String,
        code: String,
        class: String,
        accepted: bool,
        error: Option<String>,
        ok: bool,
        reply: String,
        params: Vec<(String, String)>,
    },
    /// `return.received`
    Received {
        bench: String,
        waybill: Waybill,
        courier: String,
        kind: Option<ReturnKind>,
        number_date: NaiveDate,
        number: u32,
        announced: bool,
        manifest_version: Option<i64>,
        order_no: Option<String>,
        claimed_reason: Option<String>,
        signed_at: Option<DateTime<Utc>>,
        free_shipping: bool,
        expected: Vec<ExpectedLine>,
    },
    /// `return.unannounced`
    Unannounced { waybill: Waybill },
    /// `return.kind_set`
    KindSet { kind: ReturnKind },
    /// `return.card_recorded`: the after-sales card 售后服务卡 is in the parcel or not.
    CardRecorded { present: bool },
    /// `bench.return_selected`
    Selected { bench: String },
    /// `bench.return_released`
    Released { bench: String },
    /// `return.unpacked`
    Unpacked { bench: String },
    /// `label.printed`
    LabelPrinted {
        template: String,
        reason: PrintReason,
        copies: u32,
        /// Why it was reprinted, as the operator said (empty for first prints).
        note: String,
    },
    /// `item.scanned`
    ItemScanned {
        item_no: u32,
        sku: String,
        barcode: String,
        name: String,
        exception: Option<ItemException>,
    },
    /// `item.voided`: the last item scan was taken back (void last scan).
    ItemVoided { item_no: u32 },
    /// `check.visual_recorded`
    VisualRecorded { visual: Visual },
    /// `check.first_completed`
    FirstCompleted {
        visual: Visual,
        counts: Vec<CountLine>,
        exceptions: Vec<String>,
        exchange_ship_by: DateTime<Utc>,
    },
    /// `inspection.completed`
    Inspected {
        items: Vec<u32>,
        grade: Grade,
        defect_reasons: Vec<String>,
        note: String,
        photos: Vec<PhotoRef>,
        /// The inspection standard's lines, met or not (empty when none was answered).
        checklist: Vec<CheckLine>,
    },
    /// `item.moved`
    ItemMoved {
        item_no: u32,
        from: ItemZone,
        to: ItemZone,
    },
    /// `ledger.entry`: a movement of goods per SKU from zone to zone.
    Ledger {
        sku: String,
        from: String,
        to: String,
        qty: u32,
    },
    /// `refund.due`
    RefundDue {
        due_by: DateTime<Utc>,
        freight: FreightRecord,
        claimed_reason: String,
        within_no_reason_window: Option<bool>,
    },
    /// `exchange.shipped`
    ExchangeShipped { waybill: Waybill, items: Vec<u32> },
    /// `rtv.note_created`
    RtvNoteCreated {
        note_no: String,
        vendor: String,
        lines: Vec<RtvLine>,
    },
    /// `rtv.note_closed`: the goods of an RTV note were handed to the vendor or their
    /// carrier (a supervisor's record; the items already left the ledger at creation).
    RtvNoteClosed {
        note_no: String,
        /// The carrier's waybill of the handover, when there is one.
        waybill: Option<Waybill>,
        note: String,
    },
    /// `zone.bin_set`: a supervisor added, relabelled, retired or reactivated a bin. It
    /// carries the bin's whole new state and overlays the configured `[[zones.bins]]`.
    BinSet {
        code: BinCode,
        class: BinClass,
        label: Option<String>,
        active: bool,
    },
    /// `return.restocked`: good items released to sellable stock.
    Restocked { items: Vec<u32> },
    /// `return.closed`
    Closed { reason: CloseReason },
    /// `return.voided`
    Voided { reason: String },
    /// `operator.locked_out`: a badge refused further logins after `failures` wrong PINs
    /// (operator API), for `minutes`. Concerns no return and changes no state.
    LockedOut {
        badge: Badge,
        failures: u32,
        minutes: u32,
    },
    /// `operator.unlocked`: a supervisor lifted a badge's lockout before it ran out.
    /// Concerns no return and changes no state.
    Unlocked { badge: Badge },
    /// `photo.lost` *(contract 1.1)*: a supervisor acknowledged that a photo events
    /// reference can no longer be uploaded (the station's copy is missing or damaged).
    /// From then on those events are sent with the photo marked `"lost": true`. Concerns
    /// no return and changes no state.
    PhotoLost { sha256: String, reason: String },
}

impl EventBody {
    /// The items of its return this event changes when folded (`fold::apply_to_return`):
    /// the store writes those items' rows and the return's header, never the whole
    /// return, so a scan costs the same at item 400 as at item 1.
    pub fn touched_items(&self) -> &[u32] {
        match self {
            EventBody::ItemScanned { item_no, .. }
            | EventBody::ItemVoided { item_no }
            | EventBody::ItemMoved { item_no, .. } => std::slice::from_ref(item_no),
            EventBody::Inspected { items, .. } | EventBody::Restocked { items } => items,
            _ => &[],
        }
    }

    /// The contract's event type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::LoggedIn { .. } => "operator.logged_in",
            EventBody::LoggedOut { .. } => "operator.logged_out",
            EventBody::ScanRecorded { .. } => "scan.recorded",
            EventBody::Received { .. } => "return.received",
            EventBody::Unannounced { .. } => "return.unannounced",
            EventBody::KindSet { .. } => "return.kind_set",
            EventBody::CardRecorded { .. } => "return.card_recorded",
            EventBody::Selected { .. } => "bench.return_selected",
            EventBody::Released { .. } => "bench.return_released",
            EventBody::Unpacked { .. } => "return.unpacked",
            EventBody::LabelPrinted { .. } => "label.printed",
            EventBody::ItemScanned { .. } => "item.scanned",
            EventBody::ItemVoided { .. } => "item.voided",
            EventBody::VisualRecorded { .. } => "check.visual_recorded",
            EventBody::FirstCompleted { .. } => "check.first_completed",
            EventBody::Inspected { .. } => "inspection.completed",
            EventBody::ItemMoved { .. } => "item.moved",
            EventBody::Ledger { .. } => "ledger.entry",
            EventBody::RefundDue { .. } => "refund.due",
            EventBody::ExchangeShipped { .. } => "exchange.shipped",
            EventBody::RtvNoteCreated { .. } => "rtv.note_created",
            EventBody::RtvNoteClosed { .. } => "rtv.note_closed",
            EventBody::BinSet { .. } => "zone.bin_set",
            EventBody::Restocked { .. } => "return.restocked",
            EventBody::Closed { .. } => "return.closed",
            EventBody::Voided { .. } => "return.voided",
            EventBody::LockedOut { .. } => "operator.locked_out",
            EventBody::Unlocked { .. } => "operator.unlocked",
            EventBody::PhotoLost { .. } => "photo.lost",
        }
    }
}
