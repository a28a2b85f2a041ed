//! Courier waybill patterns: the configurable list of (courier name, regex) pairs used to
//! recognise tracking numbers, their compilation, and the default Chinese couriers.

use std::fmt;

use regex::{Regex, RegexBuilder};

/// A courier and the shape of its waybill numbers, as configured.
///
/// `pattern` is a regex over the whole waybill (it is anchored for you) and matches
/// case-insensitively. It is only ever tried on strings that are valid
/// [`Waybill`](crate::domain::ids::Waybill)s (`[A-Za-z0-9]{6,40}`), uppercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourierPattern {
    /// The courier's name, recorded with each waybill it matches.
    pub name: String,
    /// The shape of its waybills (a regex, anchored and case-insensitive when compiled).
    pub pattern: String,
}

impl CourierPattern {
    pub fn new(name: &str, pattern: &str) -> CourierPattern {
        CourierPattern {
            name: name.to_owned(),
            pattern: pattern.to_owned(),
        }
    }
}

/// Why a courier list does not compile. `index` is the position in the list given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrammarError {
    /// A courier with an empty (or all-blank) name.
    EmptyName { index: usize },
    /// An empty pattern.
    EmptyPattern { index: usize, name: String },
    /// The pattern is not a valid regex; `detail` is the regex engine's own message.
    BadPattern {
        index: usize,
        name: String,
        detail: String,
    },
    /// `max_len` must be at least 1.
    ZeroMaxLen,
}

impl GrammarError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            GrammarError::EmptyName { .. } => "grammar.empty_name",
            GrammarError::EmptyPattern { .. } => "grammar.empty_pattern",
            GrammarError::BadPattern { .. } => "grammar.bad_pattern",
            GrammarError::ZeroMaxLen => "grammar.zero_max_len",
        }
    }
}

/// Machine form: the code and its fields.
impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())?;
        match self {
            GrammarError::EmptyName { index } => write!(f, " index={index}"),
            GrammarError::EmptyPattern { index, name } => {
                write!(f, " index={index} name={name:?}")
            }
            GrammarError::BadPattern {
                index,
                name,
                detail,
            } => write!(f, " index={index} name={name:?} detail={detail:?}"),
            GrammarError::ZeroMaxLen => Ok(()),
        }
    }
}

impl std::error::Error for GrammarError {}

/// A compiled courier pattern.
#[derive(Debug, Clone)]
pub(super) struct Courier {
    /// The name recorded with a matching waybill.
    pub(super) name: String,
    /// The anchored, case-insensitive pattern, compiled once.
    pub(super) regex: Regex,
}

/// Compiles the list, checking names and patterns. Each pattern is first compiled on its
/// own (so a pattern like `a)|(b` cannot escape the anchoring group), then anchored.
pub(super) fn compile(couriers: &[CourierPattern]) -> Result<Vec<Courier>, GrammarError> {
    let mut out: Vec<Courier> = Vec::with_capacity(couriers.len());
    for (index, c) in couriers.iter().enumerate() {
        let name = c.name.trim();
        if name.is_empty() {
            return Err(GrammarError::EmptyName { index });
        }
        if c.pattern.trim().is_empty() {
            return Err(GrammarError::EmptyPattern {
                index,
                name: name.to_owned(),
            });
        }
        let bad = |e: regex::Error| GrammarError::BadPattern {
            index,
            name: name.to_owned(),
            detail: e.to_string(),
        };
        Regex::new(&c.pattern).map_err(bad)?;
        let regex = RegexBuilder::new(&format!(r"\A(?:{})\z", c.pattern))
            .case_insensitive(true)
            .build()
            .map_err(bad)?;
        out.push(Courier {
            name: name.to_owned(),
            regex,
        });
    }
    Ok(out)
}

