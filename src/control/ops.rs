//! What each control request does, and its JSON answer: `sync_status`, `devices`, `ping`,
//! `scan`, `manifest_import`, and the operator commands (built by `commands`, carried out
//! by the engine). A request with a `request_id` is answered once: asked again, it gets the
//! first answer back (`replayed`).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::domain::ids::Badge;
use crate::domain::kind::Role;
use crate::engine::{EngineHandle, Keep, Kept, Reply};
use crate::i18n::{Lang, message};

/// JSON form of an engine reply, with the message in both languages.
pub fn reply_json(r: &Reply) -> Value {
    let params: Vec<(&str, String)> = r
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    json!({
        "ok": r.ok,
        "stored": r.stored,
        "outcome": r.outcome().as_str(),
        "replayed": false,
        "code": r.code,
        "message_zh": message(Lang::Zh, &r.code, &params),
        "message_en": message(Lang::En, &r.code, &params),
        "params": r.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "seq_first": r.seqs.map(|s| s.0),
        "seq_last": r.seqs.map(|s| s.1),
        "return_id": r.return_id,
    })
}

/// The answer to a request that could not be understood (nothing was done).
pub(super) fn bad_request(what: impl Into<String>) -> Value {
    let what = what.into();
    json!({"ok": false, "stored": false, "code": "bad_request",
           "message_zh": format!("请求有误:{what}"), "message_en": format!("Bad request: {what}")})
}

/// What a control connection can reach.
#[derive(Clone)]
pub struct ControlCtx {
    pub engine: EngineHandle,
    pub default_bench: String,
    /// Static facts for `ping` (station, epoch, database, HTTP address).
    pub info: Value,
    pub sync: crate::sync_status::SharedStatus,
    pub database: PathBuf,
    pub cap_bytes: u64,
    pub high_water_pct: u8,
    pub state_dir: PathBuf,
    /// Live scanner and printer states.
    pub board: crate::board::DeviceBoard,
}

/// The answer to one request line.
pub(super) async fn handle(ctx: &ControlCtx, req: &Value) -> Value {
    match handle_inner(ctx, req).await {
        Ok(v) => v,
        Err(e) => bad_request(e),
    }
}

async fn handle_inner(ctx: &ControlCtx, req: &Value) -> Result<Value, String> {
    match crate::commands::s(req, "op")? {
        "sync_status" => sync_status(ctx).await,
        "devices" => Ok(json!({"ok": true, "devices": ctx.board.to_json()})),
        "ping" => Ok(ping(ctx)),
        "scan" => scan(ctx, req).await,
        "manifest_import" => manifest_import(ctx, req).await,
        op => command(ctx, op, req).await,
    }
}

