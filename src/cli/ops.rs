//! `scan` and the operator commands (`inspect` … `void`): each is one request to the
//! running daemon's control socket, so the engine stays the only writer of events. Every
//! request carries a request id, so asking again after a lost answer never carries it out
//! twice. The exit status is the answer: 0 OK, 1 ERR, 2 NOT SAVED, 3 UNKNOWN.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use super::args::{BinCmd, OperatorCmd};
use super::error::CliError;
use super::render;
use super::setup::{load_config, runtime};
use crate::config::Config;
use crate::control::{self, RequestError};
use crate::i18n::Lang;

/// The exit status of an answer that may have been recorded or not: ask before rescanning.
const EXIT_UNKNOWN: u8 = 3;

/// How long an operator command keeps asking a daemon that stopped before answering.
const COMMAND_RETRY: Duration = Duration::from_secs(10);

/// `returnsd scan`: each code in turn (as raw bytes), its answer printed; the exit status
/// is the worst answer's.
pub fn scan(
    config: &Option<PathBuf>,
    bench: Option<String>,
    retry_for: u64,
    as_json: bool,
    codes: Vec<OsString>,
) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let lang = Lang::parse(&cfg.station.language);
    let retry_for = Duration::from_secs(retry_for);
    runtime()?.block_on(async {
        let mut worst = 0u8;
        for code in codes {
            let mut req =
                json!({"op": "scan", "code_hex": crate::format::hex_encode(code.as_bytes())});
            if let Some(b) = &bench {
                req["bench"] = json!(b);
            }
            worst = worst.max(send(&cfg, req, lang, as_json, retry_for).await?);
        }
        Ok(ExitCode::from(worst))
    })
}

/// An operator command: its request, sent; the answer printed.
pub fn command(config: &Option<PathBuf>, cmd: OperatorCmd) -> Result<ExitCode, CliError> {
    let req = request(cmd)?;
    let cfg = load_config(config)?;
    let lang = Lang::parse(&cfg.station.language);
    let code = runtime()?.block_on(send(&cfg, req, lang, false, COMMAND_RETRY))?;
    Ok(ExitCode::from(code))
}

/// The control socket's request for an operator command.
fn request(cmd: OperatorCmd) -> Result<Value, CliError> {
    Ok(match cmd {
        OperatorCmd::Inspect {
            return_id,
            badge,
            grade,
            reasons,
            note,
            items,
            photos,
        } => {
            let photos = photos
                .iter()
                .map(|p| photo_ref(p))
                .collect::<Result<Vec<_>, _>>()?;
            json!({"op": "inspect", "badge": badge, "return_id": return_id, "grade": grade,
                   "defect_reasons": reasons, "note": note, "items": items, "photos": photos})
        }
        OperatorCmd::PutAway {
            return_id,
            badge,
            zone,
            items,
        } => {
            json!({"op": "put_away", "badge": badge, "return_id": return_id, "zone": zone, "items": items})
        }
        OperatorCmd::ExchangeShipped {
            return_id,
            badge,
            waybill,
            items,
        } => {
            json!({"op": "exchange_shipped", "badge": badge, "return_id": return_id, "waybill": waybill, "items": items})
        }
        OperatorCmd::Restock { return_id, badge } => {
            json!({"op": "restock", "badge": badge, "return_id": return_id})
        }
        OperatorCmd::Rtv {
            badge,
            vendor,
            items,
        } => json!({"op": "rtv", "badge": badge, "vendor": vendor, "items": items}),
        OperatorCmd::RtvClose {
            note_no,
            badge,
            waybill,
            note,
        } => {
            json!({"op": "rtv_close", "badge": badge, "note_no": note_no, "waybill": waybill, "note": note})
        }
        OperatorCmd::Bin { cmd } => bin_request(cmd),
        OperatorCmd::Reprint {
            return_id,
            badge,
            reason,
        } => {
            json!({"op": "reprint", "badge": badge, "return_id": return_id, "reason": reason})
        }
        OperatorCmd::Void {
            return_id,
            badge,
            reason,
        } => json!({"op": "void", "badge": badge, "return_id": return_id, "reason": reason}),
        OperatorCmd::Unlock { locked, badge } => {
            json!({"op": "unlock", "badge": badge, "unlock_badge": locked})
        }
        OperatorCmd::PhotoLost {
            sha256,
            badge,
            reason,
        } => {
            json!({"op": "photo_lost", "badge": badge, "sha256": sha256, "reason": reason})
        }
    })
}

/// `bin set|retire|reactivate`'s request.
fn bin_request(cmd: BinCmd) -> Value {
    match cmd {
        BinCmd::Set {
            code,
            badge,
            class,
            label,
        } => {
            json!({"op": "bin_set", "badge": badge, "code": code, "class": class, "label": label})
        }
        BinCmd::Retire { code, badge } => {
            json!({"op": "bin_retire", "badge": badge, "code": code})
        }
        BinCmd::Reactivate { code, badge } => {
            json!({"op": "bin_reactivate", "badge": badge, "code": code})
        }
    }
}

/// `--photo sha256:bytes:content-type` (what `photo add` printed) as the request's photo.
fn photo_ref(p: &str) -> Result<Value, CliError> {
    match p.splitn(3, ':').collect::<Vec<_>>().as_slice() {
        [sha, bytes, ct] => {
            let bytes: u64 = bytes
                .parse()
                .map_err(|_| CliError::Usage(format!("photo {p:?}: bytes is not a number")))?;
            Ok(json!({"sha256": sha, "bytes": bytes, "content_type": ct}))
        }
        _ => Err(CliError::Usage(format!(
            "photo {p:?}: use sha256:bytes:content-type"
        ))),
    }
}

/// Send an operator's request with a request id (so that asking again after a lost answer
/// never carries it out twice), print the answer, and return its exit status: 0 accepted,
/// 1 refused, 2 not saved, 3 unknown. A daemon that cannot be reached is an error: nothing
/// was sent.
async fn send(
    cfg: &Config,
    mut req: Value,
    lang: Lang,
    as_json: bool,
    retry_for: Duration,
) -> Result<u8, CliError> {
    let id = uuid::Uuid::new_v4().to_string();
    req["request_id"] = json!(id);
    match control::request_retrying(&cfg.control.socket, &req, retry_for).await {
        Ok(reply) => {
            if as_json {
                println!("{reply}");
            } else {
                print!("{}", render::reply_line(&reply, lang));
            }
            Ok(exit_status(&reply))
        }
        Err(e @ RequestError::Unreachable(_)) => Err(e.into()),
        Err(RequestError::Unconfirmed(e)) => {
            if as_json {
                println!(
                    "{}",
                    json!({"ok": false, "stored": null, "outcome": "unknown",
                           "request_id": id, "error": e})
                );
            } else {
                print!("{}", render::unknown_line(lang, e));
            }
            Ok(EXIT_UNKNOWN)
        }
    }
}

/// The exit status of an answer.
fn exit_status(reply: &Value) -> u8 {
    match reply.get("outcome").and_then(Value::as_str).unwrap_or("") {
        "accepted" => 0,
        "not_stored" => 2,
        // Refused: recorded as refused, or turned down by the rules (which records
        // nothing by design): the operator must act differently.
        _ => 1,
    }
}
