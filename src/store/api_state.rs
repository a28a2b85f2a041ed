//! The operator API's station-local state: sessions, wrong-PIN lockouts and the answers
//! kept for `Idempotency-Key` (migration 4). None of it is a journal event: it is never
//! synced to the central and never exported.
//!
//! Written only by the engine (the single writer): sessions and lockouts through
//! [`AuthWrite`] inputs, idempotency records in the same transaction as the command they
//! answer. Read at start (sessions, lockouts) and by the engine (keys).
//!
//! Times are Unix milliseconds (wall clock: they must mean the same after a restart).
//! A session row holds the SHA-256 of its token and of its CSRF token, never either token.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::reader::Sql;
use super::{Read, StoreError};

/// One session as stored. No `Debug`: it holds token hashes.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: [u8; 32],
    pub badge: String,
    pub name: String,
    /// Role names, comma-separated.
    pub roles: String,
    pub lang: Option<String>,
    pub csrf_hash: [u8; 32],
    pub created_at: i64,
    pub last_seen: i64,
}

/// One badge's wrong-PIN record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutRow {
    pub badge: String,
    /// When each wrong PIN still inside the window was entered.
    pub failed_at: Vec<i64>,
    pub locked_until: Option<i64>,
    pub updated_at: i64,
}

/// A change to sessions or lockouts (an engine input).
#[derive(Clone)]
pub enum AuthWrite {
    OpenSession(SessionRow),
    CloseSession([u8; 32]),
    /// The session was used at this time.
    Touch([u8; 32], i64),
    Lockout(LockoutRow),
    ClearLockout(String),
}

impl std::fmt::Debug for AuthWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthWrite::OpenSession(s) => write!(f, "OpenSession({})", s.badge),
            AuthWrite::CloseSession(_) => f.write_str("CloseSession"),
            AuthWrite::Touch(_, at) => write!(f, "Touch({at})"),
            AuthWrite::Lockout(l) => write!(f, "Lockout({})", l.badge),
            AuthWrite::ClearLockout(b) => write!(f, "ClearLockout({b})"),
        }
    }
}

fn hash32(v: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|_| StoreError::decode(what, "not a 32-byte hash"))
}

/// Apply one change.
pub fn apply(conn: &Connection, w: &AuthWrite) -> Result<(), StoreError> {
    match w {
        AuthWrite::OpenSession(s) => {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO api_sessions
                 (token_hash, badge, name, roles, lang, csrf_hash, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                &s.token_hash[..],
                s.badge,
                s.name,
                s.roles,
                s.lang,
                &s.csrf_hash[..],
                s.created_at,
                s.last_seen
            ])?;
        }
        AuthWrite::CloseSession(h) => {
            conn.prepare_cached("DELETE FROM api_sessions WHERE token_hash = ?1")?
                .execute([&h[..]])?;
        }
        AuthWrite::Touch(h, at) => {
            conn.prepare_cached(
                "UPDATE api_sessions SET last_seen = MAX(last_seen, ?2) WHERE token_hash = ?1",
            )?
            .execute(params![&h[..], at])?;
        }
        AuthWrite::Lockout(l) => {
            let at = serde_json::to_string(&l.failed_at)
                .map_err(|e| StoreError::decode("api_lockouts.failed_at", e.to_string()))?;
            conn.prepare_cached(
                "INSERT OR REPLACE INTO api_lockouts(badge, failures, failed_at, locked_until, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                l.badge,
                l.failed_at.len() as i64,
                at,
                l.locked_until,
                l.updated_at
            ])?;
        }
        AuthWrite::ClearLockout(b) => {
            conn.prepare_cached("DELETE FROM api_lockouts WHERE badge = ?1")?
                .execute([b])?;
        }
    }
    Ok(())
}

/// The most recently used sessions, at most `max`, newest first.
pub fn load_sessions(db: &dyn Read, max: usize) -> Result<Vec<SessionRow>, StoreError> {
    let mut q = db.sql().prepare_cached(
        "SELECT token_hash, badge, name, roles, lang, csrf_hash, created_at, last_seen
         FROM api_sessions ORDER BY last_seen DESC LIMIT ?1",
    )?;
    let rows = q.query_map([max as i64], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Vec<u8>>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, i64>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (th, badge, name, roles, lang, ch, created_at, last_seen) = row?;
        out.push(SessionRow {
            token_hash: hash32(th, "api_sessions.token_hash")?,
            badge,
            name,
            roles,
            lang,
            csrf_hash: hash32(ch, "api_sessions.csrf_hash")?,
            created_at,
            last_seen,
        });
    }
    Ok(out)
}

