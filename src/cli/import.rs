//! `returnsd manifest import`: customer service's returns log as versioned upserts. With
//! a daemon running, the file goes to it in parts (the engine applies each in its group
//! commit, between scans); with none, it is applied here, under the state directory's lock,
//! in one transaction, with the engine's own function. Bad lines are reported with their
//! line number and never stop the rest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use super::error::CliError;
use super::render;
use super::setup::{load_config, lock_state_dir, runtime};
use crate::config::Config;
use crate::control::{self, RequestError};
use crate::manifest::{self, ImportFormat, ImportReport, Parsed};
use crate::store::{self, Store};

/// Lines of a manifest file per request to the daemon, and their JSON size at most: each
/// part is one input of the engine's group commit, so scans wait for at most one part.
const IMPORT_PART_LINES: usize = 200;
const IMPORT_PART_BYTES: usize = 1 << 20;

/// `returnsd manifest import FILE`: exit 1 when a line was rejected.
pub fn manifest_import(
    config: &Option<PathBuf>,
    file: &Path,
    format: Option<ImportFormat>,
) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let parsed = manifest::parse(file, format)?;
    let r = match runtime()?.block_on(import_via_daemon(&cfg, &parsed))? {
        Some(r) => r,
        None => import_here(&cfg, &parsed)?,
    };
    let lang = crate::i18n::Lang::parse(&cfg.station.language);
    print!("{}", render::import_text(file, &r, lang));
    Ok(if r.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The file's lines as the daemon's requests take them: at most [`IMPORT_PART_LINES`]
/// lines and about [`IMPORT_PART_BYTES`] of JSON a part (a longer line is a part alone);
/// one part at least.
fn parts(parsed: &Parsed) -> Vec<Vec<Value>> {
    let mut parts = Vec::new();
    let mut part: Vec<Value> = Vec::new();
    let mut bytes = 0;
    for line in &parsed.lines {
        let v = manifest::line_json(line);
        let n = v.to_string().len();
        if !part.is_empty() && (part.len() >= IMPORT_PART_LINES || bytes + n > IMPORT_PART_BYTES) {
            parts.push(std::mem::take(&mut part));
            bytes = 0;
        }
        bytes += n;
        part.push(v);
    }
    parts.push(part);
    parts
}

/// Send a parsed manifest file to the running daemon in parts. `None` when no daemon runs
/// (nothing was sent); a daemon lost or refusing midway is an error that says how far the
/// import got and that running it again is safe.
async fn import_via_daemon(
    cfg: &Config,
    parsed: &Parsed,
) -> Result<Option<ImportReport>, CliError> {
    let mut report = ImportReport::default();
    let mut done = 0;
    for (i, part) in parts(parsed).into_iter().enumerate() {
        let n = part.len();
        let req = json!({"op": "manifest_import", "source": parsed.source, "lines": part});
        let reply = match control::request(&cfg.control.socket, &req).await {
            Ok(v) => v,
            Err(RequestError::Unreachable(_)) if i == 0 => return Ok(None),
            Err(e) => {
                return Err(CliError::Failed(format!(
                    "{e}: the import stopped after {done} of {} lines; run it again (versioned upserts make that safe)",
                    parsed.lines.len()
                )));
            }
        };
        match ImportReport::from_json(&reply) {
            Some(r) if reply["ok"] == true => report.add(r),
            _ => {
                return Err(CliError::Failed(format!(
                    "the daemon did not store part of the import ({}): {done} of {} lines are in; run it again once the alarm clears",
                    reply["error"].as_str().unwrap_or("no reason given"),
                    parsed.lines.len()
                )));
            }
        }
        done += n;
    }
    Ok(Some(report))
}

/// Apply a parsed manifest file with no daemon running: under the state directory's lock,
/// in one transaction, with the engine's own function. Creates the database if the daemon
/// never ran (a station can be loaded before its first start).
fn import_here(cfg: &Config, parsed: &Parsed) -> Result<ImportReport, CliError> {
    let _lock = lock_state_dir(cfg, "returnsd manifest import")?;
    let db = &cfg.storage.database;
    let store = Store::open(db, cfg.station.id.as_str())?;
    let r = store::offline::in_transaction(&store, |conn| {
        manifest::apply(conn, &parsed.source, &parsed.lines, chrono::Utc::now())
            .map_err(|e| e.at(db))
    })?;
    Ok(r)
}
