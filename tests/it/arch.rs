//! Architecture invariants that a compiler cannot see.
//!
//! The module graph of `src/` is checked against the tables below (`modgraph.rs` reads
//! it, `scan.rs` reads one file, `cases.rs` plants a violation of each rule in a small
//! tree to show it is caught). Known violations are listed in `known.rs` until the
//! structure work removes them; a new one fails with `path:line: rule: detail`, and so does
//! an entry no violation needs any more, so that list only shrinks.
//!
//! To change the architecture, edit a row here and say why in its comment. To fix a
//! violation, fix the code and delete its entry in `known.rs` (the test names the line).

mod cases;
mod docpaths;
mod known;
mod modgraph;
mod rules;
mod scan;

use std::collections::BTreeSet;
use std::path::Path;

/// Top-level module → the other top-level modules it may name (`use crate::x`,
/// `crate::x::…`, `super::…` up to the crate root), space-separated. A module always names
/// itself; a top-level module without a row fails. Layers, bottom up: the pure domain;
/// libraries that know little or nothing of the crate; the store and the reference data
/// over it; the engine; the edges (each owning one resource, never naming another edge);
/// the wiring (`app`, `cli`, `main`).
#[rustfmt::skip] // a table: one row per line
pub const ALLOWED: &[(&str, &str)] = &[
    // The vocabulary and the state machine: pure, it names nothing else of the crate.
    ("domain",    ""),
    // Leaf libraries: masking, photo metadata, label rendering (barcodes, bitmaps, text,
    // ZPL/TSPL, templates). They know no domain type; their callers map to their terms.
    ("privacy",   ""),
    // The contract's time format and hex: leaf helpers every layer may use.
    ("format",    ""),
    // systemd's notify protocol (READY=1, STOPPING=1; later the watchdog): the daemon
    // tells the service manager; it knows nothing of the crate.
    ("systemd",   ""),
    // The Prometheus registry: the latency histograms and a scrape's encoding. It knows
    // nothing of the crate; the engine records scan latencies into it through a few
    // methods (the domain never does), the edges record theirs and `/metrics` encodes it.
    ("telemetry", ""),
    ("photometa", ""),
    ("label",     ""),
    // Operator text, keyed by the domain's codes; the content-addressed photo store.
    ("i18n",      "domain"),
    ("photos",    "domain"),
    // Raw TOML → validated Config, the loader: every section is validated by the module
    // that owns its settings type — the scanners' by `devices`, the printer's by
    // `printing`, the photo size cap by `photos` — and those never name config back
    // (a settings type knows nothing of the file it came from).
    ("config",    "domain i18n devices labels photos"),
    // SQLite: schema, journal, snapshots. Knows the domain's events and state only.
    ("store",     "domain format"),
    // Versioned upserts of reference data, in the store's database.
    ("feed",      "domain store format"),
    // The engine's `Lookup` over the database and the config.
    ("refdata",   "domain store feed config i18n format"),
    // JSON → domain `Command` for the control socket and the API; a photo reference is
    // checked against the photo store.
    ("commands",  "domain photos"),
    // What the edges show, for the CLI, the control socket and the API: the store's read
    // models and their JSON, the engine's statistics, the sync workers' live state (the
    // feed's tables are read through the store now, so no `feed`).
    ("views",     "domain store engine privacy i18n format sync_status"),
    // The one writer: calls `domain::step`, commits through the store, applies feed pages.
    ("engine",    "domain store config refdata feed i18n manifest format telemetry"),
    // Manifest import: files → feed items → the store (applied by the engine, or by the
    // CLI under the state lock).
    ("manifest",  "domain store feed format"),
    // What a print job prints: the printers' settings, a label's fields from the station's
    // data, its bytes, previews and the queue as text. Below the edges: the print worker
    // sends what it renders, the API and the CLI preview it.
    ("labels",    "domain store refdata label format i18n views"),
    // The live state of every scanner and printer: written by the actors (through the
    // wiring), read by the views; it words states through i18n.
    ("board",     "domain i18n format"),
    // The central sync's live state (what the workers last saw): written by the sync
    // workers, read by the views — below the edges, like the board, so that the control
    // socket and the API read it without naming the sync worker. Pure plain data (`PURE`).
    ("sync_status", ""),
    // The printable command sheet.
    ("sheet",     "domain i18n label"),
    // The quality-check sheet and the day's figures: pure, from rows the API read, in the
    // station's words.
    ("qc",        "domain i18n format"),
    // The edges: each owns its resource and names the core (domain engine store config
    // i18n privacy) and the services it needs, never another edge. Reference data is
    // read through `refdata` or `views`, not from the feed's tables.
    // The sync status is read from `sync_status` (through `views` for its JSON).
    ("http",      "domain engine store config i18n privacy commands views refdata photos photometa board format sync_status labels telemetry qc"),
    ("control",   "domain engine store config i18n privacy commands views manifest board format sync_status"),
    ("devices",   "domain engine store config i18n privacy"),
    // The print worker takes its settings from the caller (`Config::print_settings`), so
    // it names no config; the print queue's text shows jobs in the views' JSON form.
    ("printing",  "domain engine store i18n privacy label refdata board format views labels"),
    // The sync worker brings the feed from the central and pushes photos with the events;
    // it publishes its state to `sync_status`.
    ("sync",      "domain engine store config i18n privacy feed photos format sync_status telemetry"),
    // The wiring: the daemon builds every worker; the CLI runs the daemon or talks to it,
    // and reads the state directory for its offline commands (through the store and the
    // views). Nothing names them back. Each row lists what the wiring names, no more.
    ("app",       "engine store config i18n photos board http control devices printing sync \
                   systemd sync_status labels format"),
    ("cli",       "engine store config i18n privacy views photos manifest sheet board http \
                   control devices printing sync app format sync_status labels"),
    ("main",      "cli"),
    // The fuzz targets' properties (`fuzz/`, replayed by `tests/it/fuzz_corpus.rs`): they
    // call the parsers and renderers of the edges directly. Nothing names it back.
    ("fuzzing",   "domain devices label photometa feed sync manifest config"),
];

