//! The binary's edge: parse the command line, hand each command to its group's function,
//! and turn a failure into `returnsd: <message>` on standard error with exit status 2 (a
//! command's own answers choose 0, 1 or 3). This is the one place `anyhow` is used: to
//! print a daemon that could not start with its causes.

use std::process::ExitCode;

use clap::Parser;

use super::args::{Cli, Cmd, LabelCmd, ManifestCmd, PhotoCmd, PrintCmd, SyncCmd};
use super::error::CliError;
use super::{backup, export, import, live, local, ops, reads};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // First, before any thread starts: bound the allocator's arenas.
    crate::app::bound_malloc_arenas();
    match dispatch(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            // Only a daemon's start error has causes; every other message stands alone.
            eprintln!("returnsd: {:#}", anyhow::Error::from(e));
            ExitCode::from(2)
        }
    }
}

/// Run one command; its exit status, or why it could not answer.
fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let config = &cli.config;
    match cli.cmd {
        Cmd::Run { scan_stdin } => local::run(config, scan_stdin),
        Cmd::CheckConfig => local::check_config(config),
        Cmd::PinHash => local::pin_hash(),
        Cmd::Init { new_epoch } => local::init(config, new_epoch),
        Cmd::Photo {
            cmd: PhotoCmd::Add { file },
        } => local::photo_add(config, &file),
        Cmd::Devices { json, live, .. } if live => live::devices(config, json),
        Cmd::Devices {
            json, sysfs, dev, ..
        } => local::devices(json, sysfs, dev),
        Cmd::Commands {
            out,
            font,
            badges,
            bins,
        } => local::command_sheet(config, &out, font.as_deref(), badges, bins),
        Cmd::Ping { json } => live::ping(config, json),
        Cmd::Sync {
            cmd: SyncCmd::Status { json },
        } => live::sync_status(config, json),
        Cmd::Scan {
            bench,
            json,
            retry_for,
            codes,
        } => ops::scan(config, bench, retry_for, json, codes),
        Cmd::Operator(cmd) => ops::command(config, cmd),
        Cmd::Returns { cmd } => reads::returns(config, cmd),
        Cmd::Stock { json } => reads::stock(config, json),
        Cmd::Print {
            cmd: PrintCmd::Queue { all, limit, json },
        } => reads::print_queue(config, all, limit, json),
        Cmd::Label {
            cmd:
                LabelCmd::Preview {
                    job,
                    return_id,
                    out,
                },
        } => reads::label_preview(config, job, return_id.as_deref(), &out),
        Cmd::Journal { cmd } => reads::journal(config, cmd),
        Cmd::Backup { out } => backup::backup(config, &out),
        Cmd::Restore {
            from: Some(from), ..
        } => backup::restore(config, &from),
        Cmd::Restore { from: None, .. } => backup::confirm_moved(config),
        Cmd::Export { since, format, out } => {
            export::export(config, &since, format, out.as_deref())
        }
        Cmd::Manifest {
            cmd: ManifestCmd::Import { file, format },
        } => import::manifest_import(config, &file, format),
    }
}
