//! `[http]`: the station's HTTP listener (the central's pull endpoints, `/metrics`, the
//! operator API and pages) — where it listens, whether it speaks TLS (`tls.rs`), and the
//! limits that keep one client from taking it over.

use std::net::SocketAddr;
use std::time::Duration;

use super::ctx::Ctx;
use super::raw::RawHttp;
use super::tls::{self, TlsMode};

/// The validated `[http]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where the listener binds; `None` turns HTTP off. Loopback by default, so nothing is
    /// reachable from the network until someone decides it should be.
    pub listen: Option<SocketAddr>,
    /// A session unused this long is gone: a handheld left on a shelf does not stay
    /// logged in.
    pub session_idle: Duration,
    /// Mark the session cookie `Secure`, so it never travels in clear: always when the
    /// listener speaks TLS itself (`tls`), and when `secure_cookie` says TLS terminates in
    /// front of the station.
    pub secure_cookie: bool,
    /// Whether the listener speaks TLS, and with which certificate: PINs and session
    /// cookies cross the warehouse Wi-Fi.
    pub tls: TlsMode,
    /// Wrong PINs for one badge within `lockout_window` that lock it: four-digit PINs are
    /// guessable without a limit.
    pub lockout_after: u32,
    /// The window the wrong PINs are counted in: short enough that a few typos over a
    /// shift never lock anyone out.
    pub lockout_window: Duration,
    /// How long a locked badge is refused: it turns a guessing run into days.
    pub lockout_for: Duration,
    /// Longest time one API request may take, so a stuck request frees its slot.
    pub request_timeout: Duration,
    /// Requests served at once; more are refused with 503 rather than queued without end.
    pub max_concurrent: usize,
    /// Connections open at once; past that the listener waits, so descriptors and memory
    /// stay bounded.
    pub max_connections: usize,
    /// A connection that moves no byte this long is closed: slow or idle clients cannot
    /// hold connections.
    pub idle_timeout: Duration,
    /// Largest photo upload (at most the contract's 10 MiB), so one upload cannot fill the
    /// memory or the photo store.
    pub photo_max_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        HttpConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8470))),
            session_idle: min(30),
            secure_cookie: false,
            lockout_after: 5,
            lockout_window: min(15),
            lockout_for: min(15),
            request_timeout: Duration::from_secs(30),
            max_concurrent: 64,
            max_connections: 256,
            idle_timeout: Duration::from_secs(60),
            photo_max_bytes: crate::photos::MAX_BYTES,
            tls: TlsMode::Off,
        }
    }
}

/// `v` when it is within `lo..=hi`; otherwise `None`, reported as `must be lo to hi (unit)`.
fn bounded(
    ctx: &mut Ctx,
    key: &str,
    v: Option<u64>,
    (lo, hi): (u64, u64),
    unit: &str,
) -> Option<u64> {
    match v {
        Some(v) if !(lo..=hi).contains(&v) => {
            ctx.bad(key, format!("must be {lo} to {hi} ({unit})"));
            None
        }
        v => v,
    }
}

impl RawHttp {
    /// `listen`: an address, or "" for no HTTP at all.
    fn listen(&self, ctx: &mut Ctx, default: Option<SocketAddr>) -> Option<SocketAddr> {
        match self.listen.as_deref() {
            None => default,
            Some("") => None,
            Some(a) => a.parse().map_or_else(
                |_| {
                    ctx.bad(
                        "http.listen",
                        format!(
                            "{a:?} is not an address:port (e.g. 0.0.0.0:8470); \"\" turns HTTP off"
                        ),
                    );
                    None
                },
                Some,
            ),
        }
    }

    /// `session_idle_min`, or `session_idle_s` for tests and labs (not both).
    fn session_idle(&self, ctx: &mut Ctx, default: Duration) -> Duration {
        if self.session_idle_min.is_some() && self.session_idle_s.is_some() {
            ctx.bad(
                "http.session_idle_s",
                "set session_idle_min or session_idle_s, not both",
            );
            return default;
        }
        let key = "http.session_idle_s";
        if let Some(s) = bounded(ctx, key, self.session_idle_s, (1, 86_400), "seconds") {
            return Duration::from_secs(s);
        }
        let key = "http.session_idle_min";
        bounded(ctx, key, self.session_idle_min, (1, 1440), "minutes")
            .map_or(default, |m| Duration::from_secs(m * 60))
    }

