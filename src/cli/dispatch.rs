//! The `returnsd` command line. Daemon: `run`. Operator commands that change state go
//! through the running daemon's control socket (so the engine stays the only writer of
//! events); read-only commands and `manifest import` open the database directly.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::config::{self, Config};
use crate::control;
use crate::i18n::{Lang, message};
use crate::privacy::{mask_name, mask_phone_tail};
use crate::store::{self, codec};

#[derive(Parser, Debug)]
#[command(
    name = "returnsd",
    version,
    about = "Returns-bench daemon: scanners, labels, SQLite journal, central sync"
)]
pub struct Cli {
    /// Station config file [default: $CONFIGURATION_DIRECTORY/station.toml or /etc/returnsd/station.toml]
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the daemon.
    Run {
        /// Also read scans from standard input, one per line.
        #[arg(long)]
        scan_stdin: bool,
    },
    /// Validate a config file; prints every problem as file:line: key: what is wrong.
    CheckConfig,
    /// Print the argon2id hash of a PIN read from standard input (one line), for `pin_hash`
    /// of an `[[operators]]` entry or of the central's `operator` items. The PIN itself is
    /// never printed or stored: `returnsd pin-hash`, type the PIN, Enter.
    PinHash,
    /// Ask the running daemon who it is: station, epoch, HTTP address and, with TLS, the
    /// certificate fingerprint to compare when pairing a handheld.
    Ping {
        /// Print the daemon's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Send scans to the running daemon; returns once each is durably recorded.
    /// Exit status: 0 all accepted, 1 some refused (ERR), 2 some NOT SAVED (nothing
    /// recorded: scan again), 3 some UNKNOWN (the daemon stopped before answering and did
    /// not come back within --retry-for: check before scanning again).
    Scan {
        /// Bench (scanner position) name [default: scan.default_bench]
        #[arg(long)]
        bench: Option<String>,
        /// How long to keep asking a daemon that stopped before answering (each scan
        /// carries a request id, so asking again never records it twice).
        #[arg(long, default_value = "10", value_name = "SECONDS")]
        retry_for: u64,
        /// Print the daemon's JSON replies.
        #[arg(long)]
        json: bool,
        /// Codes as scanned.
        #[arg(required = true)]
        codes: Vec<std::ffi::OsString>,
    },
    /// Record the second inspection of a return's items.
    Inspect {
        return_id: String,
        #[arg(long)]
        badge: String,
        #[arg(long, value_parser = ["good", "defect"])]
        grade: String,
        /// Defect reason code (repeat for several).
        #[arg(long = "reason")]
        reasons: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
        /// Item numbers (default: all not yet inspected).
        #[arg(long, value_delimiter = ',')]
        items: Vec<u32>,
        /// Photo reference as sha256:bytes:content-type (repeat for several).
        #[arg(long = "photo")]
        photos: Vec<String>,
    },
    /// Put inspected items away to a zone or bin (Z-GOOD, Z-DEFECT, Z-<bin>).
    PutAway {
        return_id: String,
        #[arg(long)]
        badge: String,
        #[arg(long)]
        zone: String,
        #[arg(long, value_delimiter = ',')]
        items: Vec<u32>,
    },
    /// Record that the exchange (or the original goods) shipped back to the customer.
    ExchangeShipped {
        return_id: String,
        #[arg(long)]
        badge: String,
        #[arg(long)]
        waybill: String,
        #[arg(long, value_delimiter = ',')]
        items: Vec<u32>,
    },
    /// Release a return's good items to sellable stock.
    Restock {
        return_id: String,
        #[arg(long)]
        badge: String,
    },
    /// Create a return-to-vendor note over defect items (item labels like R-ST01-20261125-0001.1).
    Rtv {
        #[arg(long)]
        badge: String,
        #[arg(long)]
        vendor: String,
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// Record that an RTV note's goods were handed to the vendor (supervisor).
    RtvClose {
        note_no: String,
        #[arg(long)]
        badge: String,
        /// The carrier's waybill of the handover.
        #[arg(long)]
        waybill: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Add, relabel, retire or reactivate a bin (supervisor; overlays `[[zones.bins]]`).
    Bin {
        #[command(subcommand)]
        cmd: BinCmd,
    },
    /// Reprint a return's label (journaled with the reason).
    Reprint {
        return_id: String,
        #[arg(long)]
        badge: String,
        #[arg(long)]
        reason: String,
    },
    /// Void a return recorded in error (supervisor; before first check only).
    Void {
        return_id: String,
        #[arg(long)]
        badge: String,
        #[arg(long)]
        reason: String,
    },
    /// List or show returns.
    Returns {
        #[command(subcommand)]
        cmd: ReturnsCmd,
    },
    /// Export journal events.
    Export {
        /// RFC 3339 time or YYYY-MM-DD (station time zone).
        #[arg(long)]
        since: String,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Start afresh where the database is missing or empty: a new database with a new
    /// epoch (the central then treats this station's journal as a new sequence).
    Init {
        /// Required: say that a new epoch is meant.
        #[arg(long)]
        new_epoch: bool,
    },
    /// Check or rebuild the journal.
    Journal {
        #[command(subcommand)]
        cmd: JournalCmd,
    },
    /// Import customer service's returns log (expected returns).
    Manifest {
        #[command(subcommand)]
        cmd: ManifestCmd,
    },
    /// Central sync: status.
    Sync {
        #[command(subcommand)]
        cmd: SyncCmd,
    },
    /// The photo store.
    Photo {
        #[command(subcommand)]
        cmd: PhotoCmd,
    },
    /// The durable print queue.
    Print {
        #[command(subcommand)]
        cmd: PrintCmd,
    },
    /// Label previews.
    Label {
        #[command(subcommand)]
        cmd: LabelCmd,
    },
    /// List the scanners this machine can see (serial ports, HID devices) with their
    /// profile and a ready-to-paste [[scanners]] snippet. Needs no daemon and no config.
    Devices {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// sysfs root (a fake tree for tests).
        #[arg(long, default_value = "/sys")]
        sysfs: PathBuf,
        /// /dev root (a fake tree for tests).
        #[arg(long, default_value = "/dev")]
        dev: PathBuf,
        /// Ask the running daemon instead: its configured scanners and printers, their
        /// state (connected, ok, fault, unknown, offline) and alarms.
        #[arg(long)]
        live: bool,
    },
    /// Render the printable command-code sheet.
    Commands {
        #[arg(long)]
        out: PathBuf,
        /// A TrueType/TTC font with Chinese glyphs [default: WenQuanYi Micro Hei or Noto Sans CJK].
        #[arg(long)]
        font: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum BinCmd {
    /// Add a bin or set its class and label (no --label: none).
    Set {
        code: String,
        #[arg(long)]
        badge: String,
        /// good or defect
        #[arg(long)]
        class: String,
        #[arg(long)]
        label: Option<String>,
    },
    /// Refuse further put-away into an empty bin.
    Retire {
        code: String,
        #[arg(long)]
        badge: String,
    },
    /// Accept put-away into a retired bin again.
    Reactivate {
        code: String,
        #[arg(long)]
        badge: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReturnsCmd {
    /// Returns, newest first; customer names masked.
    List {
        #[arg(long)]
        stage: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One return with its items and events.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
        /// Show the customer's name unmasked.
        #[arg(long)]
        reveal: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SyncCmd {
    /// Backlog, oldest unacked age, last success and error, clock offset, feed cursor,
    /// rejected feed items.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum PrintCmd {
    /// Jobs waiting, sent but not confirmed, or failed (with --all: every recent job).
    Queue {
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 200)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum LabelCmd {
    /// Render a print job to PNG exactly as it was sent to the printer.
    Preview {
        /// The job id (`returnsd print queue --all`).
        #[arg(long, conflicts_with = "return_id")]
        job: Option<i64>,
        /// The newest job of this return (or RTV note).
        #[arg(long = "return")]
        return_id: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum PhotoCmd {
    /// Store an image (JPEG, PNG, WebP) and print its reference for `inspect --photo`.
    Add { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum JournalCmd {
    /// Check seq contiguity, order, decodability, and that the projections equal a rebuild.
    Verify,
    /// Rebuild the projections from the journal (stop the daemon first).
    Rebuild,
}

#[derive(Subcommand, Debug)]
pub enum ManifestCmd {
    /// Import a CSV (one row per item line) or JSONL (one expected_return per line) file.
    Import {
        file: PathBuf,
        #[arg(long)]
        format: Option<crate::manifest::ImportFormat>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

fn load_config(path: &Option<PathBuf>) -> Result<Config, String> {
    let p = path.clone().unwrap_or_else(config::default_config_path);
    config::load(&p).map_err(|e| e.to_string())
}

fn init_tracing(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RETURNSD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.json {
        b.json().init();
    } else {
        b.init();
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("returnsd: {e}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// `returnsd ping` for people: one fact a line.
fn ping_text(v: &Value, lang: Lang) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("—").to_string();
    let tls = v["tls_fingerprint"].as_str();
    let http = match (v["http"].as_str(), tls) {
        (Some(a), Some(_)) => format!("https://{a}"),
        (Some(a), None) => format!("http://{a}"),
        (None, _) => "—".to_string(),
    };
    let fp = tls.map_or_else(|| message(lang, "ping.no_tls", &[]), str::to_string);
    let line = |code: &str, value: String| format!("{}: {value}\n", message(lang, code, &[]));
    [
        line("ping.station", s("station")),
        line("ping.epoch", s("epoch")),
        line("ping.http", http),
        line("ping.tls_fingerprint", fp),
    ]
    .concat()
}

fn dispatch(cli: Cli) -> Result<ExitCode, String> {
    match cli.cmd {
        Cmd::PinHash => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the PIN from standard input: {e}"))?;
            let pin = line.trim_end_matches(['\n', '\r']);
            println!("{}", crate::http::auth::hash_pin(pin)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckConfig => {
            let p = cli
                .config
                .clone()
                .unwrap_or_else(config::default_config_path);
            match config::load(&p) {
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
        Cmd::Run { scan_stdin } => {
            let cfg = load_config(&cli.config)?;
            init_tracing(&cfg);
            let rt = runtime()?;
            rt.block_on(crate::app::run(
                cfg,
                crate::app::RunOptions { scan_stdin },
                crate::engine::system_clock(),
            ))
            .map_err(|e| format!("{:#}", anyhow::Error::from(e)))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Ping { json } => {
            let cfg = load_config(&cli.config)?;
            let lang = Lang::parse(&cfg.station.language);
            let reply = runtime()?.block_on(control::request(
                &cfg.control.socket,
                &json!({"op": "ping"}),
            ))?;
            if json {
                println!("{reply}");
            } else {
                print!("{}", ping_text(&reply, lang));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Scan {
            bench,
            json,
            retry_for,
            codes,
        } => {
            let cfg = load_config(&cli.config)?;
            let lang = Lang::parse(&cfg.station.language);
            let rt = runtime()?;
            let retry_for = std::time::Duration::from_secs(retry_for);
            rt.block_on(async {
                let mut worst = 0u8;
                for code in codes {
                    use std::os::unix::ffi::OsStrExt;
                    let mut req =
                        json!({"op": "scan", "code_hex": crate::format::hex_encode(code.as_bytes())});
                    if let Some(b) = &bench {
                        req["bench"] = json!(b);
                    }
                    worst = worst.max(send(&cfg, req, lang, json, retry_for).await?);
                }
                Ok(ExitCode::from(worst))
            })
        }
        Cmd::Init { new_epoch } => {
            let cfg = load_config(&cli.config)?;
            if !new_epoch {
                return Err(
                    "returnsd init creates a database with a new epoch: say so with --new-epoch"
                        .into(),
                );
            }
            std::fs::create_dir_all(&cfg.storage.state_dir)
                .map_err(|e| format!("{}: {e}", cfg.storage.state_dir.display()))?;
            let _lock = store::files::StateLock::acquire(&cfg.storage.state_dir, "returnsd init")
                .map_err(|e| e.to_string())?;
            let st = store::Store::create_new_epoch(&cfg.storage.database, cfg.station.id.as_str())
                .map_err(|e| e.to_string())?;
            println!(
                "{}: new database for station {}, epoch {}",
                cfg.storage.database.display(),
                cfg.station.id,
                st.epoch()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Inspect {
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
                .map(|p| {
                    let parts: Vec<&str> = p.splitn(3, ':').collect();
                    match parts.as_slice() {
                        [sha, bytes, ct] => Ok(json!({"sha256": sha, "bytes": bytes.parse::<u64>().map_err(|_| format!("photo {p:?}: bytes is not a number"))?, "content_type": ct})),
                        _ => Err(format!("photo {p:?}: use sha256:bytes:content-type")),
                    }
                })
                .collect::<Result<Vec<_>, String>>()?;
            op(
                &cli.config,
                json!({"op": "inspect", "badge": badge, "return_id": return_id, "grade": grade,
                "defect_reasons": reasons, "note": note, "items": items, "photos": photos}),
            )
        }
        Cmd::PutAway {
            return_id,
            badge,
            zone,
            items,
        } => op(
            &cli.config,
            json!({"op": "put_away", "badge": badge, "return_id": return_id, "zone": zone, "items": items}),
        ),
        Cmd::ExchangeShipped {
            return_id,
            badge,
            waybill,
            items,
        } => op(
            &cli.config,
            json!({"op": "exchange_shipped", "badge": badge, "return_id": return_id, "waybill": waybill, "items": items}),
        ),
        Cmd::Restock { return_id, badge } => op(
            &cli.config,
            json!({"op": "restock", "badge": badge, "return_id": return_id}),
        ),
        Cmd::Rtv {
            badge,
            vendor,
            items,
        } => op(
            &cli.config,
            json!({"op": "rtv", "badge": badge, "vendor": vendor, "items": items}),
        ),
        Cmd::RtvClose {
            note_no,
            badge,
            waybill,
            note,
        } => op(
            &cli.config,
            json!({"op": "rtv_close", "badge": badge, "note_no": note_no, "waybill": waybill, "note": note}),
        ),
        Cmd::Bin { cmd } => op(
            &cli.config,
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
            },
        ),
        Cmd::Reprint {
            return_id,
            badge,
            reason,
        } => op(
            &cli.config,
            json!({"op": "reprint", "badge": badge, "return_id": return_id, "reason": reason}),
        ),
        Cmd::Void {
            return_id,
            badge,
            reason,
        } => op(
            &cli.config,
            json!({"op": "void", "badge": badge, "return_id": return_id, "reason": reason}),
        ),
        Cmd::Returns { cmd } => {
            let cfg = load_config(&cli.config)?;
            let conn = open_existing(&cfg)?;
            match cmd {
                ReturnsCmd::List { stage, limit, json } => {
                    returns_list(&conn, &cfg, stage, limit, json)
                }
                ReturnsCmd::Show { id, json, reveal } => {
                    returns_show(&conn, &cfg, &id, json, reveal)
                }
            }
        }
        Cmd::Print { cmd } => {
            let cfg = load_config(&cli.config)?;
            let conn = open_existing(&cfg)?;
            match cmd {
                PrintCmd::Queue { all, limit, json } => {
                    print!(
                        "{}",
                        crate::printing::view::queue_text(&conn, all, limit, json)?
                    );
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Cmd::Label { cmd } => {
            let cfg = load_config(&cli.config)?;
            let conn = open_existing(&cfg)?;
            match cmd {
                LabelCmd::Preview {
                    job,
                    return_id,
                    out,
                } => {
                    let (j, png) =
                        crate::printing::view::preview(&cfg, &conn, job, return_id.as_deref())?;
                    std::fs::write(&out, png).map_err(|e| format!("{}: {e}", out.display()))?;
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
            }
        }
        Cmd::Export { since, format, out } => {
            let cfg = load_config(&cli.config)?;
            let conn = open_existing(&cfg)?;
            export(&conn, &cfg, &since, format, out.as_deref())
        }
        Cmd::Journal { cmd } => {
            let cfg = load_config(&cli.config)?;
            let mut conn = open_existing(&cfg)?;
            let v = match cmd {
                JournalCmd::Verify => store::verify(&conn).map_err(|e| e.to_string())?,
                JournalCmd::Rebuild => {
                    // Rebuilding rewrites the projections: never beside a running daemon.
                    let _lock = store::files::StateLock::acquire(
                        &cfg.storage.state_dir,
                        "returnsd journal rebuild",
                    )
                    .map_err(|e| e.to_string())?;
                    store::rebuild(&mut conn).map_err(|e| e.to_string())?
                }
            };
            print_verification(&v);
            Ok(if v.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Manifest {
            cmd: ManifestCmd::Import { file, format },
        } => {
            let cfg = load_config(&cli.config)?;
            let parsed = crate::manifest::parse(&file, format).map_err(|e| e.to_string())?;
            let sent = runtime()?.block_on(import_via_daemon(&cfg, &parsed))?;
            let r = match sent {
                Some(r) => r,
                None => import_here(&cfg, &parsed)?,
            };
            println!(
                "{}: {} stored, {} deleted, {} unchanged (same or older version), {} rejected",
                file.display(),
                r.stored,
                r.deleted,
                r.stale,
                r.rejected.len()
            );
            for (line, why) in &r.rejected {
                println!("  line {line}: rejected: {why}");
            }
            Ok(if r.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Sync {
            cmd: SyncCmd::Status { json },
        } => {
            let cfg = load_config(&cli.config)?;
            let rt = runtime()?;
            let v = rt.block_on(control::request(
                &cfg.control.socket,
                &json!({"op": "sync_status"}),
            ));
            let v = match v {
                Ok(v) => v,
                Err(e) => {
                    // The daemon is down: the database still tells the backlog.
                    eprintln!("{e}\n(showing what the database says; worker state unknown)");
                    let conn = open_existing(&cfg)?;
                    store::sync_counters(&conn)
                        .map(|c| {
                            crate::sync::status_json(
                                &c,
                                &crate::sync::new_status(),
                                chrono::Utc::now(),
                            )
                        })
                        .map_err(|e| e.to_string())?
                }
            };
            if json {
                println!("{v}");
            } else {
                print_sync_status(&v);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Photo {
            cmd: PhotoCmd::Add { file },
        } => {
            let cfg = load_config(&cli.config)?;
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let p = crate::photos::store(&cfg.storage.state_dir, &bytes)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            println!("{}:{}:{}", p.sha256, p.bytes, p.content_type);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Devices { json, live, .. } if live => {
            let cfg = load_config(&cli.config)?;
            let lang = Lang::parse(&cfg.station.language);
            let reply = runtime()?.block_on(control::request(
                &cfg.control.socket,
                &json!({"op": "devices"}),
            ))?;
            let devices = reply["devices"].as_array().cloned().unwrap_or_default();
            if json {
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
        Cmd::Devices {
            json, sysfs, dev, ..
        } => {
            let roots = crate::devices::discover::Roots { sysfs, dev };
            print!("{}", crate::devices::devices_cmd::render(&roots, json));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Commands { out, font } => {
            crate::sheet::write_command_sheet(&out, font.as_deref())?;
            println!("{}: command sheet written", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Lines of a manifest file per request to the daemon, and their JSON size at most: each
/// part is one input of the engine's group commit, so scans wait for at most one part.
const IMPORT_PART_LINES: usize = 200;
const IMPORT_PART_BYTES: usize = 1 << 20;

/// Send a parsed manifest file to the running daemon in parts (the engine applies each in
/// its group commit, between scans). `None` when no daemon runs (nothing was sent).
async fn import_via_daemon(
    cfg: &Config,
    parsed: &crate::manifest::Parsed,
) -> Result<Option<crate::manifest::ImportReport>, String> {
    let mut report = crate::manifest::ImportReport::default();
    let mut parts: Vec<Vec<Value>> = vec![Vec::new()];
    let mut bytes = 0;
    for line in &parsed.lines {
        let v = crate::manifest::line_json(line);
        let n = v.to_string().len();
        let last = parts.last_mut().expect("one part at least");
        if !last.is_empty() && (last.len() >= IMPORT_PART_LINES || bytes + n > IMPORT_PART_BYTES) {
            parts.push(Vec::new());
            bytes = 0;
        }
        bytes += n;
        parts.last_mut().expect("one part at least").push(v);
    }
    let mut done = 0;
    for (i, part) in parts.into_iter().enumerate() {
        let n = part.len();
        let req = json!({"op": "manifest_import", "source": parsed.source, "lines": part});
        let reply = match control::request(&cfg.control.socket, &req).await {
            Ok(v) => v,
            Err(control::RequestError::Unreachable(_)) if i == 0 => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "{e}: the import stopped after {done} of {} lines; run it again (versioned upserts make that safe)",
                    parsed.lines.len()
                ));
            }
        };
        match crate::manifest::ImportReport::from_json(&reply) {
            Some(r) if reply["ok"] == true => report.add(r),
            _ => {
                return Err(format!(
                    "the daemon did not store part of the import ({}): {done} of {} lines are in; run it again once the alarm clears",
                    reply["error"].as_str().unwrap_or("no reason given"),
                    parsed.lines.len()
                ));
            }
        }
        done += n;
    }
    Ok(Some(report))
}

/// Apply a parsed manifest file with no daemon running: under the state directory's lock,
/// in one transaction, with the engine's own function. Creates the database if the daemon
/// never ran (a station can be loaded before its first start).
fn import_here(
    cfg: &Config,
    parsed: &crate::manifest::Parsed,
) -> Result<crate::manifest::ImportReport, String> {
    std::fs::create_dir_all(&cfg.storage.state_dir)
        .map_err(|e| format!("{}: {e}", cfg.storage.state_dir.display()))?;
    let _lock =
        store::files::StateLock::acquire(&cfg.storage.state_dir, "returnsd manifest import")
            .map_err(|e| e.to_string())?;
    let store = store::Store::open(&cfg.storage.database, cfg.station.id.as_str())
        .map_err(|e| e.to_string())?;
    let at = |e: rusqlite::Error| {
        store::StoreError::Sql(e)
            .at(&cfg.storage.database)
            .to_string()
    };
    let tx = store.conn().unchecked_transaction().map_err(at)?;
    let r = crate::manifest::apply(&tx, &parsed.source, &parsed.lines, chrono::Utc::now())
        .map_err(|e| e.at(&cfg.storage.database).to_string())?;
    tx.commit().map_err(at)?;
    Ok(r)
}

/// The exit status of an answer that may have been recorded or not: ask before rescanning.
const EXIT_UNKNOWN: u8 = 3;

/// Send an operator's request with a request id (so that asking again after a lost answer
/// never carries it out twice), print the answer, and return its exit status: 0 accepted,
/// 1 refused, 2 not saved, 3 unknown.
async fn send(
    cfg: &Config,
    mut req: Value,
    lang: Lang,
    as_json: bool,
    retry_for: std::time::Duration,
) -> Result<u8, String> {
    let id = uuid::Uuid::new_v4().to_string();
    req["request_id"] = json!(id);
    match control::request_retrying(&cfg.control.socket, &req, retry_for).await {
        Ok(reply) => Ok(print_reply(&reply, lang, as_json)),
        Err(control::RequestError::Unreachable(e)) => Err(e),
        Err(control::RequestError::Unconfirmed(e)) => {
            if as_json {
                println!(
                    "{}",
                    json!({"ok": false, "stored": null, "outcome": "unknown",
                           "request_id": id, "error": e})
                );
            } else {
                println!("UNKNOWN {}", message(lang, "cli.unknown", &[("why", e)]));
            }
            Ok(EXIT_UNKNOWN)
        }
    }
}

fn print_reply(reply: &Value, lang: Lang, as_json: bool) -> u8 {
    let outcome = reply.get("outcome").and_then(Value::as_str).unwrap_or("");
    let code = reply.get("code").and_then(Value::as_str).unwrap_or("");
    if as_json {
        println!("{reply}");
    } else {
        let msg = reply
            .get(if lang == Lang::En {
                "message_en"
            } else {
                "message_zh"
            })
            .and_then(Value::as_str)
            .unwrap_or(code);
        let seq = match (
            reply.get("seq_first").and_then(Value::as_i64),
            reply.get("seq_last").and_then(Value::as_i64),
        ) {
            (Some(a), Some(b)) if a == b => format!(" [seq {a}]"),
            (Some(a), Some(b)) => format!(" [seq {a}-{b}]"),
            _ => String::new(),
        };
        let tag = match outcome {
            "accepted" => "OK ",
            "not_stored" => "NOT SAVED",
            _ => "ERR",
        };
        let again = if reply["replayed"] == true {
            format!(" ({})", message(lang, "cli.replayed", &[]))
        } else {
            String::new()
        };
        println!("{tag} {msg}{seq}{again}");
    }
    match outcome {
        "accepted" => 0,
        "not_stored" => 2,
        // Refused: recorded as refused, or turned down by the rules (which records
        // nothing by design): the operator must act differently.
        _ => 1,
    }
}

/// How long an operator command keeps asking a daemon that stopped before answering.
const COMMAND_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

fn op(config: &Option<PathBuf>, req: Value) -> Result<ExitCode, String> {
    let cfg = load_config(config)?;
    let lang = Lang::parse(&cfg.station.language);
    let rt = runtime()?;
    let code = rt.block_on(send(&cfg, req, lang, false, COMMAND_RETRY))?;
    Ok(ExitCode::from(code))
}

fn open_existing(cfg: &Config) -> Result<rusqlite::Connection, String> {
    if !cfg.storage.database.exists() {
        return Err(format!(
            "{}: no database yet (start the daemon once, or import a manifest)",
            cfg.storage.database.display()
        ));
    }
    store::open_connection(&cfg.storage.database, false).map_err(|e| e.to_string())
}

fn local(cfg: &Config, t: &str) -> String {
    codec::parse_time(t)
        .map(|t| {
            t.with_timezone(&cfg.station.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| t.to_string())
}

fn returns_list(
    conn: &rusqlite::Connection,
    cfg: &Config,
    stage: Option<String>,
    limit: i64,
    as_json: bool,
) -> Result<ExitCode, String> {
    let rows = crate::views::list_returns(
        conn,
        &crate::views::ReturnFilter {
            stage,
            limit,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let lang = Lang::parse(&cfg.station.language);
    if !as_json {
        println!(
            "{:<26} {:<18} {:<16} {:<14} {:<8} {:>5} {:<16}",
            "return_id", "waybill", "kind", "stage", "customer", "items", "received"
        );
    }
    for row in rows {
        let crate::views::ReturnRow {
            return_id: id,
            waybill,
            kind,
            stage,
            received_at: received,
            customer_name: name,
            items: n_items,
            state: st,
            ..
        } = row;
        if as_json {
            println!(
                "{}",
                json!({"return_id": id, "waybill": waybill, "kind": kind, "stage": stage,
                       "customer": mask_name(&name), "items": n_items, "received_at": received,
                       "refund_due_by": st["refund_due_by"], "exchange_ship_by": st["exchange_ship_by"]})
            );
        } else {
            let kind_s = kind
                .map(|k| message(lang, &format!("kind.{k}"), &[]))
                .unwrap_or_else(|| "?".into());
            println!(
                "{:<26} {:<18} {:<16} {:<14} {:<8} {:>5} {:<16}",
                id,
                waybill,
                kind_s,
                stage,
                mask_name(&name),
                n_items,
                local(cfg, &received)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn returns_show(
    conn: &rusqlite::Connection,
    cfg: &Config,
    id: &str,
    as_json: bool,
    reveal: bool,
) -> Result<ExitCode, String> {
    let Some(detail) = crate::views::return_detail(conn, id).map_err(|e| e.to_string())? else {
        eprintln!("no return {id}");
        return Ok(ExitCode::from(1));
    };
    let crate::views::ReturnDetail {
        state: mut st,
        customer_name: name,
        customer_phone_tail: tail,
        events,
    } = detail;
    let waybill = st["waybill"].as_str().unwrap_or("").to_string();
    st["customer_name"] = json!(if reveal {
        name.clone()
    } else {
        mask_name(&name)
    });
    st["customer_phone_tail"] = json!(if reveal {
        tail.clone()
    } else {
        mask_phone_tail(&tail)
    });
    if as_json {
        st["events"] = json!(events);
        println!(
            "{}",
            serde_json::to_string_pretty(&st).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "return    {id}   stage {}",
        st["stage"].as_str().unwrap_or("")
    );
    println!(
        "waybill   {waybill} ({})",
        st["courier"].as_str().unwrap_or("")
    );
    println!("kind      {}", st["kind"].as_str().unwrap_or("?"));
    println!("order     {}", st["order_no"].as_str().unwrap_or("-"));
    println!(
        "customer  {} {}",
        st["customer_name"].as_str().unwrap_or(""),
        st["customer_phone_tail"].as_str().unwrap_or("")
    );
    println!(
        "received  {} by {}",
        local(cfg, st["received_at"].as_str().unwrap_or("")),
        st["received_by"].as_str().unwrap_or("")
    );
    if let Some(t) = st["refund_due_by"].as_str() {
        println!("refund due by   {}", local(cfg, t));
    }
    if let Some(t) = st["exchange_ship_by"].as_str() {
        println!("exchange ship by {}", local(cfg, t));
    }
    println!("items:");
    for i in st["items"].as_array().into_iter().flatten() {
        if i["voided"] == json!(true) {
            continue;
        }
        println!(
            "  {:>3} {:<20} zone {:<12} grade {:<7} {}",
            i["item_no"],
            i["sku"].as_str().unwrap_or(""),
            i["zone"].as_str().unwrap_or(""),
            i["grade"].as_str().unwrap_or("-"),
            i["defect_reasons"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","))
                .unwrap_or_default()
        );
    }
    println!("events:");
    for e in &events {
        println!(
            "  {:>6} {} {:<24} {}",
            e["seq"],
            e["occurred_at"].as_str().unwrap_or(""),
            e["type"].as_str().unwrap_or(""),
            e["actor"].as_str().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_since(cfg: &Config, since: &str) -> Result<String, String> {
    if let Ok(t) = codec::parse_time(since) {
        return Ok(codec::fmt_time(t));
    }
    let d = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d")
        .map_err(|_| format!("--since {since:?}: use an RFC 3339 time or YYYY-MM-DD"))?;
    use chrono::TimeZone;
    let start = d.and_hms_opt(0, 0, 0).ok_or("bad date")?;
    let t = cfg
        .station
        .timezone
        .from_local_datetime(&start)
        .earliest()
        .ok_or_else(|| format!("--since {since:?}: no such local time"))?;
    Ok(codec::fmt_time(t.with_timezone(&chrono::Utc)))
}

fn export(
    conn: &rusqlite::Connection,
    cfg: &Config,
    since: &str,
    format: ExportFormat,
    out: Option<&Path>,
) -> Result<ExitCode, String> {
    let since = parse_since(cfg, since)?;
    let mut sink: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut q = conn
        .prepare(&format!(
            "SELECT {} FROM journal WHERE occurred_at >= ?1 ORDER BY seq",
            store::JOURNAL_COLUMNS
        ))
        .map_err(|e| e.to_string())?;
    let rows = q
        .query_map([&since], store::JournalRow::from_row)
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    if format == ExportFormat::Csv {
        let mut w = csv::Writer::from_writer(sink);
        w.write_record([
            "seq",
            "id",
            "type",
            "occurred_at",
            "actor",
            "return_id",
            "data",
        ])
        .map_err(|e| e.to_string())?;
        for row in rows {
            let row = row.map_err(|e| e.to_string())?;
            n += 1;
            w.write_record([
                row.seq.to_string(),
                row.id,
                row.ty,
                row.occurred_at,
                row.actor,
                row.return_id.unwrap_or_default(),
                row.data,
            ])
            .map_err(|e| e.to_string())?;
        }
        w.flush().map_err(|e| e.to_string())?;
    } else {
        for row in rows {
            let row = row.map_err(|e| e.to_string())?;
            n += 1;
            writeln!(sink, "{}", row.to_json()).map_err(|e| e.to_string())?;
        }
        sink.flush().map_err(|e| e.to_string())?;
    }
    eprintln!("{n} events exported");
    Ok(ExitCode::SUCCESS)
}

fn print_sync_status(v: &Value) {
    let s = |p: &Value| match p {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("epoch            {}", s(&v["epoch"]));
    println!(
        "journal          last seq {}, acked through {}",
        s(&v["last_seq"]),
        s(&v["acked_through"])
    );
    println!(
        "backlog          {} events, oldest unacked {} s old",
        s(&v["backlog"]),
        s(&v["oldest_unacked_age_s"])
    );
    println!(
        "push             {} (last success {}, batch limit {})",
        s(&v["push"]["state"]),
        s(&v["push"]["last_success"]),
        s(&v["push"]["batch_limit"])
    );
    if !v["push"]["last_error"].is_null() {
        println!(
            "  last error     {} at {}",
            s(&v["push"]["last_error"]),
            s(&v["push"]["last_error_at"])
        );
        println!("  next retry     {}", s(&v["push"]["next_retry"]));
    }
    println!(
        "feed             {} (cursor {:?}, last success {}, rejected items {})",
        s(&v["feed"]["state"]),
        s(&v["feed"]["cursor"]),
        s(&v["feed"]["last_success"]),
        s(&v["feed"]["rejected_items"])
    );
    if !v["feed"]["last_error"].is_null() {
        println!("  last error     {}", s(&v["feed"]["last_error"]));
    }
    if v["disk"].is_object() {
        let mb = |x: &Value| {
            x.as_u64()
                .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))
                .unwrap_or("-".into())
        };
        let d = &v["disk"];
        let state = match d["full_reason"].as_str() {
            Some("filesystem") => format!(
                "  FULL: the filesystem holding the state directory is full ({} free): new work refused",
                mb(&d["fs_free_bytes"])
            ),
            Some(_) => "  FULL: the station's disk cap is reached: new work refused".to_string(),
            None if d["high_water"] == json!(true) => "  above high-water mark".to_string(),
            None => String::new(),
        };
        println!(
            "disk             {} of {}{state}, {} events pruned",
            mb(&d["used_bytes"]),
            mb(&d["cap_bytes"]),
            s(&d["pruned_events"])
        );
        if let Some(f) = d["storage_fault"].as_str() {
            println!("  STORAGE FAULT  {f}");
        }
    }
    println!(
        "clock offset     {} ms{}",
        s(&v["clock_offset_ms"]),
        if v["clock_alarm"] == json!(true) {
            "  ALARM: over the limit"
        } else {
            ""
        }
    );
}

fn print_verification(v: &store::Verification) {
    println!(
        "journal: {} events, seq {}..{}",
        v.events,
        v.first_seq.map(|s| s.to_string()).unwrap_or("-".into()),
        v.last_seq.map(|s| s.to_string()).unwrap_or("-".into())
    );
    if v.pruned_through > 0 {
        println!(
            "  seq 1..{} pruned after the central acknowledged them (retention)",
            v.pruned_through
        );
    }
    if v.gaps.is_empty() {
        println!("  seq: contiguous");
    }
    for (a, b) in &v.gaps {
        println!("  GAP: seq {a}..{b} missing");
    }
    for s in &v.order_errors {
        println!(
            "  note: seq {s} is stamped earlier than seq {} (the clock was set back)",
            s - 1
        );
    }
    for (s, e) in &v.undecodable {
        println!("  UNREADABLE: seq {s}: {e}");
    }
    for r in &v.mismatched_returns {
        println!("  MISMATCH: return {r}: projection differs from the journal's rebuild");
    }
    println!(
        "  ledger: {}",
        if v.stock_matches {
            "balances with the rebuild"
        } else {
            "DIFFERS from the rebuild"
        }
    );
    println!(
        "  benches: {}",
        if v.benches_match {
            "match the rebuild"
        } else {
            "DIFFER from the rebuild"
        }
    );
    println!(
        "  bins and RTV notes: {}",
        if v.supervision_matches {
            "match the rebuild"
        } else {
            "DIFFER from the rebuild"
        }
    );
    println!("{}", if v.ok() { "OK" } else { "FAILED" });
}
