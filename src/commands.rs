//! Operator commands from JSON: the one mapping from a request object (`{"return_id": …,
//! "grade": …}`) to a [`Command`], shared by the control socket (`{"op": "inspect", …}`)
//! and the HTTP API (`POST /api/v1/returns/{id}/inspect`). Errors are plain English
//! descriptions of the field that is wrong; callers wrap them in their own envelope.

use std::path::Path;

use serde_json::Value;

use crate::domain::event::{CheckLine, PhotoRef};
use crate::domain::ids::{Badge, BinCode, ItemRef, ReturnId, Waybill};
use crate::domain::kind::{BinClass, Grade, Role};
use crate::domain::scan::ZoneScan;
use crate::domain::step::{BinChange, Command, Operator};

/// Operations [`build`] knows, as the control socket names them.
pub const OPS: &[&str] = &[
    "inspect",
    "put_away",
    "exchange_shipped",
    "restock",
    "rtv",
    "reprint",
    "void",
    "bin_set",
    "bin_retire",
    "bin_reactivate",
    "rtv_close",
    "unlock",
    "photo_lost",
];

pub fn s<'a>(req: &'a Value, k: &str) -> Result<&'a str, String> {
    req.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{k} is required and must be a string"))
}

fn items(req: &Value) -> Result<Vec<u32>, String> {
    match req.get("items") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| "items must be item numbers".to_string())
            })
            .collect(),
        Some(_) => Err("items must be an array".into()),
    }
}

/// `checklist`: `[{"code": "packaging_intact", "met": true}, …]` (optional).
fn checklist(req: &Value) -> Result<Vec<CheckLine>, String> {
    let bad = || "checklist must be [{\"code\": string, \"met\": boolean}, …]".to_string();
    match req.get("checklist") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|l| {
                Ok(CheckLine {
                    code: l
                        .get("code")
                        .and_then(Value::as_str)
                        .ok_or_else(bad)?
                        .to_string(),
                    met: l.get("met").and_then(Value::as_bool).ok_or_else(bad)?,
                })
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

fn strings(req: &Value, k: &str) -> Result<Vec<String>, String> {
    match req.get(k) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{k} must be strings"))
            })
            .collect(),
        Some(_) => Err(format!("{k} must be an array")),
    }
}

/// An optional string field: absent or null is None.
fn opt_s(req: &Value, k: &str) -> Result<Option<String>, String> {
    match req.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) => Ok(Some(v.clone())),
        Some(_) => Err(format!("{k} must be a string")),
    }
}

fn return_id(req: &Value) -> Result<ReturnId, String> {
    let v = s(req, "return_id")?;
    ReturnId::parse(v).map_err(|e| format!("return_id {v:?} is malformed ({})", e.code()))
}

/// Parse a zone given as a scanned code (`Z-GOOD`, `Z-A01`) or a plain name (`good`, `A01`).
/// Anything else must be a well-formed bin code; whether that bin exists is the domain's
/// to say.
pub fn parse_zone(z: &str) -> Result<ZoneScan, String> {
    let name = z.strip_prefix("Z-").unwrap_or(z).to_ascii_uppercase();
    Ok(match name.as_str() {
        "PENDING" => ZoneScan::Pending,
        "GOOD" => ZoneScan::Good,
        "DEFECT" => ZoneScan::Defect,
        other => ZoneScan::Bin(BinCode::parse(other).map_err(|e| {
            format!(
                "zone {z:?} is malformed: use PENDING, GOOD, DEFECT or a bin code, {} ({})",
                BinCode::RULE,
                e.code()
            )
        })?),
    })
}

fn placeholder_operator(badge: &Badge) -> Operator {
    Operator {
        badge: badge.clone(),
        role: Role::Keeper,
    }
}

