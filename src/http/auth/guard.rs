//! The checks a request passes before its session is looked at: which methods change
//! something, the session cookie (reading and setting it), the origin of a mutating
//! request, and comparing secrets in constant time (CSRF tokens here, the central's bearer
//! token in `pull`).

use axum::http::{HeaderMap, Method, StatusCode};

use crate::http::error::ApiError;

/// The session cookie's name.
pub const COOKIE: &str = "returnsd_session";

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

/// Whether a request may change something: every method but GET, HEAD and OPTIONS.
pub fn is_mutating(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// One cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_string())
        })
}

/// Refuse a mutating request from another origin: `Origin` must name this host (any
/// scheme), and `Sec-Fetch-Site` must not be `cross-site`.
pub fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = || ApiError::new(StatusCode::FORBIDDEN, "cross_origin");
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return Err(refuse());
    }
    let Some(origin) = headers.get("origin") else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| refuse())?;
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(refuse)?;
    if authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// The `Set-Cookie` value for a new session (or, with an empty token, its removal).
pub fn set_cookie(token: &str, secure: bool) -> String {
    let age = if token.is_empty() { "; Max-Age=0" } else { "" };
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{age}{secure}")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::http::auth) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    /// Same-host origins pass; other hosts, `null` and cross-site fetches do not.
    #[test]
    fn origin_must_be_this_host() {
        assert!(check_origin(&headers(&[("host", "st:8470")])).is_ok());
        assert!(
            check_origin(&headers(&[
                ("host", "st:8470"),
                ("origin", "https://st:8470")
            ]))
            .is_ok()
        );
        assert!(
            check_origin(&headers(&[
                ("host", "st:8470"),
                ("origin", "https://evil:8470")
            ]))
            .is_err()
        );
        assert!(check_origin(&headers(&[("host", "st:8470"), ("origin", "null")])).is_err());
        assert!(
            check_origin(&headers(&[
                ("host", "st"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_err()
        );
    }

    /// The cookie is HttpOnly and SameSite=Strict always, Secure when configured; logout
    /// expires it.
    #[test]
    fn cookie_attributes() {
        assert_eq!(
            set_cookie("abc", false),
            "returnsd_session=abc; HttpOnly; SameSite=Strict; Path=/"
        );
        assert!(set_cookie("abc", true).ends_with("; Secure"));
        assert!(set_cookie("", false).contains("Max-Age=0"));
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; returnsd_session=tok; b=2".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("tok"));
    }

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
