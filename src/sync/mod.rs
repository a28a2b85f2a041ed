//! Central sync, the station's side of the sync contract (`docs/sync-protocol.md`): the push worker
//! (events and the photos they reference, uplink) and the feed worker (manifests and
//! reference data, downlink). They publish their state to `crate::sync_status`, which the
//! views read. The pull endpoints live
//! in `crate::http`. Every write (ack cursor, feed items with their cursor) goes through
//! the engine, the station's one writer.
//!
//! Each worker is a state machine that decides (`push::PushMachine`, `feed::FeedMachine`:
//! plain data in, the next action out, time passed in) driven by a thin loop that does the
//! I/O (`push::run`, `feed::run`). Files:
//! - `settings.rs`: the one place that reads `Config`'s fields, once, at start.
//! - `retry.rs`: time and backoff vocabulary the machines share (their status vocabulary
//!   is `crate::sync_status`, below the edges).
//! - `error.rs`: the typed errors at the seams (client, push step, feed step).
//! - `client.rs`: the HTTP client (rustls/ring).
//! - `worker.rs`: what both loops share: the clock, jitter, the start, the one wait.
//! - `push/`, `feed/`: `machine.rs` decides, `wire.rs` encodes and parses, `mod.rs` loops.
//!
//! Architecture invariant: the machines and their vocabulary (`retry.rs`, `*/machine.rs`,
//! and `crate::sync_status`) name no tokio, reqwest, database, engine or clock
//! (`tests::machines_are_pure`); the loops decide nothing the machines could.

pub mod client;
pub mod error;
pub mod feed;
pub mod push;
pub mod retry;
pub mod settings;
mod worker;

pub use worker::{now, os_jitter};
