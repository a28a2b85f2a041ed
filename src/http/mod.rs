//! The station's HTTP server: the central's pull endpoints of the sync contract
//! (`GET /v1/sync/events`, `POST /v1/sync/ack`, with the central's bearer token),
//! `GET /metrics`, `GET /healthz`, and the operator API under `/api/v1` (`api`: route
//! table and request pipeline; `auth`: sessions, PINs, CSRF; `ops`/`reads`: endpoints;
//! `dto`: wire types; `error`: the error envelope; `idem`: idempotency keys; `live`: the
//! server-sent event stream; `openapi`: the served OpenAPI document; `conn`: connection
//! cap, idle timeout and TLS accept; `tls`: the station's certificate; `upload`: photo uploads), and the keeper's kiosk page with its snapshot and live stream
//! ([`kiosk`]). Each pull page is its own short read transaction.

pub mod api;
pub mod auth;
pub mod conn;
pub mod dto;
pub mod error;
pub mod idem;
pub mod live;
pub mod openapi;
pub mod ops;
pub mod reads;
pub mod tls;
pub mod upload;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

pub mod assets;
pub mod kiosk;
mod kiosk_scan;
mod kiosk_view;

use crate::config::Config;
use crate::engine::EngineHandle;
use crate::store;

#[derive(Clone)]
pub struct HttpState {
    pub cfg: Arc<Config>,
    pub engine: EngineHandle,
    /// One reader connection for pull pages (pages are short; requests take turns).
    pub reader: Arc<Mutex<Option<rusqlite::Connection>>>,
    pub sync: crate::sync_status::SharedStatus,
    /// Live scanner and printer states.
    pub board: crate::board::DeviceBoard,
    /// The operator API's sessions, idempotency keys and concurrency cap.
    pub api: Arc<api::ApiState>,
    /// The listener's TLS (`http.tls`); None = plain HTTP.
    pub tls: Option<tls::ServerTls>,
}

pub fn router(state: HttpState) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { Json(json!({"ok": true})) }))
        .route("/v1/sync/events", get(pull_events))
        .route("/v1/sync/ack", post(pull_ack))
        .route("/metrics", get(metrics))
        .merge(kiosk::routes())
        .merge(api::router())
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// Compare secrets in time independent of where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

/// The refusal to send, or None when the central's bearer token is right.
fn refuse(state: &HttpState, headers: &HeaderMap) -> Option<Response> {
    let Some(secret) = &state.cfg.sync.central_token else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "pull_disabled",
            "this station has no sync.central_token configured",
        ));
    };
    let expected = match secret.read() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "central token unreadable");
            return Some(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "token_unreadable",
                "the station cannot read its central token",
            ));
        }
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if ct_eq(given.as_bytes(), expected.as_bytes()) {
        None
    } else {
        Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong or missing bearer token",
        ))
    }
}

#[derive(Deserialize)]
struct PullQuery {
    epoch: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// Run `f` on the shared reader connection (opened on first use) on a blocking thread.
pub(crate) async fn on_reader<T: Send + 'static>(
    state: &HttpState,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, store::StoreError> {
    let reader = state.reader.clone();
    let db = state.cfg.storage.database.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = match reader.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if guard.is_none() {
            *guard = Some(store::open_reader(&db)?);
        }
        match guard.as_ref() {
            Some(conn) => f(conn),
            None => Err(store::StoreError::decode("reader", "no connection")),
        }
    })
    .await
    .map_err(|_| store::StoreError::decode("reader", "reader task failed"))?
}

pub(crate) async fn with_reader<T: Send + 'static>(
    state: &HttpState,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    on_reader(state, f).await.map_err(|e| {
        tracing::error!(error = %e, "pull read failed");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the journal could not be read",
        )
    })
}

