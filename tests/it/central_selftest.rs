//! Self-tests of the test doubles: the central double answers the station ⇄ central sync
//! contract (`shared/spec/central-sync.md`) and the fault proxy injects what it says.
//! They talk plain HTTP/1.1 to loopback with reqwest.

use std::io::Write;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::kit::central::{
    Central, CentralOptions, MAX_BATCH_BYTES, contract_time, is_contract_time, sha256_hex,
};
use crate::kit::poll::poll_async;
use crate::proxy::{Action, FaultMode, FaultProxy};

const TOKEN: &str = "station-token";

fn central() -> Central {
    Central::start(CentralOptions::default())
}

/// A reqwest client for `http://` (a TLS provider is named explicitly so nothing is
/// installed process-wide).
fn client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("rustls protocol versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

/// A station journal: one epoch and the ids of its events.
struct Journal {
    epoch: String,
    ids: Vec<String>,
}

impl Journal {
    fn new(n: usize) -> Journal {
        Journal {
            epoch: uuid::Uuid::new_v4().to_string(),
            ids: (0..n).map(|_| uuid::Uuid::now_v7().to_string()).collect(),
        }
    }

    fn event(&self, seq: i64) -> Value {
        json!({
            "seq": seq,
            "id": self.ids[seq as usize - 1],
            "type": "return.received",
            "occurred_at": "2026-11-25T08:30:00.123Z",
            "actor": "keeper:017",
            "return_id": format!("R-ST01-20261125-{seq:04}"),
            "data": { "waybill": format!("SF{seq:013}"), "unknown_field": [1, 2] },
        })
    }

    fn batch_of(&self, events: Vec<Value>) -> Value {
        json!({
            "station_id": "ST01",
            "epoch": self.epoch,
            "sent_at": contract_time(chrono::Utc::now()),
            "events": events,
        })
    }

    fn batch(&self, seqs: RangeInclusive<i64>) -> Value {
        self.batch_of(seqs.map(|s| self.event(s)).collect())
    }
}

async fn answer(r: reqwest::Response) -> reqwest::Result<(u16, Value)> {
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// POST a push body; `Err` for transport errors.
async fn try_push(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    body: &Value,
) -> reqwest::Result<(u16, Value)> {
    let r = c
        .post(format!("{base}/v1/stations/ST01/events"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("serialize batch"))
        .send()
        .await?;
    answer(r).await
}

async fn push(c: &reqwest::Client, base: &str, body: &Value) -> (u16, Value) {
    try_push(c, base, TOKEN, body).await.expect("push")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip finish")
}

async fn push_gzip(c: &reqwest::Client, base: &str, body: &[u8]) -> (u16, Value) {
    let r = c
        .post(format!("{base}/v1/stations/ST01/events"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(body))
        .send()
        .await
        .expect("gzip push");
    answer(r).await.expect("gzip push answer")
}

async fn put_blob(
    c: &reqwest::Client,
    base: &str,
    sha: &str,
    content_type: &str,
    bytes: &[u8],
) -> (u16, Value) {
    let r = c
        .put(format!("{base}/v1/stations/ST01/blobs/{sha}"))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("blob put");
    answer(r).await.expect("blob put answer")
}

async fn feed(c: &reqwest::Client, base: &str, query: &str, token: &str) -> (u16, Value) {
    let r = c
        .get(format!("{base}/v1/stations/ST01/feed{query}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("feed get");
    answer(r).await.expect("feed answer")
}

fn seqs_and_ids(central: &Central, epoch: &str) -> Vec<(i64, String)> {
    central
        .events(epoch)
        .into_iter()
        .map(|e| (e.seq, e.id))
        .collect()
}

// ---- events ---------------------------------------------------------------------------

/// A contiguous batch from seq 1 is stored and answered 200 with acked_through and server_time.
#[tokio::test]
async fn contiguous_batch_is_acked() {
    let central = central();
    let j = Journal::new(3);
    let (status, body) = push(&client(), &central.url(), &j.batch(1..=3)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["acked_through"], 3);
    let t = body["server_time"].as_str().expect("server_time");
    assert!(is_contract_time(t), "server_time {t:?}");
    let stored = central.events(&j.epoch);
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[1].seq, 2);
    assert_eq!(stored[1].id, j.ids[1]);
    assert_eq!(stored[1].ty, "return.received");
    assert_eq!(stored[1].actor.as_deref(), Some("keeper:017"));
    assert_eq!(stored[1].return_id.as_deref(), Some("R-ST01-20261125-0002"));
    assert_eq!(stored[1].data["waybill"], "SF0000000000002");
    assert_eq!(central.acked_through(&j.epoch), 3);
    assert_eq!(central.epochs(), vec![j.epoch.clone()]);
    assert_eq!(central.posts(), 1);
    assert!(
        central.violations().is_empty(),
        "{:?}",
        central.violations()
    );
}

/// Re-sending stored events (whole or overlapping) is harmless: same high-water mark, no duplicates.
#[tokio::test]
async fn resend_is_idempotent() {
    let central = central();
    let c = client();
    let j = Journal::new(5);
    assert_eq!(push(&c, &central.url(), &j.batch(1..=3)).await.0, 200);
    let (status, body) = push(&c, &central.url(), &j.batch(1..=3)).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(3)));
    let (status, body) = push(&c, &central.url(), &j.batch(2..=5)).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(5)));
    let want: Vec<(i64, String)> = (1..=5)
        .map(|s| (s, j.ids[s as usize - 1].clone()))
        .collect();
    assert_eq!(seqs_and_ids(&central, &j.epoch), want);
}

/// Contract 1.1: a restored station pushes under a new epoch from seq 1; events re-sent
/// with `restored_from` and an id the central holds are the same events (stored as copies,
/// every id primary once), new ids become primary, an id re-sent *without*
/// `restored_from` is refused as a duplicate, and a copy that differs is a violation.
#[tokio::test]
async fn a_new_epoch_with_restored_events_keeps_each_id_primary_once() {
    let central = central();
    let c = client();
    let old = Journal::new(4);
    assert_eq!(push(&c, &central.url(), &old.batch(1..=2)).await.0, 200);
    // The restored copy: old events 2..4 (the central holds 2, never saw 3 and 4) become
    // the new epoch's 1..3, then one new event.
    let mut new = Journal::new(4);
    new.ids[..3].clone_from_slice(&old.ids[1..4]);
    let restored = |seq: i64| {
        let mut e = old.event(seq + 1);
        e["seq"] = json!(seq);
        e["restored_from"] = json!({"epoch": old.epoch, "seq": seq + 1});
        e
    };
    let events: Vec<Value> = (1..=3).map(restored).chain([new.event(4)]).collect();
    let (status, body) = push(&c, &central.url(), &new.batch_of(events)).await;
    assert_eq!(
        (status, body["acked_through"].clone()),
        (200, json!(4)),
        "{body}"
    );
    assert_eq!(central.epochs(), [old.epoch.clone(), new.epoch.clone()]);
    let stored = central.events(&new.epoch);
    assert_eq!(
        stored.iter().map(|e| e.primary).collect::<Vec<_>>(),
        [false, true, true, true],
        "only the id the central held is a copy"
    );
    assert_eq!(stored[0].restored_from, Some((old.epoch.clone(), 2)));
    let ids = central.primary_ids();
    assert_eq!(ids.len(), 5);
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
    assert!(
        central.violations().is_empty(),
        "{:?}",
        central.violations()
    );

    // The same id again, not marked restored: a duplicate.
    let other = Journal::new(1);
    let mut dup = other.event(1);
    dup["id"] = json!(old.ids[0]);
    let (status, body) = push(&c, &central.url(), &other.batch_of(vec![dup])).await;
    assert_eq!(
        (status, body["error"].clone()),
        (422, json!("duplicate_id"))
    );

    // A "restored" copy that is not the event the central holds.
    let mut changed = old.event(1);
    changed["seq"] = json!(1);
    changed["data"] = json!({"waybill": "SF-something-else"});
    changed["restored_from"] = json!({"epoch": old.epoch, "seq": 1});
    let (status, _) = push(&c, &central.url(), &other.batch_of(vec![changed])).await;
    assert_eq!(status, 200);
    assert!(
        central
            .violations()
            .iter()
            .any(|v| v.contains("restored copy differs")),
        "{:?}",
        central.violations()
    );
}

/// A batch starting beyond acked_through + 1 is a 409 gap naming the high-water mark.
#[tokio::test]
async fn gap_is_409_with_acked_through() {
    let central = central();
    let c = client();
    let j = Journal::new(5);
    let (status, body) = push(&c, &central.url(), &j.batch(2..=3)).await;
    assert_eq!(status, 409);
    assert_eq!(body, json!({ "acked_through": 0, "error": "gap" }));
    assert_eq!(push(&c, &central.url(), &j.batch(1..=2)).await.0, 200);
    let (status, body) = push(&c, &central.url(), &j.batch(4..=5)).await;
    assert_eq!(status, 409);
    assert_eq!(body, json!({ "acked_through": 2, "error": "gap" }));
    assert_eq!(central.acked_through(&j.epoch), 2);
    assert_eq!(central.events(&j.epoch).len(), 2);
}

/// A stored seq re-sent with another id is a 409 seq_conflict and nothing of that batch is stored.
#[tokio::test]
async fn same_seq_other_id_is_seq_conflict() {
    let central = central();
    let c = client();
    let j = Journal::new(3);
    assert_eq!(push(&c, &central.url(), &j.batch(1..=2)).await.0, 200);
    let mut forged = j.event(2);
    forged["id"] = json!(uuid::Uuid::now_v7().to_string());
    let (status, body) = push(&c, &central.url(), &j.batch_of(vec![forged, j.event(3)])).await;
    assert_eq!(status, 409);
    assert_eq!(body, json!({ "acked_through": 2, "error": "seq_conflict" }));
    assert_eq!(central.acked_through(&j.epoch), 2, "seq 3 was not stored");
    assert_eq!(central.events(&j.epoch)[1].id, j.ids[1]);
    assert_eq!(central.violations().len(), 1);
}

/// A missing or wrong bearer token is 401 and stores nothing; set_token rotates the expected one.
#[tokio::test]
async fn wrong_token_is_401_and_token_rotates() {
    let central = central();
    let c = client();
    let j = Journal::new(1);
    let body = j.batch(1..=1);
    let (status, _) = try_push(&c, &central.url(), "nope", &body)
        .await
        .expect("push");
    assert_eq!(status, 401);
    let r = c
        .post(format!("{}/v1/stations/ST01/events", central.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("unauthenticated push");
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(central.acked_through(&j.epoch), 0);

    central.set_token("rotated");
    assert_eq!(
        try_push(&c, &central.url(), TOKEN, &body)
            .await
            .expect("push")
            .0,
        401
    );
    let (status, body) = try_push(&c, &central.url(), "rotated", &body)
        .await
        .expect("push");
    assert_eq!((status, body["acked_through"].clone()), (200, json!(1)));
}

/// Another station's path with a valid token is 403.
#[tokio::test]
async fn other_station_is_403() {
    let central = central();
    let j = Journal::new(1);
    let r = client()
        .post(format!("{}/v1/stations/ST02/events", central.url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(j.batch(1..=1).to_string())
        .send()
        .await
        .expect("push");
    assert_eq!(r.status().as_u16(), 403);
}

/// 1,001 events, or more than 1 MiB of JSON (plain or once un-gzipped), is 413 and stores nothing.
#[tokio::test]
async fn oversized_batches_are_413() {
    let central = central();
    let c = client();
    let j = Journal::new(1001);
    let (status, body) = push(&c, &central.url(), &j.batch(1..=1001)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        push(&c, &central.url(), &j.batch(1..=1000)).await.0,
        200,
        "1,000 fit"
    );

    let k = Journal::new(2);
    let mut big = k.event(1);
    big["data"]["note"] = json!("x".repeat(MAX_BATCH_BYTES));
    let body = k.batch_of(vec![big]);
    assert_eq!(push(&c, &central.url(), &body).await.0, 413);
    let raw = serde_json::to_vec(&body).expect("serialize");
    assert!(gzip(&raw).len() < 64 << 10, "compresses well");
    assert_eq!(push_gzip(&c, &central.url(), &raw).await.0, 413);
    assert_eq!(central.acked_through(&k.epoch), 0);
    assert_eq!(central.violations().len(), 3, "{:?}", central.violations());
}

/// A gzip-encoded push is accepted like a plain one.
#[tokio::test]
async fn gzip_push_is_accepted() {
    let central = central();
    let j = Journal::new(4);
    let raw = serde_json::to_vec(&j.batch(1..=4)).expect("serialize");
    let (status, body) = push_gzip(&client(), &central.url(), &raw).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(4)));
    assert_eq!(central.events(&j.epoch).len(), 4);
}

/// Malformed pushes are 400 (recorded as violations); a non-JSON content type is 415.
#[tokio::test]
async fn malformed_pushes_are_rejected() {
    let central = central();
    let c = client();
    let j = Journal::new(3);
    let mut no_ms = j.event(1);
    no_ms["occurred_at"] = json!("2026-11-25T08:30:00Z");
    let mut no_return_id = j.event(1);
    no_return_id
        .as_object_mut()
        .expect("event object")
        .remove("return_id");
    let mut wrong_station = j.batch(1..=1);
    wrong_station["station_id"] = json!("ST02");
    let cases = [
        j.batch_of(vec![no_ms]),
        j.batch_of(vec![no_return_id]),
        j.batch_of(vec![j.event(1), j.event(3)]),
        j.batch_of(vec![j.event(2), j.event(1)]),
        wrong_station,
        json!({ "station_id": "ST01", "epoch": "not-a-uuid", "sent_at": contract_time(chrono::Utc::now()), "events": [] }),
    ];
    for (i, body) in cases.iter().enumerate() {
        let (status, answer) = push(&c, &central.url(), body).await;
        assert_eq!(status, 400, "case {i}: {answer}");
    }
    let r = c
        .post(format!("{}/v1/stations/ST01/events", central.url()))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body(j.batch(1..=1).to_string())
        .send()
        .await
        .expect("push");
    assert_eq!(r.status().as_u16(), 415);
    assert_eq!(central.violations().len(), cases.len() + 1);
    assert_eq!(central.acked_through(&j.epoch), 0);
}

/// set_partial_ack stores and acknowledges at most that many new events of each push.
#[tokio::test]
async fn partial_ack_knob() {
    let central = central();
    let c = client();
    let j = Journal::new(5);
    central.set_partial_ack(Some(2));
    let (status, body) = push(&c, &central.url(), &j.batch(1..=5)).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(2)));
    assert_eq!(central.events(&j.epoch).len(), 2);
    let (_, body) = push(&c, &central.url(), &j.batch(3..=5)).await;
    assert_eq!(body["acked_through"], 4);
    central.set_partial_ack(None);
    let (_, body) = push(&c, &central.url(), &j.batch(5..=5)).await;
    assert_eq!(body["acked_through"], 5);
    assert_eq!(central.events(&j.epoch).len(), 5);
}

/// set_fail_next answers the next n pushes with the status without storing, then recovers.
#[tokio::test]
async fn fail_next_knob() {
    let central = central();
    let c = client();
    let j = Journal::new(2);
    central.set_fail_next(2, 503);
    assert_eq!(push(&c, &central.url(), &j.batch(1..=2)).await.0, 503);
    // Injected failures come before the token check, too.
    let (status, _) = try_push(&c, &central.url(), "nope", &j.batch(1..=2))
        .await
        .expect("push");
    assert_eq!(status, 503);
    assert_eq!(central.acked_through(&j.epoch), 0);
    let (status, body) = push(&c, &central.url(), &j.batch(1..=2)).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(2)));
    assert_eq!(central.posts(), 3);
    central.set_fail_next(1, 413);
    assert_eq!(push(&c, &central.url(), &j.batch(1..=2)).await.0, 413);
}

