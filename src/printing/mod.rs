//! The print worker: drains the durable print queue (`store::jobs`) to the configured
//! printers. The engine queues a job in the same transaction as the `label.printed` event;
//! this worker renders it once (`labels`: the label template and the return's data, in the
//! printer's language), keeps the bytes with the job, sends them, asks the printer's status
//! and records `sent`, then `confirmed` once the printer reports it done with no fault.
//!
//! - A printer that cannot be reached keeps the job queued, retried with capped backoff;
//!   after `failover_after` failed attempts (or while it reports a fault) jobs go to the
//!   secondary printer, if one is configured. Nothing is dropped.
//! - A job that cannot be rendered is `failed`, logged and listed; a reprint makes a new one.
//! - Every printer's state (ok, fault with codes, unknown, offline) is on the device board,
//!   which logs and alarms; an idle printer's status is polled every `status_interval`.
//! - The worker is the only one talking to the printers (they take one connection at a
//!   time), and it writes nothing itself: job updates go through the engine.
//!
//! Files: `worker.rs` the loop; the printers' side in `transport.rs`, `zpl_status.rs`,
//! `tspl_status.rs`. What a job prints, and the printers' settings, live in `labels`.

pub mod transport;
pub mod tspl_status;
mod worker;
pub mod zpl_status;

pub use worker::{board_id, run};
