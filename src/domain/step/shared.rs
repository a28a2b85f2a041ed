//! What the bench flow and the operator commands both need: the [`Ctx`] every decision
//! reads, the role check, finding an open return, picking a command's items, moving units
//! with their ledger entries, and printing the return label.

use chrono::{DateTime, Utc};

use crate::domain::error::DomainError;
use crate::domain::event::{EventBody, PrintReason};
use crate::domain::ids::ReturnId;
use crate::domain::kind::{ItemZone, Role};
use crate::domain::model::{Item, Return, Station};
use crate::domain::ports::{Lookup, Settings};

use super::command::Operator;
use super::transition::{Effect, Out};

/// What every decision reads besides its command.
pub(super) struct Ctx<'a> {
    /// The station as its journal folds up to now: the only state a decision sees.
    pub(super) st: &'a Station,
    /// Reference data owned outside the domain (manifest, operators, defect reasons, the
    /// configured bins), asked for only what the command needs.
    pub(super) lk: &'a dyn Lookup,
    /// The station's settings the rules depend on (its id and time zone, two rules).
    pub(super) cfg: &'a Settings,
    /// The command's time, passed in: the domain never reads a clock.
    pub(super) now: DateTime<Utc>,
}

/// Move units from one zone to another: an `item.moved` per unit and one `ledger.entry`
/// per SKU, so the ledger always balances against the items.
pub(super) fn move_items(
    id: &ReturnId,
    items: &[(u32, String)],
    from: &ItemZone,
    to: &ItemZone,
    out: &mut Out,
) {
    let mut per_sku: Vec<(String, u32)> = Vec::new();
    for (no, sku) in items {
        out.push(
            Some(id),
            EventBody::ItemMoved {
                item_no: *no,
                from: from.clone(),
                to: to.clone(),
            },
        );
        match per_sku.iter_mut().find(|(s, _)| s == sku) {
            Some(e) => e.1 += 1,
            None => per_sku.push((sku.clone(), 1)),
        }
    }
    for (sku, qty) in per_sku {
        out.push(
            Some(id),
            EventBody::Ledger {
                sku,
                from: from.ledger_name(),
                to: to.ledger_name(),
                qty,
            },
        );
    }
}

/// Print the return label: `label.printed` now, the print job after commit.
pub(super) fn print(id: &ReturnId, reason: PrintReason, note: &str, out: &mut Out) {
    out.push(
        Some(id),
        EventBody::LabelPrinted {
            template: "return_label".to_string(),
            reason,
            copies: 1,
            note: note.to_string(),
        },
    );
    out.effects.push(Effect::PrintLabel {
        return_id: id.clone(),
        template: "return_label",
        reason,
        item_no: None,
    });
}

/// The operator acts in one of the `allowed` roles, or the command is refused naming the
/// `action` (translated as `action.<name>`).
pub(super) fn require(
    by: &Operator,
    allowed: &[Role],
    action: &'static str,
) -> Result<(), DomainError> {
    if allowed.contains(&by.role) {
        Ok(())
    } else {
        Err(DomainError::RoleNotAllowed {
            role: by.role,
            action,
        })
    }
}

/// The return `id`, known and not closed or voided.
pub(super) fn open_return<'a>(st: &'a Station, id: &ReturnId) -> Result<&'a Return, DomainError> {
    let r = st
        .returns
        .get(id)
        .ok_or_else(|| DomainError::UnknownReturn { id: id.to_string() })?;
    if r.stage().is_terminal() {
        return Err(DomainError::Terminal {
            id: r.id.clone(),
            stage: r.stage(),
        });
    }
    Ok(r)
}

/// The items a command targets: the listed ones (each must exist), or every item that
/// `default` selects when the list is empty.
pub(super) fn pick_items(
    r: &Return,
    items: &[u32],
    default: impl Fn(&Item) -> bool,
) -> Result<Vec<u32>, DomainError> {
    if items.is_empty() {
        return Ok(r
            .live_items()
            .filter(|i| default(i))
            .map(|i| i.item_no)
            .collect());
    }
    let mut out = Vec::new();
    for no in items {
        if r.item(*no).is_none() {
            return Err(DomainError::ItemNotFound {
                id: r.id.clone(),
                item_no: *no,
            });
        }
        if !out.contains(no) {
            out.push(*no);
        }
    }
    Ok(out)
}