/// server_time is skewed by set_server_time_offset.
#[tokio::test]
async fn server_time_offset_knob() {
    let central = central();
    central.set_server_time_offset(chrono::Duration::minutes(10));
    let j = Journal::new(1);
    let (_, body) = push(&client(), &central.url(), &j.batch(1..=1)).await;
    let t = chrono::DateTime::parse_from_rfc3339(body["server_time"].as_str().expect("time"))
        .expect("RFC 3339");
    let skew = t.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        (skew - chrono::Duration::minutes(10)).num_seconds().abs() < 5,
        "skew {skew}"
    );
}

/// A new epoch is stored apart from the old one, each with its own high-water mark.
#[tokio::test]
async fn new_epoch_is_stored_separately() {
    let central = central();
    let c = client();
    let (a, b) = (Journal::new(3), Journal::new(2));
    assert_eq!(push(&c, &central.url(), &a.batch(1..=3)).await.0, 200);
    let (status, body) = push(&c, &central.url(), &b.batch(1..=2)).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(2)));
    assert_eq!(central.epochs(), vec![a.epoch.clone(), b.epoch.clone()]);
    assert_eq!(central.acked_through(&a.epoch), 3);
    assert_eq!(central.acked_through(&b.epoch), 2);
    assert_eq!(central.events(&b.epoch)[0].id, b.ids[0]);
}

