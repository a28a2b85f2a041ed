//! What the sync workers take from the station's configuration, read once when they start.
//! This is the one file of `sync` that reads `Config`'s fields: when the config's layout
//! changes, only `WorkerSettings::from_config` follows it.

use std::path::PathBuf;
use std::time::Duration;

use super::feed::FeedSettings;
use super::push::PushSettings;
use super::retry::RetrySettings;
use crate::config::Config;

/// The station token: inline, or a file re-read on every request (so an operator fixes a
/// wrong token without a restart).
pub type Token = crate::config::Secret;

/// Feed items asked for per page (the contract's `limit`).
const FEED_PAGE_LIMIT: usize = 500;

/// Everything one sync worker needs besides its handles.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// `station_id` in the central's URLs and in every batch.
    pub station: String,
    /// The station database (the push reads the journal, the feed its cursor).
    pub database: PathBuf,
    /// Where the photo store lives.
    pub state_dir: PathBuf,
    /// None: no central configured (or no token), the workers stay `disabled`.
    pub central: Option<CentralSettings>,
    pub push: PushSettings,
    pub feed: FeedSettings,
}

/// How to reach the central.
#[derive(Debug, Clone)]
pub struct CentralSettings {
    /// `central_url`, without the `/v1/…` paths.
    pub base_url: String,
    pub token: Token,
    /// An extra CA to trust besides the system's (`sync.ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Whole-request timeout; connecting gets at most 10 s of it.
    pub request_timeout: Duration,
}

impl WorkerSettings {
    pub fn from_config(cfg: &Config) -> WorkerSettings {
        let s = &cfg.sync;
        let retry = RetrySettings {
            backoff_cap: s.backoff_cap,
            slow_retry: s.slow_retry,
        };
        let central = match (&s.central_url, &s.station_token) {
            (Some(url), Some(token)) => Some(CentralSettings {
                base_url: url.clone(),
                token: token.clone(),
                ca_file: s.ca_file.clone(),
                request_timeout: s.request_timeout,
            }),
            _ => None,
        };
        WorkerSettings {
            station: cfg.station.id.as_str().to_string(),
            database: cfg.storage.database.clone(),
            state_dir: cfg.storage.state_dir.clone(),
            central,
            push: PushSettings {
                batch_max_events: s.batch_max_events,
                batch_max_bytes: s.batch_max_bytes,
                retry,
                clock_offset_limit: s.clock_offset_limit,
            },
            feed: FeedSettings {
                poll: s.feed_poll,
                page_limit: FEED_PAGE_LIMIT,
                retry,
            },
        }
    }
}
