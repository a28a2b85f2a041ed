//! The supervisor's housekeeping commands, apart from the returns themselves: editing the
//! bins (`zone.bin_set`) and closing return-to-vendor notes (`rtv.note_closed`). Both are
//! supervisor-only; `step` routes [`Command::SetBin`](super::Command) and `CloseRtvNote`
//! here.

use crate::domain::error::DomainError;
use crate::domain::event::EventBody;
use crate::domain::ids::{Badge, BinCode, Waybill};
use crate::domain::kind::Role;

use super::command::{BinChange, Operator};
use super::shared::{Ctx, require};
use super::transition::{Feedback, Out, Transition};

/// Longest bin label, in characters.
pub const LABEL_MAX: usize = 100;
/// Longest handover note on an RTV note, in characters.
pub const CLOSE_NOTE_MAX: usize = 500;

/// Add, relabel, retire or reactivate a bin. A bin that holds stock keeps its class and
/// stays active: its units would otherwise sit in a zone put-away can no longer reach.
/// `code` is the supervisor's text, parsed here (after the role check) so a malformed
/// code is refused as `bad_input`, like a bad label.
pub(super) fn set_bin(
    cx: &Ctx,
    by: Operator,
    code: String,
    change: BinChange,
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Supervisor], "edit_zones")?;
    let code = BinCode::parse(&code).map_err(|_| DomainError::BadInput {
        field: "code",
        problem: format!("use {}", BinCode::RULE),
    })?;
    let current = cx.st.bin(cx.lk, &code);
    let units = cx.st.units_in_bin(&code);
    let (class, label, active, feedback) = match change {
        BinChange::Upsert { class, label } => {
            let label = label
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty());
            if let Some(l) = &label {
                if l.chars().count() > LABEL_MAX {
                    return Err(DomainError::BadInput {
                        field: "label",
                        problem: format!("longer than {LABEL_MAX} characters"),
                    });
                }
                if l.chars().any(char::is_control) {
                    return Err(DomainError::BadInput {
                        field: "label",
                        problem: "control characters are not allowed".into(),
                    });
                }
            }
            match &current {
                Some(b) if b.class != class && units != 0 => {
                    return Err(DomainError::BinHoldsStock { bin: code, units });
                }
                Some(b) => (class, label, b.active, "bin_updated"),
                None => (class, label, true, "bin_added"),
            }
        }
        BinChange::Retire => {
            let b = current.ok_or_else(|| DomainError::UnknownBin { bin: code.clone() })?;
            if !b.active {
                return Err(DomainError::BinAlreadyRetired { bin: code });
            }
            if units != 0 {
                return Err(DomainError::BinHoldsStock { bin: code, units });
            }
            (b.class, b.label, false, "bin_retired_ok")
        }
        BinChange::Reactivate => {
            let b = current.ok_or_else(|| DomainError::UnknownBin { bin: code.clone() })?;
            if b.active {
                return Err(DomainError::BinAlreadyActive { bin: code });
            }
            (b.class, b.label, true, "bin_reactivated")
        }
    };
    let mut out = Out::new(cx.now, by.actor());
    out.push(
        None,
        EventBody::BinSet {
            code: code.clone(),
            class,
            label,
            active,
        },
    );
    Ok(out.done(Feedback::ok(
        feedback,
        vec![("bin", code.to_string()), ("class", class.as_str().into())],
    )))
}

/// Close an RTV note: its goods were handed to the vendor (or their carrier). The items
/// left the ledger when the note was created; this records the handover.
/// A supervisor lifts a badge's lockout (wrong PINs on the operator API) before it runs
/// out. Journaled for the audit trail; the API forgets the badge's wrong PINs when it sees
/// the event, and the engine removes the stored lockout in the same transaction.
pub(super) fn unlock(
    now: chrono::DateTime<chrono::Utc>,
    by: Operator,
    badge: Badge,
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Supervisor], "unlock_badge")?;
    let mut out = Out::new(now, by.actor());
    let shown = badge.as_str().to_string();
    out.push(None, EventBody::Unlocked { badge });
    Ok(out.done(Feedback::ok("badge_unlocked", vec![("badge", shown)])))
}

pub(super) fn close_rtv_note(
    cx: &Ctx,
    by: Operator,
    note_no: String,
    waybill: Option<Waybill>,
    note: String,
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Supervisor], "close_rtv_note")?;
    let n = cx
        .st
        .rtv_notes
        .get(&note_no)
        .ok_or_else(|| DomainError::UnknownRtvNote {
            note_no: note_no.clone(),
        })?;
    if n.closed.is_some() {
        return Err(DomainError::RtvNoteAlreadyClosed { note_no });
    }
    let note = note.trim().to_string();
    if note.chars().count() > CLOSE_NOTE_MAX {
        return Err(DomainError::BadInput {
            field: "note",
            problem: format!("longer than {CLOSE_NOTE_MAX} characters"),
        });
    }
    let mut out = Out::new(cx.now, by.actor());
    out.push(
        None,
        EventBody::RtvNoteClosed {
            note_no: note_no.clone(),
            waybill,
            note,
        },
    );
    Ok(out.done(Feedback::ok(
        "rtv_closed",
        vec![("note_no", note_no), ("items", n.lines.len().to_string())],
    )))
}