/// Stored events survive a restart of the central (same port, same SQLite file).
#[tokio::test]
async fn storage_is_durable_across_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = CentralOptions {
        db_path: Some(dir.path().join("central.db")),
        ..CentralOptions::default()
    };
    let mut central = Central::start(opts.clone());
    let c = client();
    let j = Journal::new(5);
    assert_eq!(push(&c, &central.url(), &j.batch(1..=3)).await.0, 200);
    let url = central.url();
    central.restart();
    assert_eq!(central.url(), url);
    // The restart closed the old kept-alive connection; a new client starts clean.
    let (status, body) = push(&client(), &url, &j.batch(3..=5)).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(5)));
    drop(central);
    let again = Central::start(opts);
    assert_eq!(again.events(&j.epoch).len(), 5);
}

/// An event referencing a photo that was not uploaded first is stored but recorded as a violation.
#[tokio::test]
async fn photo_before_blob_is_a_violation() {
    let central = central();
    let c = client();
    let j = Journal::new(2);
    let bytes = b"\x89PNG fake photo".to_vec();
    let sha = sha256_hex(&bytes);
    let photo = json!([{ "sha256": sha, "bytes": bytes.len(), "content_type": "image/png" }]);
    let mut e1 = j.event(1);
    e1["data"]["photos"] = photo.clone();
    assert_eq!(push(&c, &central.url(), &j.batch_of(vec![e1])).await.0, 200);
    assert_eq!(central.violations().len(), 1, "{:?}", central.violations());
    assert_eq!(
        put_blob(&c, &central.url(), &sha, "image/png", &bytes)
            .await
            .0,
        201
    );
    let mut e2 = j.event(2);
    e2["data"]["photos"] = photo;
    assert_eq!(push(&c, &central.url(), &j.batch_of(vec![e2])).await.0, 200);
    assert_eq!(central.violations().len(), 1, "{:?}", central.violations());
}

