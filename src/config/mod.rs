//! Station configuration: raw TOML (`RawConfig`, unknown keys rejected) is read from a file,
//! overlaid with `RETURNSD__SECTION__KEY` environment variables, and then validated into
//! [`Config`], which cannot be invalid. Every error names the file, the key and what is
//! wrong. `config/station.example.toml` documents every key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::ids::{BinCode, StationId};
use crate::domain::kind::{BinClass, Role};
use crate::domain::scan::{CourierPattern, ScanGrammar};

mod tls;
pub use tls::TlsMode;

/// Where the config file is looked for when `--config` is not given.
pub fn default_config_path() -> PathBuf {
    match std::env::var_os("CONFIGURATION_DIRECTORY") {
        // systemd may pass several directories separated by ':'; the first is ours.
        Some(d) => {
            let first = d
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            PathBuf::from(first).join("station.toml")
        }
        None => PathBuf::from("/etc/returnsd/station.toml"),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub station: RawStation,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub engine: RawEngine,
    #[serde(default)]
    pub scan: RawScan,
    #[serde(default)]
    pub control: RawControl,
    #[serde(default)]
    pub inspection: RawInspection,
    #[serde(default)]
    pub zones: RawZones,
    #[serde(default)]
    pub operators: Vec<RawOperator>,
    #[serde(default)]
    pub defect_reasons: Vec<RawDefectReason>,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub scanners: Vec<RawScanner>,
    #[serde(default)]
    pub printer: Option<RawPrinter>,
    #[serde(default)]
    pub sync: RawSync,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScanner {
    pub path: Option<String>,
    pub bench: Option<String>,
    pub baud: Option<u32>,
    pub suffix: Option<String>,
    pub quiet_gap_ms: Option<u64>,
    pub prefix: Option<String>,
    /// `serial` (default), `hidpos` or `keyboard`.
    pub transport: Option<String>,
    /// A built-in profile (`devices/scanners/*.toml`).
    pub profile: Option<String>,
    /// USB ids (4 hex digits) of a HID scanner.
    pub vendor_id: Option<String>,
    pub product_id: Option<String>,
    /// USB serial number, to tell identical HID scanners apart.
    pub serial_number: Option<String>,
    /// Keyboard layout: a name (`us`, `de`, `fr`) or a table of overrides.
    pub layout: Option<toml::Value>,
    /// `keep` or `strip` the AIM symbology prefix.
    pub aim: Option<String>,
    /// Test/advanced: where sysfs and /dev are (HID scanners).
    pub sysfs_root: Option<String>,
    pub dev_root: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrinter {
    pub kind: String,
    pub profile: Option<String>,
    pub path: Option<PathBuf>,
    pub address: Option<String>,
    pub baud: Option<u32>,
    pub language: Option<String>,
    pub dpi: Option<u32>,
    pub font: Option<PathBuf>,
    pub failover_after: Option<u32>,
    pub status_interval_s: Option<u64>,
    pub retry_cap_s: Option<u64>,
    pub confirm_timeout_ms: Option<u64>,
    pub templates: Option<PathBuf>,
    pub secondary: Option<Box<RawPrinter>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: Option<String>,
    pub session_idle_min: Option<u64>,
    /// Seconds; for tests and labs (set this or `session_idle_min`, not both).
    pub session_idle_s: Option<u64>,
    pub secure_cookie: Option<bool>,
    pub lockout_after: Option<u32>,
    pub lockout_window_min: Option<u64>,
    pub lockout_min: Option<u64>,
    pub request_timeout_s: Option<u64>,
    pub max_concurrent: Option<usize>,
    pub max_connections: Option<usize>,
    pub idle_timeout_s: Option<u64>,
    pub photo_max_mib: Option<u64>,
    /// `self-signed`, `files` or `off` (see `tls`).
    pub tls: Option<String>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    pub central_url: Option<String>,
    pub station_token: Option<String>,
    pub station_token_file: Option<PathBuf>,
    pub central_token: Option<String>,
    pub central_token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub batch_max_events: Option<usize>,
    pub batch_max_bytes: Option<usize>,
    pub backoff_cap_s: Option<u64>,
    pub slow_retry_s: Option<u64>,
    pub request_timeout_s: Option<u64>,
    pub feed_poll_s: Option<u64>,
    pub clock_offset_limit_s: Option<u64>,
    pub retention_days: Option<u64>,
}

impl fmt::Debug for RawSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSync")
            .field("central_url", &self.central_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStation {
    pub id: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub state_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub cap_mb: Option<u64>,
    pub high_water_pct: Option<u8>,
    pub maintenance_interval_s: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    pub group_commit_max: Option<usize>,
    pub queue: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScan {
    pub double_read_window_ms: Option<u64>,
    pub max_len: Option<usize>,
    #[serde(default)]
    pub replace_default_couriers: bool,
    #[serde(default)]
    pub couriers: Vec<RawCourier>,
    pub default_bench: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCourier {
    pub name: String,
    pub pattern: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawControl {
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawInspection {
    pub defect_photo_required: Option<bool>,
    pub two_person_check: Option<bool>,
    pub blind: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawZones {
    #[serde(default)]
    pub bins: Vec<RawBin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBin {
    pub code: String,
    pub class: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOperator {
    pub badge: String,
    pub name: String,
    pub roles: Vec<String>,
    pub pin_hash: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefectReason {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    pub seller_fault: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}

/// One problem in a config: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: String,
    pub key: String,
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}: {}", self.file, l, self.key, self.problem),
            None => write!(f, "{}: {}: {}", self.file, self.key, self.problem),
        }
    }
}

/// All problems found in one config.
#[derive(Debug, Clone)]
pub struct ConfigError(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// An operator from the local config (the bootstrap supervisor, lab operators).
#[derive(Clone)]
pub struct LocalOperator {
    pub badge: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub pin_hash: Option<String>,
}

impl fmt::Debug for LocalOperator {
    // The PIN hash is a secret: never in Debug output or logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalOperator")
            .field("badge", &self.badge)
            .field("roles", &self.roles)
            .field("pin_hash", &self.pin_hash.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct DefectReasonDef {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    pub seller_fault: bool,
}

/// The operator API's settings (`[http]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// A session unused this long is gone.
    pub session_idle: std::time::Duration,
    /// Mark the session cookie `Secure`: always when the listener speaks TLS itself
    /// (`tls`), and when `secure_cookie` says TLS terminates in front of the station.
    pub secure_cookie: bool,
    /// Whether the listener speaks TLS, and with which certificate.
    pub tls: TlsMode,
    /// Wrong PINs for one badge within `lockout_window` that lock it.
    pub lockout_after: u32,
    pub lockout_window: std::time::Duration,
    /// How long a locked badge is refused.
    pub lockout_for: std::time::Duration,
    /// Longest time one API request may take.
    pub request_timeout: std::time::Duration,
    /// Requests served at once; more are refused with 503.
    pub max_concurrent: usize,
    /// Connections open at once; past that the listener waits.
    pub max_connections: usize,
    /// A connection that moves no byte this long is closed.
    pub idle_timeout: std::time::Duration,
    /// Largest photo upload (at most the contract's 10 MiB).
    pub photo_max_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let min = |m: u64| std::time::Duration::from_secs(m * 60);
        HttpConfig {
            session_idle: min(30),
            secure_cookie: false,
            lockout_after: 5,
            lockout_window: min(15),
            lockout_for: min(15),
            request_timeout: std::time::Duration::from_secs(30),
            max_concurrent: 64,
            max_connections: 256,
            idle_timeout: std::time::Duration::from_secs(60),
            photo_max_bytes: crate::photos::MAX_BYTES,
            tls: TlsMode::Off,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub station: StationId,
    pub timezone: chrono_tz::Tz,
    pub language: String,
    pub state_dir: PathBuf,
    pub database: PathBuf,
    pub control_socket: PathBuf,
    pub group_commit_max: usize,
    pub queue: usize,
    pub double_read_window_ms: u64,
    pub scan_max_len: usize,
    pub couriers: Vec<CourierPattern>,
    pub default_bench: String,
    pub defect_photo_required: bool,
    pub two_person_check: bool,
    /// `inspection.blind`: the second inspection is blind (inspectors do not see the
    /// keeper's first-check results on the API).
    pub inspection_blind: bool,
    pub bins: BTreeMap<BinCode, BinClass>,
    pub operators: Vec<LocalOperator>,
    pub defect_reasons: Vec<DefectReasonDef>,
    pub log_level: String,
    pub log_json: bool,
    /// The station's HTTP listener (pull endpoints now; API and pages later); None = off.
    pub http_listen: Option<std::net::SocketAddr>,
    /// The operator API's sessions, lockout and limits (`[http]`).
    pub http: HttpConfig,
    pub sync: SyncConfig,
    /// Most bytes the database (with its WAL) and the photo store may use.
    pub cap_bytes: u64,
    /// Warn when usage passes this share of the cap.
    pub high_water_pct: u8,
    /// How often photos are measured and expired events pruned.
    pub maintenance_interval: std::time::Duration,
    pub scanners: Vec<crate::devices::scanner_config::ScannerConfig>,
    pub printer: Option<PrinterConfig>,
}

/// Where label jobs go: a primary printer, an optional secondary it fails over to, and how
/// the print queue treats them.
#[derive(Debug, Clone)]
pub struct PrinterConfig {
    pub primary: PrinterTarget,
    /// Takes the queue's jobs while the primary is unreachable or faulted.
    pub secondary: Option<PrinterTarget>,
    /// Failed attempts on the primary before a job goes to the secondary.
    pub failover_after: u32,
    /// How often an idle printer's status is asked (0: never; after each job only).
    pub status_interval: std::time::Duration,
    /// Longest wait between two attempts at a job (backoff 1 s doubling up to this).
    pub retry_cap: std::time::Duration,
    /// How long to wait for a printer to report a job done before leaving it `sent`.
    pub confirm_timeout: std::time::Duration,
    /// CJK font for text rendered on the PC.
    pub font: Option<PathBuf>,
    /// A directory whose `*.toml` templates override the built-in ones.
    pub templates: Option<PathBuf>,
}

/// How a printer is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterTransport {
    /// One file per job in this directory (labs, previews, a spool).
    Directory(PathBuf),
    /// Raw socket printer, `host:port` (port 9100).
    Tcp(String),
    /// RS-232 / USB serial printer.
    Serial { path: PathBuf, baud: u32 },
    /// USB printer class device (`/dev/usb/lp0`).
    Usb(PathBuf),
}

impl PrinterTransport {
    pub fn kind(&self) -> &'static str {
        match self {
            PrinterTransport::Directory(_) => "directory",
            PrinterTransport::Tcp(_) => "tcp",
            PrinterTransport::Serial { .. } => "serial",
            PrinterTransport::Usb(_) => "usb",
        }
    }

    /// The path or address, for status views.
    pub fn location(&self) -> String {
        match self {
            PrinterTransport::Directory(p)
            | PrinterTransport::Serial { path: p, .. }
            | PrinterTransport::Usb(p) => p.display().to_string(),
            PrinterTransport::Tcp(a) => a.clone(),
        }
    }
}

/// One printer.
#[derive(Debug, Clone)]
pub struct PrinterTarget {
    /// `primary` or `secondary`.
    pub name: &'static str,
    pub transport: PrinterTransport,
    /// `zpl` or `tspl`.
    pub language: String,
    pub dpi: u32,
}

/// Validate one `[printer]` (or `[printer.secondary]`) table.
fn printer_target(
    p: &RawPrinter,
    name: &'static str,
    section: &str,
    state_dir: &Path,
    bad: &mut impl FnMut(&str, String),
) -> PrinterTarget {
    let key = |k: &str| format!("{section}.{k}");
    let profile = match p.profile.as_deref() {
        None => None,
        Some(name) => match crate::printing::profiles::find(name) {
            Ok(pr) => {
                if !pr.transports.contains(&p.kind) && p.kind != "directory" {
                    bad(
                        &key("kind"),
                        format!(
                            "{:?}: profile {name} offers {}",
                            p.kind,
                            pr.transports.join(", ")
                        ),
                    );
                }
                Some(pr)
            }
            Err(e) => {
                bad(&key("profile"), e);
                None
            }
        },
    };
    let transport = match p.kind.as_str() {
        "directory" => {
            let dir = p.path.clone().unwrap_or_else(|| PathBuf::from("labels"));
            PrinterTransport::Directory(if dir.is_relative() {
                state_dir.join(dir)
            } else {
                dir
            })
        }
        "tcp" => {
            let a = p.address.clone().unwrap_or_default();
            if !a.contains(':') {
                bad(
                    &key("address"),
                    "a tcp printer needs address = \"host:9100\"".into(),
                );
            }
            PrinterTransport::Tcp(a)
        }
        "serial" | "usb" => {
            let path = p.path.clone().unwrap_or_default();
            if path.as_os_str().is_empty() {
                bad(
                    &key("path"),
                    format!(
                        "a {} printer needs path = \"{}\"",
                        p.kind,
                        if p.kind == "usb" {
                            "/dev/usb/lp0"
                        } else {
                            "/dev/serial/by-id/…"
                        }
                    ),
                );
            }
            if p.kind == "usb" {
                PrinterTransport::Usb(path)
            } else {
                PrinterTransport::Serial {
                    path,
                    baud: p
                        .baud
                        .or(profile.as_ref().map(|pr| pr.baud))
                        .unwrap_or(9600),
                }
            }
        }
        other => {
            bad(
                &key("kind"),
                format!("{other:?}: use \"tcp\", \"usb\", \"serial\" or \"directory\""),
            );
            PrinterTransport::Directory(state_dir.join("labels"))
        }
    };
    if p.baud.is_some() && p.kind != "serial" {
        bad(&key("baud"), "only a serial printer has a baud rate".into());
    }
    if p.address.is_some() && p.kind != "tcp" {
        bad(&key("address"), "only a tcp printer has an address".into());
    }
    let language = p
        .language
        .clone()
        .or(profile.as_ref().map(|pr| pr.language.clone()))
        .unwrap_or_else(|| "zpl".into());
    if language != "zpl" && language != "tspl" {
        bad(&key("language"), format!("{language:?}: use zpl or tspl"));
    }
    let dpi = p.dpi.or(profile.as_ref().map(|pr| pr.dpi)).unwrap_or(203);
    if ![203, 300, 600].contains(&dpi) {
        bad(&key("dpi"), "must be 203, 300 or 600".into());
    }
    PrinterTarget {
        name,
        transport,
        language,
        dpi,
    }
}

/// A secret from the config: never shown by `Debug` or written to logs.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    /// Re-read at each use, so an operator can replace it without a restart.
    File(PathBuf),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Secret(<redacted>)"),
            Secret::File(p) => write!(f, "Secret(file {})", p.display()),
        }
    }
}

impl Secret {
    /// The current value (a file's first line, trimmed).
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("{}: {e}", p.display()))
                .and_then(|t| {
                    let v = t.lines().next().unwrap_or("").trim().to_string();
                    if v.is_empty() {
                        Err(format!("{}: the token file is empty", p.display()))
                    } else {
                        Ok(v)
                    }
                }),
        }
    }
}

/// Central sync settings (see the contract, `../shared/spec/central-sync.md`).
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Push and feed go here; None = this station is only pulled from (or offline).
    pub central_url: Option<String>,
    pub station_token: Option<Secret>,
    /// What the central presents on the pull endpoints.
    pub central_token: Option<Secret>,
    pub ca_file: Option<PathBuf>,
    pub batch_max_events: usize,
    pub batch_max_bytes: usize,
    pub backoff_cap: std::time::Duration,
    pub slow_retry: std::time::Duration,
    pub request_timeout: std::time::Duration,
    pub feed_poll: std::time::Duration,
    pub clock_offset_limit: std::time::Duration,
    pub retention: std::time::Duration,
}

/// Built-in defect reasons, used until the central's feed sends its own list.
pub fn builtin_defect_reasons() -> Vec<DefectReasonDef> {
    let d = |code: &str, zh: &str, en: &str, seller_fault: bool| DefectReasonDef {
        code: code.into(),
        label_zh: zh.into(),
        label_en: en.into(),
        seller_fault,
    };
    vec![
        d("not_working", "功能故障", "Does not work", true),
        d("damaged_casing", "外壳破损", "Damaged casing", true),
        d("missing_parts", "配件缺失", "Missing parts", true),
        d("wrong_item", "发错货", "Wrong item sent", true),
        d("not_as_described", "与描述不符", "Not as described", true),
        d("used_or_soiled", "已使用/污损", "Used or soiled", false),
        d("customer_damage", "人为损坏", "Damaged by customer", false),
        d("packaging_damaged", "包装破损", "Packaging damaged", false),
    ]
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
}

/// Overlay `RETURNSD__A__B=value` environment variables onto the parsed TOML table.
fn apply_env(table: &mut toml::Table, env: &[(String, String)], file: &str) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (k, v) in env {
        let Some(path) = k.strip_prefix("RETURNSD__") else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if keys.iter().any(String::is_empty) {
            problems.push(ConfigProblem {
                file: format!("environment ({file})"),
                key: k.clone(),
                line: None,
                problem: "empty key segment".into(),
            });
            continue;
        }
        // A value is parsed as a TOML value when it is one (numbers, booleans, arrays),
        // otherwise taken as a string.
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.clone()));
        if let Err(seg) = set_path(table, &keys, value) {
            problems.push(ConfigProblem {
                file: "environment".into(),
                key: k.clone(),
                line: None,
                problem: format!("{seg} is not a table"),
            });
        }
    }
    problems
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    match keys {
        [] => Ok(()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(first.clone()),
            }
        }
    }
}