/// The state machine's entry point and its only callers: the engine, and the domain itself
/// (its definition and its unit tests). Test code elsewhere may call it too.
const STEP_FN: &[&str] = &["domain", "step", "step"];
const STEP_CALLERS: &[&str] = &["engine", "domain"];

/// External crates (or paths) → the only top-level modules whose non-test code may name
/// them: an edge owns its resource's crate.
#[rustfmt::skip] // a table: one row per line
const ONLY_IN: &[(&str, &str)] = &[
    // SQL lives in the store; the engine holds the writer's transaction.
    ("rusqlite",     "store engine"),
    // The HTTP server.
    ("axum",         "http"),
    // The central's client; the config checks the central's URL with the client's parser.
    ("reqwest",      "sync config"),
    // Serial ports: the scanners' and the printers'.
    ("tokio_serial", "devices printing"),
    // Metric types and their text encoding: one module, so the names and types of what
    // `/metrics` shows are decided in one place.
    ("prometheus_client", "telemetry"),
];

/// Pure modules → the external paths they may not name, in their tests neither: I/O,
/// serialisation, logging, randomness, the clock. Read as paths, so `use std::{fs, io}`
/// and `Utc::now()` after `use chrono::Utc` are caught (`domain_has_no_io` reads text).
#[rustfmt::skip] // a table: one row per line
const PURE: &[(&str, &str)] = &[
    ("domain", "tokio rusqlite reqwest axum hyper serde serde_json tracing libc uuid getrandom \
                std::fs std::net std::io std::env std::process std::thread \
                std::time::SystemTime std::time::Instant chrono::Utc::now chrono::Local::now"),
    // The sync workers' live state: plain data behind a mutex, measured from times passed in.
    ("sync_status", "tokio rusqlite reqwest axum hyper serde serde_json tracing libc uuid \
                getrandom std::fs std::net std::io std::env std::process std::thread \
                std::time::SystemTime std::time::Instant chrono::Utc::now chrono::Local::now"),
];

/// Directories a doc comment or the README may cite only where the path exists.
const CITED_ROOTS: &str = "src tests benches config docs devices systemd";

/// The rules above, with the known violations of `known.rs`.
fn architecture() -> rules::Rules<'static> {
    rules::Rules {
        allowed: ALLOWED,
        step_fn: STEP_FN,
        step_callers: STEP_CALLERS,
        only_in: ONLY_IN,
        pure: PURE,
        cited_roots: CITED_ROOTS,
        known: known::KNOWN,
        known_file: "tests/it/arch/known.rs",
    }
}

/// The crate names `Cargo.toml` depends on, as code names them.
fn extern_crates(root: &Path) -> BTreeSet<String> {
    let cargo: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    ["dependencies", "dev-dependencies"]
        .iter()
        .filter_map(|s| cargo.get(*s).and_then(|t| t.as_table()))
        .flat_map(|t| t.keys().map(|k| k.replace('-', "_")))
        .collect()
}

/// The scanner reads the real tree: the modules, their imports, the engine's call of
/// `domain::step` and the README's codemap (a broken scanner would pass every rule).
#[test]
fn the_scanner_reads_the_real_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = modgraph::Repo::load(root);
    let g = modgraph::Graph::build(&repo, &extern_crates(root), STEP_FN);
    assert!(
        g.modules.len() >= 100,
        "found the modules ({})",
        g.modules.len()
    );
    assert!(
        g.edges.len() >= 1000,
        "found the imports ({})",
        g.edges.len()
    );
    assert!(
        (g.edges.iter())
            .any(|e| e.from == "src/engine/handlers.rs" && e.named == STEP_FN && e.call),
        "found the engine's call of domain::step"
    );
    assert_eq!(g.top("src/http/kiosk_scan.rs"), "http");
    assert_eq!(
        g.modules["src/devices/hid_tests.rs"].0,
        ["devices", "hid", "tests"]
    );
    assert!(
        docpaths::codemap(&repo.files["README.md"]).len() >= 40,
        "read the codemap"
    );
}

