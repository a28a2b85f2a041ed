//! The second inspection: an inspector (never the first checker, under the two-person
//! rule) grades items good or defect with reasons, photos, a note and the inspection
//! standard's checklist. A defect gets a defect tag per item; when the last item of a
//! return is graded its refund falls due, with the freight decision of `policy`.

use crate::domain::error::DomainError;
use crate::domain::event::{CheckLine, EventBody, FreightRecord, PhotoRef, PrintReason};
use crate::domain::ids::ReturnId;
use crate::domain::kind::{Grade, Role};
use crate::domain::model::Return;
use crate::domain::policy;
use crate::domain::ports::{Lookup, Settings};

use super::command::Operator;
use super::shared::{Ctx, open_return, pick_items, require};
use super::transition::{Effect, Feedback, Out, Transition};

/// What the inspector found, for every item the command names.
pub(super) struct Inspection {
    /// Good goes back to stock; defect goes to the defect zone with its tag.
    pub(super) grade: Grade,
    /// Codes of the feed's defect reasons: a defect needs one, a good grade has none. A
    /// seller-fault reason decides who pays the freight.
    pub(super) defect_reasons: Vec<String>,
    /// The inspector's own words, at most 2,000 characters.
    pub(super) note: String,
    /// Evidence for a quality claim (required for a defect when the station says so).
    pub(super) photos: Vec<PhotoRef>,
    /// The inspection standard's lines, met or not.
    pub(super) checklist: Vec<CheckLine>,
}

/// Inspect items of a first-checked return (the listed ones, or every one not yet graded).
pub(super) fn inspect(
    cx: &Ctx,
    by: Operator,
    return_id: &ReturnId,
    items: &[u32],
    found: Inspection,
) -> Result<Transition, DomainError> {
    require(&by, &[Role::Inspector, Role::Supervisor], "inspect")?;
    let r = open_return(cx.st, return_id)?;
    if r.first_checked_at.is_none() {
        return Err(DomainError::NotFirstChecked { id: r.id.clone() });
    }
    let actor = by.actor();
    if cx.cfg.two_person_check && r.first_checked_by.as_deref() == Some(actor.as_str()) {
        return Err(DomainError::SamePerson);
    }
    if cx.cfg.two_person_check
        && let Some(fc) = &r.first_checked_by
        && fc.rsplit(':').next() == Some(by.badge.as_str())
    {
        return Err(DomainError::SamePerson);
    }
    let targets = uninspected(r, items)?;
    check_finding(cx, &found)?;
    let Inspection {
        grade,
        defect_reasons,
        note,
        photos,
        checklist,
    } = found;
    let mut out = Out::new(cx.now, actor);
    out.push(
        Some(&r.id),
        EventBody::Inspected {
            items: targets.clone(),
            grade,
            defect_reasons: defect_reasons.clone(),
            note,
            photos,
            checklist,
        },
    );
    if grade == Grade::Defect {
        defect_tags(&r.id, &targets, &mut out);
    }
    // When this completes the inspection of the whole return, the refund falls due.
    let remaining = r
        .live_items()
        .filter(|i| i.grade.is_none() && !targets.contains(&i.item_no))
        .count();
    if remaining == 0 {
        refund_due(r, cx.lk, cx.cfg, &targets, grade, &defect_reasons, &mut out);
    }
    Ok(out.done(Feedback::ok(
        "inspected",
        vec![
            ("return_id", r.id.to_string()),
            ("items", targets.len().to_string()),
            ("grade", grade.as_str().into()),
        ],
    )))
}

/// The items to grade: each listed one must exist and not be graded yet; none listed
/// means every ungraded one. At least one.
fn uninspected(r: &Return, items: &[u32]) -> Result<Vec<u32>, DomainError> {
    let targets = pick_items(r, items, |i| i.grade.is_none())?;
    for no in &targets {
        let i = r.item(*no).ok_or(DomainError::ItemNotFound {
            id: r.id.clone(),
            item_no: *no,
        })?;
        if i.grade.is_some() {
            return Err(DomainError::ItemAlreadyInspected { item_no: *no });
        }
    }
    if targets.is_empty() {
        return Err(DomainError::NothingToInspect);
    }
    Ok(targets)
}

/// A finding the station can record: reasons with a defect (and only then, each known to
/// the feed), a photo when the station requires one, a bounded note, a valid checklist.
fn check_finding(cx: &Ctx, found: &Inspection) -> Result<(), DomainError> {
    match found.grade {
        Grade::Defect => {
            if found.defect_reasons.is_empty() {
                return Err(DomainError::DefectNeedsReason);
            }
            if cx.cfg.defect_photo_required && found.photos.is_empty() {
                return Err(DomainError::PhotoRequired);
            }
        }
        Grade::Good => {
            if !found.defect_reasons.is_empty() {
                return Err(DomainError::ReasonsOnlyForDefects);
            }
        }
    }
    for code in &found.defect_reasons {
        if cx.lk.defect_reason(code).is_none() {
            return Err(DomainError::UnknownDefectReason { code: code.clone() });
        }
    }
    if found.note.chars().count() > 2000 {
        return Err(DomainError::BadInput {
            field: "note",
            problem: "longer than 2000 characters".into(),
        });
    }
    check_checklist(&found.checklist)
}

