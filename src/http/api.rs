//! The operator API under `/api/v1`: one route table ([`ROUTES`]) that builds the router,
//! says who may call each endpoint, and is what the OpenAPI test compares the served
//! document with. Every request goes through [`dispatch`]: the concurrency cap and the
//! request timeout, the origin check, authentication (+ CSRF), the role check, the
//! content type, the body limit and JSON parsing, id validation, `Idempotency-Key`, and
//! finally the endpoint (`ops` for changes, `reads` for views).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use serde_json::Value;

use super::HttpState;
use super::auth::{self, Auth, Caller};
use super::error::{ApiError, accept_language};
use super::idem::{self, Begin, Idempotency};
use crate::domain::ids::{BinCode, ReturnId};
use crate::domain::kind::Role;
use crate::i18n::Lang;

pub const PREFIX: &str = "/api/v1";
/// Largest JSON body accepted.
pub const JSON_LIMIT: usize = 64 * 1024;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session needed.
    Public,
    /// Any logged-in operator.
    Operator,
    /// Operators holding one of these roles (acting in the first one they hold).
    Roles(&'static [Role]),
    /// Any logged-in operator, or without a session the bench PC's own kiosk (a loopback
    /// peer naming a loopback host: `kiosk::kiosk_access`).
    Kiosk,
}

/// What an endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ep {
    OpenApi,
    Login,
    Logout,
    Me,
    Returns,
    Return,
    InspectionQueue,
    /// The defect reasons an inspector may pick, and whether defects need a photo.
    DefectReasons,
    /// An operator command (`commands::build` op name).
    Command(&'static str),
    Zones,
    Devices,
    Alarms,
    Sync,
    Journal,
    PrintJobs,
    /// Server-sent events (`live`).
    Events,
    /// Store an inspection photo (`upload`).
    PhotoUpload,
    /// One stored photo.
    Photo,
    /// The inspection standards (checklists) per category.
    InspectionStandards,
    /// A print job's label as a PNG (as sent to the printer).
    PrintJobPreview,
    /// Return-to-vendor notes, newest first, open and closed.
    RtvNotes,
    /// Every item now in a defect zone or bin (the RTV pick list).
    DefectItems,
}

#[derive(Debug)]
pub struct Route {
    pub method: &'static str,
    /// Under [`PREFIX`]; `{id}` is a return id, `{bin}` a bin code, `{note}` an RTV note
    /// number, `{sha}` a photo's SHA-256, `{job}` a print job number.
    pub path: &'static str,
    pub ep: Ep,
    pub access: Access,
}

const ANY_CMD: &[Role] = &[Role::Keeper, Role::Inspector, Role::Supervisor];
const KEEPER: &[Role] = &[Role::Keeper, Role::Supervisor];
const INSPECTOR: &[Role] = &[Role::Inspector, Role::Supervisor];
const SUPERVISOR: &[Role] = &[Role::Supervisor];

const fn r(method: &'static str, path: &'static str, ep: Ep, access: Access) -> Route {
    Route {
        method,
        path,
        ep,
        access,
    }
}

