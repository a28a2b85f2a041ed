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
    known!(Imports, "src/control/ops.rs" => "src/sync/mod.rs",
        "the control socket's sync-status op reads sync's SharedStatus: the status belongs \
         below the edges"),
    known!(Imports, "src/http/mod.rs" => "src/sync/mod.rs",
        "HttpState carries sync's SharedStatus: the status belongs below the edges"),
    known!(Imports, "src/http/kiosk_view.rs" => "src/sync/mod.rs",
        "the kiosk shows sync's status: through a status read model, not the worker's type"),
    known!(Imports, "src/http/reads.rs" => "src/sync/mod.rs",
        "GET sync status calls sync::status_json: the status read belongs in views"),
    known!(Imports, "src/http/reads.rs" => "src/printing/view.rs",
        "the print queue read calls printing::view::job_json: the read belongs in views"),
    // ── imports: reference data read from the feed's tables, not through refdata ─────────
    known!(Imports, "src/http/auth.rs" => "src/feed.rs",
        "operators are read with feed::get: through refdata"),
    known!(Imports, "src/http/kiosk_view.rs" => "src/feed.rs",
        "the manifest entry is read with feed::get: through refdata or views"),
    known!(Imports, "src/printing/data.rs" => "src/feed.rs",
        "a label's customer name is read with feed::get: through refdata"),
    // ── imports: a lower module naming the CLI ───────────────────────────────────────────
    // ── extern: SQL outside the store ───────────────────────────────────────────────────
    known!(Extern, "src/app/maintenance.rs" => "rusqlite",
        "photo pruning asks the journal which photos are still referenced: a store query"),
    known!(Extern, "src/feed.rs" => "rusqlite",
        "the feed's tables are read and written here: into the store"),
    known!(Extern, "src/manifest.rs" => "rusqlite",
        "manifest import writes through a Connection: through the store"),
    known!(Extern, "src/refdata.rs" => "rusqlite",
        "the Lookup queries the database: through store readers"),
    known!(Extern, "src/views.rs" => "rusqlite",
        "returns list/detail run their SQL here: into the store"),
    known!(Extern, "src/http/mod.rs" => "rusqlite",
        "with_reader hands handlers a Connection: a store reader type"),
    known!(Extern, "src/http/auth.rs" => "rusqlite",
        "sessions and lockouts take a Connection: store::api_state's reader"),
    known!(Extern, "src/http/reads.rs" => "rusqlite",
        "the API's reads take a Connection and query: into views/store"),
    known!(Extern, "src/http/kiosk_view.rs" => "rusqlite",
        "the kiosk snapshot runs its SQL here: into views/store"),
    known!(Extern, "src/http/kiosk_scan.rs" => "rusqlite",
        "the kiosk's scan list queries here: into views/store"),
    known!(Extern, "src/printing/data.rs" => "rusqlite",
        "a job's template fields are queried here: through store readers"),
    known!(Extern, "src/printing/view.rs" => "rusqlite",
        "print queue and preview take a Connection: through store::jobs"),
    known!(Extern, "src/sync/push/mod.rs" => "rusqlite",
        "the push loop reads journal rows through a Connection: through a store reader type"),
    // ── cycles between files ────────────────────────────────────────────────────────────
    known!(Cycle, "src/http/kiosk_scan.rs" => "src/http/kiosk_view.rs",
        "kiosk_scan uses kiosk_view's text; kiosk_view calls kiosk_scan"),
    known!(Cycle, "src/http/api.rs" =>
        "src/http/auth.rs src/http/kiosk.rs src/http/live.rs src/http/mod.rs src/http/ops.rs \
         src/http/reads.rs src/http/upload.rs",
        "api.rs routes to live/ops/reads/upload, which take api's Ctx and Outcome; mod.rs holds \
         HttpState, which its children name, and names them back"),
];