/// Contract 1.1: a photo marked `"lost": true` is not expected as a blob; one without the
/// mark still is; a `lost` that is not a boolean and a `photo.lost` without its reason are
/// violations.
#[tokio::test]
async fn a_photo_marked_lost_needs_no_blob() {
    let central = central();
    let c = client();
    let j = Journal::new(4);
    let sha = sha256_hex(b"a photo the station lost");
    let entry = json!({ "sha256": sha, "bytes": 24, "content_type": "image/png" });
    let mut lost = entry.clone();
    lost["lost"] = json!(true);
    let mut e1 = j.event(1);
    e1["data"]["photos"] = json!([lost]);
    let mut e2 = j.event(2);
    e2["type"] = json!("photo.lost");
    e2["data"] = json!({ "sha256": sha, "reason": "file deleted" });
    let batch = j.batch_of(vec![e1, e2]);
    assert_eq!(push(&c, &central.url(), &batch).await.0, 200);
    assert_eq!(central.violations(), Vec::<String>::new());
    let mut e3 = j.event(3);
    e3["data"]["photos"] = json!([entry]);
    let mut e4 = j.event(4);
    let mut odd = entry.clone();
    odd["lost"] = json!("yes");
    e4["data"]["photos"] = json!([odd]);
    assert_eq!(
        push(&c, &central.url(), &j.batch_of(vec![e3, e4])).await.0,
        200
    );
    let v = central.violations();
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].contains("referenced before it was uploaded"), "{v:?}");
    assert!(v[1].contains("not a boolean"), "{v:?}");
    let j2 = Journal::new(1);
    let mut bad = j2.event(1);
    bad["type"] = json!("photo.lost");
    bad["data"] = json!({ "sha256": sha });
    assert_eq!(
        push(&c, &central.url(), &j2.batch_of(vec![bad])).await.0,
        200
    );
    assert_eq!(central.violations().len(), 3);
}

