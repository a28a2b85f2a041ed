//! The scan grammar and the GS1 parser (`domain::scan`).

use std::sync::OnceLock;

use crate::domain::scan::gs1::{self, ElementString};
use crate::domain::scan::{DEFAULT_MAX_LEN, ScanClass, ScanGrammar};

/// The grammar the station runs by default (the built-in couriers).
fn grammar() -> &'static ScanGrammar {
    static GRAMMAR: OnceLock<ScanGrammar> = OnceLock::new();
    GRAMMAR.get_or_init(|| {
        ScanGrammar::new(&ScanGrammar::default_couriers(), DEFAULT_MAX_LEN)
            .unwrap_or_else(|e| panic!("the default scan grammar: {e:?}"))
    })
}

/// Any bytes classify without panicking, into the same class every time; the shown text
/// has no control character; a scanner's line end does not change what a scan is; an
/// identifier read from a scan reads back the same from its canonical form.
pub fn scan(data: &[u8]) {
    let g = grammar();
    let s = g.classify(data);
    assert_eq!(g.classify(data), s, "classification is deterministic");
    assert!(
        !s.text.chars().any(char::is_control),
        "shown text has no control characters: {:?}",
        s.text
    );
    if data.len() + 2 <= g.max_len() {
        let mut ended = data.to_vec();
        ended.extend_from_slice(b"\r\n");
        assert_eq!(
            g.classify(&ended).class,
            s.class,
            "a CR LF suffix changes nothing"
        );
    }
    let canonical = match &s.class {
        ScanClass::ReturnId(id) => Some(id.to_string()),
        ScanClass::Item(item) => Some(item.to_string()),
        ScanClass::Badge(b) => Some(b.scan_form()),
        ScanClass::Command(c) => Some(c.code().to_owned()),
        ScanClass::Zone(z) => Some(z.to_string()),
        _ => None,
    };
    if let Some(text) = canonical {
        assert_eq!(
            g.classify(text.as_bytes()).class,
            s.class,
            "the canonical form {text:?} reads back the same"
        );
    }
}

/// The transmitted (GS-separated) form: every element followed by GS, which ends a
/// variable-length field and is skipped after a fixed-length one.
fn raw_form(es: &ElementString) -> String {
    es.elements
        .iter()
        .map(|e| format!("{}{}", e.ai, e.value))
        .collect::<Vec<_>>()
        .join(&gs1::GS.to_string())
}

/// The human-readable form `(01)…(10)…`.
fn bracketed_form(es: &ElementString) -> String {
    es.elements
        .iter()
        .map(|e| format!("({}){}", e.ai, e.value))
        .collect()
}

/// Whether some value holds a `(nn)` that the bracketed form would read as an AI.
fn value_looks_bracketed(es: &ElementString) -> bool {
    es.elements.iter().any(|e| {
        e.value
            .match_indices('(')
            .any(|(i, _)| gs1::starts_with_bracketed_ai(&e.value[i..]))
    })
}

/// Both parsers take any text without panicking; what either parses re-encodes, in the
/// transmitted and in the bracketed form, to text that parses to the same elements.
pub fn gs1(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for es in [gs1::parse_raw(text), gs1::parse_bracketed(text)]
        .into_iter()
        .flatten()
    {
        assert!(
            !es.elements.is_empty(),
            "a parsed element string has elements"
        );
        let raw = raw_form(&es);
        assert_eq!(
            gs1::parse_raw(&raw).as_ref(),
            Ok(&es),
            "{text:?} re-encoded as {raw:?}"
        );
        if !value_looks_bracketed(&es) {
            let bracketed = bracketed_form(&es);
            assert_eq!(
                gs1::parse_bracketed(&bracketed).as_ref(),
                Ok(&es),
                "{text:?} re-encoded as {bracketed:?}"
            );
        }
    }
}
