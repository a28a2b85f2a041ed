//! What the domain asks of the outside world, as plain data and one lookup trait: the
//! manifest, the operators, the defect reasons and the configured bins. The engine
//! implements [`Lookup`] over its reference data; tests implement it over a map.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::ids::StationId;
use super::kind::{BinClass, ExpectedLine, ReturnKind, Role};

/// One expected return from customer service's daily returns log (the manifest).
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    pub waybill: String,
    pub version: i64,
    pub kind: ReturnKind,
    pub order_no: String,
    pub claimed_reason: String,
    pub signed_at: Option<DateTime<Utc>>,
    pub free_shipping: bool,
    pub items: Vec<ExpectedLine>,
}

/// An operator who may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    pub badge: String,
    pub roles: Vec<Role>,
}

impl OperatorInfo {
    /// The role an operator acts in at a bench: the most capable one they hold.
    pub fn primary_role(&self) -> Role {
        self.roles.iter().copied().max().unwrap_or(Role::Keeper)
    }
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A defect reason from the feed (or the built-in defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefectReasonInfo {
    pub code: String,
    pub seller_fault: bool,
}

/// A bin code as configured (`[[zones.bins]]`) or edited by a supervisor: 1 to 16 of
/// `A-Z 0-9 -`, and not one of the fixed zones' names (it is scanned as `Z-<code>`).
pub fn valid_bin_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 16
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && !["PENDING", "GOOD", "DEFECT"].contains(&code)
}

/// Reference data the state machine consults.
pub trait Lookup {
    fn manifest(&self, waybill: &str) -> Option<ManifestEntry>;
    fn operator(&self, badge: &str) -> Option<OperatorInfo>;
    fn defect_reason(&self, code: &str) -> Option<DefectReasonInfo>;
    fn bin(&self, code: &str) -> Option<BinClass>;
}

/// Station settings the rules depend on.
#[derive(Debug, Clone)]
pub struct Settings {
    pub station: StationId,
    pub tz: Tz,
    /// A defect grade must carry at least one photo (quality claims need evidence).
    pub defect_photo_required: bool,
    /// The inspector must not be the keeper who did the first check.
    pub two_person_check: bool,
}
