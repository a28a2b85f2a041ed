//! The kiosk's live stream (`GET /api/v1/kiosk/stream`): server-sent events for every
//! committed engine event and every device-board change, with keep-alives.
//!
//! Events: `hello` (first, once subscribed: load the snapshot now and nothing is missed),
//! `committed` (`seq`, `type`, `return_id`; a `scan.recorded` carries `scan`: its bench,
//! accepted or refused, and the message in the stream's language), `devices` (the board
//! changed), `resync` (this client fell behind the engine's broadcast: reload the
//! snapshot). The stream ends when the server shuts down ([`Closing`]), so a graceful
//! shutdown never waits on an open kiosk.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use super::HttpState;
use crate::engine::Committed;
use crate::i18n::Lang;

/// Set to true when the server begins its graceful shutdown; live streams end on it.
#[derive(Clone)]
pub struct Closing(pub watch::Receiver<bool>);

struct Live {
    state: HttpState,
    events: broadcast::Receiver<Committed>,
    board: watch::Receiver<u64>,
    board_alive: bool,
    closing: watch::Receiver<bool>,
    bench: String,
    lang: Lang,
    hello_sent: bool,
}

fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// The SSE response for one kiosk. Subscribes before anything is sent, so the snapshot the
/// client loads after `hello` plus the events that follow miss nothing.
pub fn stream(
    state: HttpState,
    closing: Closing,
    bench: String,
    lang: Lang,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let live = Live {
        events: state.engine.events.subscribe(),
        board: state.board.subscribe(),
        board_alive: true,
        closing: closing.0,
        state,
        bench,
        lang,
        hello_sent: false,
    };
    let s = futures_util::stream::unfold(live, |mut l| async move {
        if !l.hello_sent {
            l.hello_sent = true;
            let last = l
                .state
                .engine
                .stats
                .last_seq
                .load(std::sync::atomic::Ordering::Relaxed);
            let hello = event("hello", &json!({"bench": l.bench, "last_seq": last}));
            return Some((Ok(hello), l));
        }
        if *l.closing.borrow() {
            return None;
        }
        let ev = tokio::select! {
            _ = l.closing.changed() => return None,
            r = l.events.recv() => match r {
                Ok(c) => committed(&l, c).await,
                Err(broadcast::error::RecvError::Lagged(n)) => event("resync", &json!({"missed": n})),
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            r = l.board.changed(), if l.board_alive => match r {
                Ok(()) => event("devices", &json!({"devices": l.state.board.to_json()})),
                Err(_) => {
                    l.board_alive = false;
                    Event::default().comment("board closed")
                }
            },
        };
        Some((Ok(ev), l))
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

/// One committed event; a scan's result is read back from the journal (the broadcast
/// carries only seq, type and return id).
async fn committed(l: &Live, c: Committed) -> Event {
    let mut v = json!({"seq": c.seq, "type": c.ty, "return_id": c.return_id});
    if c.ty == "scan.recorded" {
        let seq = c.seq;
        let bench = l.bench.clone();
        let lang = l.lang;
        let read = super::with_reader(&l.state, move |conn| {
            let current: Option<String> = conn
                .query_row(
                    "SELECT json_extract(state, '$.current') FROM benches WHERE bench = ?1",
                    [&bench],
                    |r| r.get(0),
                )
                .unwrap_or(None);
            super::kiosk_scan::read_scan(conn, seq, current.as_deref(), lang)
        })
        .await;
        if let Ok(scan) = read {
            v["scan"] = scan;
        }
    }
    event("committed", &v)
}