/// The default couriers, in match order (first match wins). A courier may appear more
/// than once, one entry per number shape.
///
/// Sources: the shapes each courier prints on its waybills and that its own and the
/// aggregator (Kuaidi100, Cainiao) tracking lookups accept. Letter-prefixed shapes are
/// disjoint; purely numeric ones are approximate and overlap each other and EAN/UPC,
/// which is what `ScanClass::Ambiguous` and this order are for: more specific prefixes
/// come first (STO's `77`/`x68` before ZTO's `7`/`5`/`3`, UPU S10 before JD's free tail).
pub fn default_couriers() -> Vec<CourierPattern> {
    vec![
        // SF Express 顺丰: "SF" + 13 digits on current waybills (e.g. SF1234567890123);
        // 12–15 digits after the prefix accepted for older and partner stock.
        CourierPattern::new("SF", "SF[0-9]{12,15}"),
        // YTO Express 圆通: "YT" + 13 digits (e.g. YT1234567890123); 13–15 accepted.
        CourierPattern::new("YTO", "YT[0-9]{13,15}"),
        // China Post EMS, international: UPU S10 — 2-letter service indicator, 8-digit
        // serial + mod-11 check digit (not verified here), ISO country, e.g. EA123456789CN.
        CourierPattern::new("EMS", "[A-Z]{2}[0-9]{9}[A-Z]{2}"),
        // JD Logistics 京东: "JD" + letters/digits, e.g. JDVA12345678901, JDX000123456789.
        CourierPattern::new("JD", "JD[A-Z0-9]{11,18}"),
        // STO Express 申通: 12–13 digits starting 77, or 268/368/…/968 (e.g. 773012345678).
        // Approximate.
        CourierPattern::new("STO", "77[0-9]{10,11}|[2-9]68[0-9]{9,10}"),
        // ZTO Express 中通: mostly 12 digits starting 7 (73…, 75…, 78…), newer stock 14–15
        // digits; accept 12–15 digits starting 7, 5 or 3 (e.g. 731234567890). Approximate.
        CourierPattern::new("ZTO", "[735][0-9]{11,14}"),
        // Yunda 韵达: 13 or 15 digits starting 1 or 4 (e.g. 4312345678901). Approximate.
        CourierPattern::new("Yunda", "[14](?:[0-9]{12}|[0-9]{14})"),
        // China Post EMS, domestic: 13 digits starting 1 (e.g. 1100123456781). Approximate,
        // and shadowed by Yunda's 13-digit "1…" shape above; kept so a config that drops
        // or reorders Yunda still recognises EMS.
        CourierPattern::new("EMS", "1[0-9]{12}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_errors_name_the_pattern() {
        // (list, expected error code, index): proves each bad configuration is reported by name.
        let cases: Vec<(Vec<CourierPattern>, &str, usize)> = vec![
            (
                vec![CourierPattern::new(" ", "X[0-9]{6}")],
                "grammar.empty_name",
                0,
            ),
            (
                vec![CourierPattern::new("A", "")],
                "grammar.empty_pattern",
                0,
            ),
            (
                vec![
                    CourierPattern::new("A", "A[0-9]{6}"),
                    CourierPattern::new("Bad", "[0-9"),
                ],
                "grammar.bad_pattern",
                1,
            ),
            // An unbalanced pattern that would escape the anchoring group if wrapped blindly.
            (
                vec![CourierPattern::new("Esc", "1)|(2")],
                "grammar.bad_pattern",
                0,
            ),
        ];
        for (list, code, want_index) in cases {
            let err = compile(&list).unwrap_err();
            assert_eq!(err.code(), code, "{list:?}");
            let index = match &err {
                GrammarError::EmptyName { index }
                | GrammarError::EmptyPattern { index, .. }
                | GrammarError::BadPattern { index, .. } => *index,
                GrammarError::ZeroMaxLen => usize::MAX,
            };
            assert_eq!(index, want_index, "{list:?}");
            assert!(err.to_string().starts_with(code));
        }
    }

    #[test]
    fn defaults_compile_and_are_anchored() {
        // Proves the defaults compile and a pattern only matches whole waybills.
        let compiled = compile(&default_couriers()).unwrap();
        assert_eq!(compiled.len(), 8);
        let sf = &compiled[0].regex;
        assert!(sf.is_match("SF1234567890123"));
        assert!(sf.is_match("sf1234567890123"));
        assert!(!sf.is_match("XSF1234567890123"));
        assert!(!sf.is_match("SF1234567890123X"));
    }
}
