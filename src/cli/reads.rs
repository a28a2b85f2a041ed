//! Commands that read the station database directly, beside a running daemon or without
//! one (WAL lets them read while the engine writes): `returns list|show`, `stock`, `print queue`,
//! `label preview`, `journal verify`; and `journal rebuild`, which rewrites the
//! projections and so takes the state directory's lock (refused while the daemon runs).
//! The reads are the store's and the views'; this file picks them and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::args::{JournalCmd, ReturnsCmd};
use super::error::CliError;
use super::render;
use super::setup::{existing_database, load_config, lock_state_dir};
use crate::i18n::Lang;
use crate::privacy::{mask_name, mask_phone_tail};
use crate::store;
use crate::views::{self, ReturnDetail, ReturnFilter};

/// `returnsd returns list|show`.
pub fn returns(config: &Option<PathBuf>, cmd: ReturnsCmd) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let conn = store::open_checked(existing_database(&cfg)?)?;
    let tz = &cfg.station.timezone;
    match cmd {
        ReturnsCmd::List { stage, limit, json } => {
            let filter = ReturnFilter {
                stage,
                limit,
                ..Default::default()
            };
            let rows = views::list_returns(&conn, &filter)?;
            if json {
                print!("{}", render::returns_json_lines(&rows));
            } else {
                let lang = Lang::parse(&cfg.station.language);
                print!("{}", render::returns_table(&rows, lang, tz));
            }
        }
        ReturnsCmd::Show { id, json, reveal } => {
            let Some(detail) = views::return_detail(&conn, &id)? else {
                let lang = Lang::parse(&cfg.station.language);
                eprintln!(
                    "{}",
                    crate::i18n::message(lang, "unknown_return", &[("return_id", id.clone())])
                );
                return Ok(ExitCode::from(1));
            };
            let (mut st, events) = shown(detail, reveal);
            if json {
                st["events"] = json!(events);
                let pretty = serde_json::to_string_pretty(&st)
                    .map_err(|e| CliError::Failed(e.to_string()))?;
                println!("{pretty}");
            } else {
                let lang = Lang::parse(&cfg.station.language);
                print!("{}", render::return_text(&id, &st, &events, lang, tz));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `returnsd stock`: stock per zone and SKU (the `stock` table, kept with every ledger
/// entry), zones in the station's language.
pub fn stock(config: &Option<PathBuf>, json: bool) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let conn = store::open_checked(existing_database(&cfg)?)?;
    let rows = views::zone_stock(&conn)?;
    if json {
        print!("{}", render::stock_json_lines(&rows));
    } else {
        print!(
            "{}",
            render::stock_table(&rows, Lang::parse(&cfg.station.language))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A return's snapshot with the customer's name and phone tail as they may be shown:
/// masked unless `reveal`; and its events.
fn shown(detail: ReturnDetail, reveal: bool) -> (serde_json::Value, Vec<serde_json::Value>) {
    let ReturnDetail {
        state: mut st,
        customer_name: name,
        customer_phone_tail: tail,
        events,
    } = detail;
    let (name, tail) = if reveal {
        (name, tail)
    } else {
        (mask_name(&name), mask_phone_tail(&tail))
    };
    st["customer_name"] = json!(name);
    st["customer_phone_tail"] = json!(tail);
    (st, events)
}

/// `returnsd print queue`: jobs waiting, sent but not confirmed, or failed (`--all`: every
/// recent one).
pub fn print_queue(
    config: &Option<PathBuf>,
    all: bool,
    limit: i64,
    as_json: bool,
) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let conn = store::open_checked(existing_database(&cfg)?)?;
    print!(
        "{}",
        crate::labels::view::queue_text(&conn, all, limit, as_json)?
    );
    Ok(ExitCode::SUCCESS)
}

/// `returnsd label preview`: a job's bytes, as sent, drawn to a PNG file.
pub fn label_preview(
    config: &Option<PathBuf>,
    job: Option<i64>,
    return_id: Option<&str>,
    out: &Path,
) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let conn = store::open_checked(existing_database(&cfg)?)?;
    let (j, png) = crate::labels::view::preview(&cfg.print_settings(), &conn, job, return_id)?;
    std::fs::write(out, png).map_err(CliError::io(out.display()))?;
    println!(
        "job {} ({} {} for {}, {}) -> {}",
        j.id,
        j.template,
        j.reason,
        j.subject,
        j.state,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `returnsd journal verify|rebuild`: exit 1 when the journal and the projections disagree.
pub fn journal(config: &Option<PathBuf>, cmd: JournalCmd) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let conn = store::open_checked(existing_database(&cfg)?)?;
    let v = match cmd {
        JournalCmd::Verify => store::verify(&conn)?,
        JournalCmd::Rebuild => {
            // Rebuilding rewrites the projections: never beside a running daemon.
            let _lock = lock_state_dir(&cfg, "returnsd journal rebuild")?;
            drop(conn);
            store::rebuild_at(existing_database(&cfg)?)?
        }
    };
    let lang = Lang::parse(&cfg.station.language);
    print!("{}", render::verification_text(&v, lang));
    Ok(if v.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