/// Every endpoint of the API.
pub const ROUTES: &[Route] = &[
    r("GET", "/openapi.json", Ep::OpenApi, Access::Public),
    r("POST", "/session", Ep::Login, Access::Public),
    r("DELETE", "/session", Ep::Logout, Access::Operator),
    r("GET", "/me", Ep::Me, Access::Operator),
    r("GET", "/returns", Ep::Returns, Access::Operator),
    r("GET", "/returns/{id}", Ep::Return, Access::Operator),
    r(
        "GET",
        "/inspection-queue",
        Ep::InspectionQueue,
        Access::Operator,
    ),
    r(
        "GET",
        "/defect-reasons",
        Ep::DefectReasons,
        Access::Operator,
    ),
    r(
        "GET",
        "/inspection-standards",
        Ep::InspectionStandards,
        Access::Operator,
    ),
    r(
        "POST",
        "/returns/{id}/inspect",
        Ep::Command("inspect"),
        Access::Roles(INSPECTOR),
    ),
    r(
        "POST",
        "/returns/{id}/put-away",
        Ep::Command("put_away"),
        Access::Roles(ANY_CMD),
    ),
    r(
        "POST",
        "/returns/{id}/reprint",
        Ep::Command("reprint"),
        Access::Roles(KEEPER),
    ),
    r(
        "POST",
        "/returns/{id}/exchange-shipped",
        Ep::Command("exchange_shipped"),
        Access::Roles(KEEPER),
    ),
    r(
        "POST",
        "/returns/{id}/restock",
        Ep::Command("restock"),
        Access::Roles(KEEPER),
    ),
    r(
        "POST",
        "/returns/{id}/void",
        Ep::Command("void"),
        Access::Roles(SUPERVISOR),
    ),
    r(
        "POST",
        "/rtv-notes",
        Ep::Command("rtv"),
        Access::Roles(KEEPER),
    ),
    r("GET", "/rtv-notes", Ep::RtvNotes, Access::Operator),
    r(
        "POST",
        "/rtv-notes/{note}/close",
        Ep::Command("rtv_close"),
        Access::Roles(SUPERVISOR),
    ),
    r("GET", "/defect-items", Ep::DefectItems, Access::Operator),
    r("GET", "/zones", Ep::Zones, Access::Operator),
    r(
        "POST",
        "/zones/bins",
        Ep::Command("bin_set"),
        Access::Roles(SUPERVISOR),
    ),
    r(
        "POST",
        "/zones/bins/{bin}/retire",
        Ep::Command("bin_retire"),
        Access::Roles(SUPERVISOR),
    ),
    r(
        "POST",
        "/zones/bins/{bin}/reactivate",
        Ep::Command("bin_reactivate"),
        Access::Roles(SUPERVISOR),
    ),
    r("GET", "/devices", Ep::Devices, Access::Operator),
    r("GET", "/alarms", Ep::Alarms, Access::Operator),
    r("GET", "/sync", Ep::Sync, Access::Operator),
    r("GET", "/journal", Ep::Journal, Access::Operator),
    r("GET", "/print-jobs", Ep::PrintJobs, Access::Operator),
    r(
        "GET",
        "/print-jobs/{job}/preview.png",
        Ep::PrintJobPreview,
        Access::Operator,
    ),
    r("GET", "/events", Ep::Events, Access::Kiosk),
    r("POST", "/photos", Ep::PhotoUpload, Access::Roles(INSPECTOR)),
    r("GET", "/photos/{sha}", Ep::Photo, Access::Operator),
];

/// The API's shared state: sessions, idempotency keys, the concurrency cap.
pub struct ApiState {
    pub auth: Auth,
    pub idem: Idempotency,
    pub limiter: Arc<tokio::sync::Semaphore>,
    /// Open event streams (`live`).
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Becomes true when the daemon stops (event streams end).
    pub stop: tokio::sync::watch::Receiver<bool>,
}

impl ApiState {
    /// The API state, with the sessions and wrong-PIN records restored from the station
    /// database (the engine has opened and migrated it).
    pub fn new(cfg: &crate::config::Config, stop: tokio::sync::watch::Receiver<bool>) -> ApiState {
        use crate::store::api_state;
        let restored = crate::store::open_reader(&cfg.storage.database).and_then(|c| {
            Ok((
                api_state::load_sessions(&c, auth::MAX_SESSIONS)?,
                api_state::load_lockouts(&c)?,
            ))
        });
        let auth = match restored {
            Ok((sessions, lockouts)) => {
                tracing::info!(
                    sessions = sessions.len(),
                    lockouts = lockouts.len(),
                    "API sessions and wrong-PIN records restored"
                );
                Auth::restore(&cfg.http, &sessions, &lockouts)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot restore API sessions; operators log in again");
                Auth::new(&cfg.http)
            }
        };
        ApiState {
            auth,
            idem: Idempotency::default(),
            limiter: Arc::new(tokio::sync::Semaphore::new(cfg.http.max_concurrent)),
            streams: Arc::new(tokio::sync::Semaphore::new(super::live::MAX_STREAMS)),
            stop,
        }
    }
}

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

/// The `/api/v1` router.
pub fn router() -> Router<HttpState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<HttpState>> = BTreeMap::new();
    for route in ROUTES {
        let filter = match route.method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            _ => MethodFilter::DELETE,
        };
        let handler = move |State(s): State<HttpState>,
                            p: Result<RawPathParams, RawPathParamsRejection>,
                            req: Request| dispatch(s, route, p, req);
        let mr = by_path.remove(route.path).unwrap_or_default();
        by_path.insert(route.path, mr.on(filter, handler));
    }
    let mut router = Router::new();
    for (path, mr) in by_path {
        router = router.route(&format!("{PREFIX}{path}"), mr.fallback(method_not_allowed));
    }
    router
}

async fn method_not_allowed(headers: HeaderMap) -> Response {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        .respond(accept_language(&headers))
}

/// Unknown paths: a JSON 404 (never a file).
pub async fn not_found(headers: HeaderMap) -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found").respond(accept_language(&headers))
}

