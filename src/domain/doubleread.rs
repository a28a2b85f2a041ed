//! Scanner double-read suppression: the same code from the same source within a short
//! window (default 800 ms) is one trigger pull read twice, not two items. Time is passed
//! in as monotonic milliseconds so the rule stays pure and testable.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct DoubleReadFilter {
    /// How close (in ms) two equal reads must be to count as one trigger pull; 0 turns the
    /// filter off.
    window_ms: u64,
    /// The last code read per source and when: a repeat is only a double read from the same
    /// scanner.
    last: HashMap<String, (Vec<u8>, u64)>,
    /// Reads dropped so far, exported as a metric: a scanner that double-reads a lot can
    /// then be noticed.
    dropped: u64,
}

impl DoubleReadFilter {
    pub fn new(window_ms: u64) -> Self {
        DoubleReadFilter {
            window_ms,
            last: HashMap::new(),
            dropped: 0,
        }
    }

    /// True when this read is a duplicate and must be dropped (and counted).
    pub fn is_double(&mut self, source: &str, code: &[u8], now_ms: u64) -> bool {
        if self.window_ms == 0 {
            return false;
        }
        if let Some((prev, at)) = self.last.get(source)
            && prev.as_slice() == code
            && now_ms.saturating_sub(*at) < self.window_ms
        {
            self.dropped += 1;
            return true;
        }
        self.last
            .insert(source.to_string(), (code.to_vec(), now_ms));
        false
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
        assert!(f.is_double("s1", b"A", 1799));
        assert!(!f.is_double("s2", b"A", 1799));
        assert!(!f.is_double("s1", b"B", 1800));
        assert!(!f.is_double("s1", b"A", 1900));
        assert!(!f.is_double("s1", b"A", 2700));
        assert_eq!(f.dropped(), 1);
    }

    /// A window of zero disables suppression.
    #[test]
    fn zero_window_never_drops() {
        let mut f = DoubleReadFilter::new(0);
        assert!(!f.is_double("s", b"A", 1));
        assert!(!f.is_double("s", b"A", 1));
    }
}
