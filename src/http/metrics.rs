//! `GET /metrics`: Prometheus text for the station's monitoring — the sync backlog and
//! its age, clock offset, disk, scan counters, storage faults and every device. No
//! customer data; readable without a token (it is on the station's own listener).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::state::HttpState;
use super::status::sync_json;
use crate::board::{DeviceBoard, DeviceState};

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
    let mut out = String::new();
    sync_metrics(&mut out, &sync);
    station_metrics(&mut out, &state);
    device_metrics(&mut out, &state.board);
    ([("content-type", "text/plain; version=0.0.4")], out).into_response()
}

/// A gauge's help and type lines (its samples follow).
fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// One gauge without labels.
fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    family(out, name, help);
    let _ = writeln!(out, "{name} {value}");
}

/// The journal and the sync workers, from the status as `GET /sync` shows it.
fn sync_metrics(out: &mut String, v: &Value) {
    let n = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let gauges = [
        (
            "returnsd_journal_last_seq",
            "Highest seq in the journal.",
            n(&v["last_seq"]),
        ),
        (
            "returnsd_sync_acked_through",
            "Highest seq the central acknowledged.",
            n(&v["acked_through"]),
        ),
        (
            "returnsd_sync_backlog_events",
            "Events not yet acknowledged by the central.",
            n(&v["backlog"]),
        ),
        (
            "returnsd_sync_oldest_unacked_age_seconds",
            "Age of the oldest unacknowledged event (0 when none).",
            v["oldest_unacked_age_s"].as_f64().unwrap_or(0.0),
        ),
        (
            "returnsd_sync_push_ok",
            "1 while the push worker is idle or sending, 0 in backoff, auth_failed, rejected, conflict or moved.",
            f64::from(matches!(
                v["push"]["state"].as_str(),
                Some("idle" | "sending")
            )),
        ),
        (
            "returnsd_sync_clock_offset_ms",
            "Central server_time minus station time.",
            n(&v["clock_offset_ms"]),
        ),
        (
            "returnsd_feed_rejected_items",
            "Feed items rejected as malformed.",
            n(&v["feed"]["rejected_items"]),
        ),
    ];
    for (name, help, value) in gauges {
        gauge(out, name, help, value);
    }
}

/// Disk, the engine's counters and the storage state.
fn station_metrics(out: &mut String, state: &HttpState) {
    let st = &state.engine.stats;
    let count = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64;
    let storage = &state.cfg.storage;
    let gauges = [
        (
            "returnsd_disk_used_bytes",
            "Database pages in use, WAL and photos.",
            count(&st.disk_used),
        ),
        (
            "returnsd_disk_cap_bytes",
            "The configured cap (storage.cap_mb).",
            storage.cap_bytes as f64,
        ),
        ("returnsd_scans_total", "Scans received.", count(&st.scans)),
        (
            "returnsd_double_reads_total",
            "Scanner double reads dropped.",
            count(&st.double_reads),
        ),
        (
            "returnsd_rejected_scans_total",
            "Scans recorded as refused.",
            count(&st.rejected_scans),
        ),
        (
            "returnsd_refused_full_total",
            "Inputs refused at the disk cap.",
            count(&st.refused_full),
        ),
        (
            "returnsd_storage_errors_total",
            "Batches that failed to commit.",
            count(&st.storage_errors),
        ),
    ];
    for (name, help, value) in gauges {
        gauge(out, name, help, value);
    }
    let disk = crate::views::disk_json(st, storage.cap_bytes, storage.high_water_pct);
    gauge(
        out,
        "returnsd_storage_fault",
        "1 while the station is stopped for storage after an I/O error.",
        f64::from(u8::from(disk["storage_fault"].is_string())),
    );
    family(
        out,
        "returnsd_disk_full",
        "1 while new work is refused for lack of storage, by reason: the station's cap or the filesystem.",
    );
    for reason in ["cap", "filesystem"] {
        let _ = writeln!(
            out,
            "returnsd_disk_full{{reason=\"{reason}\"}} {}",
            u8::from(disk["full_reason"] == reason)
        );
    }
}

/// Per-device gauges: `returnsd_device_up` (1 connected/ok, 0 otherwise),
/// `returnsd_device_alarm` and `returnsd_printer_fault` per fault code.
fn device_metrics(out: &mut String, board: &DeviceBoard) {
    let devices = board.snapshot();
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', " ")
    };
    family(
        out,
        "returnsd_device_up",
        "1 while a scanner is connected or a printer answered ok.",
    );
    for d in &devices {
        let up = matches!(d.state, DeviceState::Connected | DeviceState::Ok);
        let _ = writeln!(
            out,
            "returnsd_device_up{{id=\"{}\",kind=\"{}\",transport=\"{}\",state=\"{}\"}} {}",
            esc(&d.id),
            d.kind.as_str(),
            esc(&d.transport),
            d.state.as_str(),
            u8::from(up)
        );
    }
    family(
        out,
        "returnsd_device_alarm",
        "1 while a device needs an operator (disconnected, fault, unknown, offline).",
    );
    for d in &devices {
        let _ = writeln!(
            out,
            "returnsd_device_alarm{{id=\"{}\",kind=\"{}\"}} {}",
            esc(&d.id),
            d.kind.as_str(),
            u8::from(d.state.is_alarm())
        );
    }
    family(
        out,
        "returnsd_printer_fault",
        "1 per fault a printer reports.",
    );
    for d in &devices {
        for f in &d.faults {
            let _ = writeln!(
                out,
                "returnsd_printer_fault{{id=\"{}\",fault=\"{}\"}} 1",
                esc(&d.id),
                esc(f)
            );
        }
    }
}