async fn dispatch(
    state: HttpState,
    route: &'static Route,
    params: Result<RawPathParams, RawPathParamsRejection>,
    req: Request,
) -> Response {
    let lang = accept_language(req.headers());
    let Ok(_permit) = state.api.limiter.clone().try_acquire_owned() else {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy").respond(lang);
    };
    let timeout = state.cfg.http.request_timeout;
    // Every answer carries the page security headers (nosniff, no framing, no referrer).
    super::assets::secure(
        match tokio::time::timeout(timeout, handle(state, route, params, req)).await {
            Ok(r) => r,
            Err(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout").respond(lang),
        },
    )
}

async fn handle(
    state: HttpState,
    route: &'static Route,
    params: Result<RawPathParams, RawPathParamsRejection>,
    req: Request,
) -> Response {
    let mut lang = accept_language(req.headers());
    match prepare(state, route, params, req, &mut lang).await {
        Ok(r) => r,
        Err(e) => e.respond(lang),
    }
}

fn content_type_is_json(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

async fn read_json(headers: &HeaderMap, body: Body) -> Result<(Vec<u8>, Value), ApiError> {
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            .param("limit", JSON_LIMIT.to_string())
    };
    if !content_type_is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ));
    }
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > JSON_LIMIT as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, JSON_LIMIT)
        .await
        .map_err(|_| too_large())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_json").param("detail", e.to_string())
    })?;
    if !value.is_object() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_json")
            .param("detail", "the body must be a JSON object"));
    }
    Ok((bytes.to_vec(), value))
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

async fn prepare(
    state: HttpState,
    route: &'static Route,
    params: Result<RawPathParams, RawPathParamsRejection>,
    req: Request,
    lang: &mut Lang,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let mutating = auth::is_mutating(&method);
    if mutating {
        auth::check_origin(&parts.headers)?;
    }
    let caller = match route.access {
        Access::Public => None,
        Access::Kiosk => match state.api.auth.authenticate(&parts.headers, &method) {
            Ok(c) => Some(c),
            Err(e) => {
                let peer = parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<super::conn::Peer>>()
                    .map(|c| c.0.0);
                match peer.map(|p| super::kiosk::kiosk_access(p, &parts.headers)) {
                    Some(Ok(())) => None,
                    _ => return Err(e),
                }
            }
        },
        _ => Some(state.api.auth.authenticate(&parts.headers, &method)?),
    };
    if let Some(l) = caller.as_ref().and_then(|c| c.lang) {
        *lang = l;
    }
    // The session's use, written at most once a minute, off the request's path.
    if let Some(w) = caller.as_ref().and_then(Caller::touch) {
        let engine = state.engine.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.auth(vec![w]).await {
                tracing::warn!(error = %e, "session use not stored");
            }
        });
    }
    let role = match (route.access, &caller) {
        (Access::Roles(allowed), Some(c)) => Some(c.role_for(allowed).ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden_role").param("role", c.roles_text())
        })?),
        _ => None,
    };
    let mut id = None;
    let mut sha = None;
    let mut job = None;
    let mut bin = None;
    let mut note = None;
    let params =
        params.map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "bad_id").param("id", "?"))?;
    for (k, v) in params.iter() {
        let bad = || ApiError::new(StatusCode::BAD_REQUEST, "bad_id").param("id", shown(v));
        if k == "id" {
            id = Some(ReturnId::parse(v).map_err(|_| bad())?);
        } else if k == "sha" {
            let hex = v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !hex {
                return Err(bad());
            }
            sha = Some(v.to_string());
        } else if k == "bin" {
            bin = Some(BinCode::parse(v).map_err(|_| bad())?);
        } else if k == "note" {
            if !valid_note_no(v) {
                return Err(bad());
            }
            note = Some(v.to_string());
        } else if k == "job" {
            let n = (1..=18).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit());
            job = Some(
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .filter(|_| n)
                    .ok_or_else(bad)?,
            );
        }
    }
    let mut upload = None;
    let (raw, body) = if route.ep == Ep::PhotoUpload {
        let limit = state.cfg.http.photo_max_bytes;
        upload = Some(super::upload::read_image(&parts.headers, body, limit).await?);
        (Vec::new(), Value::Null)
    } else if method == Method::POST {
        read_json(&parts.headers, body).await?
    } else {
        (Vec::new(), Value::Null)
    };
    let ctx = Ctx {
        state: state.clone(),
        caller: caller.clone(),
        role,
        lang: *lang,
        id,
        sha,
        job,
        bin,
        note,
        upload,
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers.clone(),
        body,
        keep: None,
    };
    let key = parts
        .headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string));
    let (Some(key), Some(caller), Ep::Command(_)) = (key, &caller, route.ep) else {
        return Ok(respond(run(route.ep, ctx).await?));
    };
    let key = key
        .ok()
        .filter(|k| idem::valid_key(k))
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "bad_idempotency_key"))?;
    let badge = caller.badge.as_str().to_string();
    let fp = idem::fingerprint(method.as_str(), parts.uri.path(), &raw);
    let mut ctx = ctx;
    ctx.keep = Some((key.clone(), fp));
    match state.api.idem.begin(&badge, &key, fp) {
        Begin::Replay(status, body) => Ok(replayed(status, body)),
        Begin::Mismatch => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
        )),
        Begin::Running => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
        )),
        Begin::Run => {
            // The command runs to its end and its answer is kept even when this request
            // times out or the client goes away: the retry then gets that answer.
            let ep = route.ep;
            let lang = *lang;
            let st = state.clone();
            let (badge2, key2) = (badge.clone(), key.clone());
            let task = tokio::spawn(async move {
                // The engine found the key kept for another request (before a restart,
                // say): this request is not the key's, so memory must not take it as such.
                let mut foreign = false;
                let (status, body, replay) = match run(ep, ctx).await {
                    Ok(Outcome::Json(s, v)) => (s, v, false),
                    Ok(Outcome::Replayed(s, v)) => (s, v, true),
                    Ok(Outcome::Response(_)) => {
                        let e = ApiError::internal();
                        (e.status, e.body(lang), false)
                    }
                    Err(e) => {
                        foreign = e.code == "idempotency_key_reused";
                        (e.status, e.body(lang), false)
                    }
                };
                if foreign
                    || matches!(
                        status,
                        StatusCode::SERVICE_UNAVAILABLE | StatusCode::INSUFFICIENT_STORAGE
                    )
                {
                    // Not saved (the engine stopped, the disk is full or the write
                    // failed): nothing was applied, so a retry may run it.
                    st.api.idem.abandon(&badge, &key);
                } else {
                    st.api
                        .idem
                        .finish(&badge, &key, status.as_u16(), body.clone());
                }
                (status, body, replay)
            });
            match task.await {
                Ok((status, body, true)) => Ok(replayed(status.as_u16(), body)),
                Ok((status, body, false)) => Ok(respond(Outcome::Json(status, body))),
                Err(_) => {
                    // The endpoint panicked: no answer to keep; a retry runs it again.
                    state.api.idem.abandon(&badge2, &key2);
                    Err(ApiError::internal())
                }
            }
        }
    }
}

