//! The fold: [`Station::apply`] turns one committed event into state. The same fold runs
//! live (after each committed transaction) and when projections are rebuilt from the
//! journal, so the two can never disagree; the state machine also folds the events it is
//! about to record into a copy of a return, to see whether they finish it.

use chrono::{DateTime, Utc};

use super::event::{Event, EventBody, PrintReason};
use super::ids::ReturnId;
use super::kind::{ItemZone, OUT_ZONES, Visual};
use super::model::{
    Bench, BinEdit, Item, Return, RtvClosed, RtvNote, Session, Station, parse_rtv_number,
};

impl Station {
    /// Fold one committed event into the state.
    pub fn apply(&mut self, ev: &Event) {
        let at = ev.occurred_at;
        let rid = ev.return_id.clone();
        match &ev.body {
            EventBody::LoggedIn { bench, badge, role } => {
                let b = self.benches.entry(bench.clone()).or_default();
                b.session = Some(Session {
                    badge: badge.clone(),
                    role: *role,
                });
            }
            EventBody::LoggedOut { bench, .. } => {
                let b = self.benches.entry(bench.clone()).or_default();
                b.session = None;
                self.benches.retain(|_, b| *b != Bench::default());
            }
            EventBody::ScanRecorded { .. } => {}
            EventBody::Received { .. } => {
                if let Some(id) = rid {
                    self.receive(id, ev);
                }
            }
            EventBody::Selected { bench } => {
                let b = self.benches.entry(bench.clone()).or_default();
                b.current = rid;
            }
            EventBody::Released { bench } => {
                let b = self.benches.entry(bench.clone()).or_default();
                if b.current.is_some() {
                    b.last = b.current.take();
                }
            }
            EventBody::Ledger { sku, from, to, qty } => {
                let q = i64::from(*qty);
                if from != "in" {
                    *self.stock.entry((from.clone(), sku.clone())).or_insert(0) -= q;
                }
                if !OUT_ZONES.contains(&to.as_str()) {
                    *self.stock.entry((to.clone(), sku.clone())).or_insert(0) += q;
                }
                self.stock.retain(|_, v| *v != 0);
            }
            EventBody::RtvNoteCreated {
                note_no,
                vendor,
                lines,
            } => {
                if let Some((date, n)) = parse_rtv_number(note_no) {
                    let e = self.rtv_numbers.entry(date).or_insert(0);
                    *e = (*e).max(n);
                }
                self.rtv_notes.insert(
                    note_no.clone(),
                    RtvNote {
                        note_no: note_no.clone(),
                        vendor: vendor.clone(),
                        lines: lines.clone(),
                        created_at: at,
                        created_by: ev.actor.0.clone(),
                        closed: None,
                    },
                );
            }
            EventBody::RtvNoteClosed {
                note_no,
                waybill,
                note,
            } => {
                if let Some(n) = self.rtv_notes.get_mut(note_no) {
                    n.closed = Some(RtvClosed {
                        at,
                        by: ev.actor.0.clone(),
                        waybill: waybill.clone(),
                        note: note.clone(),
                    });
                }
            }
            EventBody::BinSet {
                code,
                class,
                label,
                active,
            } => {
                self.bins.insert(
                    code.clone(),
                    BinEdit {
                        class: *class,
                        label: label.clone(),
                        active: *active,
                        at,
                        by: ev.actor.0.clone(),
                    },
                );
            }
            _ => {
                if let Some(id) = rid {
                    self.apply_to_return_of(id, ev);
                }
            }
        }
    }

