//! Keys whose answers are kept: an `Idempotency-Key` of the API, a `request_id` of the
//! control socket. The answer is recorded in the same transaction as what the input
//! wrote, so a request sent again after its answer was lost is answered, never carried out
//! twice.

use chrono::{DateTime, Utc};

use super::types::{Kept, Reply};
use crate::store::StoreError;

/// How long an `Idempotency-Key`'s answer is kept.
pub const KEEP_MS: i64 = 24 * 3600 * 1000;

/// An `Idempotency-Key` sent with a command: the engine looks it up in `idempotency_keys`
/// before running the command and, when it runs it, records the answer (as `render` makes
/// it from the reply) in the same transaction as the command's events.
pub struct Keep {
    pub badge: String,
    pub key: String,
    pub fingerprint: [u8; 32],
    /// The caller's answer (HTTP status, JSON body) for a reply.
    pub render: Render,
}

impl Keep {
    /// Keys are 1 to 128 visible ASCII characters.
    pub fn valid_key(k: &str) -> bool {
        !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic())
    }

    /// What identifies "the same request": a digest of its parts (kept with the key, so
    /// a key reused for a different request is told apart).
    pub fn fingerprint(parts: &[&[u8]]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                h.update([0]);
            }
            h.update(p);
        }
        h.finalize().into()
    }
}

/// Makes the caller's answer (HTTP status, JSON body) from a reply.
pub type Render = Box<dyn FnOnce(&Reply) -> (u16, serde_json::Value) + Send>;

/// Record a keyed command's answer in the batch's transaction (nothing to do without a
/// key); an error fails the batch.
pub(super) fn keep_answer(
    conn: &rusqlite::Connection,
    keep: Option<Keep>,
    reply: &mut Reply,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(k) = keep else {
        return Ok(());
    };
    let (status, body) = (k.render)(reply);
    let answer = crate::store::api_state::KeptAnswer {
        fingerprint: k.fingerprint,
        status,
        body,
        created_at: now.timestamp_millis(),
    };
    crate::store::api_state::idem_put(conn, &k.badge, &k.key, &answer)?;
    reply.kept = Some(Kept::Recorded(answer.status, answer.body));
    Ok(())
}

/// The answer already kept for an input's key, if it has one (within [`KEEP_MS`]).
pub(super) fn kept_reply(
    conn: &rusqlite::Connection,
    keep: Option<&Keep>,
    now: DateTime<Utc>,
) -> Result<Option<Reply>, StoreError> {
    let Some(k) = keep else {
        return Ok(None);
    };
    Ok(
        match crate::store::api_state::idem_get(conn, &k.badge, &k.key)? {
            Some(a) if now.timestamp_millis() - a.created_at < KEEP_MS => {
                Some(Reply::kept(if a.fingerprint == k.fingerprint {
                    Kept::Replay(a.status, a.body)
                } else {
                    Kept::Mismatch
                }))
            }
            _ => None,
        },
    )
}