fn replayed(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(
        "idempotent-replayed",
        axum::http::HeaderValue::from_static("true"),
    );
    r
}

fn respond(o: Outcome) -> Response {
    match o {
        Outcome::Json(s, v) => (s, axum::Json(v)).into_response(),
        Outcome::Response(r) => r,
        Outcome::Replayed(s, v) => replayed(s.as_u16(), v),
    }
}

async fn run(ep: Ep, ctx: Ctx) -> Result<Outcome, ApiError> {
    use super::{ops, reads};
    let ok = |v: Value| Ok(Outcome::Json(StatusCode::OK, v));
    match ep {
        Ep::OpenApi => ok(super::openapi::document()),
        Ep::Login => ops::login(ctx).await,
        Ep::Logout => ops::logout(ctx).await,
        Ep::Me => ok(reads::me(&ctx)),
        Ep::Returns => ok(reads::returns(&ctx, false).await?),
        Ep::InspectionQueue => ok(reads::returns(&ctx, true).await?),
        Ep::Return => ok(reads::return_detail(&ctx).await?),
        Ep::DefectReasons => ok(reads::defect_reasons(&ctx).await?),
        Ep::Command(op) => ops::command(op, ctx).await,
        Ep::Zones => ok(reads::zones(&ctx).await?),
        Ep::Devices => ok(reads::devices(&ctx)),
        Ep::Alarms => ok(reads::alarms(&ctx).await?),
        Ep::Sync => ok(reads::sync(&ctx).await?),
        Ep::Journal => ok(reads::journal(&ctx).await?),
        Ep::PrintJobs => ok(reads::print_jobs(&ctx).await?),
        Ep::Events => super::live::events(ctx),
        Ep::PhotoUpload => super::upload::store(ctx).await,
        Ep::Photo => super::upload::get(ctx).await,
        Ep::InspectionStandards => ok(reads::inspection_standards(&ctx).await?),
        Ep::PrintJobPreview => reads::print_job_preview(ctx).await,
        Ep::RtvNotes => ok(reads::rtv_notes(&ctx).await?),
        Ep::DefectItems => ok(reads::defect_items(&ctx).await?),
    }
}