/// Build the command `op` for the operator `badge` from the request's fields. Photos named
/// by an inspection are resolved against the photo store under `state_dir`.
pub fn build(op: &str, req: &Value, badge: &Badge, state_dir: &Path) -> Result<Command, String> {
    let by = placeholder_operator(badge);
    let cmd = match op {
        "inspect" => {
            let grade_s = s(req, "grade")?;
            let photos = match req.get("photos") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|p| resolve_photo(state_dir, p))
                    .collect::<Result<Vec<PhotoRef>, String>>()?,
                Some(_) => return Err("photos must be an array".into()),
            };
            Command::Inspect {
                by,
                return_id: return_id(req)?,
                items: items(req)?,
                grade: Grade::parse(grade_s)
                    .ok_or_else(|| format!("grade {grade_s:?} is not good or defect"))?,
                defect_reasons: strings(req, "defect_reasons")?,
                note: req
                    .get("note")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                photos,
                checklist: checklist(req)?,
            }
        }
        "put_away" => Command::PutAway {
            by,
            return_id: return_id(req)?,
            items: items(req)?,
            zone: parse_zone(s(req, "zone")?)?,
        },
        "exchange_shipped" => {
            let w = s(req, "waybill")?;
            Command::ExchangeShipped {
                by,
                return_id: return_id(req)?,
                waybill: Waybill::parse(w)
                    .map_err(|e| format!("waybill {w:?} is malformed ({})", e.code()))?,
                items: items(req)?,
            }
        }
        "restock" => Command::Restock {
            by,
            return_id: return_id(req)?,
        },
        "rtv" => {
            let refs = strings(req, "items")?
                .iter()
                .map(|i| {
                    ItemRef::parse(i).map_err(|e| {
                        format!(
                            "item {i:?} is not an item label like R-ST01-20261125-0001.1 ({})",
                            e.code()
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Command::CreateRtvNote {
                by,
                vendor: s(req, "vendor")?.to_string(),
                items: refs,
            }
        }
        "reprint" => Command::Reprint {
            by,
            return_id: return_id(req)?,
            reason: s(req, "reason")?.to_string(),
        },
        "void" => Command::Void {
            by,
            return_id: return_id(req)?,
            reason: s(req, "reason")?.to_string(),
        },
        other => return supervisor_command(other, req, by),
    };
    Ok(cmd)
}

/// The supervisor's commands: bins, RTV-note closing, unlocking a badge, a lost photo.
fn supervisor_command(op: &str, req: &Value, by: Operator) -> Result<Command, String> {
    let cmd = match op {
        "bin_set" => {
            let class_s = s(req, "class")?;
            Command::SetBin {
                by,
                code: s(req, "code")?.to_string(),
                change: BinChange::Upsert {
                    class: BinClass::parse(class_s)
                        .ok_or_else(|| format!("class {class_s:?} is not good or defect"))?,
                    label: opt_s(req, "label")?,
                },
            }
        }
        "unlock" => {
            let b = s(req, "unlock_badge")?;
            let b = b.strip_prefix("OP-").unwrap_or(b);
            Command::Unlock {
                by,
                badge: Badge::parse(b).map_err(|_| {
                    format!("unlock_badge {b:?} is not a badge (1 to 32 of A-Z a-z 0-9 _)")
                })?,
            }
        }
        "photo_lost" => Command::PhotoLost {
            by,
            sha256: s(req, "sha256")?.to_string(),
            reason: opt_s(req, "reason")?.unwrap_or_default(),
        },
        "bin_retire" | "bin_reactivate" => Command::SetBin {
            by,
            code: s(req, "code")?.to_string(),
            change: if op == "bin_retire" {
                BinChange::Retire
            } else {
                BinChange::Reactivate
            },
        },
        "rtv_close" => {
            let waybill = match opt_s(req, "waybill")?.filter(|w| !w.trim().is_empty()) {
                None => None,
                Some(w) => Some(Waybill::parse(w.trim()).map_err(|e| {
                    format!(
                        "waybill {w:?} is malformed: use 6 to 40 letters and digits ({})",
                        e.code()
                    )
                })?),
            };
            Command::CloseRtvNote {
                by,
                note_no: s(req, "note_no")?.to_string(),
                waybill,
                note: opt_s(req, "note")?.unwrap_or_default(),
            }
        }
        other => return Err(format!("unknown op {other:?}")),
    };
    Ok(cmd)
}

/// A photo named by an inspection must be in the station's store (it is uploaded before
/// the event); its size and type are taken from the stored bytes, not from the request.
fn resolve_photo(state_dir: &std::path::Path, p: &Value) -> Result<PhotoRef, String> {
    let sha = match p {
        Value::String(s) => s.split(':').next().unwrap_or("").to_string(),
        Value::Object(o) => o
            .get("sha256")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => return Err("photos must be sha256 strings or {sha256, …} objects".into()),
    };
    match crate::photos::read(state_dir, &sha).map_err(|e| e.to_string())? {
        Some((bytes, content_type)) => Ok(PhotoRef {
            sha256: sha,
            bytes: bytes.len() as u64,
            content_type,
        }),
        None => Err(format!(
            "photo {sha} is not in the photo store; add it first with `returnsd photo add FILE`"
        )),
    }
}
