//! The pages' static files (`src/http/assets/`), embedded in the binary with `include_str!`
//! (no build step), served with their content type and the security headers every page
//! response carries: a strict Content-Security-Policy (scripts, styles and connections
//! only from the station itself, no inline script or style, no frames), `nosniff`, no
//! referrer.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The policy for pages and their files. `connect-src 'self'` covers `fetch` and the
/// `EventSource` stream; nothing is loaded from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// (name, content type, body)
const FILES: &[(&str, &str, &str)] = &[
    (
        "kiosk.html",
        "text/html; charset=utf-8",
        include_str!("assets/kiosk.html"),
    ),
    (
        "kiosk.css",
        "text/css; charset=utf-8",
        include_str!("assets/kiosk.css"),
    ),
    (
        "kiosk.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/kiosk.js"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/common.js"),
    ),
    (
        "handheld.html",
        "text/html; charset=utf-8",
        include_str!("assets/handheld.html"),
    ),
    (
        "handheld.css",
        "text/css; charset=utf-8",
        include_str!("assets/handheld.css"),
    ),
    (
        "handheld.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/handheld.js"),
    ),
    (
        "supervisor.html",
        "text/html; charset=utf-8",
        include_str!("assets/supervisor.html"),
    ),
    (
        "supervisor.css",
        "text/css; charset=utf-8",
        include_str!("assets/supervisor.css"),
    ),
    (
        "supervisor.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/supervisor.js"),
    ),
];

/// Add the page security headers to a response (a response that set its own, stricter
/// CSP keeps it: the quality-check sheets).
pub fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// One embedded file, or None.
pub fn file(name: &str) -> Option<Response> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ty, body)| {
            secure(
                (
                    [
                        (header::CONTENT_TYPE, *ty),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    *body,
                )
                    .into_response(),
            )
        })
}

/// `GET /assets/{name}`: the page's CSS and JS (public: they hold no data).
pub async fn asset(Path(name): Path<String>) -> Response {
    match file(&name) {
        Some(r) if !name.ends_with(".html") => r,
        _ => secure((StatusCode::NOT_FOUND, "not found").into_response()),
    }
}

#[cfg(test)]
mod tests {
    /// The page has no inline script or style and no words of its own: every text node is
    /// filled from the translation tables (`data-i18n`).
    #[test]
    fn html_has_no_inline_script_style_or_text() {
        for html in [
            include_str!("assets/kiosk.html"),
            include_str!("assets/handheld.html"),
            include_str!("assets/supervisor.html"),
        ] {
            page_has_no_inline_script_style_or_text(html);
        }
    }

    fn page_has_no_inline_script_style_or_text(html: &str) {
        assert!(!html.contains("<script>"), "inline script");
        assert!(!html.contains("style="), "inline style");
        assert!(!html.contains("<style"), "inline style");
        assert!(!html.contains(" on"), "inline handler");
        let re = regex::Regex::new(r">\s*([^<\s][^<]*)<").unwrap();
        for c in re.captures_iter(html) {
            let t = c[1].trim();
            assert!(
                t.is_empty() || t.chars().all(|c| !c.is_alphabetic()),
                "text in HTML: {t:?}"
            );
        }
    }

    /// Every `data-i18n` key of the page and every `t('…')` key of the script is translated.
    #[test]
    fn page_keys_are_translated() {
        let known: Vec<&str> = crate::i18n::codes().collect();
        let re = regex::Regex::new(r#"(?:data-i18n="|data-i18n-placeholder="|\bt\(')([a-z_.]+)"#)
            .unwrap();
        let mut n = 0;
        for src in [
            include_str!("assets/kiosk.html"),
            include_str!("assets/kiosk.js"),
            include_str!("assets/handheld.html"),
            include_str!("assets/handheld.js"),
            include_str!("assets/supervisor.html"),
            include_str!("assets/supervisor.js"),
            include_str!("assets/common.js"),
        ] {
            for c in re.captures_iter(src) {
                n += 1;
                assert!(known.contains(&&c[1]), "{} has no translation", &c[1]);
            }
        }
        assert!(n > 20, "{n}");
    }
}
