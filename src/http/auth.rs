//! Operator authentication for the HTTP API: badge + PIN (argon2id PHC strings from the
//! config's `[[operators]]` or the central's `operator` feed items), sessions, lockout,
//! CSRF and origin checks.
//!
//! - **Sessions** live in memory only (lost on restart: operators log in again). A session
//!   is a random 256-bit token from the OS RNG, given to the client once (cookie
//!   `returnsd_session`, `HttpOnly; SameSite=Strict; Path=/`, `Secure` with
//!   `http.secure_cookie`, which is always on with `http.tls`, and in the login answer
//!   for `Authorization: Bearer`); the station keeps only its SHA-256. A session unused
//!   for `http.session_idle_*` is gone.
//! - **CSRF**: a mutating request authenticated by the cookie must carry `X-CSRF-Token`
//!   equal to the session's CSRF token (given at login); bearer requests need none (a
//!   browser never adds that header by itself). Any mutating request whose `Origin` is
//!   not this host, or whose `Sec-Fetch-Site` is `cross-site`, is refused.
//! - **Lockout**: `http.lockout_after` wrong PINs for one badge within
//!   `http.lockout_window_min` lock it for `http.lockout_min`; the lockout is logged at
//!   WARN and journaled as `operator.locked_out` (badge only — never the PIN).
//!
//! Nothing here implements `Debug` over a token, a PIN or a hash.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::http::{HeaderMap, Method, StatusCode};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::config::{Config, HttpConfig};
use crate::domain::ids::Badge;
use crate::domain::model::Role;
use crate::i18n::Lang;

pub const COOKIE: &str = "returnsd_session";
/// Most sessions held at once; the least recently used goes first.
const MAX_SESSIONS: usize = 1024;
/// Most badges with failed-PIN history kept.
const MAX_FAILURE_RECORDS: usize = 4096;
/// Longest PIN accepted (anything longer is wrong without hashing it).
const MAX_PIN: usize = 64;
/// PIN checks running at once: each argon2id verification takes ~19 MiB and tens of ms
/// of one core, so a burst of logins must not take the floor PC's memory or CPUs.
const PIN_CHECKS: usize = 2;

/// An operator as the login needs it.
pub struct OperatorRecord {
    pub badge: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub pin_hash: Option<String>,
}

/// The operator from the config (first) or the feed's `operator` items.
pub fn lookup_operator(
    conn: &rusqlite::Connection,
    cfg: &Config,
    badge: &str,
) -> Option<OperatorRecord> {
    if let Some(o) = cfg.operators.iter().find(|o| o.badge == badge) {
        return Some(OperatorRecord {
            badge: o.badge.clone(),
            name: o.name.clone(),
            roles: o.roles.clone(),
            pin_hash: o.pin_hash.clone(),
        });
    }
    let (_, data) = crate::feed::get(conn, "operator", badge).ok().flatten()?;
    let roles: Vec<Role> = data
        .get("roles")?
        .as_array()?
        .iter()
        .filter_map(|r| r.as_str().and_then(Role::parse))
        .collect();
    (!roles.is_empty()).then(|| OperatorRecord {
        badge: badge.to_string(),
        name: data
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        roles,
        pin_hash: data
            .get("pin_hash")
            .and_then(|v| v.as_str())
            .map(str::to_string),
    })
}

/// A hash nobody's PIN matches, verified for unknown badges so that they take as long as
/// known ones.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(b"returnsd-no-such-operator")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Check a PIN against a PHC string (argon2id; the hash's own parameters). CPU-heavy:
/// call it on a blocking thread.
pub fn verify_pin(pin: &str, hash: Option<&str>) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let ok = argon2::Argon2::default()
        .verify_password(pin.as_bytes(), &parsed)
        .is_ok();
    ok && real && pin.len() <= MAX_PIN
}

/// Random bytes from the OS, hex-encoded.
fn random_hex() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| ApiError::internal())?;
    Ok(crate::control::hex_encode(&b))
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

struct Session {
    badge: Badge,
    name: String,
    roles: Vec<Role>,
    lang: Option<Lang>,
    csrf: String,
    last_seen: Instant,
}

/// Who is calling, once authenticated.
#[derive(Clone)]
pub struct Caller {
    pub badge: Badge,
    pub name: String,
    pub roles: Vec<Role>,
    pub lang: Option<Lang>,
    /// Authenticated by the cookie (so CSRF rules apply), not by a bearer token.
    pub via_cookie: bool,
    token_hash: [u8; 32],
}

