//! The config file as TOML says it: one `Raw*` type per table, every key optional to serde
//! (what is required is the section's validation to say), unknown keys refused. And
//! [`read`], which reads a table into a [`RawConfig`] reporting *every* unreadable key —
//! unknown, or of the wrong type — rather than stopping at the first.
//!
//! `[[scanners]]` and `[printer]` are read into types their owners define
//! (`devices::scanner_config`, `labels::printer_config`), next to their validation.

use std::path::PathBuf;

use serde::Deserialize;
use serde_path_to_error::Segment;

use super::ctx::Ctx;
use crate::devices::scanner_config::RawScanner;
use crate::labels::printer_config::RawPrinter;

/// The whole file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub station: RawStation,
    pub storage: RawStorage,
    pub engine: RawEngine,
    pub scan: RawScan,
    pub control: RawControl,
    pub inspection: RawInspection,
    pub zones: RawZones,
    pub operators: Vec<RawOperator>,
    pub defect_reasons: Vec<RawDefectReason>,
    pub log: RawLog,
    pub http: RawHttp,
    pub scanners: Vec<RawScanner>,
    pub printer: Option<RawPrinter>,
    pub sync: RawSync,
}

/// `[station]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStation {
    pub id: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
}

/// `[storage]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub state_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub cap_mb: Option<u64>,
    pub high_water_pct: Option<u8>,
    pub maintenance_interval_s: Option<u64>,
}

/// `[control]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawControl {
    pub socket: Option<PathBuf>,
}

/// `[engine]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    pub group_commit_max: Option<usize>,
    pub source_batch_max: Option<usize>,
    pub queue: Option<usize>,
}

/// `[scan]`.
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

/// `[[scan.couriers]]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCourier {
    pub name: Option<String>,
    pub pattern: Option<String>,
}

/// `[inspection]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawInspection {
    pub defect_photo_required: Option<bool>,
    pub two_person_check: Option<bool>,
    pub blind: Option<bool>,
}

/// `[zones]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawZones {
    #[serde(default)]
    pub bins: Vec<RawBin>,
}

/// `[[zones.bins]]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBin {
    pub code: Option<String>,
    pub class: Option<String>,
}

/// `[[operators]]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawOperator {
    pub badge: Option<String>,
    pub name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub pin_hash: Option<String>,
}

/// `[[defect_reasons]]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDefectReason {
    pub code: Option<String>,
    pub label_zh: Option<String>,
    pub label_en: Option<String>,
    pub seller_fault: Option<bool>,
}

/// `[log]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}

/// `[http]`.
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

/// `[sync]`. Its `Debug` leaves the tokens out.
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

impl std::fmt::Debug for RawSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSync")
            .field("central_url", &self.central_url)
            .finish_non_exhaustive()
    }
}