/// The journal's sync figures (read beside the engine), the workers' state and the disk.
async fn sync_status(ctx: &ControlCtx) -> Result<Value, String> {
    let db = ctx.database.clone();
    let status = ctx.sync.clone();
    let mut v = tokio::task::spawn_blocking(move || {
        let conn = crate::store::Reader::open(&db).map_err(|e| e.to_string())?;
        crate::store::sync_counters(&conn)
            .map(|c| crate::views::sync_status_json(&c, &status, chrono::Utc::now()))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    v["disk"] = crate::views::disk_json(&ctx.engine.stats, ctx.cap_bytes, ctx.high_water_pct);
    v["ok"] = json!(true);
    Ok(v)
}

/// Who the daemon is, with the engine's live counters.
fn ping(ctx: &ControlCtx) -> Value {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = &ctx.engine.stats;
    let mut v = ctx.info.clone();
    v["ok"] = json!(true);
    v["last_seq"] = json!(stats.last_seq.load(Relaxed));
    v["double_reads"] = json!(stats.double_reads.load(Relaxed));
    v["scans"] = json!(stats.scans.load(Relaxed));
    v["verified"] = json!(stats.verified.load(Relaxed));
    v
}

/// One scan from a bench (the default bench unless named), as text or hex bytes.
async fn scan(ctx: &ControlCtx, req: &Value) -> Result<Value, String> {
    let bench = req
        .get("bench")
        .and_then(Value::as_str)
        .unwrap_or(&ctx.default_bench)
        .to_string();
    let bytes = match (
        req.get("code_hex").and_then(Value::as_str),
        req.get("code").and_then(Value::as_str),
    ) {
        (Some(h), _) => crate::format::hex_decode(h).ok_or("code_hex is not hex")?,
        (None, Some(c)) => c.as_bytes().to_vec(),
        (None, None) => return Err("code or code_hex is required".into()),
    };
    let keep = request_keep(req, "scan", &[b"scan", bench.as_bytes(), &bytes])?;
    kept_json(ctx.engine.scan_kept(&bench, bytes, keep).await)
}

/// One part of a manifest file, applied by the engine in its group commit.
async fn manifest_import(ctx: &ControlCtx, req: &Value) -> Result<Value, String> {
    let source = crate::commands::s(req, "source")?.to_string();
    let lines = req["lines"]
        .as_array()
        .ok_or("lines must be an array")?
        .iter()
        .map(crate::manifest::line_from_json)
        .collect::<Result<Vec<_>, String>>()?;
    Ok(match ctx.engine.import(source, lines).await {
        Ok(report) => {
            let mut v = report.to_json();
            v["ok"] = json!(true);
            v
        }
        Err(e) => json!({"ok": false, "stored": false, "outcome": "not_stored",
                         "code": "storage_error", "error": e.to_string()}),
    })
}

/// An operator command (`inspect`, `put_away`, …) on behalf of a badge.
async fn command(ctx: &ControlCtx, op: &str, req: &Value) -> Result<Value, String> {
    let badge_s = crate::commands::s(req, "badge")?;
    let badge = Badge::parse(badge_s)
        .map_err(|e| format!("badge {badge_s:?} is malformed ({})", e.code()))?;
    let role = match req.get("role").and_then(Value::as_str) {
        None => None,
        Some(r) => Some(
            Role::parse(r)
                .ok_or_else(|| format!("role {r:?} is not keeper, inspector or supervisor"))?,
        ),
    };
    let cmd = crate::commands::build(op, req, &badge, &ctx.state_dir)?;
    let mut plain = req.clone();
    if let Some(m) = plain.as_object_mut() {
        m.remove("request_id");
    }
    let body = plain.to_string();
    let keep = request_keep(req, badge.as_str(), &[b"command", body.as_bytes()])?;
    kept_json(ctx.engine.command_kept(badge, role, cmd, keep).await)
}

/// A request's `request_id` as a [`Keep`]: the station keeps the answer (durably, in the
/// input's own transaction), so the same request sent again — after the client lost the
/// answer — is answered with it instead of being carried out twice.
fn request_keep(req: &Value, who: &str, parts: &[&[u8]]) -> Result<Option<Keep>, String> {
    let Some(id) = req.get("request_id") else {
        return Ok(None);
    };
    let id = id
        .as_str()
        .filter(|k| Keep::valid_key(k))
        .ok_or("request_id must be 1 to 128 visible ASCII characters")?;
    Ok(Some(Keep {
        badge: who.to_string(),
        key: id.to_string(),
        fingerprint: Keep::fingerprint(parts),
        render: Box::new(|r| (200, reply_json(r))),
    }))
}

/// The JSON answer to a (possibly keyed) input: a request answered before gets that
/// answer back, marked `replayed`.
fn kept_json(r: Reply) -> Result<Value, String> {
    match r.kept {
        Some(Kept::Replay(_, mut body)) => {
            body["replayed"] = json!(true);
            Ok(body)
        }
        Some(Kept::Mismatch) => {
            Err("request_id was already used for a different request".to_string())
        }
        _ => Ok(reply_json(&r)),
    }
}
