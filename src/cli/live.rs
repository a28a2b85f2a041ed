//! Commands that ask the running daemon what it knows right now: `ping`, `devices --live`,
//! `sync status` (which, with the daemon down, still shows what the database says).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use tokio::runtime::Runtime;

use super::error::CliError;
use super::render;
use super::setup::{existing_database, load_config, runtime};
use crate::config::Config;
use crate::control::RequestError;
use crate::i18n::Lang;

/// One request to the daemon, one answer (no request id: these ask, they change nothing).
fn ask(rt: &Runtime, cfg: &Config, op: &str) -> Result<Value, RequestError> {
    rt.block_on(crate::control::request(
        &cfg.control.socket,
        &json!({"op": op}),
    ))
}

/// `returnsd ping`: who the daemon is.
pub fn ping(config: &Option<PathBuf>, as_json: bool) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let lang = Lang::parse(&cfg.station.language);
    let reply = ask(&runtime()?, &cfg, "ping")?;
    if as_json {
        println!("{reply}");
    } else {
        print!("{}", render::ping_text(&reply, lang));
    }
    Ok(ExitCode::SUCCESS)
}

/// `returnsd devices --live`: the daemon's board; exit 1 when a device is in alarm.
pub fn devices(config: &Option<PathBuf>, as_json: bool) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let lang = Lang::parse(&cfg.station.language);
    let reply = ask(&runtime()?, &cfg, "devices")?;
    let devices = reply["devices"].as_array().cloned().unwrap_or_default();
    if as_json {
        for d in &devices {
            println!("{d}");
        }
    } else {
        print!("{}", crate::board::board_text(&devices, lang));
    }
    let alarm = devices.iter().any(|d| d["alarm"] == true);
    Ok(if alarm {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `returnsd sync status`: the daemon's view; with the daemon down, the journal's figures
/// from the database (the workers' state is then unknown, and said so).
pub fn sync_status(config: &Option<PathBuf>, as_json: bool) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let v = match ask(&runtime()?, &cfg, "sync_status") {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}\n(showing what the database says; worker state unknown)");
            let conn = crate::store::open_checked(existing_database(&cfg)?)?;
            let counters = crate::store::sync_counters(&conn)?;
            crate::views::sync_status_json(
                &counters,
                &crate::sync_status::new_status(),
                chrono::Utc::now(),
            )
        }
    };
    if as_json {
        println!("{v}");
    } else {
        let lang = Lang::parse(&cfg.station.language);
        print!("{}", render::sync_status_text(&v, lang));
    }
    Ok(ExitCode::SUCCESS)
}