impl Caller {
    /// The role to act in for an endpoint allowing `allowed` (in its order of preference),
    /// or None when the operator has none of them.
    pub fn role_for(&self, allowed: &[Role]) -> Option<Role> {
        allowed.iter().copied().find(|r| self.roles.contains(r))
    }
    pub fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A fresh session as given to the client (the only time the token exists in clear).
pub struct NewSession {
    pub token: String,
    pub csrf: String,
}

#[derive(Default)]
struct Failures {
    at: Vec<Instant>,
    locked_until: Option<Instant>,
}

/// Sessions and failed-PIN records.
pub struct Auth {
    cfg: HttpConfig,
    /// Slots for PIN verifications (see [`PIN_CHECKS`]).
    pub pin_checks: tokio::sync::Semaphore,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<String, Failures>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Auth {
    pub fn new(cfg: &HttpConfig) -> Auth {
        Auth {
            cfg: cfg.clone(),
            pin_checks: tokio::sync::Semaphore::new(PIN_CHECKS),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    pub fn idle_secs(&self) -> u64 {
        self.cfg.session_idle.as_secs()
    }

    /// Seconds left on a badge's lockout, if it is locked.
    pub fn locked_for(&self, badge: &str) -> Option<u64> {
        let now = Instant::now();
        let f = lock(&self.failures);
        let until = f.get(badge)?.locked_until?;
        (until > now).then(|| until.duration_since(now).as_secs().max(1))
    }

    /// Count a wrong PIN. Answers true when this one locked the badge.
    pub fn record_failure(&self, badge: &str) -> bool {
        let now = Instant::now();
        let mut all = lock(&self.failures);
        if all.len() >= MAX_FAILURE_RECORDS && !all.contains_key(badge) {
            let window = self.cfg.lockout_window;
            all.retain(|_, f| {
                f.locked_until.is_some_and(|u| u > now)
                    || f.at.iter().any(|t| now.duration_since(*t) < window)
            });
            if all.len() >= MAX_FAILURE_RECORDS {
                // Under a flood of made-up badges: forget the oldest half rather than grow.
                let mut keys: Vec<(Instant, String)> = all
                    .iter()
                    .map(|(k, f)| (f.at.last().copied().unwrap_or(now), k.clone()))
                    .collect();
                keys.sort();
                for (_, k) in keys.into_iter().take(MAX_FAILURE_RECORDS / 2) {
                    all.remove(&k);
                }
            }
        }
        let f = all.entry(badge.to_string()).or_default();
        let window = self.cfg.lockout_window;
        f.at.retain(|t| now.duration_since(*t) < window);
        f.at.push(now);
        if f.at.len() >= self.cfg.lockout_after as usize {
            f.at.clear();
            f.locked_until = Some(now + self.cfg.lockout_for);
            return true;
        }
        false
    }

    pub fn clear_failures(&self, badge: &str) {
        lock(&self.failures).remove(badge);
    }

    pub fn lockout_minutes(&self) -> u64 {
        self.cfg.lockout_for.as_secs().div_ceil(60)
    }

    /// Open a session for a checked operator.
    pub fn open(&self, op: &OperatorRecord, lang: Option<Lang>) -> Result<NewSession, ApiError> {
        let badge = Badge::parse(&op.badge).map_err(|_| ApiError::internal())?;
        let token = random_hex()?;
        let csrf = random_hex()?;
        let now = Instant::now();
        let mut s = lock(&self.sessions);
        let idle = self.cfg.session_idle;
        s.retain(|_, v| now.duration_since(v.last_seen) < idle);
        if s.len() >= MAX_SESSIONS
            && let Some(k) = s.iter().min_by_key(|(_, v)| v.last_seen).map(|(k, _)| *k)
        {
            s.remove(&k);
        }
        s.insert(
            token_hash(&token),
            Session {
                badge,
                name: op.name.clone(),
                roles: op.roles.clone(),
                lang,
                csrf: csrf.clone(),
                last_seen: now,
            },
        );
        Ok(NewSession { token, csrf })
    }

    /// The caller's session still exists and is not idle past its timeout (does not count
    /// as use).
    pub fn alive(&self, caller: &Caller) -> bool {
        let now = Instant::now();
        lock(&self.sessions)
            .get(&caller.token_hash)
            .is_some_and(|s| now.duration_since(s.last_seen) < self.cfg.session_idle)
    }

    /// End the caller's session.
    pub fn close(&self, caller: &Caller) {
        lock(&self.sessions).remove(&caller.token_hash);
    }

    /// The caller of a request: bearer token first, else the session cookie. A mutating
    /// request authenticated by the cookie must carry the session's CSRF token.
    pub fn authenticate(&self, headers: &HeaderMap, method: &Method) -> Result<Caller, ApiError> {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let (token, via_cookie) = match bearer {
            Some(t) => (t.to_string(), false),
            None => match cookie(headers, COOKIE) {
                Some(t) => (t, true),
                None => return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized")),
            },
        };
        let h = token_hash(&token);
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        let Some(s) = sessions.get_mut(&h) else {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized"));
        };
        if now.duration_since(s.last_seen) >= self.cfg.session_idle {
            sessions.remove(&h);
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "session_expired"));
        }
        if via_cookie && is_mutating(method) {
            let given = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !super::ct_eq(given.as_bytes(), s.csrf.as_bytes()) {
                return Err(ApiError::new(StatusCode::FORBIDDEN, "csrf"));
            }
        }
        s.last_seen = now;
        Ok(Caller {
            badge: s.badge.clone(),
            name: s.name.clone(),
            roles: s.roles.clone(),
            lang: s.lang,
            via_cookie,
            token_hash: h,
        })
    }
}

pub fn is_mutating(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// One cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_string())
        })
}

