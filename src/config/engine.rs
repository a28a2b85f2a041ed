//! `[engine]`: how much the one engine task takes in at a time.

use super::ctx::Ctx;
use super::raw::RawEngine;

/// The validated `[engine]` table.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most inputs committed in one transaction (group commit): bounds how long a batch
    /// holds the writer, while a busy station still shares one fsync among many scans.
    pub group_commit_max: usize,
    /// Most inputs of one source (a bench, an operator, a worker) in one batch: a
    /// batch-upload scanner's burst is committed in slices this big, so another bench's
    /// scan waits for a small batch, not for hundreds of the burst's scans.
    pub source_batch_max: usize,
    /// Inputs waiting for the engine before senders wait: back-pressure instead of
    /// unbounded memory when the disk is slow.
    pub queue: usize,
}

impl RawEngine {
    /// Validate `[engine]`.
    pub fn validate(&self, ctx: &mut Ctx) -> EngineConfig {
        EngineConfig {
            group_commit_max: ctx.within(
                "engine.group_commit_max",
                self.group_commit_max.unwrap_or(512),
                1..=10_000,
                "must be 1 to 10000",
            ),
            source_batch_max: ctx.within(
                "engine.source_batch_max",
                self.source_batch_max.unwrap_or(16),
                1..=10_000,
                "must be 1 to 10000",
            ),
            queue: ctx.within(
                "engine.queue",
                self.queue.unwrap_or(4096),
                1..=1_000_000,
                "must be 1 to 1000000",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defaults, and each bound reported with its key.
    #[test]
    fn defaults_and_bounds() {
        let mut ctx = Ctx::test();
        let e = RawEngine::default().validate(&mut ctx);
        assert_eq!((e.group_commit_max, e.queue), (512, 4096));
        let e = RawEngine {
            group_commit_max: Some(10_000),
            source_batch_max: None,
            queue: Some(1),
        }
        .validate(&mut ctx);
        assert_eq!((e.group_commit_max, e.queue), (10_000, 1));
        assert!(ctx.reported().is_empty());
        RawEngine {
            group_commit_max: Some(0),
            source_batch_max: None,
            queue: Some(1_000_001),
        }
        .validate(&mut ctx);
        assert_eq!(
            ctx.reported(),
            [
                "engine.group_commit_max: must be 1 to 10000",
                "engine.queue: must be 1 to 1000000"
            ]
        );
    }
}