// ---- blobs ----------------------------------------------------------------------------

/// Blob PUT: 201 when new, 200 when stored, 409 on a hash mismatch, 415 on a bad type, 401 without the token.
#[tokio::test]
async fn blob_put_semantics() {
    let central = central();
    let c = client();
    let bytes = vec![0xFFu8, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    let sha = sha256_hex(&bytes);
    assert_eq!(
        put_blob(&c, &central.url(), &sha, "image/jpeg", &bytes)
            .await
            .0,
        201
    );
    assert_eq!(
        put_blob(&c, &central.url(), &sha, "image/jpeg", &bytes)
            .await
            .0,
        200
    );
    assert_eq!(
        central.blob(&sha),
        Some(("image/jpeg".to_string(), bytes.clone()))
    );
    let other = sha256_hex(b"something else");
    let (status, body) = put_blob(&c, &central.url(), &other, "image/jpeg", &bytes).await;
    assert_eq!(
        (status, body["error"].clone()),
        (409, json!("hash_mismatch"))
    );
    assert_eq!(central.blob(&other), None);
    assert_eq!(
        put_blob(&c, &central.url(), &sha, "image/gif", &bytes)
            .await
            .0,
        415
    );
    assert_eq!(
        put_blob(&c, &central.url(), &sha, "image/webp; q=1", &bytes)
            .await
            .0,
        200,
        "parameters are ignored"
    );
    let r = c
        .put(format!("{}/v1/stations/ST01/blobs/{sha}", central.url()))
        .header("content-type", "image/jpeg")
        .body(bytes.clone())
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(central.blob_puts(), 6);
}

// ---- feed -----------------------------------------------------------------------------

/// The feed pages by limit with next_after and more, serves deletes as data null and raw items verbatim.
#[tokio::test]
async fn feed_paging() {
    let central = central();
    let c = client();
    let url = central.url();
    let (status, body) = feed(&c, &url, "", TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], json!([]));
    assert_eq!(body["more"], false);
    let start = body["next_after"].as_str().expect("next_after").to_string();

    let mut cursors = Vec::new();
    for v in 1..=4 {
        cursors.push(central.publish(
            "expected_return",
            &format!("SF{v:013}"),
            1,
            Some(json!({ "kind": "refund", "order_no": format!("O{v}") })),
        ));
    }
    cursors.push(central.publish("expected_return", "SF0000000000002", 2, None));
    cursors.push(central.publish_raw(json!({ "type": "operator", "version": 1 })));

    let mut after = start;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 10, "feed paging ends");
        let (status, body) = feed(&c, &url, &format!("?after={after}&limit=2"), TOKEN).await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2);
        after = body["next_after"].as_str().expect("next_after").to_string();
        seen.extend(items);
        if body["more"] == false {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(after, cursors[5]);
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0]["cursor"], json!(cursors[0]));
    assert_eq!(seen[0]["type"], "expected_return");
    assert_eq!(seen[0]["key"], "SF0000000000001");
    assert_eq!(seen[0]["version"], 1);
    assert_eq!(seen[0]["data"]["order_no"], "O1");
    assert_eq!(seen[4]["key"], "SF0000000000002");
    assert_eq!(seen[4]["version"], 2);
    assert_eq!(seen[4]["data"], Value::Null, "a delete");
    assert_eq!(
        seen[5],
        json!({ "type": "operator", "version": 1 }),
        "verbatim"
    );

    let (_, body) = feed(&c, &url, &format!("?after={after}"), TOKEN).await;
    assert_eq!(body["items"], json!([]));
    assert_eq!(body["next_after"], json!(after));
    assert_eq!(body["more"], false);
    let (_, body) = feed(&c, &url, "", TOKEN).await;
    assert_eq!(
        body["items"].as_array().expect("items").len(),
        6,
        "default limit 100"
    );
    assert_eq!(feed(&c, &url, "", "nope").await.0, 401);
    assert_eq!(feed(&c, &url, "?after=bogus", TOKEN).await.0, 400);
    assert_eq!(central.feed_gets(), pages + 5);
}

