//! The feed worker's decisions as a state machine, without I/O: which cursor to ask after,
//! whether a page needs the engine at all, when to ask again (at once while `more`, else
//! on the poll interval), how to back off, and the status operators read.
//!
//! One round: `Fetch` → (`Apply` →) `Fetch` or `Wait`. The cursor asked after is the one
//! the last applied page left (the engine stores it with the page, in one transaction);
//! after any failure it is read from the database again.
//!
//! Architecture invariant: pure — no tokio, reqwest, database or clock
//! (`sync::tests::machines_are_pure`).

use std::time::Duration;

use crate::sync::error::FeedError;
use crate::sync::retry::{Backoff, Jitter, Now, RetrySettings, Wait};
use crate::sync_status::{FeedState, FeedStatus, SyncStatus};

/// The feed's part of the `[sync]` config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedSettings {
    /// How long to wait after a page without `more` (`feed_poll_s`).
    pub poll: Duration,
    /// Items asked for per page.
    pub page_limit: usize,
    pub retry: RetrySettings,
}

/// Pause after the durable cursor could not be read (logged, no alarm).
const CURSOR_RETRY: Duration = Duration::from_secs(5);

/// What happened, as the loop tells it.
#[derive(Debug, PartialEq)]
pub enum Input {
    /// A `200` page, asked for after `after`: `items` counts its items and malformed
    /// entries; the page's own cursor is `next_after`.
    Page {
        after: String,
        next_after: String,
        items: usize,
        more: bool,
    },
    /// The engine applied the page (items and cursor in one transaction); it refused
    /// `rejected` of the items, recording them with their reasons.
    Applied {
        rejected: usize,
    },
    Failed(FeedError),
    /// A `Wait` ended.
    Woken,
}

/// What the loop must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// GET the page after `after` (None: after the durable cursor, read from the
    /// database); answer `Page` or `Failed`.
    Fetch {
        after: Option<String>,
        limit: usize,
    },
    /// Hand the page just fetched to the engine; answer `Applied` or `Failed`.
    Apply,
    Wait(Wait),
}

/// The page between its fetch and its apply.
#[derive(Debug)]
struct Pending {
    next_after: String,
    more: bool,
}

pub struct FeedMachine {
    settings: FeedSettings,
    backoff: Backoff,
    /// The cursor to ask after; None: read the durable one.
    cursor: Option<String>,
    pending: Option<Pending>,
    /// Set by every failure; the next success tells the other workers the network is back.
    failing: bool,
    network_back: bool,
    status: FeedStatus,
}

impl FeedMachine {
    pub fn new(settings: FeedSettings, jitter: Jitter) -> FeedMachine {
        FeedMachine {
            settings,
            backoff: Backoff::new(settings.retry.backoff_cap, jitter),
            cursor: None,
            pending: None,
            failing: false,
            network_back: false,
            status: FeedStatus {
                state: FeedState::Idle,
                ..Default::default()
            },
        }
    }

    pub fn start(&self) -> Action {
        self.fetch()
    }

    /// Take in what happened at `now`; say what to do next.
    pub fn handle(&mut self, input: Input, now: Now) -> Action {
        match input {
            Input::Page {
                after,
                next_after,
                items,
                more,
            } => {
                if items == 0 && next_after == after {
                    // Nothing new: no write, no fsync.
                    return self.succeed(after, more, 0, now);
                }
                self.pending = Some(Pending { next_after, more });
                Action::Apply
            }
            Input::Applied { rejected } => match self.pending.take() {
                Some(p) => self.succeed(p.next_after, p.more, rejected, now),
                None => self.fetch(),
            },
            Input::Failed(FeedError::Cursor(e)) => {
                tracing::error!(error = %e, "feed cannot read its cursor");
                Action::Wait(Wait::network(now, CURSOR_RETRY))
            }
            Input::Failed(e) => self.fail(e, now),
            Input::Woken => self.fetch(),
        }
    }

