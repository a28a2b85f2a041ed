//! The print queue over the API: `GET /print-jobs` (without the bytes) and
//! `GET /print-jobs/{job}/preview.png` (the label rendered from the bytes as sent, as
//! `returnsd label preview --job` does), and a job's JSON for the return detail's labels.
//!
//! The one file of `http` that names `printing`: a job's JSON belongs with the read models
//! (`views`/`store`), and the preview is printing's rendering of a stored job; when they
//! move, only the import below changes.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::labels::PrintError;
use crate::labels::view::preview as render_preview;
pub use crate::views::job_json;

use super::ctx::{Ctx, Outcome};
use super::error::ApiError;
use super::query::{flag, int, query};
use crate::store::jobs;

#[derive(Deserialize)]
struct JobsQuery {
    all: Option<String>,
    limit: Option<String>,
}

/// `GET /print-jobs` (unconfirmed jobs; `?all=1`: the newest of every state).
pub async fn list(ctx: &Ctx) -> Result<Value, ApiError> {
    let q: JobsQuery = query(ctx)?;
    let all = flag(&q.all);
    let limit = int(&q.limit, "limit", 100, 1, 1000)?;
    let jobs = ctx.state.read(move |r| jobs::list(r, all, limit)).await?;
    let jobs: Vec<Value> = jobs.iter().map(job_json).collect();
    Ok(json!({"jobs": jobs}))
}

/// `GET /print-jobs/{job}/preview.png`: the job's label as a PNG, rendered from the bytes
/// as sent; 404 when there is no such job, or when it was never rendered and no printer is
/// configured to render it for.
pub async fn preview(ctx: Ctx) -> Result<Outcome, ApiError> {
    let Some(id) = ctx.job else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
    };
    let settings = ctx.state.cfg.print_settings();
    let found = ctx
        .state
        .read(move |r| {
            if jobs::get(r, id)?.is_none() {
                return Ok(None);
            }
            Ok(Some(render_preview(&settings, r, Some(id), None)))
        })
        .await?;
    let png = match found {
        // A job never rendered on a station without a [printer] has no label to show yet.
        None | Some(Err(PrintError::NoPrinter)) => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found"));
        }
        Some(Err(e)) => {
            tracing::warn!(job = id, error = %e, "label preview failed");
            return Err(ApiError::internal());
        }
        Some(Ok((_, png))) => png,
    };
    let r = (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        png,
    )
        .into_response();
    Ok(Outcome::Response(r))
}
