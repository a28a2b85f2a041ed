//! The command line as clap parses it: every command, its options and their help texts.
//! What a command does is in the module of its group (`local`, `live`, `ops`, `reads`,
//! `export`, `import`); this file only says what can be typed.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::manifest::ImportFormat;

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
    // The operator commands (`inspect` … `void`), listed here in the help.
    #[command(flatten)]
    Operator(OperatorCmd),
    /// List or show returns.
    Returns {
        #[command(subcommand)]
        cmd: ReturnsCmd,
    },
    /// Stock per zone and SKU as the ledger has it: the units waiting in each zone and
    /// bin (a restock takes them out), and the totals that left (to the vendor, to the
    /// customer, back to sellable stock).
    Stock {
        /// One JSON object a line (`zone`, `sku`, `qty`).
        #[arg(long)]
        json: bool,
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
    /// Write a consistent backup of the station database and the photos it references to
    /// one file, while the daemon runs (README "Backup and restore").
    Backup {
        /// The backup file to write (its directory must exist; written to a temp file
        /// there, then renamed).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup written by `returnsd backup` (stop the daemon first). The current
    /// database is moved aside, never deleted; the restored one takes a new epoch and its
    /// events the central never acknowledged are sent again under it. With
    /// --confirm-moved: the database here was copied or moved (its push is held); take a
    /// new epoch for it in place.
    Restore {
        /// The backup file.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "confirm_moved",
            conflicts_with = "confirm_moved"
        )]
        from: Option<PathBuf>,
        /// Confirm that the database here is a copy or a move of the station's database
        /// (what its held push says) and give it a new epoch.
        #[arg(long)]
        confirm_moved: bool,
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
    /// Render a printable sheet of codes to scan (A4 PNG, 300 dpi, titles in Chinese and
    /// English): the bench's command codes; with --badges a badge per configured operator;
    /// with --bins a shelf label per configured bin. A sheet longer than a page goes on
    /// FILE, then FILE-2, FILE-3, … beside it.
    Commands {
        /// The PNG file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// A TrueType/TTC font with Chinese glyphs [default: WenQuanYi Micro Hei or Noto Sans CJK].
        #[arg(long)]
        font: Option<PathBuf>,
        /// Operator badges for the config's [[operators]]: OP-<badge>, the badge id and
        /// the roles (never a PIN).
        #[arg(long, conflicts_with = "bins")]
        badges: bool,
        /// Bin labels for the config's [[zones.bins]]: Z-<bin>, as put-away scans it, and
        /// the zone of its class.
        #[arg(long)]
        bins: bool,
    },
}

/// The operator commands: each becomes one request to the daemon's control socket (the
/// engine carries it out), answered OK / ERR / NOT SAVED / UNKNOWN.
#[derive(Subcommand, Debug)]
pub enum OperatorCmd {
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
    /// Lift a badge's lockout after wrong PINs on the pages (supervisor; journaled as
    /// operator.unlocked): `returnsd unlock 017 --badge 001`.
    Unlock {
        /// The locked badge.
        locked: String,
        /// The supervisor's badge.
        #[arg(long)]
        badge: String,
    },
    /// Acknowledge that a photo can no longer be uploaded — missing from the photo store
    /// or damaged — so the events waiting for it go to the central with it marked lost
    /// (supervisor; journaled as photo.lost; contract 1.1). `sync status` names the photo.
    PhotoLost {
        /// The photo's sha256 (64 hex digits, as `sync status` shows it).
        sha256: String,
        /// The supervisor's badge.
        #[arg(long)]
        badge: String,
        /// Why it is lost (sent to the central).
        #[arg(long)]
        reason: String,
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
        format: Option<ImportFormat>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}