    /// `return.received`: a new return, numbered within its local day, findable by its
    /// waybill, and open at the bench that received it.
    fn receive(&mut self, id: ReturnId, ev: &Event) {
        let EventBody::Received {
            bench,
            waybill,
            courier,
            kind,
            number_date,
            number,
            announced,
            manifest_version,
            order_no,
            claimed_reason,
            signed_at,
            free_shipping,
            expected,
        } = &ev.body
        else {
            return;
        };
        let n = self.numbers.entry(*number_date).or_insert(0);
        *n = (*n).max(*number);
        self.by_waybill
            .insert(waybill.as_str().to_string(), id.clone());
        self.returns.insert(
            id.clone(),
            Return {
                id: id.clone(),
                waybill: waybill.clone(),
                courier: courier.clone(),
                kind: *kind,
                announced: *announced,
                manifest_version: *manifest_version,
                order_no: order_no.clone(),
                claimed_reason: claimed_reason.clone(),
                signed_at: *signed_at,
                free_shipping: *free_shipping,
                expected: expected.clone(),
                received_at: ev.occurred_at,
                received_by: ev.actor.0.clone(),
                card_present: None,
                unpacked: false,
                labels_printed: 0,
                reprints: 0,
                visual: Visual::NotRecorded,
                first_checked_at: None,
                first_checked_by: None,
                exchange_ship_by: None,
                refund_due_by: None,
                items: Vec::new(),
                closed: false,
                voided: None,
                updated_at: ev.occurred_at,
                exchange_waybill: None,
            },
        );
        let b = self.benches.entry(bench.clone()).or_default();
        b.current = Some(id);
    }

    /// Any other event of a return: folded into it; a return that becomes closed or voided
    /// leaves the bench it was open at.
    fn apply_to_return_of(&mut self, id: ReturnId, ev: &Event) {
        let Some(r) = self.returns.get_mut(&id) else {
            return;
        };
        r.updated_at = ev.occurred_at;
        apply_to_return(r, &ev.body, &ev.actor.0, ev.occurred_at);
        if r.stage().is_terminal() {
            for b in self.benches.values_mut() {
                if b.current.as_ref() == Some(&id) {
                    b.last = b.current.take();
                }
            }
        }
    }
}

/// Fold one event of a return into it (the events that concern a return alone).
pub(crate) fn apply_to_return(r: &mut Return, body: &EventBody, actor: &str, at: DateTime<Utc>) {
    match body {
        EventBody::Unannounced { .. } => {}
        EventBody::KindSet { kind } => r.kind = Some(*kind),
        EventBody::CardRecorded { present } => r.card_present = Some(*present),
        EventBody::Unpacked { .. } => r.unpacked = true,
        EventBody::LabelPrinted { copies, reason, .. } => {
            r.labels_printed += copies;
            if *reason == PrintReason::Reprint {
                r.reprints += copies;
            }
        }
        EventBody::ItemScanned {
            item_no,
            sku,
            barcode,
            name,
            exception,
        } => r.items.push(Item {
            item_no: *item_no,
            sku: sku.clone(),
            barcode: barcode.clone(),
            name: name.clone(),
            exception: *exception,
            voided: false,
            zone: ItemZone::Bench,
            grade: None,
            defect_reasons: Vec::new(),
            note: String::new(),
            photos: Vec::new(),
            checklist: Vec::new(),
            inspected_by: None,
            restocked: false,
        }),
        EventBody::ItemVoided { item_no } => {
            if let Some(i) = r.items.iter_mut().find(|i| i.item_no == *item_no) {
                i.voided = true;
            }
        }
        EventBody::VisualRecorded { visual } => r.visual = *visual,
        EventBody::FirstCompleted {
            exchange_ship_by, ..
        } => {
            r.first_checked_at = Some(at);
            r.first_checked_by = Some(actor.to_string());
            r.exchange_ship_by = Some(*exchange_ship_by);
        }
        EventBody::Inspected {
            items,
            grade,
            defect_reasons,
            note,
            photos,
            checklist,
        } => {
            for i in r.items.iter_mut().filter(|i| items.contains(&i.item_no)) {
                i.grade = Some(*grade);
                i.defect_reasons = defect_reasons.clone();
                i.note = note.clone();
                i.photos = photos.clone();
                i.checklist = checklist.clone();
                i.inspected_by = Some(actor.to_string());
            }
        }
        EventBody::ItemMoved { item_no, to, .. } => {
            if let Some(i) = r.items.iter_mut().find(|i| i.item_no == *item_no) {
                i.zone = to.clone();
            }
        }
        EventBody::RefundDue { due_by, .. } => r.refund_due_by = Some(*due_by),
        EventBody::ExchangeShipped { waybill, .. } => r.exchange_waybill = Some(waybill.clone()),
        EventBody::Restocked { items } => {
            for i in r.items.iter_mut().filter(|i| items.contains(&i.item_no)) {
                i.restocked = true;
            }
        }
        EventBody::Closed { .. } => r.closed = true,
        EventBody::Voided { reason } => r.voided = Some(reason.clone()),
        _ => {}
    }
}
