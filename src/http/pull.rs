//! The central's pull endpoints of the sync contract: `GET /v1/sync/events` (a page of the
//! journal, with the central's bearer token) and `POST /v1/sync/ack` (the central's
//! acknowledgement, applied through the engine). Each page is one short read transaction.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::ct_eq;
use super::error::ReadError;
use super::state::HttpState;
use crate::store::{self, JournalRow};

/// Why a pull request is refused, each with the answer the contract gives it.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("this station has no sync.central_token configured")]
    Disabled,
    #[error("the station cannot read its central token")]
    TokenUnreadable,
    #[error("wrong or missing bearer token")]
    Unauthorized,
    /// The request names another epoch than the station's (this one).
    #[error("the station's epoch is {0}")]
    Epoch(String),
    /// Events the central acknowledged and the station has since pruned.
    #[error("these events were acknowledged and pruned after the retention period")]
    Pruned { pruned_through: i64 },
    /// The database was copied or moved: nothing is served under its epoch until a
    /// restore is confirmed (contract 1.1).
    #[error("{0}")]
    Moved(String),
    #[error("body must be {{\"epoch\": \"<uuid>\", \"acked_through\": N}}")]
    BadAck,
    /// The engine refused the acknowledgement (beyond the last seq, say).
    #[error("{0}")]
    AckRefused(String),
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl IntoResponse for PullError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let envelope = |code: &str| json!({"error": code, "message": message});
        let (status, body) = match self {
            PullError::Read(e) => return e.into_response(),
            PullError::Epoch(epoch) => (StatusCode::CONFLICT, json!({"epoch": epoch})),
            PullError::Pruned { pruned_through } => (
                StatusCode::GONE,
                json!({"error": "pruned", "pruned_through": pruned_through, "message": message}),
            ),
            PullError::Disabled => (StatusCode::UNAUTHORIZED, envelope("pull_disabled")),
            PullError::TokenUnreadable => (
                StatusCode::SERVICE_UNAVAILABLE,
                envelope("token_unreadable"),
            ),
            PullError::Unauthorized => (StatusCode::UNAUTHORIZED, envelope("unauthorized")),
            PullError::BadAck => (StatusCode::BAD_REQUEST, envelope("bad_request")),
            PullError::Moved(_) => (StatusCode::SERVICE_UNAVAILABLE, envelope("moved")),
            PullError::AckRefused(_) => (StatusCode::BAD_REQUEST, envelope("bad_ack")),
        };
        (status, Json(body)).into_response()
    }
}

/// Ok when the request carries the central's bearer token.
fn check_token(state: &HttpState, headers: &HeaderMap) -> Result<(), PullError> {
    let secret = state
        .cfg
        .sync
        .central_token
        .as_ref()
        .ok_or(PullError::Disabled)?;
    let expected = secret.read().map_err(|e| {
        tracing::error!(error = %e, "central token unreadable");
        PullError::TokenUnreadable
    })?;
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if ct_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(PullError::Unauthorized)
    }
}

/// The station's epoch, when `given` names it (and the database was not copied or moved).
fn check_epoch(state: &HttpState, given: Option<&str>) -> Result<String, PullError> {
    if let Some(why) = &state.engine.moved {
        return Err(PullError::Moved(why.to_string()));
    }
    let epoch = state.engine.epoch.to_string();
    if given == Some(epoch.as_str()) {
        Ok(epoch)
    } else {
        Err(PullError::Epoch(epoch))
    }
}

#[derive(Deserialize)]
pub struct PullQuery {
    epoch: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// `GET /v1/sync/events?epoch=&after=&limit=`.
pub async fn events(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(q): Query<PullQuery>,
) -> Result<Json<Value>, PullError> {
    check_token(&state, &headers)?;
    let epoch = check_epoch(&state, q.epoch.as_deref())?;
    let after = q.after.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(500).clamp(1, 1000);
    // In the epoch's wire seqs: after a restore, local seq `offset + 1` is the epoch's 1.
    let seqs = state.engine.seqs.clone();
    let page = state
        .read(move |r| store::api_reads::wire_page(r, &seqs, after, limit))
        .await?;
    if after < page.pruned_through {
        // The central asks for events it acknowledged long ago and the station has since
        // pruned: say so instead of answering with a silent gap (README, contract notes).
        tracing::error!(
            after,
            pruned = page.pruned_through,
            "central asked for pruned events"
        );
        return Err(PullError::Pruned {
            pruned_through: page.pruned_through,
        });
    }
    Ok(Json(json!({
        "station_id": state.cfg.station.id.as_str(),
        "epoch": epoch,
        "events": page.rows.iter().map(JournalRow::to_json).collect::<Vec<Value>>(),
        "last_seq": page.last_seq.unwrap_or(page.pruned_through),
    })))
}

#[derive(Deserialize)]
struct AckBody {
    epoch: String,
    acked_through: i64,
}

/// `POST /v1/sync/ack` `{"epoch", "acked_through"}`: 204 once the engine moved the cursor.
pub async fn ack(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, PullError> {
    check_token(&state, &headers)?;
    let ack = serde_json::from_slice::<AckBody>(&body).map_err(|_| PullError::BadAck)?;
    check_epoch(&state, Some(&ack.epoch))?;
    state
        .engine
        .ack(ack.acked_through)
        .await
        .map_err(|e| PullError::AckRefused(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(e: PullError) -> (u16, Value) {
        let r = e.into_response();
        let status = r.status().as_u16();
        let body =
            futures_util::FutureExt::now_or_never(axum::body::to_bytes(r.into_body(), usize::MAX))
                .and_then(Result::ok)
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
        (status, body)
    }

    /// Each refusal answers the contract's status and body: the error code and message,
    /// the current epoch alone for another epoch, the pruning point for pruned events.
    #[test]
    fn refusals_answer_as_the_contract_says() {
        assert_eq!(
            answer(PullError::Disabled),
            (
                401,
                json!({"error": "pull_disabled",
                       "message": "this station has no sync.central_token configured"})
            )
        );
        assert_eq!(answer(PullError::Unauthorized).0, 401);
        assert_eq!(answer(PullError::TokenUnreadable).0, 503);
        assert_eq!(
            answer(PullError::Epoch("e-1".into())),
            (409, json!({"epoch": "e-1"}))
        );
        let (status, body) = answer(PullError::Pruned { pruned_through: 42 });
        assert_eq!(
            (status, &body["error"], &body["pruned_through"]),
            (410, &json!("pruned"), &json!(42))
        );
        assert_eq!(
            answer(PullError::BadAck).1["message"],
            "body must be {\"epoch\": \"<uuid>\", \"acked_through\": N}"
        );
        assert_eq!(
            answer(PullError::AckRefused("beyond the last seq".into())),
            (
                400,
                json!({"error": "bad_ack", "message": "beyond the last seq"})
            )
        );
    }
}
