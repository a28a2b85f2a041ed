//! The feed worker: polls `GET {central}/v1/stations/{id}/feed?after=…`, hands each page to
//! the engine (items applied as versioned upserts with the cursor in the same
//! transaction), asks again at once while `more` is true, else on the poll interval.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::retry::delay;
use super::{FeedState, SharedStatus, update};
use crate::config::Config;
use crate::engine::{EngineHandle, FeedPage};
use crate::feed::FeedItem;

/// Parse one page. Items that are not even items (no type, key or version) become
/// `malformed` with their reason; the rest are validated when applied.
pub fn parse_page(body: &str, after: &str) -> Result<(FeedPage, bool), String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("feed page is not JSON: {e}"))?;
    let items = v
        .get("items")
        .and_then(Value::as_array)
        .ok_or("feed page has no items array")?;
    let mut page = FeedPage {
        next_after: v
            .get("next_after")
            .and_then(Value::as_str)
            .unwrap_or(after)
            .to_string(),
        ..Default::default()
    };
    for it in items {
        let ty = it.get("type").and_then(Value::as_str);
        let key = it.get("key").and_then(Value::as_str);
        let version = it.get("version").and_then(Value::as_i64);
        match (ty, key, version) {
            (Some(ty), Some(key), Some(version)) => page.items.push(FeedItem {
                ty: ty.to_string(),
                key: key.to_string(),
                version,
                data: match it.get("data") {
                    None | Some(Value::Null) => None,
                    Some(d) => Some(d.clone()),
                },
            }),
            _ => page.malformed.push((
                "item lacks type, key or a whole-number version".to_string(),
                it.to_string(),
            )),
        }
    }
    let more = v.get("more").and_then(Value::as_bool).unwrap_or(false);
    Ok((page, more))
}

pub async fn run(
    cfg: Arc<Config>,
    engine: EngineHandle,
    status: SharedStatus,
    network_up: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = super::settings::WorkerSettings::from_config(&cfg);
    let Some(central) = super::connect(&settings, |e| update(&status, |s| s.feed.cannot_start(e)))
    else {
        return;
    };
    let (base, token, client) = (central.base_url, central.token, central.http);
    let url = format!("{base}/v1/stations/{}/feed", cfg.station.as_str());
    let mut attempt = 0u32;
    let mut failing = false;
    update(&status, |s| s.feed.state = FeedState::Idle);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let after = match crate::store::open_reader(&cfg.database)
            .and_then(|c| crate::store::feed_after(&c))
        {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "feed cannot read its cursor");
                sleep(Duration::from_secs(5), &network_up, &mut shutdown).await;
                continue;
            }
        };
        let result = async {
            let t = token.read()?;
            let mut u = reqwest::Url::parse(&url).map_err(|e| format!("feed URL: {e}"))?;
            u.query_pairs_mut()
                .append_pair("after", &after)
                .append_pair("limit", "500");
            let resp = client
                .get(u)
                .bearer_auth(t)
                .send()
                .await
                .map_err(|e| format!("feed request: {e}"))?;
            let code = resp.status().as_u16();
            let body = resp.text().await.map_err(|e| format!("feed answer: {e}"))?;
            if code != 200 {
                return Err(format!(
                    "HTTP {code}: {}",
                    body.chars().take(300).collect::<String>()
                ));
            }
            let (page, more) = parse_page(&body, &after)?;
            if page.items.is_empty() && page.malformed.is_empty() && page.next_after == after {
                // Nothing new: no write, no fsync.
                return Ok((crate::engine::FeedApplied::default(), more));
            }
            let applied = engine.apply_feed(page).await?;
            Ok::<_, String>((applied, more))
        }
        .await;
        match result {
            Ok((applied, more)) => {
                attempt = 0;
                if applied.rejected > 0 {
                    tracing::warn!(
                        rejected = applied.rejected,
                        "feed items rejected (see sync status)"
                    );
                }
                update(&status, |s| {
                    s.feed.state = FeedState::Idle;
                    s.feed.last_success = Some(Utc::now());
                });
                if std::mem::take(&mut failing) {
                    network_up.notify_waiters();
                }
                if !more {
                    sleep(cfg.sync.feed_poll, &network_up, &mut shutdown).await;
                }
            }
            Err(e) => {
                failing = true;
                let slow = e.starts_with("HTTP 4");
                let d = if slow {
                    cfg.sync.slow_retry
                } else {
                    delay(attempt, cfg.sync.backoff_cap, super::os_jitter())
                };
                attempt = attempt.saturating_add(1);
                tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "feed poll failed");
                update(&status, |s| {
                    s.feed.state = if slow {
                        FeedState::Rejected
                    } else {
                        FeedState::Backoff
                    };
                    s.feed.last_error = Some(e);
                });
                sleep(d, &network_up, &mut shutdown).await;
            }
        }
    }
}

async fn sleep(d: Duration, network_up: &Notify, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = network_up.notified() => {}
        _ = shutdown.changed() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page's items, deletes and malformed entries are separated; the cursor advances.
    #[test]
    fn parses_pages() {
        let body = r#"{"items":[
            {"cursor":"c-1","type":"expected_return","key":"SF1","version":3,"data":{"kind":"refused"}},
            {"cursor":"c-2","type":"expected_return","key":"SF2","version":4,"data":null},
            {"cursor":"c-3","type":"operator","version":"x"}
        ],"next_after":"c-3","more":true}"#;
        let (page, more) = parse_page(body, "c-0").unwrap();
        assert!(more);
        assert_eq!(page.next_after, "c-3");
        assert_eq!(page.items.len(), 2);
        assert!(page.items[1].data.is_none(), "null data deletes");
        assert_eq!(page.malformed.len(), 1);
        assert!(parse_page("nope", "c").is_err());
        let (p, more) = parse_page(r#"{"items":[]}"#, "c-9").unwrap();
        assert_eq!(p.next_after, "c-9");
        assert!(!more);
    }
}
