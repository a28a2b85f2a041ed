//! Sessions and wrong-PIN records, held in memory and written through the engine (see
//! the module doc of `auth`): [`Auth`] opens, authenticates, expires and closes sessions
//! and counts wrong PINs toward a lockout; each change answers the [`AuthWrite`]s that
//! store it. The `*_at(now)` functions decide with the time passed in.
//!
//! Nothing here implements `Debug` over a token or a hash.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, Method, StatusCode};
use sha2::{Digest, Sha256};

use super::guard::{COOKIE, cookie, ct_eq, is_mutating};
use super::operator::OperatorRecord;
use super::pin::PIN_CHECKS;
use crate::config::HttpConfig;
use crate::domain::ids::Badge;
use crate::domain::kind::Role;
use crate::http::error::ApiError;
use crate::i18n::Lang;
use crate::store::api_state::{AuthWrite, LockoutRow, SessionRow};

/// Most sessions held at once; the least recently used goes first.
pub const MAX_SESSIONS: usize = 1024;
/// Most badges with failed-PIN history kept.
const MAX_FAILURE_RECORDS: usize = 4096;
/// A session's `last_seen` is written at most this often (see the module doc).
const TOUCH_EVERY_MS: i64 = 60_000;

/// Random bytes from the OS, hex-encoded.
fn random_hex() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| ApiError::internal())?;
    Ok(crate::format::hex_encode(&b))
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

struct Session {
    badge: Badge,
    name: String,
    roles: Vec<Role>,
    lang: Option<Lang>,
    csrf_hash: [u8; 32],
    created_at: i64,
    last_seen: i64,
    /// The `last_seen` last sent to the database.
    stored_seen: i64,
}

impl Session {
    fn row(&self, token_hash: [u8; 32]) -> SessionRow {
        SessionRow {
            token_hash,
            badge: self.badge.as_str().to_string(),
            name: self.name.clone(),
            roles: self
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
            lang: self.lang.map(|l| l.code().to_string()),
            csrf_hash: self.csrf_hash,
            created_at: self.created_at,
            last_seen: self.last_seen,
        }
    }

    fn from_row(r: &SessionRow) -> Option<Session> {
        let roles: Vec<Role> = r.roles.split(',').filter_map(Role::parse).collect();
        let lang = match r.lang.as_deref() {
            None => None,
            Some(l) if l.starts_with("zh") => Some(Lang::Zh),
            Some(_) => Some(Lang::En),
        };
        Some(Session {
            badge: Badge::parse(&r.badge).ok()?,
            name: r.name.clone(),
            roles,
            lang,
            csrf_hash: r.csrf_hash,
            created_at: r.created_at,
            last_seen: r.last_seen,
            stored_seen: r.last_seen,
        })
    }
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
    /// The session's use is due to be written (`last_seen`), at this time.
    touch: Option<i64>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("badge", &self.badge.as_str())
            .field("roles", &self.roles_text())
            .field("via_cookie", &self.via_cookie)
            .finish_non_exhaustive()
    }
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

    /// The database write that records this request as the session's use, when one is
    /// due (at most once a minute per session).
    pub fn touch(&self) -> Option<AuthWrite> {
        self.touch.map(|at| AuthWrite::Touch(self.token_hash, at))
    }
}

/// A fresh session as given to the client (the only time the token exists in clear), with
/// the database writes that store it (and drop the sessions it pushed out).
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub writes: Vec<AuthWrite>,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSession { .. }")
    }
}

#[derive(Default)]
struct Failures {
    at: Vec<i64>,
    locked_until: Option<i64>,
}

