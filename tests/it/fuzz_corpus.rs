//! The fuzz targets' committed inputs, replayed in the normal test run: every file of
//! `fuzz/corpus/<target>/` (the seeds) and `fuzz/regressions/<target>/` (inputs that once
//! found a bug) goes through the same property function the fuzz target calls
//! (`returnsd::fuzzing`), so a property broken by a change fails here without cargo-fuzz.

use std::path::{Path, PathBuf};

use returnsd::fuzzing::{TARGETS, check};

/// The repository's `fuzz/` directory.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files under `fuzz/<kind>/<target>/`, sorted (none when the directory is absent).
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Replays every input of `kind` through its target's property; fails naming the file.
fn replay(kind: &str) -> usize {
    let mut n = 0;
    for (target, _) in TARGETS {
        for file in inputs(kind, target) {
            let data = std::fs::read(&file).expect("read input");
            let outcome = std::panic::catch_unwind(|| check(target, &data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its property",
                file.display()
            );
            n += 1;
        }
    }
    n
}

/// Every target has a committed seed corpus, and every seed holds its target's property.
#[test]
fn every_target_holds_on_its_seed_corpus() {
    for (target, _) in TARGETS {
        assert!(
            !inputs("corpus", target).is_empty(),
            "fuzz/corpus/{target}/ has no seed"
        );
    }
    assert!(replay("corpus") >= TARGETS.len());
}

/// Every input that once found a bug holds its property now.
#[test]
fn every_regression_input_holds() {
    replay("regressions");
}

/// Each directory under `fuzz/corpus/` and `fuzz/regressions/` is a target, and each
/// target is a `[[bin]]` of `fuzz/Cargo.toml`: nothing committed is left unreplayed.
#[test]
fn corpus_directories_and_fuzz_bins_name_the_targets() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    for kind in ["corpus", "regressions"] {
        for dir in std::fs::read_dir(fuzz_dir().join(kind))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = dir.file_name().to_string_lossy().into_owned();
            assert!(
                names.contains(&name.as_str()),
                "fuzz/{kind}/{name} is no target"
            );
        }
    }
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in names {
        assert!(
            manifest.contains(&format!(
                "name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\""
            )),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        assert!(fuzz_dir().join(format!("fuzz_targets/{name}.rs")).is_file());
    }
}