// ---- proxy ----------------------------------------------------------------------------

/// Status(500) is answered by the proxy; the central never sees the request.
#[tokio::test]
async fn proxy_status_never_reaches_central() {
    let central = central();
    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::Status(500));
    let j = Journal::new(1);
    let (status, body) = push(&client(), &proxy.url(), &j.batch(1..=1)).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "injected by proxy");
    assert_eq!(central.posts(), 0);
    assert_eq!(proxy.requests(), 1);
}

/// ResetAfterUpstream: the client sees an error, yet the central has committed the batch; a resend is acked.
#[tokio::test]
async fn proxy_reset_after_upstream_commits() {
    let central = central();
    let proxy = FaultProxy::start(central.addr());
    let c = client();
    let j = Journal::new(3);
    proxy.set(FaultMode::ResetAfterUpstream);
    let r = try_push(&c, &proxy.url(), TOKEN, &j.batch(1..=3)).await;
    assert!(r.is_err(), "the client must see a failure, got {r:?}");
    assert_eq!(central.posts(), 1);
    assert_eq!(central.acked_through(&j.epoch), 3, "the central committed");
    proxy.set(FaultMode::Pass);
    let (status, body) = push(&c, &proxy.url(), &j.batch(1..=3)).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(3)));
    assert_eq!(central.events(&j.epoch).len(), 3);
    assert_eq!(
        proxy
            .log()
            .iter()
            .map(|r| r.action.clone())
            .collect::<Vec<_>>(),
        vec![Action::ResetAfterUpstream, Action::Forwarded]
    );
}

