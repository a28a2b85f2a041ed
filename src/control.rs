//! The local control socket: a Unix socket carrying one JSON request per line and one JSON
//! reply per line. `returnsd scan` and the other operator CLI commands talk to the running
//! daemon through it; a keyboard-only bench can feed it too. Access is by file permission
//! (0660): whoever may open the socket acts on the station's floor PC.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::domain::ids::Badge;
use crate::domain::kind::Role;
use crate::engine::{EngineHandle, Keep, Kept, Reply};
use crate::i18n::{Lang, message};

/// Longest request line accepted (a part of a manifest file is the largest request).
pub const MAX_LINE: u64 = 4 * 1024 * 1024;

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

fn bad_request(what: impl Into<String>) -> Value {
    let what = what.into();
    json!({"ok": false, "stored": false, "code": "bad_request",
           "message_zh": format!("请求有误:{what}"), "message_en": format!("Bad request: {what}")})
}

/// Bind the control socket. Refuses to start when another daemon is listening on it.
pub async fn bind(path: &Path) -> Result<UnixListener, String> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(format!(
                "{}: another returnsd is already running on this socket",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("{}: cannot remove the stale socket: {e}", path.display()))?;
    }
    let l =
        UnixListener::bind(path).map_err(|e| format!("{}: cannot bind: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("{}: cannot set permissions: {e}", path.display()))?;
    Ok(l)
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

/// Serve connections until `shutdown` resolves.
pub async fn serve(
    listener: UnixListener,
    ctx: ControlCtx,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let ctx = ctx.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(stream, ctx).await {
                            tracing::debug!(error = %e, "control connection ended");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "control socket accept failed"),
            }
        }
    }
}

async fn connection(stream: UnixStream, ctx: ControlCtx) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let reply = if line.last() != Some(&b'\n') && n as u64 >= MAX_LINE {
            let v = bad_request(format!("request longer than {MAX_LINE} bytes"));
            w.write_all(format!("{v}\n").as_bytes()).await?;
            return Ok(());
        } else {
            match serde_json::from_slice::<Value>(&line) {
                Ok(req) => handle(&ctx, &req).await,
                Err(e) => bad_request(format!("not JSON: {e}")),
            }
        };
        w.write_all(format!("{reply}\n").as_bytes()).await?;
    }
}

async fn handle(ctx: &ControlCtx, req: &Value) -> Value {
    match handle_inner(ctx, req).await {
        Ok(v) => v,
        Err(e) => bad_request(e),
    }
}

async fn handle_inner(ctx: &ControlCtx, req: &Value) -> Result<Value, String> {
    let engine = &ctx.engine;
    let default_bench = ctx.default_bench.as_str();
    let info = &ctx.info;
    let op = crate::commands::s(req, "op")?;
    if op == "sync_status" {
        let db = ctx.database.clone();
        let status = ctx.sync.clone();
        let v = tokio::task::spawn_blocking(move || {
            let db = crate::store::Reader::open(&db).map_err(|e| e.to_string())?;
            crate::store::sync_counters(&db)
                .map(|c| crate::views::sync_status_json(&c, &status, chrono::Utc::now()))
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        let mut v = v;
        v["disk"] = crate::views::disk_json(&ctx.engine.stats, ctx.cap_bytes, ctx.high_water_pct);
        v["ok"] = json!(true);
        return Ok(v);
    }
    if op == "devices" {
        return Ok(json!({"ok": true, "devices": ctx.board.to_json()}));
    }
    if op == "ping" {
        let mut v = info.clone();
        v["ok"] = json!(true);
        v["last_seq"] = json!(
            engine
                .stats
                .last_seq
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        v["double_reads"] = json!(
            engine
                .stats
                .double_reads
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        v["scans"] = json!(
            engine
                .stats
                .scans
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        return Ok(v);
    }
    if op == "scan" {
        let bench = req
            .get("bench")
            .and_then(Value::as_str)
            .unwrap_or(default_bench)
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
        return kept_json(engine.scan_kept(&bench, bytes, keep).await);
    }
    if op == "manifest_import" {
        let source = crate::commands::s(req, "source")?.to_string();
        let lines = req["lines"]
            .as_array()
            .ok_or("lines must be an array")?
            .iter()
            .map(crate::manifest::line_from_json)
            .collect::<Result<Vec<_>, String>>()?;
        return Ok(match engine.import(source, lines).await {
            Ok(report) => {
                let mut v = report.to_json();
                v["ok"] = json!(true);
                v
            }
            Err(e) => json!({"ok": false, "stored": false, "outcome": "not_stored",
                             "code": "storage_error", "error": e.to_string()}),
        });
    }
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
    kept_json(engine.command_kept(badge, role, cmd, keep).await)
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

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The daemon could not be reached: nothing was sent, nothing was done.
    Unreachable(String),
    /// The request may have reached the daemon, but no answer came back: it may or may
    /// not have been carried out.
    Unconfirmed(String),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Unreachable(e) | RequestError::Unconfirmed(e) => f.write_str(e),
        }
    }
}

impl From<RequestError> for String {
    fn from(e: RequestError) -> String {
        e.to_string()
    }
}

/// Client side: send one request and read one reply.
pub async fn request(socket: &Path, req: &Value) -> Result<Value, RequestError> {
    let stream = UnixStream::connect(socket).await.map_err(|e| {
        RequestError::Unreachable(format!(
            "cannot reach the daemon at {}: {e}. Is `returnsd run` running with this config?",
            socket.display()
        ))
    })?;
    let unconfirmed = |what: String| {
        RequestError::Unconfirmed(format!(
            "{what}: the daemon may have stopped; the request is not confirmed"
        ))
    };
    let (r, mut w) = stream.into_split();
    w.write_all(format!("{req}\n").as_bytes())
        .await
        .map_err(|e| unconfirmed(format!("write to daemon: {e}")))?;
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .await
        .map_err(|e| unconfirmed(format!("read from daemon: {e}")))?;
    if line.is_empty() {
        return Err(unconfirmed(
            "the daemon closed the connection without answering".to_string(),
        ));
    }
    serde_json::from_str(&line)
        .map_err(|e| unconfirmed(format!("the daemon's reply is not JSON: {e}")))
}

/// [`request`] for a request that carries a `request_id`: when the answer is lost (the
/// daemon stopped or restarted meanwhile), send it again — the daemon answers a request
/// id it has seen with the answer it gave — until `retry_for` has passed. A daemon that
/// could not be reached at the first try was never sent anything.
pub async fn request_retrying(
    socket: &Path,
    req: &Value,
    retry_for: std::time::Duration,
) -> Result<Value, RequestError> {
    let deadline = tokio::time::Instant::now() + retry_for;
    let mut sent = false;
    loop {
        match request(socket, req).await {
            Ok(v) => return Ok(v),
            Err(RequestError::Unreachable(e)) if !sent => {
                return Err(RequestError::Unreachable(e));
            }
            Err(e) => {
                sent = true;
                if tokio::time::Instant::now() >= deadline {
                    return Err(RequestError::Unconfirmed(e.to_string()));
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
