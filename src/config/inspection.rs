//! `[inspection]` and `[[defect_reasons]]`: the rules of the second inspection and the
//! defect reasons an inspector can tag, with who is at fault for each.

use super::ctx::Ctx;
use super::raw::{RawDefectReason, RawInspection};

/// The validated `[inspection]` table.
#[derive(Debug, Clone)]
pub struct InspectionConfig {
    /// A defect grade must carry a photo: a quality claim against the seller needs
    /// evidence.
    pub defect_photo_required: bool,
    /// The second inspection must be someone other than the keeper who did the first
    /// check: four eyes on every grade.
    pub two_person_check: bool,
    /// Inspectors (not supervisors) do not see the keeper's first-check results on the API,
    /// so they grade what they see rather than confirm what they read.
    pub blind: bool,
}

/// One defect reason an inspector can tag.
#[derive(Debug, Clone)]
pub struct DefectReasonDef {
    /// The code recorded in events and sent to the central: `a-z 0-9 _`, stable across
    /// languages.
    pub code: String,
    /// What the Chinese-speaking floor reads on the handheld and the defect tag.
    pub label_zh: String,
    /// The same in English, for the rest.
    pub label_en: String,
    /// Whether the seller is at fault: it decides who pays the freight both ways.
    pub seller_fault: bool,
}

impl RawInspection {
    /// Validate `[inspection]` (every key is a switch with a default).
    pub fn validate(&self, _ctx: &mut Ctx) -> InspectionConfig {
        InspectionConfig {
            defect_photo_required: self.defect_photo_required.unwrap_or(true),
            two_person_check: self.two_person_check.unwrap_or(true),
            blind: self.blind.unwrap_or(false),
        }
    }
}

/// Built-in defect reasons, used until the central's feed sends its own list.
pub fn builtin_defect_reasons() -> Vec<DefectReasonDef> {
    let d = |code: &str, zh: &str, en: &str, seller_fault: bool| DefectReasonDef {
        code: code.into(),
        label_zh: zh.into(),
        label_en: en.into(),
        seller_fault,
    };
    vec![
        d("not_working", "功能故障", "Does not work", true),
        d("damaged_casing", "外壳破损", "Damaged casing", true),
        d("missing_parts", "配件缺失", "Missing parts", true),
        d("wrong_item", "发错货", "Wrong item sent", true),
        d("not_as_described", "与描述不符", "Not as described", true),
        d("used_or_soiled", "已使用/污损", "Used or soiled", false),
        d("customer_damage", "人为损坏", "Damaged by customer", false),
        d("packaging_damaged", "包装破损", "Packaging damaged", false),
    ]
}

/// Validate `[[defect_reasons]]`: the built-in list with these added, or replaced by code.
pub fn defect_reasons(raw: &[RawDefectReason], ctx: &mut Ctx) -> Vec<DefectReasonDef> {
    let mut reasons = builtin_defect_reasons();
    for (i, d) in raw.iter().enumerate() {
        let key = |k: &str| format!("defect_reasons[{i}].{k}");
        let (Some(code), Some(label_zh), Some(label_en), Some(seller_fault)) =
            (&d.code, &d.label_zh, &d.label_en, d.seller_fault)
        else {
            for (set, k) in [
                (d.code.is_some(), "code"),
                (d.label_zh.is_some(), "label_zh"),
                (d.label_en.is_some(), "label_en"),
                (d.seller_fault.is_some(), "seller_fault"),
            ] {
                if !set {
                    ctx.missing(&key(k));
                }
            }
            continue;
        };
        if code.is_empty()
            || !code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            ctx.bad(&key("code"), format!("{code:?}: use a-z 0-9 _"));
        }
        reasons.retain(|x| &x.code != code);
        reasons.push(DefectReasonDef {
            code: code.clone(),
            label_zh: label_zh.clone(),
            label_en: label_en.clone(),
            seller_fault,
        });
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &str) -> RawDefectReason {
        RawDefectReason {
            code: Some(code.into()),
            label_zh: Some("屏幕划伤".into()),
            label_en: Some("Scratched screen".into()),
            seller_fault: Some(false),
        }
    }

    /// Photos and four eyes are on by default, blind inspection off.
    #[test]
    fn inspection_defaults() {
        let i = RawInspection::default().validate(&mut Ctx::test());
        assert!(i.defect_photo_required && i.two_person_check && !i.blind);
        let i = RawInspection {
            defect_photo_required: Some(false),
            two_person_check: Some(false),
            blind: Some(true),
        }
        .validate(&mut Ctx::test());
        assert!(!i.defect_photo_required && !i.two_person_check && i.blind);
    }

    /// A reason is added, or replaces the built-in one with its code; bad codes and
    /// missing keys are reported with their keys.
    #[test]
    fn defect_reasons_add_replace_and_report() {
        let mut ctx = Ctx::test();
        let builtin = builtin_defect_reasons().len();
        let r = defect_reasons(
            &[reason("scratched_screen"), reason("not_working")],
            &mut ctx,
        );
        assert!(ctx.reported().is_empty());
        assert_eq!(r.len(), builtin + 1);
        let nw = r.iter().find(|d| d.code == "not_working").unwrap();
        assert!(!nw.seller_fault, "replaced by the config's");
        defect_reasons(
            &[
                reason("Bad-Code"),
                RawDefectReason {
                    code: Some("x".into()),
                    ..RawDefectReason::default()
                },
            ],
            &mut ctx,
        );
        assert_eq!(
            ctx.reported(),
            [
                "defect_reasons[0].code: \"Bad-Code\": use a-z 0-9 _",
                "defect_reasons[1].label_zh: missing field `label_zh`",
                "defect_reasons[1].label_en: missing field `label_en`",
                "defect_reasons[1].seller_fault: missing field `seller_fault`",
            ]
        );
    }
}