/// Load and validate a config file, with the process environment overlaid.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with_env(path, &env)
}

/// Load and validate with an explicit environment (tests).
pub fn load_with_env(path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let one = |key: &str, problem: String| {
        ConfigError(vec![ConfigProblem {
            file: file.clone(),
            key: key.to_string(),
            line: None,
            problem,
        }])
    };
    let text = std::fs::read(path).map_err(|e| one("-", format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(text).map_err(|e| {
        one(
            "-",
            format!(
                "the file is not UTF-8 (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    parse(&text, &file, path, env)
}

/// Parse and validate config text.
pub fn parse(
    text: &str,
    file: &str,
    path: &Path,
    env: &[(String, String)],
) -> Result<Config, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError(vec![ConfigProblem {
            file: file.to_string(),
            key: "-".into(),
            line: line_of(text, e.span()),
            problem: format!("not valid TOML: {}", e.message()),
        }])
    })?;
    let env_problems = apply_env(&mut table, env, file);
    if !env_problems.is_empty() {
        return Err(ConfigError(env_problems));
    }
    let raw: RawConfig = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            ConfigError(vec![ConfigProblem {
                file: file.to_string(),
                line: line_for_key(text, &key),
                key,
                problem: inner.message().to_string(),
            }])
        },
    )?;
    validate(raw, file, path, text)
}

/// Best-effort line number of a dotted key in the file, for error messages.
fn line_for_key(text: &str, key: &str) -> Option<usize> {
    let last = key.rsplit('.').next()?;
    let last = last.split('[').next()?;
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(last) && t[last.len()..].trim_start().starts_with('=')
        })
        .map(|i| i + 1)
}