    /// Validate `[http]`, TLS included.
    pub fn validate(&self, ctx: &mut Ctx) -> HttpConfig {
        let d = HttpConfig::default();
        let listen = self.listen(ctx, d.listen);
        let session_idle = self.session_idle(ctx, d.session_idle);
        let secs = Duration::from_secs;
        let minutes = |m: u64| secs(m * 60);
        let lockout_window = bounded(
            ctx,
            "http.lockout_window_min",
            self.lockout_window_min,
            (1, 1440),
            "minutes",
        )
        .map_or(d.lockout_window, minutes);
        let lockout_for = bounded(
            ctx,
            "http.lockout_min",
            self.lockout_min,
            (1, 1440),
            "minutes",
        )
        .map_or(d.lockout_for, minutes);
        let request_timeout = bounded(
            ctx,
            "http.request_timeout_s",
            self.request_timeout_s,
            (1, 600),
            "seconds",
        )
        .map_or(d.request_timeout, secs);
        let lockout_after = bounded(
            ctx,
            "http.lockout_after",
            self.lockout_after.map(u64::from),
            (1, 100),
            "wrong PINs",
        )
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(d.lockout_after);
        let max_concurrent = bounded(
            ctx,
            "http.max_concurrent",
            self.max_concurrent.map(|n| n as u64),
            (1, 4096),
            "requests",
        )
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(d.max_concurrent);
        let max_connections = bounded(
            ctx,
            "http.max_connections",
            self.max_connections.map(|n| n as u64),
            (1, 10_000),
            "connections",
        )
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(d.max_connections);
        let idle_timeout = bounded(
            ctx,
            "http.idle_timeout_s",
            self.idle_timeout_s,
            (5, 3600),
            "seconds",
        )
        .map_or(d.idle_timeout, secs);
        let photo_max_bytes = bounded(
            ctx,
            "http.photo_max_mib",
            self.photo_max_mib,
            (1, 10),
            "MiB",
        )
        .and_then(|n| usize::try_from(n * 1024 * 1024).ok())
        .unwrap_or(d.photo_max_bytes);
        let base = ctx.base().to_path_buf();
        let tls = tls::tls_mode(
            self.tls.as_deref(),
            self.cert_file.as_deref(),
            self.key_file.as_deref(),
            listen,
            &base,
            &mut ctx.sink(),
        );
        HttpConfig {
            listen,
            session_idle,
            // One rule: a listener that speaks TLS always marks its cookies Secure.
            secure_cookie: self.secure_cookie.unwrap_or(false) || tls.is_on(),
            tls,
            lockout_after,
            lockout_window,
            lockout_for,
            request_timeout,
            max_concurrent,
            max_connections,
            idle_timeout,
            photo_max_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing set: the defaults, on loopback, plain HTTP.
    #[test]
    fn defaults() {
        let mut ctx = Ctx::test();
        let h = RawHttp::default().validate(&mut ctx);
        assert!(ctx.reported().is_empty());
        assert_eq!(h, HttpConfig::default());
        assert_eq!(h.listen, "127.0.0.1:8470".parse().ok());
        assert_eq!(h.photo_max_bytes, 10 * 1024 * 1024);
    }

    /// Set values are taken; "" turns HTTP off; TLS forces Secure cookies.
    #[test]
    fn set_values() {
        let mut ctx = Ctx::test();
        let h = RawHttp {
            listen: Some(String::new()),
            session_idle_s: Some(90),
            lockout_after: Some(3),
            lockout_window_min: Some(2),
            lockout_min: Some(4),
            request_timeout_s: Some(5),
            max_concurrent: Some(8),
            max_connections: Some(9),
            idle_timeout_s: Some(10),
            photo_max_mib: Some(2),
            tls: Some("self-signed".into()),
            ..RawHttp::default()
        }
        .validate(&mut ctx);
        assert!(ctx.reported().is_empty(), "{:?}", ctx.reported());
        assert_eq!(h.listen, None);
        assert_eq!(h.session_idle, Duration::from_secs(90));
        assert_eq!(
            (h.lockout_after, h.lockout_window, h.lockout_for),
            (3, Duration::from_secs(120), Duration::from_secs(240))
        );
        assert_eq!(
            (h.request_timeout, h.idle_timeout),
            (Duration::from_secs(5), Duration::from_secs(10))
        );
        assert_eq!(
            (h.max_concurrent, h.max_connections, h.photo_max_bytes),
            (8, 9, 2 << 20)
        );
        assert!(h.secure_cookie && h.tls == TlsMode::SelfSigned);
        let h = RawHttp {
            session_idle_min: Some(5),
            ..RawHttp::default()
        }
        .validate(&mut ctx);
        assert_eq!(h.session_idle, Duration::from_secs(300));
    }

    /// Each bad value is reported with its key and its bounds.
    #[test]
    fn bad_values() {
        let mut ctx = Ctx::test();
        RawHttp {
            listen: Some("everywhere".into()),
            session_idle_min: Some(1),
            session_idle_s: Some(1),
            lockout_after: Some(0),
            lockout_window_min: Some(1441),
            lockout_min: Some(0),
            request_timeout_s: Some(601),
            max_concurrent: Some(4097),
            max_connections: Some(0),
            idle_timeout_s: Some(4),
            photo_max_mib: Some(11),
            ..RawHttp::default()
        }
        .validate(&mut ctx);
        assert_eq!(
            ctx.reported(),
            [
                "http.listen: \"everywhere\" is not an address:port (e.g. 0.0.0.0:8470); \"\" turns HTTP off",
                "http.session_idle_s: set session_idle_min or session_idle_s, not both",
                "http.lockout_window_min: must be 1 to 1440 (minutes)",
                "http.lockout_min: must be 1 to 1440 (minutes)",
                "http.request_timeout_s: must be 1 to 600 (seconds)",
                "http.lockout_after: must be 1 to 100 (wrong PINs)",
                "http.max_concurrent: must be 1 to 4096 (requests)",
                "http.max_connections: must be 1 to 10000 (connections)",
                "http.idle_timeout_s: must be 5 to 3600 (seconds)",
                "http.photo_max_mib: must be 1 to 10 (MiB)",
            ]
        );
        RawHttp {
            session_idle_s: Some(0),
            listen: Some("0.0.0.0:8470".into()),
            ..RawHttp::default()
        }
        .validate(&mut ctx);
        let got = ctx.reported();
        assert_eq!(got[10], "http.session_idle_s: must be 1 to 86400 (seconds)");
        assert!(
            got[11].starts_with("http.tls: plain HTTP on 0.0.0.0:8470"),
            "{got:?}"
        );
    }
}
