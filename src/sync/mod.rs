//! Central sync, the station's side of the sync contract (`docs/sync-protocol.md`): the push worker
//! (events and the photos they reference, uplink), the feed worker (manifests and
//! reference data, downlink) and the shared status operators read. The pull endpoints live
//! in `crate::http`. Every write (ack cursor, feed items with their cursor) goes through
//! the engine, the station's one writer.
//!
//! Each worker is a state machine that decides (`push::PushMachine`, `feed::FeedMachine`:
//! plain data in, the next action out, time passed in) driven by a thin loop that does the
//! I/O (`push::run`, `feed::run`). Files:
//! - `settings.rs`: the one place that reads `Config`'s fields, once, at start.
//! - `retry.rs`, `status.rs`: time, backoff and status vocabulary the machines share.
//! - `error.rs`: the typed errors at the seams (client, push step, feed step).
//! - `client.rs`: the HTTP client (rustls/ring).
//! - `worker.rs`: what both loops share: the clock, jitter, the start, the one wait.
//! - `report.rs`: the status as operators read it.
//! - `push/`, `feed/`: `machine.rs` decides, `wire.rs` encodes and parses, `mod.rs` loops.
//!
//! Architecture invariant: the machines and their vocabulary (`retry.rs`, `status.rs`,
//! `*/machine.rs`) name no tokio, reqwest, database, engine or clock
//! (`tests::machines_are_pure`); the loops decide nothing the machines could.

pub mod client;
pub mod error;
pub mod feed;
pub mod push;
mod report;
pub mod retry;
pub mod settings;
pub mod status;
mod worker;

pub use report::status_json;
pub use status::{
    ClockReading, FeedState, FeedStatus, PushState, PushStatus, SharedStatus, SyncStatus,
    new_status, snapshot, update,
};
pub use worker::{now, os_jitter};
