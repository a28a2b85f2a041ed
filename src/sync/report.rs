//! The sync status as operators read it (CLI `sync status`, the API, the kiosk's alarms):
//! the journal's counters from the store beside the workers' live status.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::status::{SharedStatus, snapshot};
use crate::format::fmt_time;
use crate::store::SyncCounters;

/// The status as operators read it (CLI `sync status`, the API).
pub fn status_json(c: &SyncCounters, status: &SharedStatus, now: DateTime<Utc>) -> Value {
    let s = snapshot(status);
    let (push, feed) = (&s.push, &s.feed);
    let oldest_age_s = c.oldest_unacked_at.map(|t| (now - t).num_seconds().max(0));
    let t = |o: Option<DateTime<Utc>>| o.map(fmt_time);
    json!({
        "epoch": c.epoch,
        "last_seq": c.last_seq,
        "acked_through": c.acked_through,
        "backlog": c.last_seq - c.acked_through,
        "oldest_unacked_age_s": oldest_age_s,
        "push": {
            "state": push.state.as_str(),
            "last_success": t(push.last_success),
            "last_error": push.last_error,
            "last_error_at": t(push.last_error_at),
            "next_retry": t(push.next_retry),
            "batch_limit": push.batch_limit,
        },
        "feed": {
            "state": feed.state.as_str(),
            "cursor": c.feed_after,
            "last_success": t(feed.last_success),
            "last_error": feed.last_error,
            "rejected_items": c.rejected_feed_items,
        },
        "clock_offset_ms": s.clock.map(|c| c.offset_ms),
        "clock_alarm": s.clock.is_some_and(|c| c.alarm),
    })
}
