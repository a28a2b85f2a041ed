//! What the edges show of the station: the read models they read (re-exported from the
//! store's `read` module, so the CLI, the control socket and the API share one read API —
//! the returns list and detail, the inspection queue, stock per zone), and their JSON forms
//! (photos of a return, disk use, print jobs, the sync status). Rows carry the customer's
//! name and phone tail unmasked; callers mask them (`privacy`) unless a supervisor asked to
//! reveal. Names no SQL: the queries are the store's.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::format::fmt_time;
use crate::store::SyncCounters;
use crate::store::jobs::Job;
pub use crate::store::read::returns::{
    ReturnDetail, ReturnFilter, ReturnRow, detail as return_detail, list as list_returns,
    state as return_state,
};
pub use crate::store::read::stock::zone_stock;
use crate::sync_status::SharedStatus;

/// Photos referenced by a return's `inspection.completed` events (`sha256`, `bytes`,
/// `content_type`), once each.
pub fn photos_of(events: &[Value]) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    events
        .iter()
        .filter(|e| e["type"] == "inspection.completed")
        .flat_map(|e| e["data"]["photos"].as_array().cloned().unwrap_or_default())
        .filter(|p| seen.insert(p["sha256"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// The sync status as operators read it (CLI `sync status`, the control socket, the API,
/// the kiosk's alarms, `/metrics`): the journal's counters from the store beside the
/// workers' live status.
pub fn sync_status_json(c: &SyncCounters, status: &SharedStatus, now: DateTime<Utc>) -> Value {
    let s = crate::sync_status::snapshot(status);
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
            "blocked_photo": push.blocked_photo.as_ref().map(blocked_photo_json),
        },
        "feed": {
            "state": feed.state.as_str(),
            "cursor": c.feed_after,
            "last_success": t(feed.last_success),
            "last_error": feed.last_error,
            "rejected_items": c.rejected_feed_items,
            "recent_rejected": c.recent_rejected.iter().map(|r| json!({
                "type": r.ty, "key": r.key, "version": r.version, "reason": r.reason,
                "source": r.source, "at": r.at,
            })).collect::<Vec<_>>(),
        },
        "clock_offset_ms": s.clock.map(|c| c.offset_ms),
        "clock_alarm": s.clock.is_some_and(|c| c.alarm),
    })
}

/// The photo holding the push back (contract 1.1): which, for which event, what is wrong,
/// and the supervisor's command that acknowledges it as lost.
fn blocked_photo_json(p: &crate::sync_status::BlockedPhoto) -> Value {
    json!({
        "sha256": p.sha256,
        "sha256_prefix": p.sha256.get(..12).unwrap_or(&p.sha256),
        "seq": p.seq,
        "problem": p.problem.as_str(),
        "command": p.command(),
    })
}

/// The alarm for a photo holding the push back, in `lang`, from `sync status`'s
/// `push.blocked_photo` (None when no photo holds it back).
pub fn blocked_photo_alarm(lang: crate::i18n::Lang, status: &Value) -> Option<String> {
    let p = status["push"]["blocked_photo"].as_object()?;
    let text = |k: &str| match p.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    Some(crate::i18n::message(
        lang,
        "alarm.sync_photo_blocked",
        &[
            ("sha256", text("sha256_prefix")),
            ("photo_problem", text("problem")),
            ("seq", text("seq")),
            ("command", text("command")),
        ],
    ))
}

/// Disk use against the cap and the storage's state, as `sync status`, the API, the
/// kiosk's alarms and `/metrics` show it: `full` with `full_reason` "cap" (the station's
/// own cap) or "filesystem" (the disk under the state directory filled first), and
/// `storage_fault` while the station is stopped for storage after an I/O error.
pub fn disk_json(stats: &crate::engine::Stats, cap_bytes: u64, high_water_pct: u8) -> Value {
    use std::sync::atomic::Ordering;
    let used = stats.disk_used.load(Ordering::Relaxed);
    let fs_full = stats.fs_full.load(Ordering::Relaxed);
    let cap_full = stats.cap_full.load(Ordering::Relaxed) || used >= cap_bytes;
    let reason = if fs_full {
        Some("filesystem")
    } else if cap_full {
        Some("cap")
    } else {
        None
    };
    json!({
        "used_bytes": used,
        "cap_bytes": cap_bytes,
        "high_water": used >= cap_bytes / 100 * u64::from(high_water_pct),
        "full": reason.is_some(),
        "full_reason": reason,
        "fs_free_bytes": fs_full.then(|| stats.fs_free.load(Ordering::Relaxed)),
        "storage_fault": stats.storage_fault(),
        "refused_inputs": stats.refused_full.load(Ordering::Relaxed),
        "pruned_events": stats.pruned.load(Ordering::Relaxed),
    })
}

pub use crate::format::mib;

/// A print job as JSON (without its bytes; their size instead): `print queue --json`, the
/// API's print jobs and a return's labels.
pub fn job_json(j: &Job) -> Value {
    json!({
        "id": j.id,
        "created_at": j.created_at,
        "seq": j.seq,
        "subject": j.subject,
        "template": j.template,
        "reason": j.reason,
        "item_no": j.item_no,
        "state": j.state,
        "attempts": j.attempts,
        "printer": j.printer,
        "language": j.language,
        "dpi": j.dpi,
        "bytes": j.size,
        "sent_at": j.sent_at,
        "confirmed_at": j.confirmed_at,
        "last_error": j.last_error,
        "next_attempt_at": j.next_attempt_at,
    })
}
