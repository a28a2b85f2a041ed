//! What an operator-API request must be before an endpoint sees it: the ids in its path
//! ([`PathIds`]), its JSON body (type, size, syntax), each refused with the API's error.

use axum::body::Body;
use axum::extract::RawPathParams;
use axum::extract::rejection::RawPathParamsRejection;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::error::ApiError;
use crate::domain::ids::{BinCode, ReturnId};

/// Largest JSON body accepted.
pub const JSON_LIMIT: usize = 64 * 1024;

/// The ids a route's path names, each validated (`400 bad_id` otherwise).
#[derive(Debug, Default)]
pub struct PathIds {
    /// `{id}`: a return id.
    pub id: Option<ReturnId>,
    /// `{sha}`: a photo's SHA-256, 64 lowercase hex digits.
    pub sha: Option<String>,
    /// `{job}`: a print job number.
    pub job: Option<i64>,
    /// `{bin}`: a bin code.
    pub bin: Option<BinCode>,
    /// `{note}`: an RTV note number ([`valid_note_no`]).
    pub note: Option<String>,
}

impl PathIds {
    pub fn parse(
        params: Result<RawPathParams, RawPathParamsRejection>,
    ) -> Result<PathIds, ApiError> {
        let params = params
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_id").param("id", "?"))?;
        let mut ids = PathIds::default();
        for (k, v) in params.iter() {
            let bad = || ApiError::new(StatusCode::BAD_REQUEST, "bad_id").param("id", shown(v));
            match k {
                "id" => ids.id = Some(ReturnId::parse(v).map_err(|_| bad())?),
                "sha" => {
                    let hex =
                        v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                    ids.sha = Some(hex.then(|| v.to_string()).ok_or_else(bad)?);
                }
                "bin" => ids.bin = Some(BinCode::parse(v).map_err(|_| bad())?),
                "note" => {
                    ids.note = Some(valid_note_no(v).then(|| v.to_string()).ok_or_else(bad)?);
                }
                "job" => {
                    let digits =
                        (1..=18).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit());
                    let n = v.parse::<i64>().ok().filter(|n| *n > 0 && digits);
                    ids.job = Some(n.ok_or_else(bad)?);
                }
                _ => {}
            }
        }
        Ok(ids)
    }
}

/// An RTV note number as the station makes them (`RTV-<station>-<yyyymmdd>-<n>`): `RTV-`
/// then at most 96 of `A-Z a-z 0-9 _ -` (the station id's characters), so no `/`, `.` or
/// `%` can reach a lookup.
pub fn valid_note_no(v: &str) -> bool {
    v.len() <= 100
        && v.strip_prefix("RTV-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// An id as it may be echoed in a message: printable, at most 64 characters.
fn shown(id: &str) -> String {
    id.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn content_type_is_json(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// A POST's JSON body: declared `application/json`, at most [`JSON_LIMIT`] bytes, one
/// JSON object. Answers the raw bytes (for the idempotency fingerprint) and the value.
pub async fn read_json(headers: &HeaderMap, body: Body) -> Result<(Vec<u8>, Value), ApiError> {
    if !content_type_is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ));
    }
    let bytes = read_limited(headers, body, JSON_LIMIT).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_json").param("detail", e.to_string())
    })?;
    if !value.is_object() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_json")
            .param("detail", "the body must be a JSON object"));
    }
    Ok((bytes.to_vec(), value))
}

/// A body of at most `limit` bytes (`413 payload_too_large` as soon as its declared length
/// says it is larger, else once it grows past the limit).
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            .param("limit", limit.to_string())
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}
