//! Architecture invariants that a compiler cannot see.
//!
//! `modgraph.rs` reads the module graph of `src/` (`scan.rs` reads one file), `rules.rs`
//! and `docpaths.rs` check rules over it; `cases.rs` plants a violation of each rule in a
//! small tree to show it is caught.

mod cases;
mod docpaths;
mod modgraph;
mod rules;
mod scan;

use std::collections::BTreeSet;
use std::path::Path;

/// The state machine's entry point.
const STEP_FN: &[&str] = &["domain", "step", "step"];

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
        (g.edges.iter()).any(|e| e.from == "src/engine.rs" && e.named == STEP_FN && e.call),
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
    let sources: [(&str, &str); 7] = [
        ("src/domain/error.rs", r#"=> "([a-z_]+)""#),
        ("src/domain/step/supervise.rs", r#""((?:bin|rtv)_[a-z_]+)""#),
        ("src/domain/scan/mod.rs", r#"=> "(scan\.[a-z_0-9]+)""#),
        ("src/domain/step/bench.rs", step),
        ("src/domain/step/inspect.rs", step),
        ("src/domain/step/ops.rs", step),
        ("src/engine.rs", r#"Reply::not_stored\("([a-z_]+)"\)"#),
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
            let code = c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("");
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
