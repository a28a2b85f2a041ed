//! Violations of the architecture that the tree has today, each allowed by name until the
//! structure work removes it: `known!(rule, from => to, why)`, keyed by (rule, from, to):
//! - `Imports`: the file that names → the file of the module it names;
//! - `Extern`: the file → the external path (`rusqlite`);
//! - `Cycle`: the component's first file → its other files (sorted, space-separated);
//! - `Step`, `DocPath`: the file → `domain::step::step`, the cited path.
//!
//! A failing line says which entry to add (its `from` and `to` are in the message) or,
//! as `stale-allow`, which to delete or narrow: an entry no violation needs fails the test,
//! so this list only shrinks. Add an entry only for a violation you cannot fix now, and
//! say why it is there.

#[allow(unused_imports)] // `Rule` is named by `known!` entries
use super::rules::{Known, Rule};

/// One entry, with the line it is written on.
#[allow(unused_macros)] // the list is empty today: keep the way to add one
macro_rules! known {
    ($rule:ident, $from:literal => $to:literal, $why:literal) => {
        Known {
            rule: Rule::$rule,
            from: $from,
            to: $to,
            why: $why,
            line: line!(),
        }
    };
}

/// Every known violation. Empty: the structure work removed them all (cross-edge imports,
/// SQL outside the store, file cycles), so every rule now holds for the whole tree and any
/// new violation fails CI.
pub const KNOWN: &[Known] = &[];