    pub fn status(&self) -> &FeedStatus {
        &self.status
    }

    /// Copy the feed's section into the shared status.
    pub fn publish(&self, s: &mut SyncStatus) {
        s.feed.clone_from(&self.status);
    }

    /// True once after a success that followed a failure: wake the other workers.
    pub fn take_network_back(&mut self) -> bool {
        std::mem::take(&mut self.network_back)
    }

    fn fetch(&self) -> Action {
        Action::Fetch {
            after: self.cursor.clone(),
            limit: self.settings.page_limit,
        }
    }

    fn succeed(&mut self, cursor: String, more: bool, rejected: usize, now: Now) -> Action {
        self.backoff.reset();
        if rejected > 0 {
            tracing::warn!(rejected, "feed items rejected (see sync status)");
        }
        self.status.state = FeedState::Idle;
        self.status.last_success = Some(now.wall);
        self.network_back |= std::mem::take(&mut self.failing);
        self.cursor = Some(cursor);
        if more {
            self.fetch()
        } else {
            Action::Wait(Wait::network(now, self.settings.poll))
        }
    }

    fn fail(&mut self, e: FeedError, now: Now) -> Action {
        self.failing = true;
        self.pending = None;
        // The page may or may not have been applied: ask the database where it stands.
        self.cursor = None;
        // A refusal counts as an attempt too: a transient failure after it waits longer.
        let backoff = self.backoff.next_delay();
        let (state, d) = if e.is_refusal() {
            (FeedState::Rejected, self.settings.retry.slow_retry)
        } else {
            (FeedState::Backoff, backoff)
        };
        tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "feed poll failed");
        self.status.state = state;
        self.status.last_error = Some(e.to_string());
        Action::Wait(Wait::network(now, d))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const POLL: Duration = Duration::from_secs(30);
    const SLOW: Duration = Duration::from_secs(300);

    fn machine() -> FeedMachine {
        let settings = FeedSettings {
            poll: POLL,
            page_limit: 500,
            retry: RetrySettings {
                backoff_cap: Duration::from_secs(8),
                slow_retry: SLOW,
            },
        };
        FeedMachine::new(settings, Box::new(|| 1.0))
    }

    fn t0() -> Now {
        Now {
            mono: Instant::now(),
            wall: chrono::DateTime::parse_from_rfc3339("2026-11-25T08:30:00.000Z")
                .unwrap()
                .to_utc(),
        }
    }

    fn page(after: &str, next_after: &str, items: usize, more: bool) -> Input {
        Input::Page {
            after: after.into(),
            next_after: next_after.into(),
            items,
            more,
        }
    }

    fn fetch(after: Option<&str>) -> Action {
        Action::Fetch {
            after: after.map(str::to_string),
            limit: 500,
        }
    }

