//! `[sync]`: the central server — where it is, the tokens each side presents, and the
//! batch sizes, retry intervals and retention within the central-sync contract's limits.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::ctx::Ctx;
use super::raw::RawSync;

/// A secret from the config: never shown by `Debug` or written to logs.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    /// Re-read at each use, so an operator can replace it without a restart.
    File(PathBuf),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Secret(<redacted>)"),
            Secret::File(p) => write!(f, "Secret(file {})", p.display()),
        }
    }
}

impl Secret {
    /// The current value (a file's first line, trimmed).
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("{}: {e}", p.display()))
                .and_then(|t| {
                    let v = t.lines().next().unwrap_or("").trim().to_string();
                    if v.is_empty() {
                        Err(format!("{}: the token file is empty", p.display()))
                    } else {
                        Ok(v)
                    }
                }),
        }
    }
}

/// The validated `[sync]` table.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Push and feed go here; `None` = this station is only pulled from (or offline).
    pub central_url: Option<String>,
    /// The station's bearer token for the central, so the central knows which station
    /// pushes; required with `central_url`.
    pub station_token: Option<Secret>,
    /// What the central presents on the pull endpoints; without it pulling is refused, so
    /// nobody else can read the journal.
    pub central_token: Option<Secret>,
    /// Extra CA certificates for a central with a private CA, on top of the system's.
    pub ca_file: Option<PathBuf>,
    /// Events per push batch, at most the contract's 1000: smaller batches suit a slow
    /// link (a 413 halves the batch anyway).
    pub batch_max_events: usize,
    /// Bytes of JSON per push batch before gzip, at most the contract's 1 MiB, which the
    /// central refuses beyond.
    pub batch_max_bytes: usize,
    /// Cap of the exponential backoff after 5xx, timeouts and resets: an outage costs the
    /// central at most one attempt per cap, and recovery is noticed within it.
    pub backoff_cap: Duration,
    /// Retry interval after 401/403 and other 4xx answers, which need a person: slow, but
    /// never giving up (nothing is dropped).
    pub slow_retry: Duration,
    /// Longest one request to the central may take before it counts as failed, so a hung
    /// connection does not stall the push.
    pub request_timeout: Duration,
    /// Feed poll interval when the central says there is nothing more: how soon a new
    /// manifest reaches the bench, against the load of asking.
    pub feed_poll: Duration,
    /// Alarm when the station's clock differs from the central's by more: event times and
    /// the 7-day window depend on it.
    pub clock_offset_limit: Duration,
    /// How long acknowledged events are kept before pruning (events of open returns are
    /// never pruned): room for audits without growing forever.
    pub retention: Duration,
}

impl RawSync {
    /// Validate `[sync]`; token and CA files are relative to the config file.
    pub fn validate(&self, ctx: &mut Ctx) -> SyncConfig {
        let central_url = match self.central_url.as_deref() {
            None | Some("") => None,
            Some(u) => {
                let ok = (u.starts_with("https://") || u.starts_with("http://"))
                    && reqwest::Url::parse(u).is_ok();
                if !ok {
                    ctx.bad(
                        "sync.central_url",
                        format!("{u:?} is not an http:// or https:// URL"),
                    );
                }
                Some(u.trim_end_matches('/').to_string())
            }
        };
        let station_token = secret(
            &self.station_token,
            &self.station_token_file,
            "sync.station_token",
            ctx,
        );
        if central_url.is_some() && station_token.is_none() {
            ctx.bad(
                "sync.station_token",
                "central_url is set, so the station needs its token (station_token_file, or station_token)",
            );
        }
        let central_token = secret(
            &self.central_token,
            &self.central_token_file,
            "sync.central_token",
            ctx,
        );
        let ca_file = self.ca_file.as_deref().map(|f| ctx.resolve(f));
        if let Some(f) = &ca_file
            && !f.exists()
        {
            ctx.bad("sync.ca_file", format!("{} does not exist", f.display()));
        }
        let batch_max_events = ctx.within(
            "sync.batch_max_events",
            self.batch_max_events.unwrap_or(1000),
            1..=1000,
            "must be 1 to 1000 (the contract's limit)",
        );
        let batch_max_bytes = ctx.within(
            "sync.batch_max_bytes",
            self.batch_max_bytes.unwrap_or(1024 * 1024),
            4096..=1024 * 1024,
            "must be 4096 to 1048576 (the contract's limit)",
        );
        let mut secs = |v: Option<u64>, default: u64, key: &str, max: u64| {
            Duration::from_secs(ctx.within(
                key,
                v.unwrap_or(default),
                1..=max,
                &format!("must be 1 to {max} seconds"),
            ))
        };
        SyncConfig {
            central_url,
            station_token,
            central_token,
            ca_file,
            batch_max_events,
            batch_max_bytes,
            backoff_cap: secs(self.backoff_cap_s, 60, "sync.backoff_cap_s", 3600),
            slow_retry: secs(self.slow_retry_s, 60, "sync.slow_retry_s", 86_400),
            request_timeout: secs(self.request_timeout_s, 30, "sync.request_timeout_s", 600),
            feed_poll: secs(self.feed_poll_s, 30, "sync.feed_poll_s", 86_400),
            clock_offset_limit: secs(
                self.clock_offset_limit_s,
                120,
                "sync.clock_offset_limit_s",
                86_400,
            ),
            retention: Duration::from_secs(
                ctx.within(
                    "sync.retention_days",
                    self.retention_days.unwrap_or(30),
                    0..=3650,
                    "must be 0 to 3650 (0: prune as soon as acknowledged)",
                )
                .saturating_mul(86_400),
            ),
        }
    }
}

