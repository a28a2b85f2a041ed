//! `GET /metrics`: Prometheus text (format 0.0.4) for the station's monitoring — the sync
//! backlog and its age, clock offset, disk, scan counters, storage faults, every device,
//! and the latency histograms the engine and the edges record (`telemetry`). No customer
//! data; readable without a token on the station's own listener (like `/healthz`).
//!
//! This file says *what* is exposed, read at scrape time; `telemetry` says *how* (types,
//! names, encoding). Counters end in `_total`; nothing is ever NaN: a figure that is not
//! known is left out, as its HELP says.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::state::HttpState;
use super::status::sync_json;
use crate::board::{DeviceBoard, DeviceState};
use crate::telemetry::{CONTENT_TYPE, Scrape};

/// `GET /metrics`.
pub async fn metrics(State(state): State<HttpState>) -> Response {
    let status = state.sync.clone();
    let sync = match state
        .read(move |r| sync_json(r, &status, chrono::Utc::now()))
        .await
    {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let mut out = state.engine.telemetry.scrape();
    sync_metrics(&mut out, &sync);
    station_metrics(&mut out, &state);
    device_metrics(&mut out, &state.board);
    ([("content-type", CONTENT_TYPE)], out.encode()).into_response()
}

/// The journal and the sync workers, from the status as `GET /sync` shows it.
fn sync_metrics(out: &mut Scrape, v: &Value) {
    // These are always numbers in the status; a missing one is left out, never NaN.
    let known = [
        (
            "returnsd_journal_last_seq",
            "Highest seq in the journal.",
            &v["last_seq"],
        ),
        (
            "returnsd_sync_acked_through",
            "Highest seq the central acknowledged (0 before the first acknowledgement).",
            &v["acked_through"],
        ),
        (
            "returnsd_sync_backlog_events",
            "Events not yet acknowledged by the central (every event while no central is configured).",
            &v["backlog"],
        ),
    ];
    for (name, help, value) in known {
        if let Some(x) = value.as_i64() {
            out.gauge(name, help, x);
        }
    }
    out.gauge(
        "returnsd_sync_oldest_unacked_age_seconds",
        "Age of the oldest unacknowledged event (0 when none).",
        v["oldest_unacked_age_s"].as_i64().unwrap_or(0),
    );
    out.gauge(
        "returnsd_sync_push_ok",
        "1 while the push worker is idle or sending; 0 in backoff, auth_failed, rejected, conflict, moved, or disabled (no central configured).",
        i64::from(matches!(
            v["push"]["state"].as_str(),
            Some("idle" | "sending")
        )),
    );
    out.gauges(
        "returnsd_sync_clock_offset_ms",
        "Central server_time minus station time, from the last push answer; no sample until a central has answered (none without a central).",
        v["clock_offset_ms"].as_i64().map(|ms| (Vec::new(), ms)),
    );
    out.counter(
        "returnsd_feed_rejected_items_total",
        "Feed and manifest items rejected as malformed (kept in the database).",
        v["feed"]["rejected_items"].as_u64().unwrap_or(0),
    );
}

/// Disk, the engine's counters and the storage state.
fn station_metrics(out: &mut Scrape, state: &HttpState) {
    let st = &state.engine.stats;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let storage = &state.cfg.storage;
    out.gauge(
        "returnsd_disk_used_bytes",
        "Database pages in use, WAL and photos.",
        i64::try_from(get(&st.disk_used)).unwrap_or(i64::MAX),
    );
    out.gauge(
        "returnsd_disk_cap_bytes",
        "The configured cap (storage.cap_mb).",
        i64::try_from(storage.cap_bytes).unwrap_or(i64::MAX),
    );
    out.gauge(
        "returnsd_storage_verified",
        "1 once the integrity check that follows each start has passed (it reads the whole file in the background, yielding to operators); 0 while it runs, or when it failed.",
        i64::from(st.verified.load(Ordering::Relaxed)),
    );
    out.gauge(
        "returnsd_returns_in_memory",
        "Returns the engine holds in memory: the open work (received to inspected, and what the benches point at); the rest is read from disk when named.",
        i64::try_from(get(&st.held_returns)).unwrap_or(i64::MAX),
    );
    out.gauge(
        "returnsd_engine_inputs_waiting",
        "Inputs sent to the engine and not yet answered (its queue, the batch being written, and the inputs waiting their turn per source).",
        i64::try_from(state.engine.inputs_waiting()).unwrap_or(i64::MAX),
    );
    let counters = [
        ("returnsd_scans_total", "Scans received.", &st.scans),
        (
            "returnsd_double_reads_total",
            "Scanner double reads dropped.",
            &st.double_reads,
        ),
        (
            "returnsd_rejected_scans_total",
            "Scans recorded as refused.",
            &st.rejected_scans,
        ),
        (
            "returnsd_refused_full_total",
            "Inputs refused for lack of storage (the cap, a full filesystem, a storage fault).",
            &st.refused_full,
        ),
        (
            "returnsd_storage_errors_total",
            "Batches that failed to commit.",
            &st.storage_errors,
        ),
    ];
    for (name, help, counter) in counters {
        out.counter(name, help, get(counter));
    }
    let disk = crate::views::disk_json(st, storage.cap_bytes, storage.high_water_pct);
    out.gauge(
        "returnsd_storage_fault",
        "1 while the station is stopped for storage after an I/O error.",
        i64::from(u8::from(disk["storage_fault"].is_string())),
    );
    out.gauges(
        "returnsd_disk_full",
        "1 while new work is refused for lack of storage, by reason: the station's cap or the filesystem.",
        ["cap", "filesystem"].map(|reason| {
            let full = disk["full_reason"] == reason;
            (vec![("reason", reason.to_string())], i64::from(u8::from(full)))
        }),
    );
}

/// Per-device gauges: `returnsd_device_up` (1 connected/ok, 0 otherwise),
/// `returnsd_device_alarm` and `returnsd_printer_fault` per fault code.
fn device_metrics(out: &mut Scrape, board: &DeviceBoard) {
    let devices = board.snapshot();
    out.gauges(
        "returnsd_device_up",
        "1 while a scanner is connected or a printer answered ok.",
        devices.iter().map(|d| {
            let up = matches!(d.state, DeviceState::Connected | DeviceState::Ok);
            let labels = vec![
                ("id", d.id.clone()),
                ("kind", d.kind.as_str().to_string()),
                ("transport", d.transport.clone()),
                ("state", d.state.as_str().to_string()),
            ];
            (labels, i64::from(u8::from(up)))
        }),
    );
    out.gauges(
        "returnsd_device_alarm",
        "1 while a device needs an operator (disconnected, fault, unknown, offline).",
        devices.iter().map(|d| {
            let labels = vec![("id", d.id.clone()), ("kind", d.kind.as_str().to_string())];
            (labels, i64::from(u8::from(d.state.is_alarm())))
        }),
    );
    out.gauges(
        "returnsd_printer_fault",
        "1 per fault a printer reports.",
        devices.iter().flat_map(|d| {
            (d.faults.iter()).map(|f| (vec![("id", d.id.clone()), ("fault", f.clone())], 1))
        }),
    );
}