/// One step of a key's path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `a.b[2].c`, as problems name keys (`-`: the whole file).
fn key_of(path: &[Seg]) -> String {
    if path.is_empty() {
        return "-".into();
    }
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The field serde names in an unknown-field message (its wording since serde 1.0).
fn unknown_field(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

/// Remove the key at `path` (which ends on a key) from `v`; false when there is none.
fn remove(v: &mut toml::Value, path: &[Seg]) -> bool {
    match path {
        [Seg::Key(k)] => v.as_table_mut().is_some_and(|t| t.remove(k).is_some()),
        [Seg::Key(k), rest @ ..] => v.get_mut(k.as_str()).is_some_and(|c| remove(c, rest)),
        [Seg::Index(i), rest @ ..] if !rest.is_empty() => {
            v.get_mut(*i).is_some_and(|c| remove(c, rest))
        }
        _ => false,
    }
}

/// Read `table` into a [`RawConfig`]. Every key serde cannot take is reported in `ctx`
/// and removed, and the rest is read again, so one run finds them all. An unknown key is
/// reported as itself (`scan.speed`); a wrong value in an array takes the whole array out
/// (taking out one entry would renumber the others). `None` when the table could not be
/// read at all (problems have been reported).
pub fn read(table: toml::Table, ctx: &mut Ctx) -> Option<RawConfig> {
    let mut table = toml::Value::Table(table);
    // Each round removes a key, so the table runs out long before this.
    for _ in 0..10_000 {
        let e = match serde_path_to_error::deserialize(table.clone()) {
            Ok(raw) => return Some(raw),
            Err(e) => e,
        };
        let mut path = Vec::new();
        for seg in e.path().iter() {
            match seg {
                Segment::Map { key } => path.push(Seg::Key(key.clone())),
                Segment::Seq { index } => path.push(Seg::Index(*index)),
                Segment::Enum { variant } => path.push(Seg::Key(variant.clone())),
                Segment::Unknown => path.push(Seg::Key("?".into())),
            }
        }
        let e: toml::de::Error = e.into_inner();
        let message = e.message().to_string();
        // serde_path_to_error names an unknown key in the path in some places only.
        if let Some(field) = unknown_field(&message)
            && path.last() != Some(&Seg::Key(field.to_string()))
        {
            path.push(Seg::Key(field.to_string()));
        }
        ctx.bad(&key_of(&path), message);
        while matches!(path.last(), Some(Seg::Index(_))) {
            path.pop();
        }
        ctx.drop_key(key_of(&path));
        if !remove(&mut table, &path) {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> (Option<RawConfig>, Vec<String>) {
        let mut ctx = Ctx::test();
        let raw = read(text.parse().unwrap(), &mut ctx);
        (raw, ctx.reported())
    }

    /// Every unknown key and every wrong type is reported by its own key, and what is
    /// left is still read.
    #[test]
    fn every_unreadable_key_is_reported() {
        let (raw, problems) = read_text(
            "[station]\nid = \"ST01\"\ncolour = 1\n[scan]\nspeed = 3\nmax_len = \"long\"\n\
             [[operators]]\nbadge = \"1\"\nroles = [\"keeper\", 5]\n[[operators]]\nbadge = 2\n\
             [[scanners]]\npath = \"/dev/x\"\nbaud = \"fast\"\n[printer]\nkind = \"tcp\"\n\
             [printer.secondary]\nkind = \"usb\"\nspeed = 1\n[printr]\n",
        );
        // serde reads the table's keys in sorted order.
        let keys: Vec<&str> = problems
            .iter()
            .filter_map(|p| p.split(": ").next())
            .collect();
        assert_eq!(
            keys,
            [
                "operators[0].roles[1]",
                "operators[1].badge",
                "printer.secondary.speed",
                "printr",
                "scan.max_len",
                "scan.speed",
                "scanners[0].baud",
                "station.colour",
            ]
        );
        assert_eq!(
            problems[7],
            "station.colour: unknown field `colour`, expected one of `id`, `timezone`, `language`"
        );
        assert_eq!(
            problems[4],
            "scan.max_len: invalid type: string \"long\", expected usize"
        );
        let raw = raw.unwrap();
        assert_eq!(raw.station.id.as_deref(), Some("ST01"));
        assert_eq!(raw.operators[0].roles, None, "the bad array is left out");
        assert_eq!(raw.operators[1].badge, None);
        assert_eq!(raw.scanners[0].path.as_deref(), Some("/dev/x"));
        assert_eq!(
            raw.printer.unwrap().secondary.unwrap().kind.as_deref(),
            Some("usb")
        );
    }

    /// An array entry that is not a table at all takes its array out.
    #[test]
    fn a_non_table_entry_takes_its_array_out() {
        let (raw, problems) = read_text("operators = [1]\n[[zones.bins]]\ncode = \"A\"\n");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("operators[0]: invalid type"),
            "{problems:?}"
        );
        let raw = raw.unwrap();
        assert!(raw.operators.is_empty());
        assert_eq!(raw.zones.bins.len(), 1);
    }
}
