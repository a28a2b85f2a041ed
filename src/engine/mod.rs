//! The engine: the one task that calls `domain::step`. It owns the writer connection and
//! the folded state, takes a closed set of inputs from a bounded channel, and commits each
//! group of inputs (group commit) in one `synchronous=FULL` transaction before it answers
//! any of them. A scan is acknowledged only after its events are on disk.
//!
//! - `types`: what the engine answers and publishes ([`Reply`], [`Committed`], …);
//! - `keep`: keys whose answers are kept, so a request sent twice is carried out once;
//! - `start`: opening the database and starting the engine thread;
//! - [`handle`]: the cloneable [`EngineHandle`] and the closed set of inputs it sends;
//! - `fair`: the waiting inputs per source, taken round-robin into each batch;
//! - `handlers`: one handler per input kind, deciding what a batch writes;
//! - `recall`: the open work in memory, the returns an input names recalled from disk;
//! - `writer`: the engine thread's loop — group commit, answers after commit, the disk
//!   cap, and what it does after a storage error (`store::durable`);
//! - [`stats`]: the counters and the storage state operators see.

mod fair;
pub mod handle;
mod handlers;
mod keep;
mod recall;
mod start;
pub mod stats;
mod types;
mod writer;

pub use handle::{EngineHandle, SubmittedScan};
pub use keep::{KEEP_MS, Keep, Render};
pub use start::{StartError, start};
pub use stats::Stats;
pub use types::{
    Clock, Committed, EngineError, FeedApplied, FeedPage, Kept, NOT_STORED, Outcome, Reply,
    system_clock,
};
