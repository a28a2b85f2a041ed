//! What the domain asks of the outside world, as plain data and one lookup trait: the
//! manifest, the operators, the defect reasons and the configured bins. The engine
//! implements [`Lookup`] over its reference data; tests implement it over a map.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::ids::{BinCode, StationId};
use super::kind::{BinClass, ExpectedLine, ReturnKind, Role};

/// One expected return from customer service's daily returns log (the manifest).
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    /// The tracking number the parcel will arrive under: what the bench looks up.
    pub waybill: String,
    /// The feed's version of the entry: newer wins, and the return records which one it
    /// copied.
    pub version: i64,
    /// The kind customer service recorded, so the keeper need not set it.
    pub kind: ReturnKind,
    /// The shop's order, copied into the return.
    pub order_no: String,
    /// The customer's stated reason: whether a refund applies, who is at fault.
    pub claimed_reason: String,
    /// When the customer signed for the delivery: starts the no-reason window.
    pub signed_at: Option<DateTime<Utc>>,
    /// The order shipped free: part of who pays the outbound freight.
    pub free_shipping: bool,
    /// What should be in the parcel: the keeper's count is checked against it.
    pub items: Vec<ExpectedLine>,
}

/// An operator who may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    /// The badge id the operator scans or types.
    pub badge: String,
    /// What they may do; at a bench they act in the most capable one.
    pub roles: Vec<Role>,
}

impl OperatorInfo {
    /// The role an operator acts in at a bench: the most capable one they hold.
    pub fn primary_role(&self) -> Role {
        self.roles.iter().copied().max().unwrap_or(Role::Keeper)
    }
    /// The role an operator acts in when they log in at a bench: keeper, the bench's
    /// role, whenever they hold it (a keeper who also inspects is a keeper at the bench);
    /// otherwise the most capable role they hold.
    pub fn bench_role(&self) -> Role {
        if self.has(Role::Keeper) {
            Role::Keeper
        } else {
            self.primary_role()
        }
    }
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A defect reason from the feed (or the built-in defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefectReasonInfo {
    /// The code an inspector gives.
    pub code: String,
    /// The defect is the seller's fault: the seller pays both freight legs.
    pub seller_fault: bool,
}

/// Where a photo stands with the uplink *(contract 1.1, `photo.lost`)*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoUplink {
    /// No event the central has yet to acknowledge references it (nothing waits for it).
    NotWaiting,
    /// An event the central has not acknowledged references it: it must be uploaded first.
    Waiting,
    /// A supervisor already acknowledged it as lost (`photo.lost` at this seq).
    Lost { seq: i64 },
}

/// Reference data the state machine consults.
pub trait Lookup {
    fn manifest(&self, waybill: &str) -> Option<ManifestEntry>;
    fn operator(&self, badge: &str) -> Option<OperatorInfo>;
    fn defect_reason(&self, code: &str) -> Option<DefectReasonInfo>;
    fn bin(&self, code: &BinCode) -> Option<BinClass>;
    /// Where the photo `sha256` stands with the uplink (the journal says).
    fn photo_uplink(&self, _sha256: &str) -> PhotoUplink {
        PhotoUplink::NotWaiting
    }
}

/// Station settings the rules depend on.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Prefixes every return id and RTV note number, so stations never collide.
    pub station: StationId,
    /// The local day: return numbering, RTV numbering and the no-reason window follow it.
    pub tz: Tz,
    /// A defect grade must carry at least one photo (quality claims need evidence).
    pub defect_photo_required: bool,
    /// The inspector must not be the keeper who did the first check.
    pub two_person_check: bool,
}
