//! API endpoints that change something: log in and out, and the operator commands
//! (inspect, put away, reprint, exchange shipped, restock, void, RTV notes and their
//! closing, bin edits). Commands are
//! built by `commands::build` — the same function the control socket uses — and sent to
//! the engine as the session's operator, in the role the route allows.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth;
use super::ctx::{Ctx, Outcome};
use super::dto::{CommandOut, OperatorOut, SessionOut};
use super::error::ApiError;
use crate::domain::ids::Badge;
use crate::engine::{Kept, Outcome as Said, Reply};
use crate::i18n::Lang;

/// `POST /session` `{"badge": "017", "pin": "…", "lang": "zh-CN"|"en"}`.
pub async fn login(ctx: Ctx) -> Result<Outcome, ApiError> {
    let b = &ctx.body;
    let badge_in = b["badge"].as_str().unwrap_or("");
    let badge_in = badge_in.strip_prefix("OP-").unwrap_or(badge_in);
    let pin = b["pin"].as_str().map(str::to_string);
    let (Ok(badge), Some(pin)) = (Badge::parse(badge_in), pin) else {
        return Err(ApiError::bad_request(
            "badge (e.g. \"017\") and pin (a string) are required",
        ));
    };
    let lang = match b["lang"].as_str() {
        None => None,
        Some(l) if l.starts_with("zh") => Some(Lang::Zh),
        Some(l) if l.starts_with("en") => Some(Lang::En),
        Some(_) => return Err(ApiError::bad_request("lang must be zh-CN or en")),
    };
    let auth = &ctx.state.api.auth;
    let badge_s = badge.as_str().to_string();
    if let Some(left) = auth.locked_for(&badge_s) {
        return Err(locked(&badge_s, auth.lockout_minutes()).field("retry_after_s", json!(left)));
    }
    let operators = ctx.state.engine.operators.clone();
    let b2 = badge_s.clone();
    let op = ctx
        .state
        .read(move |r| auth::lookup_operator(r, &operators, &b2))
        .await?;
    let hash = op.as_ref().and_then(|o| o.pin_hash.clone());
    let slot = auth
        .pin_checks
        .acquire()
        .await
        .map_err(|_| ApiError::internal())?;
    let ok = tokio::task::spawn_blocking(move || auth::verify_pin(&pin, hash.as_deref()))
        .await
        .unwrap_or(false);
    drop(slot);
    let op = match op {
        Some(op) if ok => op,
        _ => return Err(wrong_pin(&ctx, &badge).await),
    };
    let mut s = auth.open(&op, lang)?;
    let mut writes = std::mem::take(&mut s.writes);
    let order = auth.lockout_writes.lock().await;
    writes.push(auth.clear_failures(&badge_s));
    let stored = ctx.state.engine.auth(writes).await;
    drop(order);
    if let Err(e) = stored {
        // A session the station could not store would not survive a restart: refuse it.
        tracing::error!(badge = %badge_s, error = %e, "API session not stored; login refused");
        auth.forget(&s.token);
        return Err(not_saved());
    }
    tracing::info!(badge = %badge_s, "API login");
    let out = SessionOut {
        token: s.token.clone(),
        csrf_token: s.csrf,
        idle_timeout_s: auth.idle_secs(),
        operator: OperatorOut {
            badge: op.badge,
            name: op.name,
            roles: op.roles.iter().map(|r| r.as_str()).collect(),
            lang: lang.unwrap_or(ctx.lang).code(),
        },
    };
    let body = serde_json::to_value(out).map_err(|_| ApiError::internal())?;
    let mut r = (StatusCode::OK, axum::Json(body)).into_response();
    set_cookie(&mut r, &s.token, ctx.state.cfg.http.secure_cookie)?;
    Ok(Outcome::Response(r))
}

