//! The reference data's tables: `feed_items` (versioned `(type, key)` items from the
//! central's feed and `manifest import`) and `rejected_feed_items` (what could not be
//! applied, with why). The rules — what an item must hold, when a version replaces another —
//! are the feed's (`crate::feed`); this file only reads and writes the rows.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::StoreError;
use super::codec::fmt_time;
use super::reader::{Read, Sql, Write};

/// An item's identity: `(type, key)` at `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemId<'a> {
    pub ty: &'a str,
    pub key: &'a str,
    pub version: i64,
}

/// A live item: stored and not deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub key: String,
    pub version: i64,
    pub data: Value,
}

/// The stored version of `(ty, key)`, deleted or not.
pub fn version(db: &dyn Read, ty: &str, key: &str) -> Result<Option<i64>, StoreError> {
    Ok(db
        .sql()
        .prepare_cached("SELECT version FROM feed_items WHERE type = ?1 AND key = ?2")?
        .query_row(params![ty, key], |r| r.get(0))
        .optional()?)
}

/// Store `id` with `data` (None: deleted), replacing whatever is stored.
pub fn upsert(
    w: &dyn Write,
    id: ItemId<'_>,
    data: Option<&Value>,
    source: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    w.sql().execute(
        "INSERT INTO feed_items(type, key, version, data, source, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(type, key) DO UPDATE SET version=excluded.version, data=excluded.data,
            source=excluded.source, updated_at=excluded.updated_at",
        params![
            id.ty,
            id.key,
            id.version,
            data.map(Value::to_string),
            source,
            fmt_time(now)
        ],
    )?;
    Ok(())
}

/// Record an item (or, without `id`, an unparseable line) that could not be applied; `raw`
/// is kept to its first 4,096 characters.
pub fn reject(
    w: &dyn Write,
    id: Option<ItemId<'_>>,
    reason: &str,
    source: &str,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let raw: String = raw.chars().take(4096).collect();
    w.sql().execute(
        "INSERT INTO rejected_feed_items(type, key, version, reason, source, raw, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id.map(|i| i.ty),
            id.map(|i| i.key),
            id.map(|i| i.version),
            reason,
            source,
            raw,
            fmt_time(now)
        ],
    )?;
    Ok(())
}

/// A rejected feed item (or manifest line) as operators read it: what it was, why it was
/// refused, where it came from (`central` or `file`) and when. Never its raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedItem {
    pub ty: Option<String>,
    pub key: Option<String>,
    pub version: Option<i64>,
    pub reason: String,
    pub source: String,
    pub at: String,
}

/// The `limit` most recently rejected items, newest first.
pub fn recent_rejected(db: &dyn Read, limit: i64) -> Result<Vec<RejectedItem>, StoreError> {
    let mut q = db.sql().prepare_cached(
        "SELECT type, key, version, reason, source, at FROM rejected_feed_items
         ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = q.query_map([limit], |r| {
        Ok(RejectedItem {
            ty: r.get(0)?,
            key: r.get(1)?,
            version: r.get(2)?,
            reason: r.get(3)?,
            source: r.get(4)?,
            at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The live data of an item, with its version: None when it is not stored, deleted, or its
/// data is not JSON.
pub fn get(db: &dyn Read, ty: &str, key: &str) -> Result<Option<(i64, Value)>, StoreError> {
    let row: Option<(i64, Option<String>)> = db
        .sql()
        .prepare_cached("SELECT version, data FROM feed_items WHERE type = ?1 AND key = ?2")?
        .query_row(params![ty, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((v, Some(d))) => serde_json::from_str(&d).ok().map(|d| (v, d)),
        _ => None,
    })
}

/// Every live item of a type, by key; items whose data is not JSON are left out.
pub fn live(db: &dyn Read, ty: &str) -> Result<Vec<FeedEntry>, StoreError> {
    let mut q = db.sql().prepare_cached(
        "SELECT key, version, data FROM feed_items
         WHERE type = ?1 AND data IS NOT NULL ORDER BY key",
    )?;
    let rows = q.query_map([ty], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, version, data) = row?;
        if let Ok(data) = serde_json::from_str(&data) {
            out.push(FeedEntry { key, version, data });
        }
    }
    Ok(out)
}
