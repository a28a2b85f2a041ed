//! The operator API under `/api/v1`: one route table ([`ROUTES`]) that builds the router,
//! says who may call each endpoint, and is what the OpenAPI test compares the served
//! document with. Every request goes through [`dispatch`]: the concurrency cap and the
//! request timeout, the origin check, authentication (+ CSRF), the role check, the
//! content type, the body limit and JSON parsing, id validation, `Idempotency-Key`, and
//! finally the endpoint (`ops` for changes, `reads` for views).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{ConnectInfo, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use serde_json::Value;

use super::auth::{self, Caller};
use super::conn::Peer;
use super::ctx::{Ctx, Outcome, replayed};
use super::error::{ApiError, accept_language};
use super::idem::{self, Begin};
use super::request::{PathIds, read_json};
use super::state::HttpState;
use super::{health, kiosk, live, openapi, ops, print_jobs, qc, reads, stock, upload};
use crate::domain::kind::Role;
use crate::i18n::Lang;

pub const PREFIX: &str = "/api/v1";

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
    /// Badges locked out after wrong PINs (a supervisor may unlock them).
    Lockouts,
    /// One return's quality-check sheet (printable HTML).
    QcSheet,
    /// The quality-check sheets of a day's inspected returns, one file.
    QcSheets,
    /// The station's day in figures and the defect Pareto.
    DailyReport,
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
        "/returns/{id}/qc-sheet",
        Ep::QcSheet,
        Access::Operator,
    ),
    r("GET", "/qc-sheets", Ep::QcSheets, Access::Roles(SUPERVISOR)),
    r(
        "GET",
        "/reports/daily",
        Ep::DailyReport,
        Access::Roles(SUPERVISOR),
    ),
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
    r(
        "GET",
        "/operators/lockouts",
        Ep::Lockouts,
        Access::Roles(SUPERVISOR),
    ),
    r(
        "POST",
        "/operators/unlock",
        Ep::Command("unlock"),
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
    r(
        "POST",
        "/photos/lost",
        Ep::Command("photo_lost"),
        Access::Roles(SUPERVISOR),
    ),
];

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

/// Check and parse a request into its [`Ctx`], then run the endpoint (a command with an
/// `Idempotency-Key` through [`idempotent`]). `lang` becomes the session's language once
/// the caller is known.
async fn prepare(
    state: HttpState,
    route: &'static Route,
    params: Result<RawPathParams, RawPathParamsRejection>,
    req: Request,
    lang: &mut Lang,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let caller = caller_of(&state, route, &parts)?;
    if let Some(l) = caller.as_ref().and_then(|c| c.lang) {
        *lang = l;
    }
    let role = role_of(route, caller.as_ref())?;
    let ids = PathIds::parse(params)?;
    let (raw, body, upload) = read_body(&state, route, &parts, body).await?;
    let ctx = Ctx {
        state: state.clone(),
        caller: caller.clone(),
        role,
        lang: *lang,
        id: ids.id,
        sha: ids.sha,
        job: ids.job,
        bin: ids.bin,
        note: ids.note,
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
        return Ok(run(route.ep, ctx).await?.into_response());
    };
    let key = key
        .ok()
        .filter(|k| idem::valid_key(k))
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "bad_idempotency_key"))?;
    let fp = idem::fingerprint(parts.method.as_str(), parts.uri.path(), &raw);
    idempotent(route.ep, ctx, caller.badge.as_str().to_string(), key, fp).await
}

/// Who calls: the origin check for a mutating request, then the session (or, for
/// `Access::Kiosk`, the bench PC's kiosk without one); the session's use is written off
/// the request's path.
fn caller_of(state: &HttpState, route: &Route, parts: &Parts) -> Result<Option<Caller>, ApiError> {
    let method = &parts.method;
    if auth::is_mutating(method) {
        auth::check_origin(&parts.headers)?;
    }
    let caller = match route.access {
        Access::Public => None,
        Access::Kiosk => match state.api.auth.authenticate(&parts.headers, method) {
            Ok(c) => Some(c),
            Err(e) => {
                let peer = parts.extensions.get::<ConnectInfo<Peer>>().map(|c| c.0.0);
                match peer.map(|p| kiosk::kiosk_access(p, &parts.headers)) {
                    Some(Ok(())) => None,
                    _ => return Err(e),
                }
            }
        },
        _ => Some(state.api.auth.authenticate(&parts.headers, method)?),
    };
    // The session's use, written at most once a minute, off the request's path.
    if let Some(w) = caller.as_ref().and_then(Caller::touch) {
        let engine = state.engine.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.auth(vec![w]).await {
                tracing::warn!(error = %e, "session use not stored");
            }
        });
    }
    Ok(caller)
}

/// The role the caller acts in, for routes that allow only some roles.
fn role_of(route: &Route, caller: Option<&Caller>) -> Result<Option<Role>, ApiError> {
    match (route.access, caller) {
        (Access::Roles(allowed), Some(c)) => Ok(Some(c.role_for(allowed).ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden_role").param("role", c.roles_text())
        })?)),
        _ => Ok(None),
    }
}

