//! Typed domain errors. Each has a stable code (the key of the translation tables at the
//! edge) and named parameters; the operator sees them in Chinese or English.

use super::ids::{BinCode, ReturnId};
use super::kind::Role;
use super::model::Stage;
use super::scan::Rejection;

#[derive(Debug, Clone, PartialEq)]
pub enum DomainError {
    /// Scan a badge first.
    LoginRequired,
    UnknownOperator {
        badge: String,
    },
    RoleNotAllowed {
        role: Role,
        action: &'static str,
    },
    /// Another return is open at this bench and not yet booked in.
    ReturnInProgress {
        current: ReturnId,
    },
    NoCurrentReturn,
    /// The return is open at another bench.
    AtOtherBench {
        id: ReturnId,
        bench: String,
    },
    UnknownReturn {
        id: String,
    },
    UnknownWaybill {
        waybill: String,
    },
    Terminal {
        id: ReturnId,
        stage: Stage,
    },
    KindRequired,
    KindAlreadySet,
    NotUnpacked,
    AlreadyUnpacked,
    AlreadyFirstChecked,
    NoItems,
    /// First check books into pending; good/defect zones come after inspection.
    FirstCheckGoesToPending,
    NothingToVoid,
    NotFirstChecked {
        id: ReturnId,
    },
    ItemNotFound {
        id: ReturnId,
        item_no: u32,
    },
    ItemAlreadyInspected {
        item_no: u32,
    },
    ItemNotInspected {
        item_no: u32,
    },
    NothingToInspect,
    DefectNeedsReason,
    ReasonsOnlyForDefects,
    UnknownDefectReason {
        code: String,
    },
    PhotoRequired,
    SamePerson,
    WrongZoneForGrade {
        item_no: u32,
        zone: String,
    },
    UnknownBin {
        bin: BinCode,
    },
    ItemNotInZone {
        item_no: u32,
        zone: String,
    },
    /// The bin was retired by a supervisor: nothing may be put away into it.
    BinRetired {
        bin: BinCode,
    },
    /// A bin that holds stock cannot be retired or change class.
    BinHoldsStock {
        bin: BinCode,
        units: i64,
    },
    BinAlreadyRetired {
        bin: BinCode,
    },
    BinAlreadyActive {
        bin: BinCode,
    },
    UnknownRtvNote {
        note_no: String,
    },
    RtvNoteAlreadyClosed {
        note_no: String,
    },
    NothingToMove,
    VoidAfterBooking,
    /// `photo.lost` for a photo no event waiting for the central references.
    PhotoNotWaiting {
        sha256: String,
    },
    /// `photo.lost` again for a photo already acknowledged as lost.
    PhotoAlreadyLost {
        sha256: String,
        seq: i64,
    },
    /// The command must say why (it is journaled for the central and the audit trail).
    ReasonRequired,
    BadInput {
        field: &'static str,
        problem: String,
    },
    Unrecognised(Rejection),
    /// A valid code that has no meaning in the bench's current step.
    NotNow {
        what: &'static str,
    },
}

