//! The station's SQLite database: the journal (the contract's event log and the sync
//! outbox), projection snapshots, the ledger and reference data, and the operator API's
//! station-local rows (sessions, lockouts, idempotency answers: [`api_state`], never
//! synced). One writer connection lives in the engine; everyone else reads through a
//! [`Reader`] and the typed read models (`read/`, [`feed_items`], [`jobs`]), and names no
//! SQLite type.
//!
//! Architecture invariant: every state change is written in the same transaction as the
//! journal events that describe it, and the transaction is committed with
//! `synchronous=FULL` before anyone is told "OK".

pub mod api_reads;
pub mod api_state;
pub mod backup;
pub mod codec;
mod db;
pub mod durable;
mod error;
pub mod feed_items;
pub mod files;
mod identity;
pub mod jobs;
mod journal;
pub mod kiosk;
pub mod lost;
pub mod offline;
mod pace;
pub mod read;
mod reader;
mod schema;
pub mod seqmap;
pub mod snapshot;
mod sqltrace;
mod verify;
pub mod working;

pub use db::{
    Appended, Batch, Store, integrity_check, open_checked, open_checked_already, open_connection,
};
pub use error::StoreError;
pub use journal::{
    JOURNAL_COLUMNS, JournalRow, SyncCounters, acked_through, advance_ack, feed_after,
    first_seq_since, journal_after, photo_referenced_after, prune, pruned_through, set_feed_after,
    sync_counters,
};
pub use pace::Foreground;
pub use reader::{Read, Reader, SharedReader, Write};
pub use seqmap::{SeqMap, seq_map, wire_after};
pub use verify::{Verification, rebuild, rebuild_at, replay, verify};
pub use working::load_station;