/// Sessions and failed-PIN records.
pub struct Auth {
    cfg: HttpConfig,
    /// Slots for PIN verifications (see [`PIN_CHECKS`]).
    pub pin_checks: tokio::sync::Semaphore,
    /// Held from computing a wrong-PIN record (or its clearing) until the engine has its
    /// write, so that the database gets them in the order they were made (a later row
    /// never overwritten by an earlier one, which could lift a lock at the next start).
    pub lockout_writes: tokio::sync::Mutex<()>,
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
            lockout_writes: tokio::sync::Mutex::new(()),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Sessions and wrong-PIN records as the database holds them (at start). Sessions
    /// already idle past the timeout are kept until used, to answer `session_expired`.
    pub fn restore(cfg: &HttpConfig, sessions: &[SessionRow], lockouts: &[LockoutRow]) -> Auth {
        let a = Auth::new(cfg);
        {
            let mut s = lock(&a.sessions);
            for r in sessions.iter().take(MAX_SESSIONS) {
                if let Some(v) = Session::from_row(r) {
                    s.insert(r.token_hash, v);
                }
            }
            let mut f = lock(&a.failures);
            for l in lockouts.iter().take(MAX_FAILURE_RECORDS) {
                f.insert(
                    l.badge.clone(),
                    Failures {
                        at: l.failed_at.clone(),
                        locked_until: l.locked_until,
                    },
                );
            }
        }
        a
    }

    pub fn idle_secs(&self) -> u64 {
        self.cfg.session_idle.as_secs()
    }

    fn idle_ms(&self) -> i64 {
        ms(self.cfg.session_idle)
    }

    /// Seconds left on a badge's lockout, if it is locked.
    pub fn locked_for(&self, badge: &str) -> Option<u64> {
        self.locked_for_at(badge, now_ms())
    }

    fn locked_for_at(&self, badge: &str, now: i64) -> Option<u64> {
        let f = lock(&self.failures);
        let until = f.get(badge)?.locked_until?;
        (until > now).then(|| ((until - now) / 1000).max(1) as u64)
    }

    /// Count a wrong PIN. Answers true when this one locked the badge, and the database
    /// writes that store the count (and drop the records a flood pushed out).
    pub fn record_failure(&self, badge: &str) -> (bool, Vec<AuthWrite>) {
        self.record_failure_at(badge, now_ms())
    }

    fn record_failure_at(&self, badge: &str, now: i64) -> (bool, Vec<AuthWrite>) {
        let mut writes = Vec::new();
        let window = ms(self.cfg.lockout_window);
        let mut all = lock(&self.failures);
        if all.len() >= MAX_FAILURE_RECORDS && !all.contains_key(badge) {
            all.retain(|k, f| {
                let keep = f.locked_until.is_some_and(|u| u > now)
                    || f.at.iter().any(|t| now - *t < window);
                if !keep {
                    writes.push(AuthWrite::ClearLockout(k.clone()));
                }
                keep
            });
            if all.len() >= MAX_FAILURE_RECORDS {
                // Under a flood of made-up badges: forget the oldest half rather than grow.
                let mut keys: Vec<(i64, String)> = all
                    .iter()
                    .map(|(k, f)| (f.at.last().copied().unwrap_or(now), k.clone()))
                    .collect();
                keys.sort();
                for (_, k) in keys.into_iter().take(MAX_FAILURE_RECORDS / 2) {
                    all.remove(&k);
                    writes.push(AuthWrite::ClearLockout(k));
                }
            }
        }
        let f = all.entry(badge.to_string()).or_default();
        f.at.retain(|t| now - *t < window);
        f.at.push(now);
        let mut locked = false;
        if f.at.len() >= self.cfg.lockout_after as usize {
            f.at.clear();
            f.locked_until = Some(now.saturating_add(ms(self.cfg.lockout_for)));
            locked = true;
        }
        writes.push(AuthWrite::Lockout(LockoutRow {
            badge: badge.to_string(),
            failed_at: f.at.clone(),
            locked_until: f.locked_until,
            updated_at: now,
        }));
        (locked, writes)
    }

    /// Forget a badge's wrong PINs (it logged in); answers the database write.
    pub fn clear_failures(&self, badge: &str) -> AuthWrite {
        lock(&self.failures).remove(badge);
        AuthWrite::ClearLockout(badge.to_string())
    }