/// Refuse: new and kept-alive connections both fail and nothing reaches the central.
#[tokio::test]
async fn proxy_refuse_is_a_connection_error() {
    let central = central();
    let proxy = FaultProxy::start(central.addr());
    let c = client();
    let j = Journal::new(1);
    proxy.set(FaultMode::Refuse);
    let r = try_push(&c, &proxy.url(), TOKEN, &j.batch(1..=1)).await;
    assert!(r.is_err(), "refused, got {r:?}");
    assert_eq!(proxy.refused(), 1);
    assert_eq!(central.posts(), 0);

    // A connection kept alive from before is reset when its next request arrives.
    let c = client();
    proxy.set(FaultMode::Pass);
    assert_eq!(feed(&c, &proxy.url(), "", TOKEN).await.0, 200);
    proxy.set(FaultMode::Refuse);
    let r = try_push(&c, &proxy.url(), TOKEN, &j.batch(1..=1)).await;
    assert!(r.is_err(), "refused, got {r:?}");
    assert_eq!(central.posts(), 0);
    assert_eq!(
        proxy.log().last().map(|r| r.action.clone()),
        Some(Action::Refused)
    );
}

/// Delay holds the request at least that long and then forwards it.
#[tokio::test]
async fn proxy_delay() {
    let central = central();
    let proxy = FaultProxy::start(central.addr());
    let d = Duration::from_millis(300);
    proxy.set(FaultMode::Delay(d));
    let j = Journal::new(1);
    let t0 = Instant::now();
    let (status, _) = push(&client(), &proxy.url(), &j.batch(1..=1)).await;
    assert_eq!(status, 200);
    assert!(t0.elapsed() >= d, "took {:?}", t0.elapsed());
    assert_eq!(central.acked_through(&j.epoch), 1);
    assert_eq!(proxy.log()[0].action, Action::Delayed(d));
}

