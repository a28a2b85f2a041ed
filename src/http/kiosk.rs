//! The keeper's kiosk: the page at `GET /kiosk?bench=bench-1`, its snapshot
//! `GET /api/v1/kiosk/state?bench=…&lang=…`, plus the page strings
//! `GET /api/v1/i18n?lang=…` (public: words only). It follows the bench live over the one
//! event stream `GET /api/v1/events?lang=…` (see [`super::live`]).
//!
//! The kiosk runs on the bench PC itself and nobody logs in to it, so the page, its
//! snapshot and the event stream are open without a session **only to loopback peers**
//! that name the station by a loopback host (which also stops a web page elsewhere from
//! reaching them through DNS rebinding): [`kiosk_access`]. Elsewhere a logged-in operator
//! (session cookie or bearer token) may read them; anyone else gets
//! `401 {"error":"login_required"}`.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::assets::{self, secure};
use super::conn::Peer;
use super::error::{ApiError, accept_language};
use super::kiosk_view::{self, Inputs};
use super::state::HttpState;
use super::status::sync_json;
use crate::i18n::Lang;
use crate::store::kiosk as rows;

/// The kiosk's endpoints under `/api/v1` (method, full path): documented in the OpenAPI
/// document next to `api::ROUTES`, and the router is built from these same strings.
pub const API_ROUTES: [(&str, &str); 2] = [("GET", "/api/v1/i18n"), ("GET", "/api/v1/kiosk/state")];

/// The kiosk's routes, merged into the station's router.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/kiosk", get(page))
        .route("/handheld", get(handheld))
        .route("/supervisor", get(supervisor))
        .route("/assets/{name}", get(assets::asset))
        .route(API_ROUTES[0].1, get(strings))
        .route(API_ROUTES[1].1, get(state))
}

/// Whether a request may read the kiosk without a session: a loopback peer asking for a
/// loopback host (else `401 login_required`).
pub fn kiosk_access(peer: SocketAddr, headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if is_loopback(peer.ip()) && is_loopback_host(host) {
        return Ok(());
    }
    Err(ApiError::new(StatusCode::UNAUTHORIZED, "login_required"))
}

/// An API error as the kiosk's endpoints answer it (with the page security headers).
fn refuse(e: &ApiError, lang: Lang) -> Response {
    secure(e.respond(lang))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() && !ip.is_unspecified())
}

#[derive(Deserialize)]
struct KioskQuery {
    bench: Option<String>,
    lang: Option<String>,
}

impl KioskQuery {
    /// The bench name, checked like `scan.default_bench` (letters, digits, `-_.`).
    fn bench(&self, state: &HttpState) -> Result<String, ApiError> {
        let b = self
            .bench
            .clone()
            .unwrap_or_else(|| state.cfg.scan.default_bench.clone());
        let ok = !b.is_empty()
            && b.len() <= 64
            && b.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok {
            Ok(b)
        } else {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_bench"))
        }
    }

    fn lang(&self, state: &HttpState) -> Lang {
        Lang::parse(self.lang.as_deref().unwrap_or(&state.cfg.station.language))
    }
}