    /// Badges locked now, with the seconds their lock has left, by badge.
    pub fn lockouts(&self) -> Vec<(String, u64)> {
        let now = now_ms();
        let mut v: Vec<(String, u64)> = lock(&self.failures)
            .iter()
            .filter_map(|(b, f)| {
                let until = f.locked_until.filter(|u| *u > now)?;
                Some((b.clone(), ((until - now) / 1000).max(1) as u64))
            })
            .collect();
        v.sort();
        v
    }

    pub fn lockout_minutes(&self) -> u64 {
        self.cfg.lockout_for.as_secs().div_ceil(60)
    }

    /// Open a session for a checked operator.
    pub fn open(&self, op: &OperatorRecord, lang: Option<Lang>) -> Result<NewSession, ApiError> {
        self.open_at(op, lang, now_ms())
    }

    fn open_at(
        &self,
        op: &OperatorRecord,
        lang: Option<Lang>,
        now: i64,
    ) -> Result<NewSession, ApiError> {
        let badge = Badge::parse(&op.badge).map_err(|_| ApiError::internal())?;
        let token = random_hex()?;
        let csrf = random_hex()?;
        let mut writes = Vec::new();
        let mut s = lock(&self.sessions);
        let idle = self.idle_ms();
        // Idle ones leave memory here; their rows go with the engine's housekeeping.
        s.retain(|_, v| now - v.last_seen < idle);
        if s.len() >= MAX_SESSIONS
            && let Some(k) = s.iter().min_by_key(|(_, v)| v.last_seen).map(|(k, _)| *k)
        {
            s.remove(&k);
            writes.push(AuthWrite::CloseSession(k));
        }
        let h = token_hash(&token);
        let session = Session {
            badge,
            name: op.name.clone(),
            roles: op.roles.clone(),
            lang,
            csrf_hash: token_hash(&csrf),
            created_at: now,
            last_seen: now,
            stored_seen: now,
        };
        writes.push(AuthWrite::OpenSession(session.row(h)));
        s.insert(h, session);
        Ok(NewSession {
            token,
            csrf,
            writes,
        })
    }

    /// The caller's session still exists and is not idle past its timeout (does not count
    /// as use).
    pub fn alive(&self, caller: &Caller) -> bool {
        let now = now_ms();
        lock(&self.sessions)
            .get(&caller.token_hash)
            .is_some_and(|s| now - s.last_seen < self.idle_ms())
    }

    /// The database write that ends the caller's session (store it, then [`Auth::close`]).
    pub fn close_write(&self, caller: &Caller) -> AuthWrite {
        AuthWrite::CloseSession(caller.token_hash)
    }

    /// End every session of these badges (an operator removed, or their roles or PIN
    /// changed); answers the writes that delete their rows.
    pub fn end_sessions_of(&self, badges: &[String]) -> Vec<AuthWrite> {
        let mut writes = Vec::new();
        lock(&self.sessions).retain(|hash, s| {
            let end = badges.iter().any(|b| b == s.badge.as_str());
            if end {
                writes.push(AuthWrite::CloseSession(*hash));
            }
            !end
        });
        writes
    }

    /// Drop a session just opened (its row could not be stored).
    pub fn forget(&self, token: &str) {
        lock(&self.sessions).remove(&token_hash(token));
    }

    /// End the caller's session.
    pub fn close(&self, caller: &Caller) {
        lock(&self.sessions).remove(&caller.token_hash);
    }

    /// The caller of a request: bearer token first, else the session cookie. A mutating
    /// request authenticated by the cookie must carry the session's CSRF token.
    pub fn authenticate(&self, headers: &HeaderMap, method: &Method) -> Result<Caller, ApiError> {
        self.authenticate_at(headers, method, now_ms())
    }

