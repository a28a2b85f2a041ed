//! What a decision produces: the [`Transition`] the engine commits (events, effects, the
//! operator's [`Feedback`]), and [`Out`], the builder each command fills as it decides.

use chrono::{DateTime, Utc};

use crate::domain::error::DomainError;
use crate::domain::event::{Actor, Event, EventBody, PrintReason};
use crate::domain::ids::ReturnId;

/// What the engine must do after committing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Print a label for a return: the return label (`item_no` None) or a per-item label
    /// such as the defect tag.
    PrintLabel {
        return_id: ReturnId,
        template: &'static str,
        reason: PrintReason,
        item_no: Option<u32>,
    },
    /// Print the label of a return-to-vendor note (it belongs to no single return).
    PrintRtvNote { note_no: String },
}

/// What the operator is told. `code` is a translation key; `params` fill its template.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    /// Green or red at the bench. Not the same as accepted: an over item is counted but
    /// shown red, so the keeper looks.
    pub ok: bool,
    /// The message's translation key; the words live in `i18n`, in both languages.
    pub code: &'static str,
    /// Named values for the message's placeholders (never customer fields: a scan's
    /// feedback is journaled).
    pub params: Vec<(&'static str, String)>,
}

impl Feedback {
    pub(super) fn ok(code: &'static str, params: Vec<(&'static str, String)>) -> Feedback {
        Feedback {
            ok: true,
            code,
            params,
        }
    }
}

/// The outcome of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The facts to record, in order, in one transaction with the state they produce.
    pub events: Vec<Event>,
    /// Run only after that commit, so nothing is printed for an event that was not saved.
    pub effects: Vec<Effect>,
    /// What the operator is told once the events are on disk.
    pub feedback: Feedback,
    /// A scan that was rejected still records a `scan.recorded` event; this carries why.
    pub rejected: Option<DomainError>,
}

/// The transition a command is building: its events in order, stamped with one time and
/// one actor, and the effects to run after commit.
pub(super) struct Out {
    /// The command's time: every event it records happened at this instant.
    pub(super) now: DateTime<Utc>,
    /// Who the events are recorded as; a badge scan changes it to the operator logging in.
    pub(super) actor: Actor,
    /// The events so far; a later decision (closing a finished return) reads them.
    pub(super) events: Vec<Event>,
    /// Work for the engine after commit (labels to print), in order.
    pub(super) effects: Vec<Effect>,
}

impl Out {
    pub(super) fn new(now: DateTime<Utc>, actor: Actor) -> Out {
        Out {
            now,
            actor,
            events: Vec::new(),
            effects: Vec::new(),
        }
    }
    pub(super) fn push(&mut self, return_id: Option<&ReturnId>, body: EventBody) {
        self.events.push(Event {
            occurred_at: self.now,
            actor: self.actor.clone(),
            return_id: return_id.cloned(),
            body,
        });
    }
    pub(super) fn done(self, feedback: Feedback) -> Transition {
        Transition {
            events: self.events,
            effects: self.effects,
            feedback,
            rejected: None,
        }
    }
}
