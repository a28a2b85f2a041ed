//! One operator-API request as the endpoints get it ([`Ctx`]: checked and parsed by the
//! pipeline in `api`) and what they answer ([`Outcome`]).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::Caller;
use super::state::HttpState;
use crate::domain::ids::{BinCode, ReturnId};
use crate::domain::kind::Role;
use crate::i18n::Lang;

/// One request, checked and parsed, as the endpoints get it.
pub struct Ctx {
    pub state: HttpState,
    pub caller: Option<Caller>,
    /// Set for endpoints with `Access::Roles`: the role the caller acts in.
    pub role: Option<Role>,
    pub lang: Lang,
    /// The validated return id of `{id}` paths.
    pub id: Option<ReturnId>,
    /// The validated SHA-256 (lowercase hex) of `{sha}` paths.
    pub sha: Option<String>,
    /// The print job number of `{job}` paths.
    pub job: Option<i64>,
    /// The bin code of `{bin}` paths.
    pub bin: Option<BinCode>,
    /// The validated RTV note number of `{note}` paths.
    pub note: Option<String>,
    /// A photo upload: its declared content type and bytes.
    pub upload: Option<(String, Vec<u8>)>,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The JSON body of POST requests (an object), else null.
    pub body: Value,
    /// A command's `Idempotency-Key` and the request's fingerprint, handed to the engine
    /// (which keeps the answer durably with the command).
    pub keep: Option<(String, [u8; 32])>,
}

/// What an endpoint answers: JSON with a status, or a response of its own (cookies).
pub enum Outcome {
    Json(StatusCode, Value),
    Response(Response),
    /// An answer kept for an `Idempotency-Key`, sent again (`Idempotent-Replayed: true`).
    Replayed(StatusCode, Value),
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        match self {
            Outcome::Json(s, v) => (s, Json(v)).into_response(),
            Outcome::Response(r) => r,
            Outcome::Replayed(s, v) => replayed(s, v),
        }
    }
}

/// A kept answer sent again, marked `Idempotent-Replayed: true`.
pub fn replayed(status: StatusCode, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}
