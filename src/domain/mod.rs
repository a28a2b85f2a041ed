//! The pure domain: vocabulary, scan grammar, policies and the returns state machine.
//! No I/O, no clock reads, no serde: time is passed in, wire types live at the edges.
//!
//! Dependency order. Each file imports only files of the layers above it (or earlier in
//! its own layer), so no two files import each other, directly or through a chain:
//!
//! 1. `ids` (identifiers parsed once: return id, waybill, badge, bin, GTIN, …) and
//!    `doubleread` (the scanner's double-read rule): nothing.
//! 2. `kind`: the closed vocabularies (kind of return, grade, role, visual, zone, bin
//!    class, expected line) → `ids`.
//! 3. `scan` (the scan grammar) → `ids`; `policy` (window, freight, deadlines) → `kind`.
//! 4. `event` (the recorded facts) and `ports` (what the domain asks of the outside
//!    world) → `ids`, `kind`.
//! 5. `model` (the station's state) → `event`, `ids`, `kind`, `ports`.
//! 6. `fold` (`Station::apply`: event → state) → `model` and what it names.
//! 7. `error` (typed errors with stable codes) → `ids`, `kind`, `model`, `scan`.
//! 8. `step` (the state machine; its own files are ordered in `step/mod.rs`) → all above.
//!
//! A type that two files on one layer both need belongs on a lower layer (that is why
//! `Role`, `ItemZone` and `BinClass` live in `kind`), never in one of the two.
pub mod doubleread;
pub mod error;
pub mod event;
pub mod fold;
pub mod ids;
pub mod kind;
pub mod model;
pub mod policy;
pub mod ports;
pub mod scan;
pub mod step;
