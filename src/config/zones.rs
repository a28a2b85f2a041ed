//! `[zones]`: the bins inside the good and defect zones that put-away can scan.

use std::collections::BTreeMap;

use super::ctx::Ctx;
use super::raw::RawZones;
use crate::domain::ids::BinCode;
use crate::domain::kind::BinClass;

/// The validated `[zones]` table.
#[derive(Debug, Clone, Default)]
pub struct ZonesConfig {
    /// The bins scanned as `Z-<code>` at put-away, each in the good or the defect zone, so a
    /// good item can never be put into a defect bin (bin edits over the API come on top).
    pub bins: BTreeMap<BinCode, BinClass>,
}

impl RawZones {
    /// Validate `[[zones.bins]]`: codes by the bin-code rule, each listed once.
    pub fn validate(&self, ctx: &mut Ctx) -> ZonesConfig {
        let mut bins = BTreeMap::new();
        for (i, b) in self.bins.iter().enumerate() {
            let key = |k: &str| format!("zones.bins[{i}].{k}");
            let class = match b.class.as_deref() {
                None => {
                    ctx.missing(&key("class"));
                    None
                }
                Some("good") => Some(BinClass::Good),
                Some("defect") => Some(BinClass::Defect),
                Some(other) => {
                    ctx.bad(
                        &key("class"),
                        format!("{other:?}: use \"good\" or \"defect\""),
                    );
                    None
                }
            };
            let Some(text) = &b.code else {
                ctx.missing(&key("code"));
                continue;
            };
            match BinCode::parse(text) {
                Err(_) => ctx.bad(
                    &key("code"),
                    format!("{text:?}: use {}; it is scanned as Z-<code>", BinCode::RULE),
                ),
                Ok(code) if bins.contains_key(&code) => {
                    ctx.bad(&key("code"), format!("{text:?} is listed twice"))
                }
                Ok(code) => {
                    if let Some(c) = class {
                        bins.insert(code, c);
                    }
                }
            }
        }
        ZonesConfig { bins }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawBin;

    fn bin(code: &str, class: &str) -> RawBin {
        RawBin {
            code: Some(code.into()),
            class: Some(class.into()),
        }
    }

    /// No bins by default; listed bins land in their zone.
    #[test]
    fn bins_by_class() {
        let mut ctx = Ctx::test();
        assert!(RawZones::default().validate(&mut ctx).bins.is_empty());
        let z = RawZones {
            bins: vec![bin("A01", "good"), bin("D01", "defect")],
        }
        .validate(&mut ctx);
        assert!(ctx.reported().is_empty());
        assert_eq!(z.bins[&BinCode::parse("A01").unwrap()], BinClass::Good);
        assert_eq!(z.bins[&BinCode::parse("D01").unwrap()], BinClass::Defect);
    }

    /// Each bad entry is reported with its key.
    #[test]
    fn bad_bins() {
        let mut ctx = Ctx::test();
        RawZones {
            bins: vec![
                bin("A01", "good"),
                bin("A01", "defect"),
                bin("a 1", "good"),
                bin("B02", "fine"),
                RawBin::default(),
            ],
        }
        .validate(&mut ctx);
        assert_eq!(
            ctx.reported(),
            [
                "zones.bins[1].code: \"A01\" is listed twice".to_string(),
                format!(
                    "zones.bins[2].code: \"a 1\": use {}; it is scanned as Z-<code>",
                    BinCode::RULE
                ),
                "zones.bins[3].class: \"fine\": use \"good\" or \"defect\"".into(),
                "zones.bins[4].class: missing field `class`".into(),
                "zones.bins[4].code: missing field `code`".into(),
            ]
        );
    }
}
