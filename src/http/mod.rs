//! The station's HTTP server. Now: the central's pull endpoints of the sync contract
//! (`GET /v1/sync/events`, `POST /v1/sync/ack`, with the central's bearer token) and
//! `GET /healthz`. Each pull page is its own short read transaction.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::engine::EngineHandle;
use crate::store;

#[derive(Clone)]
pub struct HttpState {
    pub cfg: Arc<Config>,
    pub engine: EngineHandle,
    /// One reader connection for pull pages (pages are short; requests take turns).
    pub reader: Arc<Mutex<Option<rusqlite::Connection>>>,
}

pub fn router(state: HttpState) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { Json(json!({"ok": true})) }))
        .route("/v1/sync/events", get(pull_events))
        .route("/v1/sync/ack", post(pull_ack))
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

async fn with_reader<T: Send + 'static>(
    state: &HttpState,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    let reader = state.reader.clone();
    let db = state.cfg.database.clone();
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
    .map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "reader task failed",
        )
    })?
    .map_err(|e| {
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
            "station_id": state.cfg.station.as_str(),
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
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_ack", &e),
    }
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router(state))
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