async fn pull_events(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(q): Query<PullQuery>,
) -> Response {
    if let Some(r) = refuse(&state, &headers) {
        return r;
    }
    let epoch = state.engine.epoch.to_string();
    if q.epoch.as_deref() != Some(epoch.as_str()) {
        return (StatusCode::CONFLICT, Json(json!({"epoch": epoch}))).into_response();
    }
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(500).clamp(1, 1000);
    let page = with_reader(&state, move |conn| {
        // One short read transaction: the page and last_seq from the same snapshot.
        let tx = conn.unchecked_transaction()?;
        let pruned = store::pruned_through(&tx)?;
        let rows = store::journal_after(&tx, after, limit)?;
        let last: Option<i64> = tx.query_row("SELECT MAX(seq) FROM journal", [], |r| r.get(0))?;
        tx.finish()?;
        Ok((rows, last.unwrap_or(pruned), pruned))
    })
    .await;
    match page {
        // The central asks for events it acknowledged long ago and the station has since
        // pruned: say so instead of answering with a silent gap (README, contract notes).
        Ok((_, _, pruned)) if after < pruned => {
            tracing::error!(after, pruned, "central asked for pruned events");
            (
                StatusCode::GONE,
                Json(json!({"error": "pruned", "pruned_through": pruned,
                            "message": "these events were acknowledged and pruned after the retention period"})),
            )
                .into_response()
        }
        Ok((rows, last, _)) => Json(json!({
            "station_id": state.cfg.station.id.as_str(),
            "epoch": epoch,
            "events": rows.iter().map(store::JournalRow::to_json).collect::<Vec<Value>>(),
            "last_seq": last,
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct AckBody {
    epoch: String,
    acked_through: i64,
}

async fn pull_ack(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = refuse(&state, &headers) {
        return r;
    }
    let Ok(ack) = serde_json::from_slice::<AckBody>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "body must be {\"epoch\": \"<uuid>\", \"acked_through\": N}",
        );
    };
    let epoch = state.engine.epoch.to_string();
    if ack.epoch != epoch {
        return (StatusCode::CONFLICT, Json(json!({"epoch": epoch}))).into_response();
    }
    match state.engine.ack(ack.acked_through).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_ack", &e.to_string()),
    }
}

/// Prometheus text: the sync backlog and its age, clock offset, disk, scan counters. No
/// customer data; readable without a token (it is on the station's own listener).
async fn metrics(State(state): State<HttpState>) -> Response {
    use std::fmt::Write;
    use std::sync::atomic::Ordering;
    let status = state.sync.clone();
    let v = match with_reader(&state, move |conn| {
        Ok(crate::views::sync_status_json(
            &store::sync_counters(conn)?,
            &status,
            chrono::Utc::now(),
        ))
    })
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let st = &state.engine.stats;
    let n = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "returnsd_journal_last_seq",
        "Highest seq in the journal.",
        n(&v["last_seq"]),
    );
    gauge(
        "returnsd_sync_acked_through",
        "Highest seq the central acknowledged.",
        n(&v["acked_through"]),
    );
    gauge(
        "returnsd_sync_backlog_events",
        "Events not yet acknowledged by the central.",
        n(&v["backlog"]),
    );
    gauge(
        "returnsd_sync_oldest_unacked_age_seconds",
        "Age of the oldest unacknowledged event (0 when none).",
        v["oldest_unacked_age_s"].as_f64().unwrap_or(0.0),
    );
    gauge(
        "returnsd_sync_push_ok",
        "1 while the push worker is idle or sending, 0 in backoff, auth_failed, rejected or conflict.",
        f64::from(matches!(
            v["push"]["state"].as_str(),
            Some("idle" | "sending")
        )),
    );
    gauge(
        "returnsd_sync_clock_offset_ms",
        "Central server_time minus station time.",
        n(&v["clock_offset_ms"]),
    );
    gauge(
        "returnsd_feed_rejected_items",
        "Feed items rejected as malformed.",
        n(&v["feed"]["rejected_items"]),
    );
    gauge(
        "returnsd_disk_used_bytes",
        "Database pages in use, WAL and photos.",
        st.disk_used.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "returnsd_disk_cap_bytes",
        "The configured cap (storage.cap_mb).",
        state.cfg.storage.cap_bytes as f64,
    );
    gauge(
        "returnsd_scans_total",
        "Scans received.",
        st.scans.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "returnsd_double_reads_total",
        "Scanner double reads dropped.",
        st.double_reads.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "returnsd_rejected_scans_total",
        "Scans recorded as refused.",
        st.rejected_scans.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "returnsd_refused_full_total",
        "Inputs refused at the disk cap.",
        st.refused_full.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "returnsd_storage_errors_total",
        "Batches that failed to commit.",
        st.storage_errors.load(Ordering::Relaxed) as f64,
    );
    let disk = crate::views::disk_json(
        st,
        state.cfg.storage.cap_bytes,
        state.cfg.storage.high_water_pct,
    );
    gauge(
        "returnsd_storage_fault",
        "1 while the station is stopped for storage after an I/O error.",
        f64::from(u8::from(disk["storage_fault"].is_string())),
    );
    {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP returnsd_disk_full 1 while new work is refused for lack of storage, by reason: the station's cap or the filesystem.\n# TYPE returnsd_disk_full gauge"
        );
        for reason in ["cap", "filesystem"] {
            let _ = writeln!(
                out,
                "returnsd_disk_full{{reason=\"{reason}\"}} {}",
                u8::from(disk["full_reason"] == reason)
            );
        }
    }
    device_metrics(&mut out, &state.board);
    ([("content-type", "text/plain; version=0.0.4")], out).into_response()
}

/// Per-device gauges: `returnsd_device_up` (1 connected/ok, 0 otherwise),
/// `returnsd_device_alarm` and `returnsd_printer_fault` per fault code.
fn device_metrics(out: &mut String, board: &crate::board::DeviceBoard) {
    use crate::board::DeviceState;
    use std::fmt::Write;
    let devices = board.snapshot();
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', " ")
    };
    let _ = writeln!(
        out,
        "# HELP returnsd_device_up 1 while a scanner is connected or a printer answered ok.\n# TYPE returnsd_device_up gauge"
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
    let _ = writeln!(
        out,
        "# HELP returnsd_device_alarm 1 while a device needs an operator (disconnected, fault, unknown, offline).\n# TYPE returnsd_device_alarm gauge"
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
    let _ = writeln!(
        out,
        "# HELP returnsd_printer_fault 1 per fault a printer reports.\n# TYPE returnsd_printer_fault gauge"
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

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let http = &state.cfg.http;
    let mut listener =
        conn::GuardedListener::new(listener, http.max_connections, http.idle_timeout);
    if let Some(tls) = &state.tls {
        listener = listener.with_tls(tls.acceptor.clone());
    }
    // Live streams (`live`) end on the daemon's stop signal, which fires with `shutdown`,
    // so the graceful shutdown does not wait on them.
    let app = router(state);
    let app = app.into_make_service_with_connect_info::<conn::Peer>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "HTTP server stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Constant-time comparison agrees with plain equality, whatever the lengths.
    #[test]
    fn ct_eq_is_equality() {
        assert!(ct_eq(b"secret", b"secret"));
        assert!(!ct_eq(b"secret", b"secreT"));
        assert!(!ct_eq(b"secret", b"secret2"));
        assert!(!ct_eq(b"", b"x"));
        assert!(ct_eq(b"", b""));
    }
}