/// Refuse a mutating request from another origin: `Origin` must name this host (any
/// scheme), and `Sec-Fetch-Site` must not be `cross-site`.
pub fn check_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = || ApiError::new(StatusCode::FORBIDDEN, "cross_origin");
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return Err(refuse());
    }
    let Some(origin) = headers.get("origin") else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| refuse())?;
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(refuse)?;
    if authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// The `Set-Cookie` value for a new session (or, with an empty token, its removal).
pub fn set_cookie(token: &str, secure: bool) -> String {
    let age = if token.is_empty() { "; Max-Age=0" } else { "" };
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{age}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn auth(lockout_after: u32) -> Auth {
        Auth::new(&HttpConfig {
            lockout_after,
            ..HttpConfig::default()
        })
    }

    fn op() -> OperatorRecord {
        OperatorRecord {
            badge: "017".into(),
            name: "K".into(),
            roles: vec![Role::Keeper],
            pin_hash: None,
        }
    }

    /// Same-host origins pass; other hosts, `null` and cross-site fetches do not.
    #[test]
    fn origin_must_be_this_host() {
        assert!(check_origin(&headers(&[("host", "st:8470")])).is_ok());
        assert!(
            check_origin(&headers(&[
                ("host", "st:8470"),
                ("origin", "https://st:8470")
            ]))
            .is_ok()
        );
        assert!(
            check_origin(&headers(&[
                ("host", "st:8470"),
                ("origin", "https://evil:8470")
            ]))
            .is_err()
        );
        assert!(check_origin(&headers(&[("host", "st:8470"), ("origin", "null")])).is_err());
        assert!(
            check_origin(&headers(&[
                ("host", "st"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_err()
        );
    }

    /// The cookie is HttpOnly and SameSite=Strict always, Secure when configured; logout
    /// expires it.
    #[test]
    fn cookie_attributes() {
        assert_eq!(
            set_cookie("abc", false),
            "returnsd_session=abc; HttpOnly; SameSite=Strict; Path=/"
        );
        assert!(set_cookie("abc", true).ends_with("; Secure"));
        assert!(set_cookie("", false).contains("Max-Age=0"));
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; returnsd_session=tok; b=2".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("tok"));
    }

    /// The Nth wrong PIN locks the badge; a success clears the count.
    #[test]
    fn lockout_after_n_failures() {
        let a = auth(3);
        assert!(!a.record_failure("017"));
        assert!(!a.record_failure("017"));
        assert!(a.locked_for("017").is_none());
        assert!(a.record_failure("017"));
        assert!(a.locked_for("017").is_some());
        assert!(a.locked_for("021").is_none());
        a.clear_failures("021");
        assert!(!a.record_failure("021"));
    }

    /// Bearer tokens work for any method; cookies need the CSRF token to mutate.
    #[test]
    fn cookie_mutations_need_csrf() {
        let a = auth(5);
        let s = a.open(&op(), None).unwrap();
        let cookie = format!("{COOKIE}={}", s.token);
        let bearer = format!("Bearer {}", s.token);
        assert!(
            a.authenticate(&headers(&[("cookie", &cookie)]), &Method::GET)
                .is_ok()
        );
        let e = a
            .authenticate(&headers(&[("cookie", &cookie)]), &Method::POST)
            .err()
            .unwrap();
        assert_eq!(e.code, "csrf");
        assert!(
            a.authenticate(
                &headers(&[("cookie", &cookie), ("x-csrf-token", &s.csrf)]),
                &Method::POST
            )
            .is_ok()
        );
        assert!(
            a.authenticate(&headers(&[("authorization", &bearer)]), &Method::POST)
                .is_ok()
        );
        let e = a
            .authenticate(&headers(&[("authorization", "Bearer nope")]), &Method::GET)
            .err()
            .unwrap();
        assert_eq!(e.code, "unauthorized");
    }

    /// An argon2id PHC string verifies its PIN and nothing else; no hash never verifies.
    #[test]
    fn pins_verify_against_phc_strings() {
        use argon2::password_hash::PasswordHasher;
        let params = argon2::Params::new(1024, 1, 1, None).unwrap();
        let a2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let h = a2.hash_password(b"2468").unwrap().to_string();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_pin("2468", Some(&h)));
        assert!(!verify_pin("2469", Some(&h)));
        assert!(!verify_pin("2468", Some("not a hash")));
        assert!(!verify_pin("2468", None));
    }
}
