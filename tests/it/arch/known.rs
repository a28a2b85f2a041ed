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

use super::rules::{Known, Rule};

/// One entry, with the line it is written on.
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

/// Every entry is to be removed by the structure work.
#[rustfmt::skip] // a list: two lines an entry
pub const KNOWN: &[Known] = &[
    // ── imports: `config` names the edges it validates for ──────────────────────────────
    // ── imports: edges naming each other ────────────────────────────────────────────────
    // ── imports: reference data read from the feed's tables, not through refdata ─────────
    known!(Imports, "src/http/print_jobs.rs" => "src/printing/view.rs",
        "http's one door to printing: job_json belongs in views/store; the label preview is \
         printing's rendering of a stored job (a read model or the engine's handle)"),
    // ── imports: reference data read from the feed's tables, not through refdata ─────────
    // ── imports: a lower module naming the CLI ───────────────────────────────────────────
    // ── extern: SQL outside the store ───────────────────────────────────────────────────
    // ── cycles between files ────────────────────────────────────────────────────────────
];
