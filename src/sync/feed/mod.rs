//! The feed worker: polls `GET {central}/v1/stations/{id}/feed?after=…`, hands each page to
//! the engine (items applied as versioned upserts with the cursor in the same
//! transaction), asks again at once while `more` is true, else on the poll interval.
//!
//! Split like the push: `machine` decides (cursor, skip, backoff, status), `wire` parses,
//! and `run` is the loop that fetches, applies through the engine and waits.
//!
//! Contract 1.1's clock offset from feed answers: `wire::parse_page` returns the answer's
//! `server_time`; the loop measures it against the fetch's start and round trip
//! (`ClockReading::measure`, as the push does) and publishes it — `SyncStatus::clock` is
//! shared, so whichever exchange came last wins, and a station with nothing to push still
//! knows its offset.

mod machine;
mod wire;

pub use machine::{Action, FeedMachine, FeedSettings, Input};
pub use wire::parse_page;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::{Notify, watch};

use super::client::Central;
use super::error::FeedError;
use super::error::snippet;
use super::worker::Signals;
use crate::config::Config;
use crate::engine::{EngineHandle, FeedPage};
use crate::sync_status::{ClockReading, SharedStatus, update};

/// Run the feed worker until `shutdown`.
pub async fn run(
    cfg: Arc<Config>,
    engine: EngineHandle,
    status: SharedStatus,
    network_up: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) {
    let Some((settings, central)) =
        super::worker::start(&cfg, &status, |s, e| s.feed.cannot_start(e))
    else {
        return;
    };
    let url = format!("{}/v1/stations/{}/feed", central.base_url, settings.station);
    let mut signals = Signals::new(network_up, shutdown, None);
    let mut machine = FeedMachine::new(settings.feed, Box::new(super::os_jitter));
    // The page fetched, until the machine says whether to apply it.
    let mut page: Option<FeedPage> = None;
    let mut action = machine.start();
    loop {
        update(&status, |s| machine.publish(s));
        if machine.take_network_back() {
            signals.network_back();
        }
        let input = match action {
            Action::Fetch { after, limit } => {
                if signals.stopping() {
                    return;
                }
                let sent = super::now();
                match fetch(&central, &url, &settings.database, after, limit).await {
                    Ok((after, p, more, server_time)) => {
                        if let Some(t) = server_time {
                            let rtt = sent.mono.elapsed();
                            let limit = settings.push.clock_offset_limit;
                            let c = ClockReading::measure(t, sent.wall, rtt, limit);
                            if c.alarm {
                                tracing::warn!(
                                    offset_ms = c.offset_ms,
                                    limit_ms = limit.as_millis() as u64,
                                    "station clock differs from the central's (feed)"
                                );
                            }
                            update(&status, |s| s.clock = Some(c));
                        }
                        let input = Input::Page {
                            after,
                            next_after: p.next_after.clone(),
                            items: p.items.len() + p.malformed.len(),
                            more,
                        };
                        page = Some(p);
                        input
                    }
                    Err(e) => Input::Failed(e),
                }
            }
            Action::Apply => apply(&engine, page.take()).await,
            Action::Wait(w) => {
                if !signals.wait(w).await {
                    return;
                }
                Input::Woken
            }
        };
        action = machine.handle(input, super::now());
    }
}

/// GET the page after `after` (or after the durable cursor); returns the cursor asked
/// after, the page, its `more` and the central's `server_time`.
async fn fetch(
    central: &Central,
    url: &str,
    database: &Path,
    after: Option<String>,
    limit: usize,
) -> Result<
    (
        String,
        FeedPage,
        bool,
        Option<chrono::DateTime<chrono::Utc>>,
    ),
    FeedError,
> {
    let after = match after {
        Some(a) => a,
        None => crate::store::Reader::open(database)
            .and_then(|db| crate::store::feed_after(&db))
            .map_err(|e| FeedError::Cursor(e.to_string()))?,
    };
    let token = central.token.read().map_err(FeedError::Token)?;
    let mut u = reqwest::Url::parse(url).map_err(|e| FeedError::Url(e.to_string()))?;
    u.query_pairs_mut()
        .append_pair("after", &after)
        .append_pair("limit", &limit.to_string());
    let resp = central
        .http
        .get(u)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| FeedError::Request(e.to_string()))?;
    let code = resp.status().as_u16();
    let body = resp
        .text()
        .await
        .map_err(|e| FeedError::AnswerBody(e.to_string()))?;
    if code != 200 {
        return Err(FeedError::Status {
            code,
            body: snippet(&body),
        });
    }
    let (page, more, server_time) = parse_page(&body, &after)?;
    Ok((after, page, more, server_time))
}

async fn apply(engine: &EngineHandle, page: Option<FeedPage>) -> Input {
    let Some(page) = page else {
        return Input::Failed(FeedError::Apply("no page fetched".into()));
    };
    match engine.apply_feed(page).await {
        Ok(applied) => Input::Applied {
            rejected: applied.rejected,
        },
        Err(e) => Input::Failed(FeedError::Apply(e.to_string())),
    }
}
