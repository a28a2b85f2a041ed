//! Inspection photos over the API. `POST /api/v1/photos` takes the image as the raw body
//! (`Content-Type: image/jpeg|image/png|image/webp`; no multipart), at most
//! `http.photo_max_mib`; the type is decided by the bytes (and must match the declared
//! one), location metadata is stripped (`photometa`), and the result is stored
//! content-addressed (`photos::store`, the store `returnsd photo add` uses). The answer's
//! `sha256` goes into `inspect`'s `photos`. `GET /api/v1/photos/{sha}` serves one back.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::ctx::{Ctx, Outcome};
use super::error::ApiError;
use super::request::read_limited;

fn declared(headers: &HeaderMap) -> Option<String> {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// Read the upload body: image content type, size limit.
pub async fn read_image(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(String, Vec<u8>), ApiError> {
    let unsupported = || ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image");
    let ct = declared(headers).ok_or_else(unsupported)?;
    if !matches!(ct.as_str(), "image/jpeg" | "image/png" | "image/webp") {
        return Err(unsupported());
    }
    let bytes = read_limited(headers, body, limit).await?;
    Ok((ct, bytes.to_vec()))
}

/// `POST /photos`.
pub async fn store(ctx: Ctx) -> Result<Outcome, ApiError> {
    let Some((ct, bytes)) = ctx.upload else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_image",
        ));
    };
    match crate::photos::sniff(&bytes) {
        Some((sniffed, _)) if sniffed == ct => {}
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_image",
            ));
        }
    }
    let state_dir = ctx.state.cfg.storage.state_dir.clone();
    let original = bytes.len();
    let stored = tokio::task::spawn_blocking(move || {
        let clean = crate::photometa::strip_location(&bytes)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_image").param("detail", e))?;
        crate::photos::store(&state_dir, &clean).map_err(|e| {
            tracing::error!(error = %e, "photo not stored");
            ApiError::internal()
        })
    })
    .await
    .map_err(|_| ApiError::internal())??;
    let v = json!({
        "sha256": stored.sha256,
        "bytes": stored.bytes,
        "content_type": stored.content_type,
        "metadata_removed_bytes": original as u64 - stored.bytes.min(original as u64),
    });
    Ok(Outcome::Json(StatusCode::CREATED, v))
}

/// `GET /photos/{sha}`.
pub async fn get(ctx: Ctx) -> Result<Outcome, ApiError> {
    let Some(sha) = ctx.sha.clone() else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    let state_dir = ctx.state.cfg.storage.state_dir.clone();
    let found = tokio::task::spawn_blocking(move || crate::photos::read(&state_dir, &sha))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "photo unreadable");
            ApiError::internal()
        })?;
    let Some((bytes, ct)) = found else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    let r = (
        [
            (header::CONTENT_TYPE, ct),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_string(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response();
    Ok(Outcome::Response(r))
}