/// The module graph keeps to the tables: allowed imports, the one caller of `step`, the
/// external crates' owners, no file cycles, no cited path that does not exist. A known
/// violation passes until it is fixed; then its entry in `known.rs` must go.
#[test]
fn module_graph_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = modgraph::Repo::load(root);
    let violations = rules::check(&repo, &architecture(), &extern_crates(root));
    let lines: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
    assert!(
        lines.is_empty(),
        "{} architecture violations (fix the code; or change a table in tests/it/arch.rs, \
         saying why; delete stale entries of tests/it/arch/known.rs):\n{}\n",
        lines.len(),
        lines.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/domain` is pure: it names no I/O crate, no serde, and never reads the clock.
#[test]
fn domain_has_no_io() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain"),
        &mut files,
    );
    assert!(files.len() >= 8, "found the domain files");
    let forbidden = [
        "tokio",
        "rusqlite",
        "reqwest",
        "axum",
        "hyper",
        "serde",
        "std::fs",
        "std::net",
        "std::io",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "std::env",
        "tracing",
    ];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                assert!(
                    !code.contains(word),
                    "{}:{}: the domain must not use {word}: {line}",
                    f.display(),
                    n + 1
                );
            }
        }
    }
}

/// Operator-facing text lives in the translation tables: every feedback and error code the
/// domain and the engine can produce has both a Chinese and an English message.
#[test]
fn every_code_is_translated() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The state machine's feedback codes, and the item and card codes it picks by case.
    let step = r#"(?:Feedback::ok\(\s*"([a-z_]+)"|"((?:item|card)_[a-z]+)")"#;
    // The engine's own answers: `Reply::not_stored("…")`, `fail("…", …)` and the codes of
    // answers to inputs that were not stored.
    let engine =
        r#"(?:Reply::not_stored\("([a-z_]+)"\)|fail\("([a-z_]+)"|"((?:storage|engine)_[a-z]+)")"#;
    let sources: [(&str, &str); 10] = [
        ("src/domain/error.rs", r#"=> "([a-z_]+)""#),
        ("src/domain/step/supervise.rs", r#""((?:bin|rtv)_[a-z_]+)""#),
        ("src/domain/scan/mod.rs", r#"=> "(scan\.[a-z_0-9]+)""#),
        ("src/domain/step/bench.rs", step),
        ("src/domain/step/inspect.rs", step),
        ("src/domain/step/ops.rs", step),
        ("src/engine/mod.rs", engine),
        ("src/engine/handle.rs", engine),
        ("src/engine/handlers.rs", engine),
        ("src/engine/writer.rs", engine),
    ];
    // The action a role check names is shown translated (`action.<name>`).
    let require = r#"require\([^)]*"([a-z_]+)"\)"#;
    let actions: [(&str, &str); 4] = [
        ("src/domain/step/inspect.rs", require),
        ("src/domain/step/ops.rs", require),
        ("src/domain/step/supervise.rs", require),
        ("src/domain/step/tests.rs", r#"action: "([a-z_]+)""#),
    ];
    let known: Vec<&str> = returnsd::i18n::codes().collect();
    let mut checked = 0;
    for (file, pattern) in sources {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let re = regex::Regex::new(pattern).unwrap();
        for c in re.captures_iter(&text) {
            let code = c
                .get(1)
                .or(c.get(2))
                .or(c.get(3))
                .map(|m| m.as_str())
                .unwrap_or("");
            // Scan classes and template names are data, not messages.
            if [
                "return_id",
                "item_label",
                "return_label",
                "put_away",
                "exchange_shipped",
                "rtv_note",
                "act_as",
                "item_no",
                "items",
            ]
            .contains(&code)
                && !known.contains(&code)
            {
                continue;
            }
            checked += 1;
            assert!(
                known.contains(&code),
                "{file}: code {code:?} has no translation"
            );
        }
    }
    assert!(checked > 50, "the scan found the codes ({checked})");
    let mut named = 0;
    for (file, pattern) in actions {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let re = regex::Regex::new(pattern).unwrap();
        for c in re.captures_iter(&text) {
            let code = format!("action.{}", &c[1]);
            named += 1;
            assert!(
                known.contains(&code.as_str()),
                "{file}: {code:?} has no translation"
            );
        }
    }
    assert!(named >= 8, "the scan found the role checks ({named})");
}
