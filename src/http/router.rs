//! The station's router — `/healthz`, the central's pull endpoints (`pull`), `/metrics`,
//! the pages and kiosk endpoints (`kiosk`) and the operator API (`api`) — and the server
//! that runs it until the daemon stops.

use std::future::Future;

use axum::Json;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::state::HttpState;
use super::{api, conn, kiosk, metrics, pull};

/// `GET /readyz` (no session, like `/healthz`): `200 {"ready": true}` when the station
/// takes scans now — its engine took a probe through the database writer within
/// [`READY_WITHIN`], and storage neither stopped it nor is full; else `503` with the
/// reasons (`engine_not_answering`, `storage_fault`, `disk_full`, `fs_full`).
async fn readyz(State(state): State<HttpState>) -> Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let mut why: Vec<&str> = Vec::new();
    match tokio::time::timeout(READY_WITHIN, state.engine.probe()).await {
        Ok(_) => {}
        Err(_) => why.push("engine_not_answering"),
    }
    let stats = &state.engine.stats;
    if stats.storage_fault().is_some() {
        why.push("storage_fault");
    }
    if stats.cap_full.load(Ordering::Relaxed) {
        why.push("disk_full");
    }
    if stats.fs_full.load(Ordering::Relaxed) {
        why.push("fs_full");
    }
    let status = if why.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"ready": why.is_empty(), "reasons": why})),
    )
        .into_response()
}

/// How long `/readyz` waits for the engine's answer.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Every route of the station's listener.
pub fn router(state: HttpState) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { Json(json!({"ok": true})) }))
        .route("/readyz", get(readyz))
        .route("/v1/sync/events", get(pull::events))
        .route("/v1/sync/ack", post(pull::ack))
        .route("/metrics", get(metrics::metrics))
        .merge(kiosk::routes())
        .merge(api::router())
        // Only matched routes are timed: their template is a bounded label.
        .route_layer(middleware::from_fn_with_state(state.clone(), timed))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// Time a request to a route: `returnsd_http_request_duration_seconds` by the route's
/// template (never the path as sent, which carries ids), method and status.
async fn timed(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let resp = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", |r| r.as_str());
    (state.engine.telemetry).http_request(
        route,
        method.as_str(),
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let http = &state.cfg.http;
    let mut listener =
        conn::GuardedListener::new(listener, http.max_connections, http.idle_timeout);
    if let Some(tls) = &state.tls {
        listener = listener.with_tls(tls.acceptor.clone());
    }
    // Live streams (`live`) end on the daemon's stop signal, which fires with `shutdown`,
    // so the graceful shutdown does not wait on them.
    let follower = tokio::spawn(super::ops::follow_unlocks(state.clone()));
    let operators = tokio::spawn(super::ops::follow_operator_changes(state.clone()));
    let app = router(state);
    let app = app.into_make_service_with_connect_info::<conn::Peer>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "HTTP server stopped");
    }
    follower.abort();
    operators.abort();
}
