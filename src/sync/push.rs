//! The push worker: sends the journal to the central in contiguous batches (≤ 1,000 events,
//! ≤ 1 MiB of JSON, gzip), one request in flight, and records `acked_through` through the
//! engine. It never drops an unacknowledged event: every failure is retried — with capped
//! exponential backoff and full jitter for transient ones, slowly and with an alarm for the
//! ones an operator must fix — except a `seq_conflict`, which stops pushing and alarms.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::client::describe;
use super::retry::delay;
use super::{ClockReading, PushState, SharedStatus, update};
use crate::config::Config;
use crate::engine::EngineHandle;
use crate::store::{self, JournalRow, codec};

/// What one POST ended in.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// 200: the central holds everything through this seq; its clock read `server_time`.
    Acked {
        through: i64,
        server_time: Option<String>,
    },
    /// 409, not a conflict: resend from `acked_through + 1`.
    Gap {
        acked_through: i64,
    },
    /// 409 `seq_conflict`: the central holds a different event for a seq.
    Conflict {
        acked_through: Option<i64>,
        detail: String,
    },
    TooLarge,
    Auth(u16),
    Rejected(u16, String),
    /// 5xx, timeouts, resets, TLS and connection errors.
    Transient(String),
}

/// Classify a response per the contract.
pub fn classify(status: u16, body: &str) -> Outcome {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let acked = v.get("acked_through").and_then(Value::as_i64);
    match status {
        200 => match acked {
            Some(n) => Outcome::Acked {
                through: n,
                server_time: v
                    .get("server_time")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
            None => Outcome::Transient(format!("200 without acked_through: {}", snippet(body))),
        },
        409 => {
            let err = v.get("error").and_then(Value::as_str).unwrap_or("");
            if err == "seq_conflict" {
                Outcome::Conflict {
                    acked_through: acked,
                    detail: snippet(body),
                }
            } else {
                match acked {
                    Some(n) => Outcome::Gap { acked_through: n },
                    None => Outcome::Rejected(409, snippet(body)),
                }
            }
        }
        413 => Outcome::TooLarge,
        401 | 403 => Outcome::Auth(status),
        400..=499 => Outcome::Rejected(status, snippet(body)),
        _ => Outcome::Transient(format!("HTTP {status}: {}", snippet(body))),
    }
}

fn snippet(s: &str) -> String {
    s.chars().take(300).collect()
}

/// Build a batch body from rows, stopping before `max_bytes` of JSON (at least one event).
/// Written straight into the buffer: the stored `data` is already JSON, so it is copied
/// (after a cheap well-formedness check) instead of being parsed and printed again.
pub fn batch_body(
    station_id: &str,
    epoch: &str,
    rows: &[JournalRow],
    max_bytes: usize,
) -> (Vec<u8>, usize) {
    fn string(out: &mut Vec<u8>, s: &str) {
        // Serializing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
    let mut out = Vec::with_capacity(rows.len() * 320 + 256);
    out.extend_from_slice(b"{\"station_id\":");
    string(&mut out, station_id);
    out.extend_from_slice(b",\"epoch\":");
    string(&mut out, epoch);
    out.extend_from_slice(b",\"sent_at\":");
    string(&mut out, &codec::fmt_time(Utc::now()));
    out.extend_from_slice(b",\"events\":[");
    let mut n = 0;
    for row in rows {
        let mark = out.len();
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"seq\":");
        out.extend_from_slice(row.seq.to_string().as_bytes());
        out.extend_from_slice(b",\"id\":");
        string(&mut out, &row.id);
        out.extend_from_slice(b",\"type\":");
        string(&mut out, &row.ty);
        out.extend_from_slice(b",\"occurred_at\":");
        string(&mut out, &row.occurred_at);
        out.extend_from_slice(b",\"actor\":");
        string(&mut out, &row.actor);
        out.extend_from_slice(b",\"return_id\":");
        match &row.return_id {
            Some(r) => string(&mut out, r),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"data\":");
        if serde_json::from_str::<serde::de::IgnoredAny>(&row.data).is_ok() {
            out.extend_from_slice(row.data.as_bytes());
        } else {
            tracing::error!(seq = row.seq, "journal data is not JSON; sent as null");
            out.extend_from_slice(b"null");
        }
        out.push(b'}');
        if n > 0 && out.len() + 2 > max_bytes {
            out.truncate(mark);
            break;
        }
        n += 1;
    }
    out.extend_from_slice(b"]}");
    (out, n)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// The photos an event references (`data.photos[].sha256`).
fn photos_of(row: &JournalRow) -> Vec<String> {
    if !row.data.contains("\"photos\"") {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
    v.get("photos")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("sha256").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Run the push worker until `shutdown`.
pub async fn run(
    cfg: Arc<Config>,
    engine: EngineHandle,
    status: SharedStatus,
    network_up: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = super::settings::WorkerSettings::from_config(&cfg);
    let Some(central) = super::connect(&settings, |e| update(&status, |s| s.push.cannot_start(e)))
    else {
        return;
    };
    let (base, token, client) = (central.base_url, central.token, central.http);
    let url = format!("{base}/v1/stations/{}/events", cfg.station.as_str());
    let blob_base = format!("{base}/v1/stations/{}/blobs", cfg.station.as_str());
    let db = cfg.database.clone();
    let mut reader = match store::open_reader(&db) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "sync push cannot open the database");
            return;
        }
    };
    let epoch = engine.epoch.to_string();
    let mut events = engine.events.subscribe();
    let mut limit = cfg.sync.batch_max_events;
    let mut ceiling = limit;
    let mut attempt: u32 = 0;
    // Set by every failure; the next success tells the other workers the network is back.
    let mut failing = false;
    // Where the next batch starts; the durable cursor only moves forward, but after a
    // partial ack or a gap the central may ask for events again.
    let mut next: Option<i64> = None;
    update(&status, |s| {
        s.push.state = PushState::Idle;
        s.push.batch_limit = limit;
    });
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Read the next batch in a short read transaction, off the async threads.
        let conn = reader.take();
        let from = next;
        let max = limit as i64;
        let read = tokio::task::spawn_blocking(move || {
            let r = (|| {
                let conn = conn.as_ref().ok_or("no reader")?;
                let start = match from {
                    Some(n) => n - 1,
                    None => store::acked_through(conn).map_err(|e| e.to_string())?,
                };
                let rows = store::journal_after(conn, start, max).map_err(|e| e.to_string())?;
                Ok::<_, String>((start, rows))
            })();
            (conn, r)
        })
        .await;
        let (conn, r) = match read {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "push reader task failed");
                return;
            }
        };
        reader = conn;
        let (start, rows) = match r {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "push cannot read the journal");
                wait(Duration::from_secs(5), &network_up, &mut shutdown).await;
                continue;
            }
        };
        if next.is_none() {
            next = Some(start + 1);
        }
        if let Some(first) = rows.first()
            && first.seq > start + 1
        {
            // The central wants events the station pruned after it acknowledged them.
            handle_failure(
                Outcome::Conflict {
                    acked_through: Some(start),
                    detail: format!(
                        "the central asks for seq {} but the station pruned through {} after the central had acknowledged them",
                        start + 1,
                        first.seq - 1
                    ),
                },
                &status,
                &cfg,
                attempt,
                &network_up,
                &mut shutdown,
            )
            .await;
            return;
        }
        if rows.is_empty() {
            update(&status, |s| {
                if s.push.state != PushState::Conflict {
                    s.push.state = PushState::Idle;
                }
            });
            tokio::select! {
                _ = events.recv() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        let (body, n) = batch_body(
            cfg.station.as_str(),
            &epoch,
            &rows,
            cfg.sync.batch_max_bytes,
        );
        let sent = &rows[..n];
        let token_value = match token.read() {
            Ok(t) => t,
            Err(e) => {
                failing = true;
                fail(&status, PushState::AuthFailed, &e, cfg.sync.slow_retry);
                tracing::error!(error = %e, "station token unreadable; events kept");
                wait(cfg.sync.slow_retry, &network_up, &mut shutdown).await;
                continue;
            }
        };
        // Photos first: the central must hold every blob an event references.
        if let Err(outcome) = upload_blobs(&client, &blob_base, &token_value, &cfg, sent).await {
            attempt =
                handle_failure(outcome, &status, &cfg, attempt, &network_up, &mut shutdown).await;
            continue;
        }
        update(&status, |s| s.push.state = PushState::Sending);
        let started = Instant::now();
        let sent_at = Utc::now();
        let resp = client
            .post(&url)
            .bearer_auth(&token_value)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzip(&body))
            .send()
            .await;
        let outcome = match resp {
            Ok(r) => {
                let code = r.status().as_u16();
                match r.text().await {
                    Ok(t) => classify(code, &t),
                    Err(e) => Outcome::Transient(format!("reading the answer: {e}")),
                }
            }
            Err(e) => Outcome::Transient(describe(&e)),
        };
        match outcome {
            Outcome::Acked {
                through,
                server_time,
            } => {
                let last_sent = sent.last().map(|r| r.seq).unwrap_or(0);
                if let Err(e) = engine.ack(through).await {
                    tracing::error!(error = %e, "cannot record the ack; will resend");
                    fail(&status, PushState::Backoff, &e, cfg.sync.backoff_cap);
                    wait(
                        delay(attempt, cfg.sync.backoff_cap, super::os_jitter()),
                        &network_up,
                        &mut shutdown,
                    )
                    .await;
                    attempt = attempt.saturating_add(1);
                    continue;
                }
                if through < last_sent {
                    tracing::info!(through, last_sent, "partial ack; resending the rest");
                }
                next = Some(through.max(start) + 1);
                attempt = 0;
                let rtt = started.elapsed();
                let limit_ms = cfg.sync.clock_offset_limit.as_millis() as i64;
                let clock = server_time
                    .and_then(|t| codec::parse_time(&t).ok())
                    .map(|t| ClockReading::measure(t, sent_at, rtt, cfg.sync.clock_offset_limit));
                if let Some(c) = clock
                    && c.alarm
                {
                    tracing::warn!(
                        offset_ms = c.offset_ms,
                        limit_ms,
                        "station clock differs from the central's"
                    );
                }
                // After a 413 the batch grows back, doubling per success, but never again to
                // a size the central refused (until restart).
                limit = (limit * 2).min(ceiling);
                update(&status, |s| {
                    s.push.state = PushState::Idle;
                    s.push.last_success = Some(Utc::now());
                    s.push.next_retry = None;
                    s.push.batch_limit = limit;
                    if clock.is_some() {
                        s.clock = clock;
                    }
                });
                if std::mem::take(&mut failing) {
                    network_up.notify_waiters();
                }
            }
            Outcome::Gap { acked_through } => {
                tracing::warn!(acked_through, "central reports a gap; resending from there");
                if let Err(e) = engine.ack(acked_through).await {
                    tracing::warn!(error = %e, "gap ack not recorded");
                }
                next = Some(acked_through + 1);
                attempt = 0;
            }
            Outcome::TooLarge if n <= 1 => {
                // Nothing left to halve: the central refuses one event. Alarm, keep it,
                // retry slowly (the central's limit may be raised).
                failing = true;
                let seq = sent.first().map(|r| r.seq).unwrap_or(0);
                attempt = handle_failure(
                    Outcome::Rejected(
                        413,
                        format!("the central refuses event seq {seq} alone as too large"),
                    ),
                    &status,
                    &cfg,
                    attempt,
                    &network_up,
                    &mut shutdown,
                )
                .await;
            }
            Outcome::TooLarge => {
                ceiling = n.saturating_sub(1).max(1);
                limit = (n / 2).max(1);
                tracing::warn!(limit, "central answered 413; halving the batch");
                update(&status, |s| s.push.batch_limit = limit);
            }
            other => {
                attempt =
                    handle_failure(other, &status, &cfg, attempt, &network_up, &mut shutdown).await;
            }
        }
    }
}

