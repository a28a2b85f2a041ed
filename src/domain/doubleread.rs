//! Scanner double-read suppression: the same code from the same source within a short
//! window (default 800 ms) is one trigger pull read twice, not two items. Time is passed
//! in as monotonic milliseconds so the rule stays pure and testable.
//!
//! Only a **committed** read opens the window: reads seen in a batch that is still being
//! written are held apart ([`DoubleReadFilter::commit`] keeps them, [`rollback`] forgets
//! them), so a scan answered `NOT SAVED` can never swallow the keeper's rescan.
//!
//! [`rollback`]: DoubleReadFilter::rollback

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct DoubleReadFilter {
    /// Reads within this many milliseconds of the previous identical one are dropped
    /// (0: never).
    window_ms: u64,
    /// The last committed read per source: the only reads that open a window.
    last: HashMap<String, (Vec<u8>, u64)>,
    /// Reads of the batch being written, per source: they open a window for the rest of
    /// the batch, and for good only once the batch commits.
    pending: HashMap<String, (Vec<u8>, u64)>,
    /// Reads dropped so far, exported as a metric: a scanner that double-reads a lot can
    /// then be noticed.
    dropped: u64,
}

impl DoubleReadFilter {
    pub fn new(window_ms: u64) -> Self {
        DoubleReadFilter {
            window_ms,
            ..Default::default()
        }
    }

    /// True when this read repeats the source's previous read inside the window and must
    /// be dropped (and counted). A read that is not a repeat becomes the source's pending
    /// read until [`commit`](Self::commit) or [`rollback`](Self::rollback).
    pub fn is_double(&mut self, source: &str, code: &[u8], now_ms: u64) -> bool {
        if self.window_ms == 0 {
            return false;
        }
        let prev = self.pending.get(source).or_else(|| self.last.get(source));
        if let Some((prev, at)) = prev
            && prev.as_slice() == code
            && now_ms.saturating_sub(*at) < self.window_ms
        {
            self.dropped += 1;
            return true;
        }
        self.pending
            .insert(source.to_string(), (code.to_vec(), now_ms));
        false
    }

    /// The batch committed: its reads open their windows.
    pub fn commit(&mut self) {
        self.last.extend(self.pending.drain());
    }

    /// The batch was not stored: its reads never happened as far as the window goes.
    pub fn rollback(&mut self) {
        self.pending.clear();
    }

    /// How many reads were dropped since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repeat inside the window is dropped; outside it, or from another source, it counts.
    #[test]
    fn drops_only_same_code_same_source_inside_window() {
        let mut f = DoubleReadFilter::new(800);
        assert!(!f.is_double("s1", b"A", 1000));
        f.commit();
        assert!(f.is_double("s1", b"A", 1799));
        assert!(!f.is_double("s2", b"A", 1799));
        assert!(!f.is_double("s1", b"B", 1800));
        f.commit();
        assert!(!f.is_double("s1", b"A", 1900));
        f.commit();
        assert!(!f.is_double("s1", b"A", 2700));
        assert_eq!(f.dropped(), 1);
    }

    /// A zero window disables suppression.
    #[test]
    fn zero_window_never_drops() {
        let mut f = DoubleReadFilter::new(0);
        assert!(!f.is_double("s", b"A", 1));
        f.commit();
        assert!(!f.is_double("s", b"A", 1));
    }

    /// Within one batch the second read is a double read of the first; a batch that was
    /// not stored opens no window, so the rescan after `NOT SAVED` counts.
    #[test]
    fn a_read_that_was_not_stored_opens_no_window() {
        let mut f = DoubleReadFilter::new(800);
        assert!(!f.is_double("s", b"A", 1000));
        assert!(f.is_double("s", b"A", 1001), "same batch");
        f.rollback();
        assert!(!f.is_double("s", b"A", 1100), "the rescan after NOT SAVED");
        f.commit();
        assert!(
            f.is_double("s", b"A", 1200),
            "after a commit the window is open"
        );
    }
}