async fn page(ConnectInfo(Peer(peer)): ConnectInfo<Peer>, headers: HeaderMap) -> Response {
    if let Err(e) = kiosk_access(peer, &headers) {
        return refuse(&e, accept_language(&headers));
    }
    assets::file("kiosk.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /handheld`: the inspector's handheld page. Public like the files: it holds no data
/// and logs in through `POST /api/v1/session` before reading anything.
async fn handheld() -> Response {
    assets::file("handheld.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /supervisor`: the supervisor's page (stock, return-to-vendor notes, reprint,
/// void). Public like the handheld page: it holds no data, logs in through
/// `POST /api/v1/session`, and the API checks the role of every request.
async fn supervisor() -> Response {
    assets::file("supervisor.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /api/v1/i18n?lang=zh-CN`: every string in that language, keyed by code.
async fn strings(State(state): State<HttpState>, Query(q): Query<KioskQuery>) -> Response {
    let lang = q.lang(&state);
    let map: Map<String, Value> = crate::i18n::all(lang)
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    secure(Json(json!({"lang": lang.code(), "strings": map})).into_response())
}

/// `GET /api/v1/kiosk/state?bench=&lang=`: the bench's snapshot (`kiosk_view`), read in
/// one transaction.
async fn state(
    State(state): State<HttpState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    Query(q): Query<KioskQuery>,
) -> Response {
    if let Err(e) = kiosk_access(peer, &headers) {
        // Not the bench PC: a logged-in operator may look (a supervisor's desk).
        if state
            .api
            .auth
            .authenticate(&headers, &axum::http::Method::GET)
            .is_err()
        {
            return refuse(&e, accept_language(&headers));
        }
    }
    let lang = q.lang(&state);
    let bench = match q.bench(&state) {
        Ok(b) => b,
        Err(e) => return refuse(&e, lang),
    };
    let st = state.clone();
    let devices = state
        .board
        .to_json()
        .as_array()
        .cloned()
        .unwrap_or_default();
    let snap = state
        .read(move |r| {
            let now = chrono::Utc::now();
            let cfg = &st.cfg;
            let day = kiosk_view::day_start(cfg, now);
            // One read transaction: bench, return and counters from the same snapshot.
            r.snapshot(|r| {
                let rows = rows::rows(r, &bench, day, kiosk_view::waiting_before(now))?;
                let customer = kiosk_view::shown_waybill(&rows)
                    .map(|w| crate::store::read::returns::customer(r, w).name)
                    .filter(|n| !n.is_empty());
                let sync = sync_json(r, &st.sync, now)?;
                let cx = Inputs {
                    cfg,
                    stats: &st.engine.stats,
                    sync: &sync,
                    devices,
                    bench: &bench,
                    lang,
                    now,
                    tls_fingerprint: st.tls.as_ref().map(|t| t.fingerprint.as_str()),
                };
                Ok(kiosk_view::snapshot(&rows, customer.as_deref(), &cx))
            })
        })
        .await;
    match snap {
        Ok(v) => secure(([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response()),
        Err(e) => secure(e.into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, h.parse().unwrap());
        m
    }

    /// Loopback peers naming a loopback host may read the kiosk without a session.
    #[test]
    fn loopback_peers_are_let_in() {
        for (peer, h) in [
            ("127.0.0.1:5000", "127.0.0.1:8470"),
            ("127.0.0.1:5000", "localhost:8470"),
            ("127.0.0.2:5000", "LOCALHOST"),
            ("[::1]:5000", "[::1]:8470"),
            ("[::ffff:127.0.0.1]:5000", "127.0.0.1"),
        ] {
            assert!(
                kiosk_access(peer.parse().unwrap(), &host(h)).is_ok(),
                "{peer} {h}"
            );
        }
    }

    /// Any other peer, or a loopback peer reached under another name (DNS rebinding), gets
    /// 401 login_required.
    #[test]
    fn others_need_a_login() {
        for (peer, h) in [
            ("192.168.1.20:5000", "192.168.1.5:8470"),
            ("192.168.1.20:5000", "127.0.0.1:8470"),
            ("[::ffff:10.0.0.7]:5000", "127.0.0.1"),
            ("[fe80::1]:5000", "[::1]"),
            ("127.0.0.1:5000", "evil.example:8470"),
            ("127.0.0.1:5000", "0.0.0.0:8470"),
            ("127.0.0.1:5000", ""),
        ] {
            let e = kiosk_access(peer.parse().unwrap(), &host(h)).unwrap_err();
            assert_eq!(
                (e.status, e.code.as_str()),
                (StatusCode::UNAUTHORIZED, "login_required"),
                "{peer} {h}"
            );
        }
    }
}