/// A client that gives up during a Delay is not forwarded.
#[tokio::test]
async fn proxy_delay_drops_abandoned_requests() {
    let central = central();
    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::Delay(Duration::from_secs(3)));
    let j = Journal::new(1);
    let r = client()
        .post(format!("{}/v1/stations/ST01/events", proxy.url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(j.batch(1..=1).to_string())
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(r.is_err(), "timed out, got {r:?}");
    // Not a blocking wait: the hang-up is sent by the client's connection task, on this
    // test's runtime.
    poll_async(
        Duration::from_secs(10),
        "the proxy to notice the hang-up",
        || (!proxy.log().is_empty()).then_some(()),
    )
    .await;
    assert_eq!(proxy.log()[0].action, Action::DroppedDuringDelay);
    assert_eq!(central.posts(), 0);
}

/// SlowDrip delivers the whole response, slowly.
#[tokio::test]
async fn proxy_slow_drip() {
    let central = central();
    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::SlowDrip {
        bytes_per_tick: 16,
        tick: Duration::from_millis(10),
    });
    let j = Journal::new(2);
    let t0 = Instant::now();
    let (status, body) = push(&client(), &proxy.url(), &j.batch(1..=2)).await;
    assert_eq!((status, body["acked_through"].clone()), (200, json!(2)));
    // Head and body are well over 160 bytes: at least ten ticks.
    assert!(
        t0.elapsed() >= Duration::from_millis(100),
        "took {:?}",
        t0.elapsed()
    );
}

/// WrongToken rewrites Authorization, so the central answers 401 and stores nothing.
#[tokio::test]
async fn proxy_wrong_token_is_401() {
    let central = central();
    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::WrongToken);
    let j = Journal::new(1);
    assert_eq!(push(&client(), &proxy.url(), &j.batch(1..=1)).await.0, 401);
    assert_eq!(central.posts(), 1);
    assert_eq!(central.acked_through(&j.epoch), 0);
}

/// Keep-alive works through the proxy, and a reset connection is replaced by a new one.
#[tokio::test]
async fn proxy_keeps_connections_alive() {
    let central = central();
    let proxy = FaultProxy::start(central.addr());
    let c = client();
    for _ in 0..3 {
        assert_eq!(feed(&c, &proxy.url(), "", TOKEN).await.0, 200);
    }
    assert_eq!(proxy.connections(), 1, "one kept-alive connection");
    proxy.set(FaultMode::ResetAfterUpstream);
    assert!(
        c.get(format!("{}/v1/stations/ST01/feed", proxy.url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .is_err()
    );
    proxy.set(FaultMode::Pass);
    assert_eq!(feed(&c, &proxy.url(), "", TOKEN).await.0, 200);
    assert_eq!(proxy.connections(), 2);
    assert_eq!(proxy.requests(), 5);
}

/// Random faults are a function of the seed and request ordinal, and a retrying pusher still stores every event once.
#[tokio::test]
async fn proxy_random_is_deterministic_and_survivable() {
    let central = central();
    let actions = |p: &FaultProxy| p.log().into_iter().map(|r| r.action).collect::<Vec<_>>();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let proxy = FaultProxy::start(central.addr());
        proxy.set(FaultMode::Random {
            seed: 7,
            p_fault: 0.5,
        });
        let c = client();
        for _ in 0..16 {
            let _ = c
                .get(format!("{}/v1/stations/ST01/feed", proxy.url()))
                .bearer_auth(TOKEN)
                .send()
                .await;
        }
        runs.push(actions(&proxy));
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].iter().any(|a| *a != Action::Forwarded),
        "{:?}",
        runs[0]
    );

    let proxy = FaultProxy::start(central.addr());
    proxy.set(FaultMode::Random {
        seed: 42,
        p_fault: 0.5,
    });
    let c = client();
    let j = Journal::new(40);
    let mut cursor = 0i64;
    let mut attempts = 0;
    while cursor < 40 {
        attempts += 1;
        assert!(
            attempts <= 300,
            "made progress through the faults (cursor {cursor})"
        );
        let batch = j.batch(cursor + 1..=(cursor + 5).min(40));
        if let Ok((200, body)) = try_push(&c, &proxy.url(), TOKEN, &batch).await {
            cursor = body["acked_through"].as_i64().expect("acked_through");
        }
    }
    let want: Vec<(i64, String)> = (1..=40)
        .map(|s| (s, j.ids[s as usize - 1].clone()))
        .collect();
    assert_eq!(seqs_and_ids(&central, &j.epoch), want);
    let log = actions(&proxy);
    for kind in [
        Action::Refused,
        Action::Status(500),
        Action::ResetAfterUpstream,
    ] {
        assert!(log.contains(&kind), "{kind:?} happened: {log:?}");
    }
    assert!(
        log.iter().any(|a| matches!(a, Action::Delayed(_))),
        "{log:?}"
    );
    assert!(
        central.violations().is_empty(),
        "{:?}",
        central.violations()
    );
}
