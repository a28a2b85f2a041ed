//! The API's error envelope: `{"error": "<stable_code>", "message": "<caller's language>"}`
//! (plus fields some codes add). The message comes from `i18n` (`api.<code>`, or the
//! engine's own code for a refused command); the language is the session operator's, else
//! the request's `Accept-Language` (zh → zh-CN, anything else → en).
//!
//! [`ReadError`] is the seam below: a read of the station database for an answer. The API
//! turns it into an opaque `500 internal` (the cause logged); the pull endpoints, the
//! kiosk snapshot and `/metrics` answer it as it is.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::i18n::{Lang, message};
use crate::store::StoreError;

/// Language from `Accept-Language`: the first tag decides (zh → zh-CN, else en).
pub fn accept_language(headers: &HeaderMap) -> Lang {
    let first = headers
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if first.starts_with("zh") {
        Lang::Zh
    } else {
        Lang::En
    }
}

/// An API failure: status, stable code, message parameters, extra body fields.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    /// The i18n key of the message (`api.<code>` unless the engine supplied its own).
    key: String,
    params: Vec<(String, String)>,
    extra: Map<String, Value>,
    /// Nothing was stored: the message says so first (`api.not_saved`).
    not_saved: bool,
}

/// Every code [`ApiError::new`] is called with (the test checks each is translated).
pub const CODES: &[&str] = &[
    "unauthorized",
    "session_expired",
    "bad_credentials",
    "locked_out",
    "forbidden_role",
    "csrf",
    "cross_origin",
    "bad_json",
    "bad_request",
    "unsupported_media_type",
    "unsupported_image",
    "bad_image",
    "payload_too_large",
    "bad_id",
    "not_found",
    "method_not_allowed",
    "timeout",
    "busy",
    "idempotency_key_reused",
    "idempotency_in_progress",
    "bad_idempotency_key",
    "login_required",
    "bad_bench",
    "internal",
];

impl ApiError {
    /// An API-level error; its message is `api.<code>`.
    pub fn new(status: StatusCode, code: &'static str) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            key: format!("api.{code}"),
            params: Vec::new(),
            extra: Map::new(),
            not_saved: false,
        }
    }

    /// A command the engine refused or could not store: its code is the engine's.
    pub fn engine(status: StatusCode, code: &str, params: Vec<(String, String)>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            key: code.to_string(),
            params,
            extra: Map::new(),
            not_saved: false,
        }
    }

    /// Nothing was stored (the station could not write): the message begins by saying so.
    pub fn not_saved(mut self) -> ApiError {
        self.not_saved = true;
        self
    }

    /// A message parameter (`{name}` in the template).
    pub fn param(mut self, name: &str, value: impl Into<String>) -> ApiError {
        self.params.push((name.to_string(), value.into()));
        self
    }

    /// An extra field in the body.
    pub fn field(mut self, name: &str, value: Value) -> ApiError {
        self.extra.insert(name.to_string(), value);
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request").param("detail", detail)
    }

    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
    }

    /// The JSON body in `lang`.
    pub fn body(&self, lang: Lang) -> Value {
        let params: Vec<(&str, String)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let mut body = self.extra.clone();
        body.insert("error".into(), json!(self.code));
        let mut text = message(lang, &self.key, &params);
        if self.not_saved {
            text = message(lang, "api.not_saved", &[("reason", text)]);
        }
        body.insert("message".into(), json!(text));
        Value::Object(body)
    }

    pub fn respond(&self, lang: Lang) -> Response {
        (self.status, Json(self.body(lang))).into_response()
    }
}

/// A read for an answer failed: the database, or the blocking task that ran the read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the read task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> ApiError {
        tracing::error!(error = %e, "API read failed");
        ApiError::internal()
    }
}

/// Outside the API (pull pages, the kiosk snapshot, `/metrics`): `500 internal`, English.
impl IntoResponse for ReadError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "read failed");
        let body = json!({"error": "internal", "message": "the journal could not be read"});
        (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every API error code has a message in both languages.
    #[test]
    fn every_api_code_is_translated() {
        for c in CODES {
            let key = format!("api.{c}");
            for lang in [Lang::Zh, Lang::En] {
                assert!(
                    crate::i18n::template(lang, &key).is_some(),
                    "{key} has no {lang:?} text"
                );
            }
        }
    }

    /// The first Accept-Language tag decides; zh variants are zh-CN, others English.
    #[test]
    fn language_from_accept_language() {
        let mut h = HeaderMap::new();
        assert_eq!(accept_language(&h), Lang::En);
        h.insert("accept-language", "zh-TW,en;q=0.5".parse().unwrap());
        assert_eq!(accept_language(&h), Lang::Zh);
        h.insert("accept-language", "de-DE,zh;q=0.5".parse().unwrap());
        assert_eq!(accept_language(&h), Lang::En);
    }

    /// The body carries the stable code and the message in the asked language.
    #[test]
    fn body_is_code_and_message() {
        let e = ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            .param("limit", "65536");
        assert_eq!(e.body(Lang::En)["error"], "payload_too_large");
        assert_eq!(
            e.body(Lang::En)["message"],
            "Request body too large (limit 65536 bytes)"
        );
        assert!(
            e.body(Lang::Zh)["message"]
                .as_str()
                .unwrap()
                .contains("65536")
        );
    }
}