async fn upload_blobs(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    cfg: &Config,
    rows: &[JournalRow],
) -> Result<(), Outcome> {
    for row in rows {
        for sha in photos_of(row) {
            let Some((bytes, content_type)) = crate::photos::read(&cfg.state_dir, &sha)
                .map_err(|e| Outcome::Rejected(0, format!("photo {sha}: {e}")))?
            else {
                return Err(Outcome::Rejected(
                    0,
                    format!(
                        "photo {sha} referenced by seq {} is missing from the photo store",
                        row.seq
                    ),
                ));
            };
            let resp = client
                .put(format!("{base}/{sha}"))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(bytes)
                .send()
                .await
                .map_err(|e| Outcome::Transient(describe(&e)))?;
            match resp.status().as_u16() {
                200 | 201 => {}
                409 => {
                    return Err(Outcome::Rejected(
                        409,
                        format!(
                            "central says photo {sha} does not match its hash; the station's copy may be damaged"
                        ),
                    ));
                }
                code => {
                    let body = resp.text().await.unwrap_or_default();
                    return Err(classify(code, &body));
                }
            }
        }
    }
    Ok(())
}

fn fail(status: &SharedStatus, state: PushState, error: &str, retry_in: Duration) {
    let next = Utc::now() + chrono::Duration::from_std(retry_in).unwrap_or_default();
    update(status, |s| {
        s.push.state = state;
        s.push.last_error = Some(error.to_string());
        s.push.last_error_at = Some(Utc::now());
        s.push.next_retry = Some(next);
    });
}

