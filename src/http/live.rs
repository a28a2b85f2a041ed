//! Live updates: `GET /api/v1/events`, one server-sent event stream for the kiosk and the
//! logged-in pages, with two access rules: a logged-in operator (session cookie; GET needs
//! no CSRF token), or the bench PC's own kiosk (a loopback peer naming a loopback host,
//! [`super::kiosk::kiosk_access`]).
//!
//! - `hello` first, once subscribed: `{"last_seq": N}` — load the snapshot now (kiosk
//!   state, `GET /journal`…) and nothing after it is missed;
//! - `journal` for every committed journal event: `{"seq", "type", "return_id"}` (the SSE
//!   `id` is the seq). A `scan.recorded` also carries `scan`: its bench, `accepted`, `ok`
//!   (green/red, as the bench was told) and the answer's `message` in the stream's
//!   language (`?lang=`, else the operator's, else `Accept-Language`; not for an inspector
//!   under `inspection.blind`). No customer fields: fetch the return;
//! - `devices` whenever the device board changes: `{"devices": […]}` as `GET /devices`;
//! - `alarms` when the alarm list changes (checked every few seconds): as `GET /alarms`;
//! - `lagged` `{"missed": n}` when the client fell behind (reload what it shows);
//! - `session_expired`, then the stream ends, when the operator's session is gone or idle
//!   past its timeout (the stream itself does not keep a session alive).
//!
//! At most `state::MAX_STREAMS` streams at once; every stream ends when the daemon stops.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::auth::Caller;
use super::ctx::{Ctx, Outcome};
use super::error::ApiError;
use super::{health, kiosk_scan, reads};
use crate::engine::Committed;
use crate::i18n::Lang;
/// How often the alarms and the session are looked at.
const TICK: Duration = Duration::from_secs(3);

struct Live {
    ctx: Ctx,
    /// None for the bench PC's kiosk (no session to expire).
    caller: Option<Caller>,
    lang: Lang,
    journal: tokio::sync::broadcast::Receiver<Committed>,
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
                    Ok(c) => Some(self.committed(c).await),
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
                    if let Some(caller) = &self.caller
                        && !self.ctx.state.api.auth.alive(caller)
                    {
                        self.done = true;
                        return Some(event("session_expired", &json!({})));
                    }
                    if let Ok(a) = health::alarms(&self.ctx).await
                        && self.alarms.as_ref() != Some(&a)
                    {
                        self.alarms = Some(a.clone());
                        return Some(event("alarms", &a));
                    }
                }
            }
        }
    }

    /// One committed event; a scan's answer is read back from its journal row.
    async fn committed(&self, c: Committed) -> Event {
        let mut v = json!({"seq": c.seq, "type": c.ty, "return_id": c.return_id});
        // A blind inspector is not told the bench's scans (they would tell the first check).
        if c.ty == "scan.recorded" && !reads::blind_for(&self.ctx) {
            let (seq, lang) = (c.seq, self.lang);
            let read = (self.ctx.state)
                .read(move |r| kiosk_scan::read_scan(r, seq, lang))
                .await;
            if let Ok(scan) = read {
                v["scan"] = scan;
            }
        }
        event("journal", &v).id(c.seq.to_string())
    }
}

/// The `lang` query parameter, if any.
fn query_lang(query: Option<&str>) -> Option<Lang> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("lang="))
        .map(Lang::parse)
}

/// `GET /events`.
pub fn events(ctx: Ctx) -> Result<Outcome, ApiError> {
    let permit = ctx
        .state
        .api
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy"))?;
    let ctx_idle = ctx.state.cfg.http.idle_timeout;
    let lang = query_lang(ctx.query.as_deref()).unwrap_or(ctx.lang);
    let live = Live {
        journal: ctx.state.engine.events.subscribe(),
        board: ctx.state.board.subscribe(),
        board_open: true,
        stop: ctx.state.api.stop.clone(),
        tick: tokio::time::interval(TICK),
        alarms: None,
        hello: true,
        done: false,
        caller: ctx.caller.clone(),
        lang,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_language_comes_from_the_query() {
        assert_eq!(query_lang(Some("lang=en")), Some(Lang::En));
        assert_eq!(query_lang(Some("bench=b1&lang=zh-CN")), Some(Lang::Zh));
        assert_eq!(query_lang(Some("bench=b1")), None);
        assert_eq!(query_lang(None), None);
    }
}