/// A token given inline or as a file (relative to the config), not both; "" is none.
fn secret(
    inline: &Option<String>,
    file: &Option<PathBuf>,
    key: &str,
    ctx: &mut Ctx,
) -> Option<Secret> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            ctx.bad(key, format!("set {key} or {key}_file, not both"));
            None
        }
        (Some(s), None) if s.is_empty() => None,
        (Some(s), None) => Some(Secret::Inline(s.clone())),
        (None, Some(f)) => Some(Secret::File(ctx.resolve(f))),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// No central by default; the contract's limits and the documented intervals.
    #[test]
    fn defaults() {
        let mut ctx = Ctx::test();
        let s = RawSync::default().validate(&mut ctx);
        assert!(ctx.reported().is_empty());
        assert_eq!(s.central_url, None);
        assert_eq!((s.batch_max_events, s.batch_max_bytes), (1000, 1 << 20));
        let secs = Duration::from_secs;
        assert_eq!(
            (
                s.backoff_cap,
                s.slow_retry,
                s.request_timeout,
                s.feed_poll,
                s.clock_offset_limit
            ),
            (secs(60), secs(60), secs(30), secs(30), secs(120))
        );
        assert_eq!(s.retention, secs(30 * 86_400));
    }

    /// A central needs the station's token; token files are relative to the config and
    /// never shown; the URL loses its trailing slash.
    #[test]
    fn central_and_tokens() {
        let mut ctx = Ctx::test();
        let s = RawSync {
            central_url: Some("https://central.example/".into()),
            station_token_file: Some("station.token".into()),
            central_token: Some("hunter2".into()),
            retention_days: Some(0),
            ..RawSync::default()
        }
        .validate(&mut ctx);
        assert!(ctx.reported().is_empty());
        assert_eq!(s.central_url.as_deref(), Some("https://central.example"));
        assert_eq!(
            s.station_token,
            Some(Secret::File(
                Path::new("/etc/returnsd/station.token").into()
            ))
        );
        assert_eq!(format!("{:?}", s.central_token), "Some(Secret(<redacted>))");
        assert_eq!(s.retention, Duration::ZERO);
    }

    /// Each bad value is reported with its key.
    #[test]
    fn bad_values() {
        let mut ctx = Ctx::test();
        RawSync {
            central_url: Some("ftp://x".into()),
            central_token: Some("a".into()),
            central_token_file: Some("b".into()),
            ca_file: Some("/nonexistent/ca.pem".into()),
            batch_max_events: Some(1001),
            batch_max_bytes: Some(4095),
            backoff_cap_s: Some(0),
            slow_retry_s: Some(86_401),
            request_timeout_s: Some(601),
            feed_poll_s: Some(0),
            clock_offset_limit_s: Some(0),
            retention_days: Some(3651),
            ..RawSync::default()
        }
        .validate(&mut ctx);
        assert_eq!(
            ctx.reported(),
            [
                "sync.central_url: \"ftp://x\" is not an http:// or https:// URL",
                "sync.station_token: central_url is set, so the station needs its token (station_token_file, or station_token)",
                "sync.central_token: set sync.central_token or sync.central_token_file, not both",
                "sync.ca_file: /nonexistent/ca.pem does not exist",
                "sync.batch_max_events: must be 1 to 1000 (the contract's limit)",
                "sync.batch_max_bytes: must be 4096 to 1048576 (the contract's limit)",
                "sync.backoff_cap_s: must be 1 to 3600 seconds",
                "sync.slow_retry_s: must be 1 to 86400 seconds",
                "sync.request_timeout_s: must be 1 to 600 seconds",
                "sync.feed_poll_s: must be 1 to 86400 seconds",
                "sync.clock_offset_limit_s: must be 1 to 86400 seconds",
                "sync.retention_days: must be 0 to 3650 (0: prune as soon as acknowledged)",
            ]
        );
    }
}
