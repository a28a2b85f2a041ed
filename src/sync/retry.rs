//! Time and retry vocabulary shared by the push and feed machines: the clock readings they
//! are handed (`Now`), the waits they ask for (`Wait`), and capped exponential backoff with
//! full jitter whose randomness is injected (`Backoff`, `Jitter`).
//!
//! Architecture invariant: pure. No tokio, no clock reads, no randomness of its own — the
//! loops read the clock and the OS RNG and pass them in (`sync::tests::machines_are_pure`).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// One reading of both clocks, taken by a loop and handed to a machine with each input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic: deadlines and round-trip times (immune to clock steps).
    pub mono: Instant,
    /// Wall clock: what operators read in the status, and the clock-offset measurement.
    pub wall: DateTime<Utc>,
}

impl Now {
    /// `d` later on both clocks (for the status's `next_retry`).
    pub fn wall_after(&self, d: Duration) -> DateTime<Utc> {
        self.wall + chrono::Duration::from_std(d).unwrap_or_default()
    }
}

/// Sleep until `until` unless something in `wake` happens first (the daemon stopping always
/// ends a wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub until: Instant,
    pub wake: Wake,
}

/// What may cut a wait short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Another worker reached the central after failing: retry at once.
    NetworkUp,
    /// The engine committed new events: there is something to push.
    NewEvents,
    /// A supervisor acknowledged a photo as lost (a `photo.lost` committed): the push it
    /// held back goes on at once (contract 1.1).
    PhotoLost,
}

impl Wait {
    pub fn network(now: Now, d: Duration) -> Wait {
        Wait {
            until: now.mono + d,
            wake: Wake::NetworkUp,
        }
    }
}

/// How a worker retries, from the `[sync]` config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Longest transient backoff (`backoff_cap_s`; the contract's default 60 s).
    pub backoff_cap: Duration,
    /// Interval for failures an operator must fix (`slow_retry_s`): auth, other 4xx.
    pub slow_retry: Duration,
}

/// A source of uniform numbers in [0, 1): the loops pass the OS RNG, tests a fixed value.
pub type Jitter = Box<dyn FnMut() -> f64 + Send>;

/// The shortest wait a backoff ever asks for, so full jitter never makes a tight loop.
const FLOOR: Duration = Duration::from_millis(50);

/// Exponential backoff with full jitter: uniform in [0, min(cap, 1 s · 2^attempt)], at
/// least 50 ms. `r` is the jitter draw in [0, 1).
pub fn delay(attempt: u32, cap: Duration, r: f64) -> Duration {
    let ceiling = Duration::from_secs(1)
        .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
        .min(cap);
    ceiling.mul_f64(r.clamp(0.0, 1.0)).max(FLOOR)
}

/// Consecutive transient failures and the delay each one earns.
pub struct Backoff {
    /// Failures since the last success; the exponent of the next delay.
    attempt: u32,
    cap: Duration,
    jitter: Jitter,
}

impl Backoff {
    pub fn new(cap: Duration, jitter: Jitter) -> Backoff {
        Backoff {
            attempt: 0,
            cap,
            jitter,
        }
    }

    /// The delay for this failure; the next one may wait twice as long (up to the cap).
    pub fn next_delay(&mut self) -> Duration {
        let d = delay(self.attempt, self.cap, (self.jitter)());
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// A success (or a failure that is not transient) starts the growth over.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each delay stays within [50 ms, min(cap, 2^n s)], and the full draw reaches the cap.
    #[test]
    fn delay_is_capped_full_jitter() {
        let cap = Duration::from_secs(60);
        for attempt in 0..30 {
            let ceiling = Duration::from_secs(1 << attempt.min(6)).min(cap);
            for r in [0.0, 0.25, 0.5, 0.999_999] {
                let d = delay(attempt, cap, r);
                assert!(d <= ceiling.max(FLOOR), "{attempt}: {d:?}");
                assert!(d >= FLOOR);
            }
        }
        assert!(delay(25, cap, 0.999_999) > Duration::from_secs(59));
        assert_eq!(delay(0, cap, 0.0), FLOOR, "no zero-length retry");
    }

    /// With the top draw every time, delays double from 1 s to the cap and a reset
    /// starts them over.
    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(10), Box::new(|| 1.0));
        let got: Vec<u64> = (0..6).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 10, 10]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