/// Alarm and wait as the failure calls for; returns the next attempt number.
async fn handle_failure(
    outcome: Outcome,
    status: &SharedStatus,
    cfg: &Config,
    attempt: u32,
    network_up: &Notify,
    shutdown: &mut watch::Receiver<bool>,
) -> u32 {
    match outcome {
        Outcome::Transient(e) => {
            let d = delay(attempt, cfg.sync.backoff_cap, super::os_jitter());
            tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "push failed; retrying");
            fail(status, PushState::Backoff, &e, d);
            wait(d, network_up, shutdown).await;
            attempt.saturating_add(1)
        }
        Outcome::Auth(code) => {
            let e = format!(
                "HTTP {code}: the central refused the station token (events kept; fix the token file, it is re-read)"
            );
            tracing::error!(error = %e, "push refused");
            fail(status, PushState::AuthFailed, &e, cfg.sync.slow_retry);
            wait(cfg.sync.slow_retry, network_up, shutdown).await;
            0
        }
        Outcome::Rejected(code, body) => {
            let e = format!("HTTP {code}: {body} (events kept)");
            tracing::error!(error = %e, "push rejected");
            fail(status, PushState::Rejected, &e, cfg.sync.slow_retry);
            wait(cfg.sync.slow_retry, network_up, shutdown).await;
            0
        }
        Outcome::Conflict {
            acked_through,
            detail,
        } => {
            let e = format!(
                "seq_conflict: the central holds a different event for a seq after {acked_through:?} ({detail}); pushing stopped, every event kept — a supervisor must reconcile with the central"
            );
            tracing::error!(error = %e, "push stopped");
            update(status, |s| {
                s.push.state = PushState::Conflict;
                s.push.last_error = Some(e.clone());
                s.push.last_error_at = Some(Utc::now());
                s.push.next_retry = None;
            });
            // Stopped until restart: wait for shutdown only.
            let _ = shutdown.changed().await;
            0
        }
        Outcome::Acked { .. } | Outcome::Gap { .. } | Outcome::TooLarge => attempt,
    }
}