/// A wrong badge or PIN: counted (and stored before the answer, so that a restart
/// neither resets the count nor lifts the lock; a failure to store leaves the count in
/// memory only), and, at the lockout's count, logged and journaled as
/// `operator.locked_out` (badge only). Answers the refusal.
async fn wrong_pin(ctx: &Ctx, badge: &Badge) -> ApiError {
    let auth = &ctx.state.api.auth;
    let badge_s = badge.as_str();
    let order = auth.lockout_writes.lock().await;
    let (now_locked, writes) = auth.record_failure(badge_s);
    if let Err(e) = ctx.state.engine.auth(writes).await {
        tracing::error!(badge = %badge_s, error = %e, "wrong-PIN count not stored");
    }
    drop(order);
    if !now_locked {
        tracing::info!(badge = %badge_s, "API login refused: wrong badge or PIN");
        return ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials");
    }
    let minutes = auth.lockout_minutes();
    tracing::warn!(badge = %badge_s, minutes, "operator locked out after repeated wrong PINs");
    let failures = ctx.state.cfg.http.lockout_after;
    let minutes32 = u32::try_from(minutes).unwrap_or(u32::MAX);
    let r = ctx
        .state
        .engine
        .record_lockout(badge.clone(), failures, minutes32)
        .await;
    if !r.stored {
        tracing::error!(badge = %badge_s, code = %r.code, "lockout not journaled");
    }
    locked(badge_s, minutes)
}

fn locked(badge: &str, minutes: u64) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "locked_out")
        .param("badge", badge)
        .param("minutes", minutes.to_string())
}

fn set_cookie(r: &mut Response, token: &str, secure: bool) -> Result<(), ApiError> {
    let v = HeaderValue::from_str(&auth::set_cookie(token, secure))
        .map_err(|_| ApiError::internal())?;
    r.headers_mut().insert("set-cookie", v);
    Ok(())
}

fn not_saved() -> ApiError {
    ApiError::engine(StatusCode::SERVICE_UNAVAILABLE, "storage_error", Vec::new())
        .field("stored", json!(false))
        .not_saved()
}

/// `DELETE /session`: the session's row goes first (a logout that could not be stored is
/// refused, so that the token does not come back after a restart), then the session.
pub async fn logout(ctx: Ctx) -> Result<Outcome, ApiError> {
    if let Some(c) = &ctx.caller {
        let auth = &ctx.state.api.auth;
        if let Err(e) = ctx.state.engine.auth(vec![auth.close_write(c)]).await {
            tracing::error!(badge = %c.badge.as_str(), error = %e, "API logout not stored; refused");
            return Err(not_saved());
        }
        auth.close(c);
    }
    let msg = crate::i18n::message(ctx.lang, "api.logged_out", &[]);
    let mut r = (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "message": msg})),
    )
        .into_response();
    set_cookie(&mut r, "", ctx.state.cfg.http.secure_cookie)?;
    Ok(Outcome::Response(r))
}

/// An operator command: the body's fields (plus the path's return id) → `commands::build`
/// → the engine, as the session's operator. With an `Idempotency-Key` ([`Ctx::keep`]), the
/// key goes to the engine with the command: the engine answers a kept answer instead of
/// running it again, or records this answer in the command's own transaction.
pub async fn command(op: &'static str, ctx: Ctx) -> Result<Outcome, ApiError> {
    let Some(caller) = &ctx.caller else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized"));
    };
    let mut req = ctx.body.clone();
    if let Value::Object(o) = &mut req {
        // Path ids win over the body's.
        if let Some(id) = &ctx.id {
            o.insert("return_id".into(), json!(id.as_str()));
        }
        if let Some(bin) = &ctx.bin {
            o.insert("code".into(), json!(bin.as_str()));
        }
        if let Some(note) = &ctx.note {
            o.insert("note_no".into(), json!(note));
        }
    }
    let cmd = crate::commands::build(op, &req, &caller.badge, &ctx.state.cfg.storage.state_dir)
        .map_err(ApiError::bad_request)?;
    let lang = ctx.lang;
    let bin_in_path = ctx.bin.is_some();
    let keep = ctx
        .keep
        .clone()
        .map(|(key, fingerprint)| crate::engine::Keep {
            badge: caller.badge.as_str().to_string(),
            key,
            fingerprint,
            render: Box::new(move |r: &Reply| {
                let (status, body) = answer(r, lang, bin_in_path);
                (status.as_u16(), body)
            }),
        });
    let reply = ctx
        .state
        .engine
        .command_kept(caller.badge.clone(), ctx.role, cmd, keep)
        .await;
    match reply.kept {
        Some(Kept::Recorded(status, body)) => Ok(Outcome::Json(status_of(status), body)),
        Some(Kept::Replay(status, body)) => Ok(Outcome::Replayed(status_of(status), body)),
        Some(Kept::Mismatch) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
        )),
        None => {
            let (status, body) = answer(&reply, lang, bin_in_path);
            Ok(Outcome::Json(status, body))
        }
    }
}

