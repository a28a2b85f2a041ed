//! returnsd: the returns-bench daemon of an e-commerce warehouse.
//!
//! Shape: `main → cli → app → { control, engine, store, feed, … } → domain`.
//!
//! Architecture invariants (each backed by a test where it can be):
//! - `domain` is pure: no tokio, rusqlite, serde, std::fs/net, no clock reads. Time is
//!   passed in. (`tests/it/arch.rs::domain_has_no_io`)
//! - The engine is the only caller of `domain::step` and the only writer of journal events;
//!   every state change commits in the same SQLite transaction as its events, with
//!   `synchronous=FULL`, before the sender is answered.
//! - Projections are a fold of the journal (`Station::apply`); `journal verify` proves it.
//! - SQL lives in `store` (the engine holds the writer's transaction): everyone else reads
//!   through a `store::Reader` (or the engine's `Batch`) and the store's typed read models,
//!   and names no `rusqlite`. (`tests/it/arch.rs`, `ONLY_IN`)
//! - Edges do not name each other: the live state they share — the device board, the sync
//!   workers' status — sits below them (`board`, `sync_status`), written by the actors and
//!   read by the views. (`tests/it/arch.rs`, `ALLOWED`)
//! - Central sync decides in plain code: the push and feed state machines
//!   (`sync::push::PushMachine`, `sync::feed::FeedMachine`) take data and time in and give
//!   actions out; only their loops do I/O. (`sync::tests::machines_are_pure`)
//! - Operator-facing text lives only in `i18n` (zh-CN and en).
//! - Customer names and phones never reach logs; lists mask them (`privacy`).
//! - The daemon is built, then run until a shutdown passed in: `app::Daemon::build` does
//!   everything that can fail at start (before systemd hears READY=1), `run_until` stops it
//!   in order; tests and benches start it in their own runtime (`tests/it/in_process.rs`).
pub mod app;
pub mod board;
pub mod cli;
pub mod commands;
pub mod config;
pub mod control;
pub mod devices;
pub mod domain;
pub mod engine;
pub mod feed;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod i18n;
pub mod label;
pub mod labels;
pub mod manifest;
pub mod photometa;
pub mod photos;
pub mod printing;
pub mod privacy;
pub mod qc;
pub mod refdata;
pub mod sheet;
pub mod store;
pub mod sync;
pub mod sync_status;
pub mod systemd;
pub mod telemetry;
pub mod views;
