//! API reads of the station's health: `GET /devices` (the device board), `GET /sync` (the
//! sync status and the disk) and `GET /alarms` (everything that needs an operator now,
//! each with a stable code; also what the event stream's `alarms` carries).

use chrono::Utc;
use serde_json::{Value, json};

use super::ctx::Ctx;
use super::dto::{AlarmOut, to_json};
use super::error::ApiError;
use super::status::sync_json;
use crate::i18n::{Lang, message};
use crate::store::jobs;
use crate::views;

/// `GET /devices`.
pub fn devices(ctx: &Ctx) -> Value {
    json!({"devices": ctx.state.board.to_json()})
}

/// `GET /sync`: the sync status with the disk's; a blocked photo's alarm in the caller's
/// language (`push.blocked_photo.message`).
pub async fn sync(ctx: &Ctx) -> Result<Value, ApiError> {
    let status = ctx.state.sync.clone();
    let mut v = ctx
        .state
        .read(move |r| sync_json(r, &status, Utc::now()))
        .await?;
    let cfg = &ctx.state.cfg;
    v["disk"] = views::disk_json(
        &ctx.state.engine.stats,
        cfg.storage.cap_bytes,
        cfg.storage.high_water_pct,
    );
    // The photo holding the push back, worded in the caller's language (contract 1.1).
    if let Some(message) = views::blocked_photo_alarm(ctx.lang, &v) {
        v["push"]["blocked_photo"]["message"] = json!(message);
    }
    Ok(v)
}

/// The alarms being collected, each worded in the caller's language.
struct Alarms {
    lang: Lang,
    out: Vec<AlarmOut>,
}

impl Alarms {
    fn add(
        &mut self,
        code: &'static str,
        critical: bool,
        subject: Option<String>,
        p: &[(&str, String)],
    ) {
        self.out.push(AlarmOut {
            code,
            severity: if critical { "critical" } else { "warning" },
            subject,
            message: message(self.lang, &format!("alarm.{code}"), p),
        });
    }
}

/// `GET /alarms`: everything that needs an operator now, each with a stable code.
pub async fn alarms(ctx: &Ctx) -> Result<Value, ApiError> {
    let mut a = Alarms {
        lang: ctx.lang,
        out: Vec::new(),
    };
    for d in ctx.state.board.snapshot() {
        if d.state.is_alarm() {
            let state = d.state.as_str().to_string();
            a.add(
                "device",
                true,
                Some(d.id.clone()),
                &[("device", d.id), ("state", state)],
            );
        }
    }
    status_alarms(&mut a, &sync(ctx).await?);
    let jobs = ctx.state.read(|r| jobs::list(r, false, 500)).await?;
    for j in jobs {
        let id = j.id.to_string();
        if j.state == "failed" {
            a.add("print_failed", true, Some(id.clone()), &[("job", id)]);
        } else if j.state == "queued" && j.attempts > 0 {
            a.add("print_stuck", false, Some(id.clone()), &[("job", id)]);
        }
    }
    Ok(json!({"alarms": to_json(a.out)?}))
}

/// The sync push, the disk and the clock, from the status as `GET /sync` shows it.
fn status_alarms(a: &mut Alarms, s: &Value) {
    let push = s["push"]["state"].as_str().unwrap_or("").to_string();
    if let Some(message) = views::blocked_photo_alarm(a.lang, s) {
        // Contract 1.1: which photo holds the push back, and what a supervisor can do.
        let sha = s["push"]["blocked_photo"]["sha256"].as_str().unwrap_or("");
        a.out.push(AlarmOut {
            code: "sync_photo_blocked",
            severity: "critical",
            subject: Some(sha.to_string()),
            message,
        });
    } else if !matches!(push.as_str(), "idle" | "sending" | "disabled" | "") {
        let critical = push != "backoff";
        a.add("sync_push", critical, None, &[("state", push)]);
    }
    let disk = &s["disk"];
    if let Some(detail) = disk["storage_fault"].as_str() {
        a.add(
            "storage_fault",
            true,
            None,
            &[("detail", detail.to_string())],
        );
    }
    if disk["full_reason"] == "filesystem" {
        let free = views::mib(disk["fs_free_bytes"].as_u64().unwrap_or(0));
        a.add("fs_full", true, None, &[("free", free)]);
    } else if disk["full_reason"] == "cap" {
        a.add("disk_full", true, None, &[]);
    } else if disk["high_water"] == json!(true) {
        a.add("disk_high_water", false, None, &[]);
    }
    if s["clock_alarm"] == json!(true) {
        let off = s["clock_offset_ms"].to_string();
        a.add("clock_offset", false, None, &[("offset_ms", off)]);
    }
}