fn validate(raw: RawConfig, file: &str, path: &Path, text: &str) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let mut bad = |key: &str, problem: String| {
        problems.push(ConfigProblem {
            file: file.to_string(),
            key: key.to_string(),
            line: line_for_key(text, key),
            problem,
        });
    };
    let station = match StationId::parse(&raw.station.id) {
        Ok(s) => Some(s),
        Err(_) => {
            bad(
                "station.id",
                format!(
                    "{:?} is not a station id: use 1 to 64 of A-Z a-z 0-9 _ -",
                    raw.station.id
                ),
            );
            None
        }
    };
    let tz_name = raw
        .station
        .timezone
        .clone()
        .unwrap_or_else(|| "Asia/Shanghai".to_string());
    let timezone = match tz_name.parse::<chrono_tz::Tz>() {
        Ok(t) => t,
        Err(_) => {
            bad(
                "station.timezone",
                format!("{tz_name:?} is not an IANA time zone (e.g. Asia/Shanghai)"),
            );
            chrono_tz::Tz::Asia__Shanghai
        }
    };
    let language = raw
        .station
        .language
        .clone()
        .unwrap_or_else(|| "zh-CN".to_string());
    if language != "zh-CN" && language != "en" {
        bad(
            "station.language",
            format!("{language:?} is not supported: use \"zh-CN\" or \"en\""),
        );
    }
    let state_dir = raw
        .storage
        .state_dir
        .clone()
        .or_else(|| {
            std::env::var_os("STATE_DIRECTORY").map(|d| {
                PathBuf::from(
                    d.to_string_lossy()
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                )
            })
        })
        .unwrap_or_else(|| PathBuf::from("/var/lib/returnsd"));
    // A relative state_dir is relative to the config file's directory.
    let base = path.parent().unwrap_or(Path::new("."));
    let state_dir = if state_dir.is_relative() {
        base.join(state_dir)
    } else {
        state_dir
    };
    let database_name = raw
        .storage
        .database
        .clone()
        .unwrap_or_else(|| "returnsd.db".to_string());
    if database_name.is_empty() || database_name.contains('/') {
        bad(
            "storage.database",
            "must be a file name inside state_dir (no '/')".into(),
        );
    }
    let group_commit_max = raw.engine.group_commit_max.unwrap_or(512);
    if !(1..=10_000).contains(&group_commit_max) {
        bad("engine.group_commit_max", "must be 1 to 10000".into());
    }
    let queue = raw.engine.queue.unwrap_or(4096);
    if !(1..=1_000_000).contains(&queue) {
        bad("engine.queue", "must be 1 to 1000000".into());
    }
    let double_read_window_ms = raw.scan.double_read_window_ms.unwrap_or(800);
    if double_read_window_ms > 10_000 {
        bad(
            "scan.double_read_window_ms",
            "must be at most 10000 (10 s); 0 turns suppression off".into(),
        );
    }
    let scan_max_len = raw.scan.max_len.unwrap_or(4096);
    if !(16..=65_536).contains(&scan_max_len) {
        bad("scan.max_len", "must be 16 to 65536 bytes".into());
    }
    let mut couriers = if raw.scan.replace_default_couriers {
        Vec::new()
    } else {
        ScanGrammar::default_couriers()
    };
    for (i, c) in raw.scan.couriers.iter().enumerate() {
        if let Err(e) = regex::Regex::new(&c.pattern) {
            bad(
                &format!("scan.couriers[{i}].pattern"),
                format!("not a valid regular expression: {e}"),
            );
        }
        couriers.push(CourierPattern {
            name: c.name.clone(),
            pattern: c.pattern.clone(),
        });
    }
    if let Err(e) = ScanGrammar::new(&couriers, scan_max_len) {
        bad("scan.couriers", format!("{e:?}"));
    }
    let default_bench = raw
        .scan
        .default_bench
        .clone()
        .unwrap_or_else(|| "bench-1".into());
    if default_bench.is_empty()
        || default_bench.len() > 64
        || !default_bench
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bad(
            "scan.default_bench",
            "must be 1 to 64 of A-Z a-z 0-9 _ -".into(),
        );
    }
    let mut bins = BTreeMap::new();
    for (i, b) in raw.zones.bins.iter().enumerate() {
        let class = match b.class.as_str() {
            "good" => Some(BinClass::Good),
            "defect" => Some(BinClass::Defect),
            other => {
                bad(
                    &format!("zones.bins[{i}].class"),
                    format!("{other:?}: use \"good\" or \"defect\""),
                );
                None
            }
        };
        match BinCode::parse(&b.code) {
            Err(_) => bad(
                &format!("zones.bins[{i}].code"),
                format!(
                    "{:?}: use {}; it is scanned as Z-<code>",
                    b.code,
                    BinCode::RULE
                ),
            ),
            Ok(code) if bins.contains_key(&code) => bad(
                &format!("zones.bins[{i}].code"),
                format!("{:?} is listed twice", b.code),
            ),
            Ok(code) => {
                if let Some(c) = class {
                    bins.insert(code, c);
                }
            }
        }
    }
    let mut operators = Vec::new();
    for (i, o) in raw.operators.iter().enumerate() {
        if crate::domain::ids::Badge::parse(&o.badge).is_err() {
            bad(
                &format!("operators[{i}].badge"),
                format!("{:?}: use 1 to 32 of A-Z a-z 0-9 _", o.badge),
            );
        }
        let mut roles = Vec::new();
        for (j, r) in o.roles.iter().enumerate() {
            match Role::parse(r) {
                Some(r) => roles.push(r),
                None => bad(
                    &format!("operators[{i}].roles[{j}]"),
                    format!("{r:?}: use keeper, inspector or supervisor"),
                ),
            }
        }
        if roles.is_empty() {
            bad(
                &format!("operators[{i}].roles"),
                "needs at least one role".into(),
            );
        }
        if let Some(h) = &o.pin_hash
            && !h.starts_with("$argon2id$")
        {
            bad(
                &format!("operators[{i}].pin_hash"),
                "must be an argon2id PHC string ($argon2id$...)".into(),
            );
        }
        operators.push(LocalOperator {
            badge: o.badge.clone(),
            name: o.name.clone(),
            roles,
            pin_hash: o.pin_hash.clone(),
        });
    }
    let mut defect_reasons = builtin_defect_reasons();
    for (i, d) in raw.defect_reasons.iter().enumerate() {
        if d.code.is_empty()
            || !d
                .code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            bad(
                &format!("defect_reasons[{i}].code"),
                format!("{:?}: use a-z 0-9 _", d.code),
            );
        }
        defect_reasons.retain(|x| x.code != d.code);
        defect_reasons.push(DefectReasonDef {
            code: d.code.clone(),
            label_zh: d.label_zh.clone(),
            label_en: d.label_en.clone(),
            seller_fault: d.seller_fault,
        });
    }
    let log_level = raw.log.level.clone().unwrap_or_else(|| "info".into());
    if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
        bad(
            "log.level",
            format!("{log_level:?} is not a log filter (e.g. info, debug, returnsd=debug)"),
        );
    }
    let log_json = match raw.log.format.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            bad("log.format", format!("{other:?}: use \"text\" or \"json\""));
            false
        }
    };
    let http_listen = match raw.http.listen.as_deref() {
        None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 8470))),
        Some("") => None,
        Some(a) => match a.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                bad(
                    "http.listen",
                    format!(
                        "{a:?} is not an address:port (e.g. 0.0.0.0:8470); \"\" turns HTTP off"
                    ),
                );
                None
            }
        },
    };
    let mut http = http_config(&raw.http, &mut bad);
    http.tls = tls::tls_mode(
        raw.http.tls.as_deref(),
        raw.http.cert_file.as_deref(),
        raw.http.key_file.as_deref(),
        http_listen,
        base,
        &mut bad,
    );
    // One rule: a listener that speaks TLS always marks its cookies Secure.
    http.secure_cookie |= http.tls.is_on();
    let sync = sync_config(&raw.sync, base, &mut bad);
    let cap_mb = raw.storage.cap_mb.unwrap_or(2048);
    if !(16..=1_048_576).contains(&cap_mb) {
        bad("storage.cap_mb", "must be 16 to 1048576 (MiB)".into());
    }
    let high_water_pct = raw.storage.high_water_pct.unwrap_or(80);
    if !(10..=99).contains(&high_water_pct) {
        bad("storage.high_water_pct", "must be 10 to 99".into());
    }
    let mut scanners = Vec::new();
    for (i, s) in raw.scanners.iter().enumerate() {
        if let Some(c) = crate::devices::scanner_config::validate(i, s, &default_bench, &mut bad) {
            scanners.push(c);
        }
    }
    let printer = match &raw.printer {
        None => None,
        Some(p) => {
            let primary = printer_target(p, "primary", "printer", &state_dir, &mut bad);
            let secondary = p.secondary.as_deref().map(|s| {
                for (set, key) in [
                    (s.failover_after.is_some(), "failover_after"),
                    (s.status_interval_s.is_some(), "status_interval_s"),
                    (s.retry_cap_s.is_some(), "retry_cap_s"),
                    (s.confirm_timeout_ms.is_some(), "confirm_timeout_ms"),
                    (s.templates.is_some(), "templates"),
                    (s.font.is_some(), "font"),
                    (s.secondary.is_some(), "secondary"),
                ] {
                    if set {
                        bad(
                            &format!("printer.secondary.{key}"),
                            format!("set {key} on [printer], not on the secondary"),
                        );
                    }
                }
                printer_target(s, "secondary", "printer.secondary", &state_dir, &mut bad)
            });
            let failover_after = p.failover_after.unwrap_or(2);
            if !(1..=100).contains(&failover_after) {
                bad("printer.failover_after", "must be 1 to 100 attempts".into());
            }
            let status_interval_s = p.status_interval_s.unwrap_or(15);
            if status_interval_s > 3600 {
                bad(
                    "printer.status_interval_s",
                    "must be 0 (off) to 3600".into(),
                );
            }
            let retry_cap_s = p.retry_cap_s.unwrap_or(30);
            if !(1..=3600).contains(&retry_cap_s) {
                bad("printer.retry_cap_s", "must be 1 to 3600".into());
            }
            let confirm_timeout_ms = p.confirm_timeout_ms.unwrap_or(5000);
            if !(100..=120_000).contains(&confirm_timeout_ms) {
                bad("printer.confirm_timeout_ms", "must be 100 to 120000".into());
            }
            let templates = p.templates.as_ref().map(|t| base.join(t));
            if let Some(dir) = &templates
                && let Err(e) = crate::label::template::Templates::load(Some(dir))
            {
                bad("printer.templates", e.to_string());
            }
            Some(PrinterConfig {
                primary,
                secondary,
                failover_after,
                status_interval: std::time::Duration::from_secs(status_interval_s),
                retry_cap: std::time::Duration::from_secs(retry_cap_s),
                confirm_timeout: std::time::Duration::from_millis(confirm_timeout_ms),
                font: p.font.clone(),
                templates,
            })
        }
    };
    let maintenance_interval_s = raw.storage.maintenance_interval_s.unwrap_or(60);
    if !(1..=3600).contains(&maintenance_interval_s) {
        bad("storage.maintenance_interval_s", "must be 1 to 3600".into());
    }
    let control_socket = raw
        .control
        .socket
        .clone()
        .unwrap_or_else(|| PathBuf::from("returnsd.sock"));
    let control_socket = if control_socket.is_relative() {
        state_dir.join(control_socket)
    } else {
        control_socket
    };
    if control_socket.as_os_str().len() > 100 {
        bad(
            "control.socket",
            format!(
                "{} is too long for a Unix socket path (at most ~100 bytes); set an absolute shorter path",
                control_socket.display()
            ),
        );
    }
    let Some(station) = station else {
        return Err(ConfigError(problems));
    };
    if !problems.is_empty() {
        return Err(ConfigError(problems));
    }
    Ok(Config {
        file: path.to_path_buf(),
        station,
        timezone,
        language,
        database: state_dir.join(&database_name),
        state_dir,
        control_socket,
        group_commit_max,
        queue,
        double_read_window_ms,
        scan_max_len,
        couriers,
        default_bench,
        defect_photo_required: raw.inspection.defect_photo_required.unwrap_or(true),
        two_person_check: raw.inspection.two_person_check.unwrap_or(true),
        inspection_blind: raw.inspection.blind.unwrap_or(false),
        bins,
        operators,
        defect_reasons,
        log_level,
        log_json,
        http_listen,
        http,
        sync,
        cap_bytes: cap_mb * 1024 * 1024,
        high_water_pct,
        maintenance_interval: std::time::Duration::from_secs(maintenance_interval_s),
        scanners,
        printer,
    })
}

