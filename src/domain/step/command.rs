//! What the state machine is asked to do: the closed set of [`Command`]s the engine sends
//! (a classified scan, an operator's command, a lockout the station records), and the
//! [`Operator`] an API command acts as.

use crate::domain::event::{Actor, CheckLine, PhotoRef};
use crate::domain::ids::{Badge, ItemRef, ReturnId, Waybill};
use crate::domain::kind::{BinClass, Grade, Role};
use crate::domain::scan::{ScanClass, ZoneScan};

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
    /// The station ends the bench logins of operators the reference data removed or whose
    /// roles or PIN changed (contract 1.1 § 6.5): each such bench releases its return and
    /// logs out, as the station's own act.
    EndSessions {
        badges: Vec<Badge>,
    },
    /// A supervisor lifts a badge's lockout (after wrong PINs) before it runs out.
    Unlock {
        by: Operator,
        badge: Badge,
    },
    /// A supervisor acknowledges that a photo can no longer be uploaded (contract 1.1):
    /// `photo.lost`.
    PhotoLost {
        by: Operator,
        sha256: String,
        reason: String,
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
    /// Who acts: recorded in the actor of every event, and compared with the first
    /// checker under the two-person rule.
    pub badge: Badge,
    /// The role they act in for this command (one of theirs): what they may do.
    pub role: Role,
}

impl Operator {
    pub(super) fn actor(&self) -> Actor {
        Actor::operator(self.role, &self.badge)
    }
}
