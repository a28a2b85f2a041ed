//! Commands that do their work here, asking no daemon: the daemon itself (`run`),
//! `check-config`, `pin-hash`, `init --new-epoch`, `photo add`, `devices` (the scanners
//! this machine can see) and `commands` (the printable command sheet).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::error::CliError;
use super::logging::init_tracing;
use super::setup::{config_path, load_config, lock_state_dir, runtime};
use crate::app::{self, RunOptions};

/// `returnsd run`: the daemon, until SIGTERM or SIGINT.
pub fn run(config: &Option<PathBuf>, scan_stdin: bool) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    init_tracing(&cfg);
    let clock = crate::engine::system_clock();
    runtime()?.block_on(app::run(cfg, RunOptions { scan_stdin }, clock))?;
    Ok(ExitCode::SUCCESS)
}

/// `returnsd check-config`: OK with what the config names, or every problem (exit 1).
pub fn check_config(config: &Option<PathBuf>) -> Result<ExitCode, CliError> {
    let p = config_path(config);
    match crate::config::load(&p) {
        Ok(c) => {
            println!(
                "{}: OK (station {}, database {}, socket {})",
                p.display(),
                c.station.id,
                c.storage.database.display(),
                c.control.socket.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `returnsd pin-hash`: the argon2id hash of the PIN on standard input's first line.
pub fn pin_hash() -> Result<ExitCode, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(CliError::io("cannot read the PIN from standard input"))?;
    let pin = line.trim_end_matches(['\n', '\r']);
    println!("{}", crate::http::auth::hash_pin(pin)?);
    Ok(ExitCode::SUCCESS)
}

/// `returnsd init --new-epoch`: a new database with a new epoch, where none with content
/// is (under the state directory's lock: never beside the daemon).
pub fn init(config: &Option<PathBuf>, new_epoch: bool) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    if !new_epoch {
        return Err(CliError::Usage(
            "returnsd init creates a database with a new epoch: say so with --new-epoch".into(),
        ));
    }
    let _lock = lock_state_dir(&cfg, "returnsd init")?;
    let db = &cfg.storage.database;
    let st = crate::store::Store::create_new_epoch(db, cfg.station.id.as_str())?;
    println!(
        "{}: new database for station {}, epoch {}",
        db.display(),
        cfg.station.id,
        st.epoch()
    );
    Ok(ExitCode::SUCCESS)
}

/// `returnsd photo add FILE`: store the image; print its reference for `inspect --photo`.
pub fn photo_add(config: &Option<PathBuf>, file: &Path) -> Result<ExitCode, CliError> {
    let cfg = load_config(config)?;
    let bytes = std::fs::read(file).map_err(CliError::io(file.display()))?;
    let p = crate::photos::store(&cfg.storage.state_dir, &bytes)
        .map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
    println!("{}:{}:{}", p.sha256, p.bytes, p.content_type);
    Ok(ExitCode::SUCCESS)
}

/// `returnsd devices`: the scanners under these sysfs and /dev roots (no config needed).
pub fn devices(as_json: bool, sysfs: PathBuf, dev: PathBuf) -> Result<ExitCode, CliError> {
    let roots = crate::devices::discover::Roots { sysfs, dev };
    print!("{}", crate::devices::devices_cmd::render(&roots, as_json));
    Ok(ExitCode::SUCCESS)
}

/// `returnsd commands --out FILE [--badges | --bins]`: the printable command sheet, the
/// operators' badges or the bins' labels (the last two from the config).
pub fn command_sheet(
    config: &Option<PathBuf>,
    out: &Path,
    font: Option<&Path>,
    badges: bool,
    bins: bool,
) -> Result<ExitCode, CliError> {
    use crate::sheet::Sheet;
    let sheet = if badges || bins {
        let cfg = load_config(config)?;
        if badges {
            Sheet::badges(
                cfg.operators
                    .iter()
                    .map(|o| (o.badge.as_str(), o.roles.clone())),
            )?
        } else {
            Sheet::Bins(cfg.zones.bins.clone())
        }
    } else {
        Sheet::Commands
    };
    for file in crate::sheet::write_sheet(&sheet, out, font)? {
        println!("{}: sheet written", file.display());
    }
    Ok(ExitCode::SUCCESS)
}
