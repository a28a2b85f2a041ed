//! `Idempotency-Key` for mutating API requests: the handheld retries after a Wi-Fi drop,
//! and the same key with the same request must answer the first answer without applying
//! the command twice — also when the daemon restarted (or crashed) in between.
//!
//! Two layers, per operator badge and key, for 24 hours:
//!
//! - **Durable** (the truth): a command's key and request fingerprint go to the engine with
//!   the command ([`crate::engine::Keep`]). The engine looks the key up in the database's
//!   `idempotency_keys` first — the same request gets the kept HTTP answer (status and
//!   JSON body, exactly as first sent) without being applied; a different request is
//!   refused (`idempotency_key_reused`) — else it runs the command and records its answer
//!   **in the same SQLite transaction** as the command's events: after a crash either both
//!   are on disk or neither is, so a resent request is applied exactly once. A refusal by
//!   the domain (e.g. `unknown_return`) is kept the same way; an answer that was not saved
//!   (the engine stopped, the disk is full, the write failed) is not kept, so a retry runs
//!   it. A request refused before it reaches the engine (bad JSON, bad fields) is kept
//!   only in memory. The engine's housekeeping (the maintenance prune) deletes records
//!   older than 24 h.
//! - **In memory** (this module): keys whose first request is still running answer
//!   `idempotency_in_progress` (retry shortly), and finished answers are replayed without
//!   a trip to the engine; at most [`MAX_KEYS`] keys (past that the oldest finished keys go
//!   first — the database still has them). A key reused for a different request (method,
//!   path or body differ) is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const MAX_KEYS: usize = 10_000;
pub const KEEP: Duration = Duration::from_secs(24 * 3600);

enum State {
    Running,
    Done(u16, Value),
}

struct Entry {
    fingerprint: [u8; 32],
    state: State,
    at: Instant,
}

/// What to do with a request carrying a key.
pub enum Begin {
    /// First time: run it, then [`Idempotency::finish`].
    Run,
    /// Seen and done: answer this.
    Replay(u16, Value),
    /// Seen with a different request.
    Mismatch,
    /// Seen and still running.
    Running,
}

#[derive(Default)]
pub struct Idempotency {
    entries: Mutex<HashMap<(String, String), Entry>>,
}

pub use crate::engine::Keep;

/// Keys are 1 to 128 visible ASCII characters.
pub fn valid_key(k: &str) -> bool {
    Keep::valid_key(k)
}

/// What identifies "the same request".
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    Keep::fingerprint(&[method.as_bytes(), path.as_bytes(), body])
}

impl Idempotency {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn begin(&self, badge: &str, key: &str, fp: [u8; 32]) -> Begin {
        let now = Instant::now();
        let mut m = self.lock();
        let k = (badge.to_string(), key.to_string());
        if let Some(e) = m.get(&k)
            && now.duration_since(e.at) < KEEP
        {
            if e.fingerprint != fp {
                return Begin::Mismatch;
            }
            return match &e.state {
                State::Running => Begin::Running,
                State::Done(s, v) => Begin::Replay(*s, v.clone()),
            };
        }
        if m.len() >= MAX_KEYS {
            m.retain(|_, e| now.duration_since(e.at) < KEEP);
        }
        if m.len() >= MAX_KEYS {
            let mut done: Vec<(Instant, (String, String))> = m
                .iter()
                .filter(|(_, e)| matches!(e.state, State::Done(..)))
                .map(|(k, e)| (e.at, k.clone()))
                .collect();
            done.sort();
            for (_, k) in done.into_iter().take(MAX_KEYS / 10) {
                m.remove(&k);
            }
        }
        m.insert(
            k,
            Entry {
                fingerprint: fp,
                state: State::Running,
                at: now,
            },
        );
        Begin::Run
    }

    pub fn finish(&self, badge: &str, key: &str, status: u16, body: Value) {
        if let Some(e) = self.lock().get_mut(&(badge.to_string(), key.to_string())) {
            e.state = State::Done(status, body);
        }
    }

    /// The request died without an answer (it may run again).
    pub fn abandon(&self, badge: &str, key: &str) {
        self.lock().remove(&(badge.to_string(), key.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First run, then replay of the same answer; another request under the key is refused;
    /// keys are per operator.
    #[test]
    fn same_key_replays_the_first_answer() {
        let i = Idempotency::default();
        let fp = fingerprint("POST", "/x", b"{}");
        assert!(matches!(i.begin("017", "k1", fp), Begin::Run));
        assert!(matches!(i.begin("017", "k1", fp), Begin::Running));
        i.finish("017", "k1", 200, serde_json::json!({"ok": true}));
        match i.begin("017", "k1", fp) {
            Begin::Replay(200, v) => assert_eq!(v["ok"], true),
            _ => panic!("expected a replay"),
        }
        let other = fingerprint("POST", "/x", b"{\"a\":1}");
        assert!(matches!(i.begin("017", "k1", other), Begin::Mismatch));
        assert!(matches!(i.begin("021", "k1", other), Begin::Run));
        assert!(valid_key("a-b_c.1"));
        assert!(!valid_key(""));
        assert!(!valid_key("a b"));
    }
}
