//! The supervisor's housekeeping commands, apart from the returns themselves: editing the
//! bins (`zone.bin_set`), closing return-to-vendor notes (`rtv.note_closed`), lifting a
//! lockout (`operator.unlocked`) and acknowledging a lost photo (`photo.lost`). All are
//! supervisor-only; `step` routes [`Command::SetBin`](super::Command), `CloseRtvNote`,
//! `Unlock` and `PhotoLost` here.

use crate::domain::error::DomainError;
use crate::domain::event::EventBody;
use crate::domain::ids::{Badge, BinCode, Waybill};
use crate::domain::kind::Role;
use crate::domain::ports::PhotoUplink;

use super::command::{BinChange, Operator};
use super::shared::{Ctx, require};
use super::transition::{Feedback, Out, Transition};

/// Longest bin label, in characters.
pub const LABEL_MAX: usize = 100;
/// Longest handover note on an RTV note, in characters.
pub const CLOSE_NOTE_MAX: usize = 500;
/// Longest reason for a lost photo, in characters.
pub const LOST_REASON_MAX: usize = 500;

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

/// A supervisor acknowledges that a photo can no longer be uploaded — the station's copy
/// is missing or no longer hashes to its name (contract 1.1). Only a photo that an event
/// the central has not acknowledged references can be lost (nothing else waits for it),
/// and only once. The push then sends those events with the photo marked `"lost": true`.
pub(super) fn photo_lost(
    cx: &Ctx,
    by: Operator,
    sha256: String,
    reason: String,
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Supervisor], "photo_lost")?;
    let sha256 = sha256.trim().to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DomainError::BadInput {
            field: "sha256",
            problem: "must be the photo's 64 hex digits".into(),
        });
    }
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        return Err(DomainError::ReasonRequired);
    }
    if reason.chars().count() > LOST_REASON_MAX {
        return Err(DomainError::BadInput {
            field: "reason",
            problem: format!("longer than {LOST_REASON_MAX} characters"),
        });
    }
    match cx.lk.photo_uplink(&sha256) {
        PhotoUplink::NotWaiting => return Err(DomainError::PhotoNotWaiting { sha256 }),
        PhotoUplink::Lost { seq } => return Err(DomainError::PhotoAlreadyLost { sha256, seq }),
        PhotoUplink::Waiting => {}
    }
    let mut out = Out::new(cx.now, by.actor());
    out.push(
        None,
        EventBody::PhotoLost {
            sha256: sha256.clone(),
            reason,
        },
    );
    Ok(out.done(Feedback::ok(
        "photo_lost_recorded",
        vec![("sha256", sha256)],
    )))
}