/// Each defective item gets a defect tag (with the reasons) to go with it to the defect
/// zone: one `label.printed` for the lot, one print job per item.
fn defect_tags(id: &ReturnId, targets: &[u32], out: &mut Out) {
    out.push(
        Some(id),
        EventBody::LabelPrinted {
            template: "defect_tag".to_string(),
            reason: PrintReason::First,
            copies: targets.len() as u32,
            note: String::new(),
        },
    );
    for no in targets {
        out.effects.push(Effect::PrintLabel {
            return_id: id.clone(),
            template: "defect_tag",
            reason: PrintReason::First,
            item_no: Some(*no),
        });
    }
}

/// An inspection's checklist: at most 50 lines, codes of 1 to 64 letters, digits, `_-.`,
/// each once.
fn check_checklist(lines: &[CheckLine]) -> Result<(), DomainError> {
    let bad = |problem: String| DomainError::BadInput {
        field: "checklist",
        problem,
    };
    if lines.len() > 50 {
        return Err(bad("more than 50 lines".into()));
    }
    for (n, l) in lines.iter().enumerate() {
        let ok = (1..=64).contains(&l.code.len())
            && l.code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !ok {
            return Err(bad(format!(
                "line {}: a code is 1 to 64 letters, digits, _ - .",
                n + 1
            )));
        }
        if lines[..n].iter().any(|o| o.code == l.code) {
            return Err(bad(format!("{} listed twice", l.code)));
        }
    }
    Ok(())
}

/// The refund of a return whose last item was just graded falls due (`refund.due`), with
/// who pays which freight leg, when the return's kind and claimed reason call for one.
fn refund_due(
    r: &Return,
    lk: &dyn Lookup,
    cfg: &Settings,
    targets: &[u32],
    grade: Grade,
    reasons: &[String],
    out: &mut Out,
) {
    let Some(kind) = r.kind else { return };
    let claimed_s = r.claimed_reason.clone().unwrap_or_default();
    let claimed = policy::ClaimedReason::parse(&claimed_s);
    if !policy::refund_applies(kind, claimed) {
        return;
    }
    let d = policy::decide_freight(&policy::FreightInput {
        kind,
        claimed,
        finding: parcel_finding(r, lk, targets, grade, reasons),
        free_shipping: r.free_shipping,
    });
    let within = r
        .signed_at
        .map(|s| policy::no_reason_window(s, cfg.tz).contains(r.received_at));
    out.push(
        Some(&r.id),
        EventBody::RefundDue {
            due_by: policy::refund_due_by(r.received_at),
            freight: FreightRecord {
                fault: d.fault.as_str().to_string(),
                outbound: d.outbound,
                return_leg: d.return_leg,
                rule: d.rule.to_string(),
            },
            claimed_reason: claimed.as_str().to_string(),
            within_no_reason_window: within,
        },
    );
}

/// The parcel's finding, which decides fault: the worst of its items'
/// ([`policy::Finding::of_parcel`]). `targets` are being graded `grade` with `reasons` now;
/// the other items were graded before (the refund falls due only when none is left).
fn parcel_finding(
    r: &Return,
    lk: &dyn Lookup,
    targets: &[u32],
    grade: Grade,
    reasons: &[String],
) -> policy::Finding {
    let finding = |g: Grade, rs: &[String]| {
        let seller_fault = rs
            .iter()
            .any(|c| lk.defect_reason(c).is_some_and(|d| d.seller_fault));
        policy::Finding::from_grade(g, seller_fault)
    };
    policy::Finding::of_parcel(r.live_items().map(|i| {
        if targets.contains(&i.item_no) {
            finding(grade, reasons)
        } else {
            i.grade.map_or(policy::Finding::NotInspected, |g| {
                finding(g, &i.defect_reasons)
            })
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(code: &str, met: bool) -> CheckLine {
        CheckLine {
            code: code.to_string(),
            met,
        }
    }

    /// A checklist's lines: codes of the standard's kind, each once, at most 50.
    #[test]
    fn checklists_are_checked() {
        assert!(check_checklist(&[]).is_ok());
        assert!(check_checklist(&[line("tags_on", true), line("no_odour", false)]).is_ok());
        let refused = |lines: &[CheckLine]| match check_checklist(lines) {
            Err(DomainError::BadInput { field, problem }) => {
                assert_eq!(field, "checklist");
                problem
            }
            other => panic!("{other:?}"),
        };
        assert!(refused(&[line("a", true), line("a", false)]).contains("twice"));
        assert!(refused(&[line("", true)]).contains("line 1"));
        assert!(refused(&[line("ok", true), line("<script>", true)]).contains("line 2"));
        let many: Vec<CheckLine> = (0..51).map(|i| line(&format!("l{i}"), true)).collect();
        assert!(refused(&many).contains("50"));
    }
}