/// Every badge's wrong-PIN record.
pub fn load_lockouts(db: &dyn Read) -> Result<Vec<LockoutRow>, StoreError> {
    let mut q = db
        .sql()
        .prepare_cached("SELECT badge, failed_at, locked_until, updated_at FROM api_lockouts")?;
    let rows = q.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (badge, at, locked_until, updated_at) = row?;
        let failed_at: Vec<i64> = serde_json::from_str(&at)
            .map_err(|e| StoreError::decode(format!("api_lockouts[{badge}]"), e.to_string()))?;
        out.push(LockoutRow {
            badge,
            failed_at,
            locked_until,
            updated_at,
        });
    }
    Ok(out)
}

/// Most kept Idempotency-Key answers: past this the oldest go first at housekeeping (a
/// flood of keys cannot grow the database without bound; a station makes a few thousand
/// keyed commands a day).
pub const MAX_KEPT_ANSWERS: i64 = 100_000;

/// Housekeeping: delete sessions unused for `idle_ms`, lockout records that neither lock
/// nor hold a failure younger than `window_ms`, and idempotency records older than
/// `keep_ms` or beyond the newest [`MAX_KEPT_ANSWERS`]. Answers how many rows went.
pub fn prune(
    conn: &Connection,
    now: i64,
    idle_ms: i64,
    window_ms: i64,
    keep_ms: i64,
) -> Result<usize, StoreError> {
    let mut n = conn.execute(
        "DELETE FROM api_sessions WHERE last_seen <= ?1",
        [now.saturating_sub(idle_ms)],
    )?;
    n += conn.execute(
        "DELETE FROM api_lockouts WHERE (locked_until IS NULL OR locked_until <= ?1)
         AND updated_at <= ?2",
        params![now, now.saturating_sub(window_ms)],
    )?;
    n += conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at <= ?1",
        [now.saturating_sub(keep_ms)],
    )?;
    n += prune_answers_over(conn, MAX_KEPT_ANSWERS)?;
    Ok(n)
}

/// Keep only the newest `max` Idempotency-Key answers.
fn prune_answers_over(conn: &Connection, max: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM idempotency_keys WHERE rowid IN (
             SELECT rowid FROM idempotency_keys ORDER BY created_at DESC, rowid DESC
             LIMIT -1 OFFSET ?1)",
        [max],
    )?)
}

/// A kept answer to an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptAnswer {
    pub fingerprint: [u8; 32],
    pub status: u16,
    pub body: Value,
    pub created_at: i64,
}

/// The answer kept for a badge's key, if any.
pub fn idem_get(
    conn: &Connection,
    badge: &str,
    key: &str,
) -> Result<Option<KeptAnswer>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT fingerprint, status, response, created_at FROM idempotency_keys
             WHERE badge = ?1 AND key = ?2",
        )?
        .query_row(params![badge, key], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .optional()?;
    let Some((fp, status, body, created_at)) = row else {
        return Ok(None);
    };
    let what = || format!("idempotency_keys[{badge}]");
    let body: Value =
        serde_json::from_str(&body).map_err(|e| StoreError::decode(what(), e.to_string()))?;
    let status = u16::try_from(status).map_err(|_| StoreError::decode(what(), "status"))?;
    Ok(Some(KeptAnswer {
        fingerprint: hash32(fp, "idempotency_keys.fingerprint")?,
        status,
        body,
        created_at,
    }))
}

