//! The properties the fuzz targets check (`fuzz/fuzz_targets/*.rs`), in the library so that
//! the integration tests replay the committed corpus through the very same code
//! (`tests/it/fuzz_corpus.rs`): every file of `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` goes through [`check`].
//!
//! Each function takes arbitrary bytes and panics when a property fails: not only "it does
//! not panic", but round trips (a scan framed, chunked and reassembled comes back whole; a
//! GS1 element string re-encoded parses to the same elements), injection (a label's ZPL or
//! TSPL holds exactly the commands of its elements, whatever the field values), and
//! privacy (no GPS left in a photo, no secret in a config's `Debug`).
//!
//! Not part of the API: hidden from the docs, named by nothing else of the crate.

mod data;
mod devices;
mod label;
mod scan;

/// A property: panics when `data` breaks it.
pub type Property = fn(data: &[u8]);

/// Every fuzz target by name, with the property function it runs.
pub const TARGETS: &[(&str, Property)] = &[
    ("scan", scan::scan),
    ("gs1", scan::gs1),
    ("framing", devices::framing),
    ("hidpos", devices::hidpos),
    ("keyboard", devices::keyboard),
    ("hiddesc", devices::hiddesc),
    ("label", label::label),
    ("photometa", data::photometa),
    ("feed", data::feed),
    ("sync", data::sync),
    ("manifest", data::manifest),
    ("config", data::config),
];

/// Runs the property of `target` on `data`; panics when it fails.
///
/// # Panics
/// On a failed property, or for a target that does not exist.
pub fn check(target: &str, data: &[u8]) {
    let (_, f) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no fuzz target named {target:?}"));
    f(data);
}

pub use data::{config, feed, manifest, photometa, sync};
pub use devices::{framing, hiddesc, hidpos, keyboard};
pub use label::label;
pub use scan::{gs1, scan};