    fn authenticate_at(
        &self,
        headers: &HeaderMap,
        method: &Method,
        now: i64,
    ) -> Result<Caller, ApiError> {
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
        let idle = self.idle_ms();
        let mut sessions = lock(&self.sessions);
        let Some(s) = sessions.get_mut(&h) else {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized"));
        };
        if now - s.last_seen >= idle {
            sessions.remove(&h);
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "session_expired"));
        }
        if via_cookie && is_mutating(method) {
            let given = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !ct_eq(&token_hash(given), &s.csrf_hash) {
                return Err(ApiError::new(StatusCode::FORBIDDEN, "csrf"));
            }
        }
        s.last_seen = s.last_seen.max(now);
        let touch = (s.last_seen - s.stored_seen >= TOUCH_EVERY_MS.min(idle / 2)).then(|| {
            s.stored_seen = s.last_seen;
            s.last_seen
        });
        Ok(Caller {
            badge: s.badge.clone(),
            name: s.name.clone(),
            roles: s.roles.clone(),
            lang: s.lang,
            via_cookie,
            token_hash: h,
            touch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::guard::tests::headers;

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

    /// The Nth wrong PIN locks the badge; a success clears the count.
    #[test]
    fn lockout_after_n_failures() {
        let a = auth(3);
        assert!(!a.record_failure("017").0);
        assert!(!a.record_failure("017").0);
        assert!(a.locked_for("017").is_none());
        assert!(a.record_failure("017").0);
        assert!(a.locked_for("017").is_some());
        assert!(a.locked_for("021").is_none());
        a.clear_failures("021");
        assert!(!a.record_failure("021").0);
    }

    /// Store `writes` in a fresh station database and restore an `Auth` from it, as the
    /// daemon does at start.
    fn through_db(cfg: &HttpConfig, writes: &[AuthWrite]) -> Auth {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db"), "ST01").unwrap();
        for w in writes {
            crate::store::api_state::apply(store.conn(), w).unwrap();
        }
        let sessions = crate::store::api_state::load_sessions(store.conn(), MAX_SESSIONS).unwrap();
        let lockouts = crate::store::api_state::load_lockouts(store.conn()).unwrap();
        Auth::restore(cfg, &sessions, &lockouts)
    }

    /// A session stored at login and restored after a restart still authenticates by
    /// bearer and by cookie, with its CSRF token (kept only as a hash), operator and
    /// language; once idle past the timeout (counted across the restart) it is refused.
    #[test]
    fn sessions_survive_a_restore() {
        let cfg = HttpConfig::default();
        let idle = ms(cfg.session_idle);
        let a = Auth::new(&cfg);
        let t0 = 1_700_000_000_000;
        let s = a.open_at(&op(), Some(Lang::Zh), t0).unwrap();
        assert_eq!(s.writes.len(), 1);
        let AuthWrite::OpenSession(row) = &s.writes[0] else {
            panic!("expected the session's row")
        };
        assert_eq!(row.token_hash, token_hash(&s.token));
        assert_ne!(row.csrf_hash, [0; 32]);
        assert!(!format!("{:?}", s.writes).contains(&s.token));
        let b = through_db(&cfg, &s.writes);
        let cookie = format!("{COOKIE}={}", s.token);
        let bearer = format!("Bearer {}", s.token);
        let c = b
            .authenticate_at(
                &headers(&[("authorization", &bearer)]),
                &Method::POST,
                t0 + 1,
            )
            .unwrap();
        assert_eq!(
            (c.badge.as_str(), c.lang, c.roles_text().as_str()),
            ("017", Some(Lang::Zh), "keeper")
        );
        assert!(!format!("{c:?}").contains(&s.token));
        let csrf_ok = headers(&[("cookie", &cookie), ("x-csrf-token", &s.csrf)]);
        assert!(b.authenticate_at(&csrf_ok, &Method::POST, t0 + 2).is_ok());
        let csrf_bad = headers(&[("cookie", &cookie), ("x-csrf-token", "nope")]);
        let e = b
            .authenticate_at(&csrf_bad, &Method::POST, t0 + 3)
            .err()
            .unwrap();
        assert_eq!(e.code, "csrf");
        // The stored rows know only the login at t0 (uses under a minute apart are not
        // written): after a restore, the session is idle from t0.
        let b = through_db(&cfg, &s.writes);
        let e = b
            .authenticate_at(
                &headers(&[("authorization", &bearer)]),
                &Method::GET,
                t0 + idle,
            )
            .err()
            .unwrap();
        assert_eq!(e.code, "session_expired");
        // Logged out: the row is gone and so is the session after a restore.
        let mut writes = s.writes.clone();
        writes.push(a.close_write(&c));
        let b = through_db(&cfg, &writes);
        let e = b
            .authenticate_at(
                &headers(&[("authorization", &bearer)]),
                &Method::GET,
                t0 + 5,
            )
            .err()
            .unwrap();
        assert_eq!(e.code, "unauthorized");
    }

    /// Use is written at most once a minute per session (every half timeout when that is
    /// shorter), and a stored use moves the idle expiry after a restore.
    #[test]
    fn use_is_stored_at_most_once_a_minute() {
        let cfg = HttpConfig::default();
        let a = Auth::new(&cfg);
        let t0 = 1_700_000_000_000;
        let s = a.open_at(&op(), None, t0).unwrap();
        let h = headers(&[("authorization", &format!("Bearer {}", s.token))]);
        let touch = |t: i64| a.authenticate_at(&h, &Method::GET, t).unwrap().touch();
        assert!(touch(t0 + 1_000).is_none());
        assert!(touch(t0 + 59_999).is_none());
        let w = touch(t0 + 60_000).expect("a minute later, one write");
        assert!(matches!(w, AuthWrite::Touch(_, at) if at == t0 + 60_000));
        assert!(touch(t0 + 61_000).is_none());
        assert!(touch(t0 + 119_999).is_none());
        assert!(touch(t0 + 120_000).is_some());
        // After a restore, the stored use counts: idle from t0 + 60 s, not from t0.
        let idle = ms(cfg.session_idle);
        let b = through_db(&cfg, &[s.writes[0].clone(), w]);
        assert!(
            b.authenticate_at(&h, &Method::GET, t0 + idle + 1_000)
                .is_ok()
        );
        // A short timeout writes every half timeout.
        let short = HttpConfig {
            session_idle: std::time::Duration::from_secs(10),
            ..HttpConfig::default()
        };
        let a = Auth::new(&short);
        let s = a.open_at(&op(), None, t0).unwrap();
        let h = headers(&[("authorization", &format!("Bearer {}", s.token))]);
        assert!(
            a.authenticate_at(&h, &Method::GET, t0 + 4_999)
                .unwrap()
                .touch()
                .is_none()
        );
        assert!(
            a.authenticate_at(&h, &Method::GET, t0 + 5_000)
                .unwrap()
                .touch()
                .is_some()
        );
    }

    /// The wrong-PIN count and the lock are stored: a restore neither resets the count
    /// nor lifts the lock early; a login clears them.
    #[test]
    fn lockouts_survive_a_restore() {
        let cfg = HttpConfig {
            lockout_after: 3,
            ..HttpConfig::default()
        };
        let a = Auth::new(&cfg);
        let t0 = 1_700_000_000_000;
        let mut writes = Vec::new();
        for i in 0..2 {
            let (locked, w) = a.record_failure_at("017", t0 + i);
            assert!(!locked);
            writes.extend(w);
        }
        let b = through_db(&cfg, &writes);
        let (locked, w) = b.record_failure_at("017", t0 + 2);
        assert!(locked, "the third wrong PIN after a restore locks");
        writes.extend(w);
        let lock_ms = ms(cfg.lockout_for);
        let c = through_db(&cfg, &writes);
        assert_eq!(
            c.locked_for_at("017", t0 + 2),
            Some((lock_ms / 1000) as u64)
        );
        assert!(c.locked_for_at("017", t0 + 2 + lock_ms - 1_000).is_some());
        assert!(c.locked_for_at("017", t0 + 2 + lock_ms).is_none());
        writes.push(c.clear_failures("017"));
        let d = through_db(&cfg, &writes);
        assert!(d.locked_for_at("017", t0 + 3).is_none());
        assert!(!d.record_failure_at("017", t0 + 4).0);
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
}