/// Keep the answer to a badge's key (replacing an expired record of the same key).
pub fn idem_put(
    conn: &Connection,
    badge: &str,
    key: &str,
    answer: &KeptAnswer,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency_keys(badge, key, fingerprint, status, response, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        badge,
        key,
        &answer.fingerprint[..],
        i64::from(answer.status),
        answer.body.to_string(),
        answer.created_at
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, super::super::Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = super::super::Store::open(&dir.path().join("t.db"), "ST01").unwrap();
        (dir, s)
    }

    fn session(h: u8, last_seen: i64) -> SessionRow {
        SessionRow {
            token_hash: [h; 32],
            badge: "017".into(),
            name: "K".into(),
            roles: "keeper,supervisor".into(),
            lang: Some("zh-CN".into()),
            csrf_hash: [h ^ 0xff; 32],
            created_at: last_seen - 5,
            last_seen,
        }
    }

    /// Sessions are stored, touched (never backwards), closed, loaded newest first, and
    /// pruned once idle.
    #[test]
    fn sessions_round_trip_and_expire() {
        let (_d, s) = db();
        let c = s.conn();
        apply(c, &AuthWrite::OpenSession(session(1, 1_000))).unwrap();
        apply(c, &AuthWrite::OpenSession(session(2, 2_000))).unwrap();
        apply(c, &AuthWrite::OpenSession(session(3, 3_000))).unwrap();
        apply(c, &AuthWrite::Touch([1; 32], 5_000)).unwrap();
        apply(c, &AuthWrite::Touch([1; 32], 4_000)).unwrap();
        apply(c, &AuthWrite::CloseSession([3; 32])).unwrap();
        let all = load_sessions(c, 10).unwrap();
        assert_eq!(all.len(), 2);
        assert!(
            all[0] == {
                let mut s = session(1, 1_000);
                s.last_seen = 5_000;
                s
            }
        );
        assert!(all[1] == session(2, 2_000));
        assert_eq!(load_sessions(c, 1).unwrap().len(), 1);
        // Idle for 3 s at 5.5 s: session 2 (last seen at 2 s) goes, session 1 stays.
        assert_eq!(prune(c, 5_500, 3_000, 1, 1).unwrap(), 1);
        let left = load_sessions(c, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].token_hash, [1; 32]);
        // The token itself is nowhere in the table, only hashes.
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM api_sessions WHERE typeof(token_hash) = 'blob' AND length(token_hash) = 32", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert!(!format!("{:?}", AuthWrite::OpenSession(session(7, 1))).contains("7, 7"));
    }

    /// Lockout records round-trip, are replaced and cleared, and are pruned only when
    /// neither locked nor recent.
    #[test]
    fn lockouts_round_trip_and_prune() {
        let (_d, s) = db();
        let c = s.conn();
        let l = |b: &str, at: Vec<i64>, until: Option<i64>, upd: i64| LockoutRow {
            badge: b.into(),
            failed_at: at,
            locked_until: until,
            updated_at: upd,
        };
        apply(c, &AuthWrite::Lockout(l("017", vec![10], None, 10))).unwrap();
        apply(c, &AuthWrite::Lockout(l("017", vec![10, 20], None, 20))).unwrap();
        apply(c, &AuthWrite::Lockout(l("021", vec![], Some(10_000), 30))).unwrap();
        apply(c, &AuthWrite::Lockout(l("001", vec![40], None, 40))).unwrap();
        apply(c, &AuthWrite::ClearLockout("001".into())).unwrap();
        let mut all = load_lockouts(c).unwrap();
        all.sort_by(|a, b| a.badge.cmp(&b.badge));
        assert_eq!(
            all,
            vec![
                l("017", vec![10, 20], None, 20),
                l("021", vec![], Some(10_000), 30)
            ]
        );
        // At 1 s with a 0.5 s window: 017's failures are old and it is not locked; 021
        // is still locked.
        assert_eq!(prune(c, 1_000, 1, 500, 1_000_000).unwrap(), 1);
        assert_eq!(load_lockouts(c).unwrap()[0].badge, "021");
        // Once the lock has run out, it goes too.
        assert_eq!(prune(c, 10_001, 1, 500, 1_000_000).unwrap(), 1);
        assert!(load_lockouts(c).unwrap().is_empty());
    }

    /// A kept answer reads back as written, per badge and key; old ones are pruned.
    #[test]
    fn idempotency_records_round_trip_and_expire() {
        let (_d, s) = db();
        let c = s.conn();
        let a = KeptAnswer {
            fingerprint: [9; 32],
            status: 409,
            body: serde_json::json!({"error": "x", "message": "统一"}),
            created_at: 1_000,
        };
        idem_put(c, "017", "k1", &a).unwrap();
        assert_eq!(idem_get(c, "017", "k1").unwrap(), Some(a.clone()));
        assert_eq!(idem_get(c, "021", "k1").unwrap(), None);
        assert_eq!(idem_get(c, "017", "k2").unwrap(), None);
        let b = KeptAnswer {
            created_at: 5_000,
            ..a.clone()
        };
        idem_put(c, "017", "k2", &b).unwrap();
        assert_eq!(prune(c, 6_000, 1, 1, 2_000).unwrap(), 1);
        assert_eq!(idem_get(c, "017", "k1").unwrap(), None);
        assert_eq!(idem_get(c, "017", "k2").unwrap(), Some(b.clone()));
        // Past the cap the oldest answers go, whatever their age.
        for (i, key) in ["k3", "k4", "k5"].iter().enumerate() {
            let newer = KeptAnswer {
                created_at: 6_000 + i as i64,
                ..b.clone()
            };
            idem_put(c, "021", key, &newer).unwrap();
        }
        assert_eq!(prune_answers_over(c, 2).unwrap(), 2);
        assert_eq!(idem_get(c, "017", "k2").unwrap(), None);
        assert_eq!(idem_get(c, "021", "k3").unwrap(), None);
        assert!(idem_get(c, "021", "k4").unwrap().is_some());
        assert!(idem_get(c, "021", "k5").unwrap().is_some());
    }
}