/// The request's body: a photo upload's image, a POST's JSON (with its raw bytes), or
/// nothing.
async fn read_body(
    state: &HttpState,
    route: &Route,
    parts: &Parts,
    body: Body,
) -> Result<(Vec<u8>, Value, Option<(String, Vec<u8>)>), ApiError> {
    if route.ep == Ep::PhotoUpload {
        let limit = state.cfg.http.photo_max_bytes;
        let image = upload::read_image(&parts.headers, body, limit).await?;
        Ok((Vec::new(), Value::Null, Some(image)))
    } else if parts.method == Method::POST {
        let (raw, value) = read_json(&parts.headers, body).await?;
        Ok((raw, value, None))
    } else {
        Ok((Vec::new(), Value::Null, None))
    }
}

/// A command under an `Idempotency-Key`: the kept answer again, a refusal (the key is
/// another request's, or still running), or the command run to its end with its answer
/// kept — even when this request times out or the client goes away: the retry then gets
/// that answer.
async fn idempotent(
    ep: Ep,
    mut ctx: Ctx,
    badge: String,
    key: String,
    fp: [u8; 32],
) -> Result<Response, ApiError> {
    let state = ctx.state.clone();
    let lang = ctx.lang;
    ctx.keep = Some((key.clone(), fp));
    match state.api.idem.begin(&badge, &key, fp) {
        Begin::Replay(status, body) => Ok(replayed(status_of(status), body)),
        Begin::Mismatch => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
        )),
        Begin::Running => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
        )),
        Begin::Run => {
            let st = state.clone();
            let (badge2, key2) = (badge.clone(), key.clone());
            let task = tokio::spawn(async move {
                let (status, body, replay, keep) = kept_answer(run(ep, ctx).await, lang);
                if keep {
                    st.api
                        .idem
                        .finish(&badge, &key, status.as_u16(), body.clone());
                } else {
                    // Not saved (the engine stopped, the disk is full or the write
                    // failed), or not this request's: nothing was applied, so a retry
                    // may run it.
                    st.api.idem.abandon(&badge, &key);
                }
                (status, body, replay)
            });
            match task.await {
                Ok((status, body, true)) => Ok(replayed(status, body)),
                Ok((status, body, false)) => Ok(Outcome::Json(status, body).into_response()),
                Err(_) => {
                    // The endpoint panicked: no answer to keep; a retry runs it again.
                    state.api.idem.abandon(&badge2, &key2);
                    Err(ApiError::internal())
                }
            }
        }
    }
}

/// A keyed command's answer as status and body, whether it was a replay, and whether
/// memory may keep it as the key's answer.
fn kept_answer(answer: Result<Outcome, ApiError>, lang: Lang) -> (StatusCode, Value, bool, bool) {
    // The engine found the key kept for another request (before a restart, say): this
    // request is not the key's, so memory must not take it as such.
    let mut foreign = false;
    let (status, body, replay) = match answer {
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
    let not_saved = matches!(
        status,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::INSUFFICIENT_STORAGE
    );
    (status, body, replay, !foreign && !not_saved)
}

fn status_of(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

async fn run(ep: Ep, ctx: Ctx) -> Result<Outcome, ApiError> {
    let ok = |v: Value| Ok(Outcome::Json(StatusCode::OK, v));
    match ep {
        Ep::OpenApi => ok(openapi::document()),
        Ep::Login => ops::login(ctx).await,
        Ep::Logout => ops::logout(ctx).await,
        Ep::Me => ok(reads::me(&ctx)),
        Ep::Returns => ok(reads::returns(&ctx, false).await?),
        Ep::InspectionQueue => ok(reads::returns(&ctx, true).await?),
        Ep::Return => ok(reads::return_detail(&ctx).await?),
        Ep::DefectReasons => ok(reads::defect_reasons(&ctx).await?),
        Ep::Command(op) => ops::command(op, ctx).await,
        Ep::Zones => ok(stock::zones(&ctx).await?),
        Ep::Devices => ok(health::devices(&ctx)),
        Ep::Alarms => ok(health::alarms(&ctx).await?),
        Ep::Sync => ok(health::sync(&ctx).await?),
        Ep::Journal => ok(reads::journal(&ctx).await?),
        Ep::PrintJobs => ok(print_jobs::list(&ctx).await?),
        Ep::Events => live::events(ctx),
        Ep::PhotoUpload => upload::store(ctx).await,
        Ep::Photo => upload::get(ctx).await,
        Ep::InspectionStandards => ok(reads::inspection_standards(&ctx).await?),
        Ep::PrintJobPreview => print_jobs::preview(ctx).await,
        Ep::RtvNotes => ok(stock::rtv_notes(&ctx).await?),
        Ep::DefectItems => ok(stock::defect_items(&ctx).await?),
        Ep::Lockouts => ok(ops::lockouts(&ctx)),
        Ep::QcSheet => qc::sheet(ctx).await,
        Ep::QcSheets => qc::day_sheets(ctx).await,
        Ep::DailyReport => ok(qc::daily_report(&ctx).await?),
    }
}
