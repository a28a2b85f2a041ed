//! An operator-API request's query string, read into a typed query (`?stage=…&limit=…`):
//! percent-decoding, integers in a range, flags. A bad query is `400 bad_request`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ctx::Ctx;
use super::error::ApiError;

/// The request's query as `T` (its fields strings: numbers are checked by [`int`]).
pub fn query<T: DeserializeOwned>(ctx: &Ctx) -> Result<T, ApiError> {
    let q = ctx.query.as_deref().unwrap_or("");
    serde_urlencoded_lite(q).and_then(|v| {
        serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("query: {e}")))
    })
}

/// Parse `a=1&b=x` into a JSON object of strings (numbers are parsed by the target types
/// through `deserialize_with`-free string fields).
fn serde_urlencoded_lite(q: &str) -> Result<Value, ApiError> {
    let mut m = serde_json::Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.insert(decode(k)?, Value::String(decode(v)?));
    }
    Ok(Value::Object(m))
}

/// One percent-encoded component (`+` is a space).
fn decode(s: &str) -> Result<String, ApiError> {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ApiError::bad_request("query: bad percent-encoding"))?;
            out.push(h);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("query: not UTF-8"))
}

/// An integer parameter: `default` when absent, else within `lo..=hi`.
pub fn int(
    v: &Option<String>,
    name: &str,
    default: i64,
    lo: i64,
    hi: i64,
) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be {lo} to {hi}"))),
    }
}

/// A flag parameter: `1`, `true` or `yes`.
pub fn flag(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1" | "true" | "yes"))
}