/// Forget a badge's wrong PINs as soon as an `operator.unlocked` event commits — from this
/// API or from the control socket (`returnsd unlock`) alike. Runs beside the server.
pub async fn follow_unlocks(state: super::state::HttpState) {
    let mut events = state.engine.events.subscribe();
    loop {
        let seq = match events.recv().await {
            Ok(c) if c.ty == "operator.unlocked" => c.seq,
            Ok(_) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let row = state
            .read(move |r| crate::store::journal_after(r, seq - 1, 1))
            .await;
        let badge = row.ok().and_then(|rows| {
            let data: Value = serde_json::from_str(&rows.first()?.data).ok()?;
            data["badge"].as_str().map(str::to_string)
        });
        if let Some(b) = badge {
            state.api.auth.clear_failures(&b);
            tracing::info!(badge = %b, "badge unlocked by a supervisor");
        }
    }
}

/// End the API sessions of operators the central's feed deleted, or whose roles or PIN it
/// changed, as soon as that page commits (contract 1.1, § 6.5).
pub async fn follow_operator_changes(state: super::state::HttpState) {
    let mut changes = state.engine.operator_changes.subscribe();
    loop {
        let badges = match changes.recv().await {
            Ok(b) => b,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "operator changes missed: their sessions end at idle timeout"
                );
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let writes = state.api.auth.end_sessions_of(&badges);
        let ended = writes.len();
        if !writes.is_empty()
            && let Err(e) = state.engine.auth(writes).await
        {
            tracing::error!(error = %e, "ended API sessions not removed from the database");
        }
        tracing::info!(
            badges = %badges.join(" "),
            sessions_ended = ended,
            "operators changed by the central's feed: their sessions ended"
        );
    }
}

/// `GET /operators/lockouts`: badges locked out after wrong PINs, with the seconds left.
pub fn lockouts(ctx: &Ctx) -> Value {
    let list: Vec<Value> = ctx
        .state
        .api
        .auth
        .lockouts()
        .into_iter()
        .map(|(badge, left)| json!({"badge": badge, "locked_for_s": left}))
        .collect();
    json!({ "lockouts": list })
}

fn status_of(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The HTTP answer to an engine reply: the same whether it is sent now or kept for an
/// `Idempotency-Key` and replayed later. `bin_in_path`: the request named a bin in its
/// path (`/zones/bins/{bin}/…`), so an unknown bin is a missing resource (404).
fn answer(reply: &Reply, lang: Lang, bin_in_path: bool) -> (StatusCode, Value) {
    let out = CommandOut::from_reply(reply, lang);
    if reply.ok {
        return match serde_json::to_value(out) {
            Ok(v) => (StatusCode::OK, v),
            Err(_) => {
                let e = ApiError::internal();
                (e.status, e.body(lang))
            }
        };
    }
    let not_saved = reply.outcome() == Said::NotStored;
    let status = match reply.code.as_str() {
        "storage_full" | "storage_cap" => StatusCode::INSUFFICIENT_STORAGE,
        _ if not_saved => StatusCode::SERVICE_UNAVAILABLE,
        "role_not_allowed" | "unknown_operator" | "same_person" => StatusCode::FORBIDDEN,
        "unknown_return" | "unknown_rtv_note" | "photo_not_waiting" => StatusCode::NOT_FOUND,
        // The bin named by the path (`/zones/bins/{bin}/…`) does not exist.
        "unknown_bin" if bin_in_path => StatusCode::NOT_FOUND,
        "bad_input" | "unknown_defect_reason" | "unknown_bin" | "reason_required" => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        _ => StatusCode::CONFLICT,
    };
    let mut e = ApiError::engine(status, &reply.code, reply.params.clone())
        .field("stored", json!(reply.stored))
        .field("params", json!(out.params));
    if not_saved {
        e = e.not_saved();
    }
    (e.status, e.body(lang))
}