fn in_range(
    bad: &mut impl FnMut(&str, String),
    key: &str,
    v: Option<u64>,
    (lo, hi): (u64, u64),
    unit: &str,
) -> Option<u64> {
    match v {
        Some(v) if !(lo..=hi).contains(&v) => {
            bad(key, format!("must be {lo} to {hi} ({unit})"));
            None
        }
        v => v,
    }
}

fn http_config(raw: &RawHttp, bad: &mut impl FnMut(&str, String)) -> HttpConfig {
    let d = HttpConfig::default();
    let secs = std::time::Duration::from_secs;
    let idle = if raw.session_idle_min.is_some() && raw.session_idle_s.is_some() {
        bad(
            "http.session_idle_s",
            "set session_idle_min or session_idle_s, not both".into(),
        );
        d.session_idle
    } else if let Some(s) = in_range(
        bad,
        "http.session_idle_s",
        raw.session_idle_s,
        (1, 86_400),
        "seconds",
    ) {
        secs(s)
    } else {
        in_range(
            bad,
            "http.session_idle_min",
            raw.session_idle_min,
            (1, 1440),
            "minutes",
        )
        .map_or(d.session_idle, |m| secs(m * 60))
    };
    let minutes = |v: Option<u64>, key: &str, bad: &mut dyn FnMut(&str, String), dflt| {
        let mut b = |k: &str, p: String| bad(k, p);
        in_range(&mut b, key, v, (1, 1440), "minutes").map_or(dflt, |m| secs(m * 60))
    };
    let lockout_window = minutes(
        raw.lockout_window_min,
        "http.lockout_window_min",
        bad,
        d.lockout_window,
    );
    let lockout_for = minutes(raw.lockout_min, "http.lockout_min", bad, d.lockout_for);
    let request_timeout = in_range(
        bad,
        "http.request_timeout_s",
        raw.request_timeout_s,
        (1, 600),
        "seconds",
    )
    .map_or(d.request_timeout, secs);
    let lockout_after = in_range(
        bad,
        "http.lockout_after",
        raw.lockout_after.map(u64::from),
        (1, 100),
        "wrong PINs",
    )
    .and_then(|n| u32::try_from(n).ok())
    .unwrap_or(d.lockout_after);
    let max_concurrent = in_range(
        bad,
        "http.max_concurrent",
        raw.max_concurrent.map(|n| n as u64),
        (1, 4096),
        "requests",
    )
    .and_then(|n| usize::try_from(n).ok())
    .unwrap_or(d.max_concurrent);
    let max_connections = in_range(
        bad,
        "http.max_connections",
        raw.max_connections.map(|n| n as u64),
        (1, 10_000),
        "connections",
    )
    .and_then(|n| usize::try_from(n).ok())
    .unwrap_or(d.max_connections);
    let idle_timeout = in_range(
        bad,
        "http.idle_timeout_s",
        raw.idle_timeout_s,
        (5, 3600),
        "seconds",
    )
    .map_or(d.idle_timeout, secs);
    let photo_max_bytes = in_range(bad, "http.photo_max_mib", raw.photo_max_mib, (1, 10), "MiB")
        .and_then(|n| usize::try_from(n * 1024 * 1024).ok())
        .unwrap_or(d.photo_max_bytes);
    HttpConfig {
        max_connections,
        idle_timeout,
        photo_max_bytes,
        session_idle: idle,
        secure_cookie: raw.secure_cookie.unwrap_or(false),
        lockout_after,
        lockout_window,
        lockout_for,
        request_timeout,
        max_concurrent,
        tls: TlsMode::Off,
    }
}

