//! The returns state machine: `step(state, command, now) -> Transition`. It decides; it
//! never performs I/O. The engine records the transition's events in one transaction and
//! then runs its effects.
//!
//! Two machines share the one entry point. The bench flow (`bench.rs`) is driven by scans
//! at a returns bench: log in, receive or select a parcel, kind, unpack, items, visual and
//! card, first check. The operator commands come through the API and the control socket:
//! the second inspection (`inspect.rs`), the goods' later moves and corrections (`ops.rs`)
//! and the supervisor's housekeeping (`supervise.rs`).
//!
//! Files, each importing only those listed before it:
//! `command` (what comes in), `transition` (what goes out) → `shared` (the context every
//! decision reads, and the steps both machines take) → `bench`, `inspect`, `ops`,
//! `supervise` → this file, which routes each [`Command`] to its function. Only the
//! engine calls [`step`].

use chrono::{DateTime, Utc};

use crate::domain::error::DomainError;
use crate::domain::model::Station;
use crate::domain::ports::{Lookup, Settings};

mod bench;
mod command;
mod inspect;
mod ops;
mod shared;
mod supervise;
#[cfg(test)]
mod tests;
mod transition;

pub use command::{BinChange, Command, Operator};
pub use ops::restocked_to_sellable;
pub use transition::{Effect, Feedback, Transition};

use inspect::Inspection;
use shared::Ctx;

/// Decide what a command does. Scans never fail: a rejected scan is recorded with its
/// reason and fed back. API commands return a typed error and record nothing.
pub fn step(
    st: &Station,
    lk: &dyn Lookup,
    cfg: &Settings,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Transition, DomainError> {
    let cx = Ctx { st, lk, cfg, now };
    match cmd {
        Command::Scan { bench, text, class } => Ok(bench::scan(&cx, &bench, text, class)),
        Command::RecordLockout {
            badge,
            failures,
            minutes,
        } => Ok(ops::record_lockout(now, badge, failures, minutes)),
        Command::EndSessions { badges } => Ok(bench::end_sessions(st, now, &badges)),
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
            let found = Inspection {
                grade,
                defect_reasons,
                note,
                photos,
                checklist,
            };
            inspect::inspect(&cx, by, &return_id, &items, found)
        }
        Command::PutAway {
            by,
            return_id,
            items,
            zone,
        } => ops::put_away(&cx, by, &return_id, &items, &zone),
        Command::ExchangeShipped {
            by,
            return_id,
            waybill,
            items,
        } => ops::exchange_shipped(&cx, by, &return_id, waybill, &items),
        Command::Restock { by, return_id } => ops::restock(&cx, by, &return_id),
        Command::CreateRtvNote { by, vendor, items } => {
            ops::create_rtv_note(&cx, by, vendor, &items)
        }
        Command::Reprint {
            by,
            return_id,
            reason,
        } => ops::reprint(&cx, by, &return_id, &reason),
        Command::Void {
            by,
            return_id,
            reason,
        } => ops::void(&cx, by, &return_id, reason),
        Command::SetBin { by, code, change } => supervise::set_bin(&cx, by, code, change),
        Command::Unlock { by, badge } => supervise::unlock(now, by, badge),
        Command::PhotoLost { by, sha256, reason } => supervise::photo_lost(&cx, by, sha256, reason),
        Command::CloseRtvNote {
            by,
            note_no,
            waybill,
            note,
        } => supervise::close_rtv_note(&cx, by, note_no, waybill, note),
    }
}