    fn wait_for(a: &Action, now: Now) -> Duration {
        match a {
            Action::Wait(w) => w.until - now.mono,
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    /// The first fetch asks after the durable cursor; an applied page with `more` is
    /// followed at once by the page after its cursor.
    #[test]
    fn pages_are_followed_at_once_while_more() {
        let mut m = machine();
        let t = t0();
        assert_eq!(m.start(), fetch(None));
        assert_eq!(m.handle(page("", "c-2", 2, true), t), Action::Apply);
        assert_eq!(
            m.handle(Input::Applied { rejected: 0 }, t),
            fetch(Some("c-2"))
        );
        assert_eq!(m.status().state, FeedState::Idle);
        assert_eq!(m.status().last_success, Some(t.wall));
    }

    /// The last page (no `more`) waits for the poll interval, then asks after its cursor.
    #[test]
    fn the_last_page_waits_for_the_poll_interval() {
        let mut m = machine();
        let t = t0();
        m.handle(page("c-2", "c-3", 1, false), t);
        let a = m.handle(Input::Applied { rejected: 1 }, t);
        assert_eq!(a, Action::Wait(Wait::network(t, POLL)));
        assert_eq!(m.handle(Input::Woken, t), fetch(Some("c-3")));
    }

    /// A page with nothing in it and the same cursor is not handed to the engine.
    #[test]
    fn an_empty_page_skips_the_engine() {
        let mut m = machine();
        let t = t0();
        let a = m.handle(page("c-3", "c-3", 0, false), t);
        assert_eq!(wait_for(&a, t), POLL);
        assert_eq!(m.status().last_success, Some(t.wall));
        assert_eq!(
            m.handle(page("c-3", "c-4", 0, false), t),
            Action::Apply,
            "cursor moved"
        );
    }

    /// Transient failures back off 1, 2, 4 … s to the cap, alarm `backoff`, and ask the
    /// database for the cursor again; a success starts the backoff over.
    #[test]
    fn transient_failures_back_off_and_reread_the_cursor() {
        let mut m = machine();
        let t = t0();
        m.handle(page("", "c-1", 1, false), t);
        m.handle(Input::Applied { rejected: 0 }, t);
        let mut waits = vec![];
        for _ in 0..5 {
            let e = FeedError::Status {
                code: 503,
                body: "busy".into(),
            };
            waits.push(wait_for(&m.handle(Input::Failed(e), t), t).as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 8]);
        assert_eq!(m.status().state, FeedState::Backoff);
        assert_eq!(m.status().last_error.as_deref(), Some("HTTP 503: busy"));
        assert_eq!(m.handle(Input::Woken, t), fetch(None));
        m.handle(page("c-1", "c-1", 0, false), t);
        let e = FeedError::Request("reset".into());
        assert_eq!(wait_for(&m.handle(Input::Failed(e), t), t).as_secs(), 1);
    }

    /// A 4xx is a refusal: `rejected`, retried after the slow interval; it still counts as
    /// an attempt for the backoff.
    #[test]
    fn a_refusal_is_retried_slowly() {
        let mut m = machine();
        let t = t0();
        let e = FeedError::Status {
            code: 401,
            body: "no".into(),
        };
        assert_eq!(wait_for(&m.handle(Input::Failed(e), t), t), SLOW);
        assert_eq!(m.status().state, FeedState::Rejected);
        let e = FeedError::NoItems;
        assert_eq!(wait_for(&m.handle(Input::Failed(e), t), t).as_secs(), 2);
        assert_eq!(m.status().state, FeedState::Backoff);
    }

    /// An apply the engine refuses drops the page and re-reads the cursor after backoff.
    #[test]
    fn a_failed_apply_drops_the_page() {
        let mut m = machine();
        let t = t0();
        m.handle(page("c-1", "c-2", 3, false), t);
        let a = m.handle(Input::Failed(FeedError::Apply("engine stopped".into())), t);
        assert_eq!(wait_for(&a, t).as_secs(), 1);
        assert_eq!(m.handle(Input::Applied { rejected: 0 }, t), fetch(None));
    }

    /// An unreadable cursor is retried after a pause, without an alarm.
    #[test]
    fn an_unreadable_cursor_is_retried_quietly() {
        let mut m = machine();
        let t = t0();
        let a = m.handle(Input::Failed(FeedError::Cursor("busy".into())), t);
        assert_eq!(a, Action::Wait(Wait::network(t, CURSOR_RETRY)));
        assert_eq!(m.status().last_error, None);
        assert!(!m.take_network_back());
    }

    /// The first success after a failure, once, says the network is back.
    #[test]
    fn the_first_success_after_a_failure_wakes_the_others() {
        let mut m = machine();
        let t = t0();
        m.handle(Input::Failed(FeedError::Request("down".into())), t);
        assert!(!m.take_network_back());
        m.handle(page("c", "c", 0, false), t);
        assert!(m.take_network_back());
        m.handle(page("c", "c", 0, false), t);
        assert!(!m.take_network_back(), "said once");
    }
}