fn secret(
    inline: &Option<String>,
    file: &Option<PathBuf>,
    key: &str,
    base: &Path,
    bad: &mut impl FnMut(&str, String),
) -> Option<Secret> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            bad(key, format!("set {key} or {key}_file, not both"));
            None
        }
        (Some(s), None) if s.is_empty() => None,
        (Some(s), None) => Some(Secret::Inline(s.clone())),
        (None, Some(f)) => Some(Secret::File(if f.is_relative() {
            base.join(f)
        } else {
            f.clone()
        })),
        (None, None) => None,
    }
}

fn sync_config(raw: &RawSync, base: &Path, bad: &mut impl FnMut(&str, String)) -> SyncConfig {
    use std::time::Duration;
    let central_url = match raw.central_url.as_deref() {
        None | Some("") => None,
        Some(u) => {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && reqwest::Url::parse(u).is_ok();
            if !ok {
                bad(
                    "sync.central_url",
                    format!("{u:?} is not an http:// or https:// URL"),
                );
            }
            Some(u.trim_end_matches('/').to_string())
        }
    };
    let station_token = secret(
        &raw.station_token,
        &raw.station_token_file,
        "sync.station_token",
        base,
        bad,
    );
    if central_url.is_some() && station_token.is_none() {
        bad(
            "sync.station_token",
            "central_url is set, so the station needs its token (station_token_file, or station_token)".into(),
        );
    }
    let central_token = secret(
        &raw.central_token,
        &raw.central_token_file,
        "sync.central_token",
        base,
        bad,
    );
    let ca_file = raw.ca_file.as_ref().map(|f| {
        if f.is_relative() {
            base.join(f)
        } else {
            f.clone()
        }
    });
    if let Some(f) = &ca_file
        && !f.exists()
    {
        bad("sync.ca_file", format!("{} does not exist", f.display()));
    }
    let batch_max_events = raw.batch_max_events.unwrap_or(1000);
    if !(1..=1000).contains(&batch_max_events) {
        bad(
            "sync.batch_max_events",
            "must be 1 to 1000 (the contract's limit)".into(),
        );
    }
    let batch_max_bytes = raw.batch_max_bytes.unwrap_or(1024 * 1024);
    if !(4096..=1024 * 1024).contains(&batch_max_bytes) {
        bad(
            "sync.batch_max_bytes",
            "must be 4096 to 1048576 (the contract's limit)".into(),
        );
    }
    let secs =
        |v: Option<u64>, default: u64, key: &str, max: u64, bad: &mut dyn FnMut(&str, String)| {
            let v = v.unwrap_or(default);
            if v == 0 || v > max {
                bad(key, format!("must be 1 to {max} seconds"));
            }
            Duration::from_secs(v)
        };
    let mut b = |k: &str, p: String| bad(k, p);
    SyncConfig {
        central_url,
        station_token,
        central_token,
        ca_file,
        batch_max_events,
        batch_max_bytes,
        backoff_cap: secs(raw.backoff_cap_s, 60, "sync.backoff_cap_s", 3600, &mut b),
        slow_retry: secs(raw.slow_retry_s, 300, "sync.slow_retry_s", 86_400, &mut b),
        request_timeout: secs(
            raw.request_timeout_s,
            30,
            "sync.request_timeout_s",
            600,
            &mut b,
        ),
        feed_poll: secs(raw.feed_poll_s, 30, "sync.feed_poll_s", 86_400, &mut b),
        clock_offset_limit: secs(
            raw.clock_offset_limit_s,
            120,
            "sync.clock_offset_limit_s",
            86_400,
            &mut b,
        ),
        retention: {
            let days = raw.retention_days.unwrap_or(30);
            if days > 3650 {
                b(
                    "sync.retention_days",
                    "must be 0 to 3650 (0: prune as soon as acknowledged)".into(),
                );
            }
            Duration::from_secs(days * 86_400)
        },
    }
}
