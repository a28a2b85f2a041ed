//! Live updates for the kiosk: `GET /api/v1/events`, a server-sent event stream.
//!
//! - `hello` first: `{"last_seq": N}` (fetch anything older with `GET /journal`);
//! - `journal` for every committed journal event: `{"seq", "type", "return_id"}` (the
//!   SSE `id` is the seq); the data never carries customer fields — fetch the return;
//! - `devices` whenever the device board changes: `{"devices": […]}` as `GET /devices`;
//! - `alarms` when the alarm list changes (checked every few seconds): as `GET /alarms`;
//! - `lagged` `{"missed": n}` when the client fell behind (refetch what it shows);
//! - `session_expired`, then the stream ends, when the session is gone or idle past its
//!   timeout (the stream itself does not keep a session alive).
//!
//! EventSource cannot send headers, so a browser uses the session cookie here (GET: no
//! CSRF token needed). At most [`MAX_STREAMS`] streams at once; every stream ends when
//! the daemon stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::api::{Ctx, Outcome};
use super::auth::Caller;
use super::error::ApiError;

/// Streams open at once (kiosks and handhelds of one bench).
pub const MAX_STREAMS: usize = 32;
/// How often the alarms and the session are looked at.
const TICK: Duration = Duration::from_secs(3);

struct Live {
    ctx: Ctx,
    caller: Caller,
    journal: tokio::sync::broadcast::Receiver<crate::engine::Committed>,
    board: tokio::sync::watch::Receiver<u64>,
    board_open: bool,
    stop: tokio::sync::watch::Receiver<bool>,
    tick: tokio::time::Interval,
    alarms: Option<Value>,
    hello: bool,
    done: bool,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

impl Live {
    async fn next(&mut self) -> Option<Event> {
        if self.done || *self.stop.borrow() {
            return None;
        }
        if self.hello {
            self.hello = false;
            let last = self
                .ctx
                .state
                .engine
                .stats
                .last_seq
                .load(std::sync::atomic::Ordering::Relaxed);
            return Some(event("hello", &json!({"last_seq": last})));
        }
        loop {
            tokio::select! {
                _ = self.stop.changed() => return None,
                r = self.journal.recv() => return match r {
                    Ok(c) => Some(
                        event("journal", &json!({"seq": c.seq, "type": c.ty, "return_id": c.return_id}))
                            .id(c.seq.to_string()),
                    ),
                    Err(RecvError::Lagged(n)) => Some(event("lagged", &json!({"missed": n}))),
                    Err(RecvError::Closed) => None,
                },
                changed = self.board.changed(), if self.board_open => {
                    if changed.is_err() {
                        self.board_open = false;
                        continue;
                    }
                    return Some(event("devices", &json!({"devices": self.ctx.state.board.to_json()})));
                }
                _ = self.tick.tick() => {
                    if !self.ctx.state.api.auth.alive(&self.caller) {
                        self.done = true;
                        return Some(event("session_expired", &json!({})));
                    }
                    if let Ok(a) = super::reads::alarms(&self.ctx).await
                        && self.alarms.as_ref() != Some(&a)
                    {
                        self.alarms = Some(a.clone());
                        return Some(event("alarms", &a));
                    }
                }
            }
        }
    }
}

/// `GET /events`.
pub fn events(ctx: Ctx) -> Result<Outcome, ApiError> {
    let Some(caller) = ctx.caller.clone() else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized"));
    };
    let permit = ctx
        .state
        .api
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy"))?;
    let ctx_idle = ctx.state.cfg.http.idle_timeout;
    let live = Live {
        journal: ctx.state.engine.events.subscribe(),
        board: ctx.state.board.subscribe(),
        board_open: true,
        stop: ctx.state.api.stop.clone(),
        tick: tokio::time::interval(TICK),
        alarms: None,
        hello: true,
        done: false,
        caller,
        ctx,
        _permit: permit,
    };
    let stream = futures_util::stream::unfold(live, |mut live| async move {
        let ev = live.next().await?;
        Some((Ok::<Event, Infallible>(ev), live))
    });
    // Keep-alive comments well inside the connection idle timeout (`conn`).
    let every = (ctx_idle / 2).min(Duration::from_secs(15));
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(every));
    Ok(Outcome::Response(sse.into_response()))
}