impl DomainError {
    /// The stable code: the translation key and the API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::LoginRequired => "login_required",
            DomainError::UnknownOperator { .. } => "unknown_operator",
            DomainError::RoleNotAllowed { .. } => "role_not_allowed",
            DomainError::ReturnInProgress { .. } => "return_in_progress",
            DomainError::NoCurrentReturn => "no_current_return",
            DomainError::AtOtherBench { .. } => "at_other_bench",
            DomainError::UnknownReturn { .. } => "unknown_return",
            DomainError::UnknownWaybill { .. } => "unknown_waybill",
            DomainError::Terminal { .. } => "return_terminal",
            DomainError::KindRequired => "kind_required",
            DomainError::KindAlreadySet => "kind_already_set",
            DomainError::NotUnpacked => "not_unpacked",
            DomainError::AlreadyUnpacked => "already_unpacked",
            DomainError::AlreadyFirstChecked => "already_first_checked",
            DomainError::NoItems => "no_items",
            DomainError::FirstCheckGoesToPending => "first_check_goes_to_pending",
            DomainError::NothingToVoid => "nothing_to_void",
            DomainError::NotFirstChecked { .. } => "not_first_checked",
            DomainError::ItemNotFound { .. } => "item_not_found",
            DomainError::ItemAlreadyInspected { .. } => "item_already_inspected",
            DomainError::ItemNotInspected { .. } => "item_not_inspected",
            DomainError::NothingToInspect => "nothing_to_inspect",
            DomainError::DefectNeedsReason => "defect_needs_reason",
            DomainError::ReasonsOnlyForDefects => "reasons_only_for_defects",
            DomainError::UnknownDefectReason { .. } => "unknown_defect_reason",
            DomainError::PhotoRequired => "photo_required",
            DomainError::SamePerson => "same_person",
            DomainError::WrongZoneForGrade { .. } => "wrong_zone_for_grade",
            DomainError::UnknownBin { .. } => "unknown_bin",
            DomainError::ItemNotInZone { .. } => "item_not_in_zone",
            DomainError::BinRetired { .. } => "bin_retired",
            DomainError::BinHoldsStock { .. } => "bin_holds_stock",
            DomainError::BinAlreadyRetired { .. } => "bin_already_retired",
            DomainError::BinAlreadyActive { .. } => "bin_already_active",
            DomainError::UnknownRtvNote { .. } => "unknown_rtv_note",
            DomainError::RtvNoteAlreadyClosed { .. } => "rtv_note_already_closed",
            DomainError::NothingToMove => "nothing_to_move",
            DomainError::VoidAfterBooking => "void_after_booking",
            DomainError::PhotoNotWaiting { .. } => "photo_not_waiting",
            DomainError::PhotoAlreadyLost { .. } => "photo_already_lost",
            DomainError::ReasonRequired => "reason_required",
            DomainError::BadInput { .. } => "bad_input",
            DomainError::Unrecognised(r) => r.code(),
            DomainError::NotNow { .. } => "not_now",
        }
    }

    /// Named parameters for the message templates.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            DomainError::UnknownOperator { badge } => vec![("badge", badge.clone())],
            DomainError::RoleNotAllowed { role, action } => {
                vec![("role", role.as_str().into()), ("action", (*action).into())]
            }
            DomainError::ReturnInProgress { current } => {
                vec![("return_id", current.as_str().into())]
            }
            DomainError::UnknownReturn { id } => vec![("return_id", id.clone())],
            DomainError::AtOtherBench { id, bench } => {
                vec![("return_id", id.as_str().into()), ("bench", bench.clone())]
            }
            DomainError::UnknownWaybill { waybill } => vec![("waybill", waybill.clone())],
            DomainError::Terminal { id, stage } => vec![
                ("return_id", id.as_str().into()),
                ("stage", stage.as_str().into()),
            ],
            DomainError::NotFirstChecked { id } => vec![("return_id", id.as_str().into())],
            DomainError::ItemNotFound { id, item_no } => vec![
                ("return_id", id.as_str().into()),
                ("item_no", item_no.to_string()),
            ],
            DomainError::ItemAlreadyInspected { item_no }
            | DomainError::ItemNotInspected { item_no } => {
                vec![("item_no", item_no.to_string())]
            }
            DomainError::UnknownDefectReason { code } => vec![("code", code.clone())],
            DomainError::WrongZoneForGrade { item_no, zone }
            | DomainError::ItemNotInZone { item_no, zone } => {
                vec![("item_no", item_no.to_string()), ("zone", zone.clone())]
            }
            DomainError::UnknownBin { bin }
            | DomainError::BinRetired { bin }
            | DomainError::BinAlreadyRetired { bin }
            | DomainError::BinAlreadyActive { bin } => vec![("bin", bin.to_string())],
            DomainError::BinHoldsStock { bin, units } => {
                vec![("bin", bin.to_string()), ("units", units.to_string())]
            }
            DomainError::UnknownRtvNote { note_no }
            | DomainError::RtvNoteAlreadyClosed { note_no } => {
                vec![("note_no", note_no.clone())]
            }
            DomainError::BadInput { field, problem } => {
                vec![("field", (*field).into()), ("problem", problem.clone())]
            }
            DomainError::PhotoNotWaiting { sha256 } => vec![("sha256", sha256.clone())],
            DomainError::PhotoAlreadyLost { sha256, seq } => {
                vec![("sha256", sha256.clone()), ("seq", seq.to_string())]
            }
            DomainError::NotNow { what } => vec![("what", (*what).into())],
            DomainError::Unrecognised(r) => match r {
                Rejection::TooLong { len, max } => {
                    vec![("len", len.to_string()), ("max", max.to_string())]
                }
                Rejection::InvalidUtf8 { at } => vec![("at", at.to_string())],
                Rejection::ControlChar { byte, at } => {
                    vec![("byte", format!("0x{byte:02X}")), ("at", at.to_string())]
                }
                Rejection::BadCheckDigit {
                    code,
                    expected,
                    found,
                } => vec![
                    ("code", code.clone()),
                    ("expected", expected.to_string()),
                    ("found", found.to_string()),
                ],
                Rejection::BadGs1 { reason } => vec![("reason", reason.clone())],
                Rejection::BadId(e) => vec![("reason", e.code().to_string())],
                Rejection::Empty | Rejection::Unknown => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}