/// Sleep for `d`, cut short when connectivity returns or the daemon stops.
async fn wait(d: Duration, network_up: &Notify, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = network_up.notified() => {}
        _ = shutdown.changed() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract's answers map to the right reaction.
    #[test]
    fn classifies_the_contract_answers() {
        assert_eq!(
            classify(
                200,
                r#"{"acked_through":7,"server_time":"2026-11-25T08:30:00.123Z"}"#
            ),
            Outcome::Acked {
                through: 7,
                server_time: Some("2026-11-25T08:30:00.123Z".into())
            }
        );
        assert_eq!(
            classify(409, r#"{"acked_through":3,"error":"gap"}"#),
            Outcome::Gap { acked_through: 3 }
        );
        assert!(matches!(
            classify(409, r#"{"acked_through":3,"error":"seq_conflict"}"#),
            Outcome::Conflict {
                acked_through: Some(3),
                ..
            }
        ));
        assert_eq!(classify(413, ""), Outcome::TooLarge);
        assert_eq!(classify(401, ""), Outcome::Auth(401));
        assert_eq!(classify(403, ""), Outcome::Auth(403));
        assert!(matches!(classify(422, "x"), Outcome::Rejected(422, _)));
        assert!(matches!(classify(503, "x"), Outcome::Transient(_)));
        assert!(matches!(classify(200, "not json"), Outcome::Transient(_)));
    }

    fn row(seq: i64, data: &str) -> JournalRow {
        JournalRow {
            seq,
            id: format!("id-{seq}"),
            ty: "scan.recorded".into(),
            occurred_at: "2026-11-25T08:30:00.123Z".into(),
            actor: "system".into(),
            return_id: None,
            data: data.into(),
        }
    }

    /// The hand-written body is exactly the contract's JSON of each row, escapes included.
    #[test]
    fn body_is_the_contract_json() {
        let mut r = row(7, r#"{"code":"a\"b","n":[1,2]}"#);
        r.actor = "keeper:\"017\"\n".into();
        r.return_id = Some("R-ST01-20261125-0001".into());
        let rows = vec![r.clone(), row(8, "not json")];
        let (body, n) = batch_body("ST01", "e", &rows, 1 << 20);
        assert_eq!(n, 2);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["station_id"], "ST01");
        assert_eq!(v["epoch"], "e");
        assert_eq!(v["events"][0], r.to_json());
        assert_eq!(
            v["events"][1]["data"],
            Value::Null,
            "corrupt data is sent as null"
        );
    }

    /// A batch stops before the byte cap but always carries at least one event.
    #[test]
    fn batches_respect_the_byte_cap() {
        let big = format!(r#"{{"code":"{}"}}"#, "x".repeat(3000));
        let rows: Vec<JournalRow> = (1..=10).map(|i| row(i, &big)).collect();
        let (body, n) = batch_body("ST01", "e", &rows, 8192);
        assert!((1..10).contains(&n), "{n}");
        assert!(body.len() <= 8192 + 1024);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["events"].as_array().unwrap().len(), n);
        assert_eq!(v["events"][0]["seq"], 1);
        let (_, one) = batch_body("ST01", "e", &rows[..1], 100);
        assert_eq!(one, 1, "one oversized event still goes alone");
    }
}
