//! `[printer]` (and `[printer.secondary]`): the raw TOML ([`RawPrinter`]) merged with its
//! profile (`profiles.rs`) and validated into a [`PrinterConfig`] that cannot be invalid.
//! Every problem is reported as `printer.key: what to do` through a plain callback.
//!
//! Architecture invariant: this file does not depend on the config module (which depends on
//! it): the config reads the table into `RawPrinter` and calls [`validate`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::profiles::{self, PrinterProfile};
use crate::label::template::{Fields, TemplateError, Templates};

/// `[printer]` as TOML says it. `kind` is required (reported by [`validate`]).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPrinter {
    pub kind: Option<String>,
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

/// Where label jobs go: a primary printer, an optional secondary it fails over to, and how
/// the print queue treats them.
#[derive(Debug, Clone)]
pub struct PrinterConfig {
    /// The printer at the bench: takes every job while it is healthy.
    pub primary: PrinterTarget,
    /// Takes the queue's jobs while the primary is unreachable or faulted, so a jammed
    /// printer does not stop the bench.
    pub secondary: Option<PrinterTarget>,
    /// Failed attempts on the primary before a job goes to the secondary: one network blip
    /// should not move labels to another printer.
    pub failover_after: u32,
    /// How often an idle printer's status is asked (0: only after each job), so paper-out
    /// is an alarm before the next parcel, not after it.
    pub status_interval: Duration,
    /// Longest wait between two attempts at a job (backoff 1 s doubling up to this): an
    /// offline printer is retried without flooding it.
    pub retry_cap: Duration,
    /// How long to wait for a printer to report a job done before leaving it `sent`, so a
    /// silent printer does not hold the queue.
    pub confirm_timeout: Duration,
    /// CJK font for text rendered on the PC (customer names), for printers without one.
    pub font: Option<PathBuf>,
    /// A directory whose `*.toml` templates override the built-in ones, so a station can
    /// fit its label stock without a new build.
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
    /// `primary` or `secondary`: names it on the device board and in logs.
    pub name: &'static str,
    /// How the bytes get there.
    pub transport: PrinterTransport,
    /// `zpl` or `tspl`: the language its labels are rendered in.
    pub language: String,
    /// 203, 300 or 600: labels are laid out in this printer's dots.
    pub dpi: u32,
}

/// Validate `[printer]`: directory printers and a relative `path` live under `state_dir`,
/// `templates` is relative to `base` (the config file's directory). Problems go to
/// `bad(key, problem)`.
pub fn validate(
    p: &RawPrinter,
    state_dir: &Path,
    base: &Path,
    station: Option<&str>,
    bad: &mut dyn FnMut(&str, String),
) -> PrinterConfig {
    let primary = target(p, "primary", "printer", state_dir, bad);
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
        target(s, "secondary", "printer.secondary", state_dir, bad)
    });
    let mut within = |key: &str, v: u64, lo: u64, hi: u64, problem: &str| {
        if !(lo..=hi).contains(&v) {
            bad(key, problem.into());
        }
        v
    };
    let failover_after = within(
        "printer.failover_after",
        p.failover_after.unwrap_or(2).into(),
        1,
        100,
        "must be 1 to 100 attempts",
    );
    let status_interval_s = within(
        "printer.status_interval_s",
        p.status_interval_s.unwrap_or(15),
        0,
        3600,
        "must be 0 (off) to 3600",
    );
    let retry_cap_s = within(
        "printer.retry_cap_s",
        p.retry_cap_s.unwrap_or(30),
        1,
        3600,
        "must be 1 to 3600",
    );
    let confirm_timeout_ms = within(
        "printer.confirm_timeout_ms",
        p.confirm_timeout_ms.unwrap_or(5000),
        100,
        120_000,
        "must be 100 to 120000",
    );
    let templates = p.templates.as_ref().map(|t| base.join(t));
    match crate::label::template::Templates::load(templates.as_deref()) {
        Err(e) => bad("printer.templates", e.to_string()),
        Ok(set) => {
            let dpis = std::iter::once(primary.dpi).chain(secondary.as_ref().map(|s| s.dpi));
            for dpi in dpis {
                if let Some(problem) = station.and_then(|st| longest_ids_misfit(&set, st, dpi)) {
                    bad("printer.templates", problem);
                }
            }
        }
    }
    PrinterConfig {
        primary,
        secondary,
        failover_after: u32::try_from(failover_after).unwrap_or(u32::MAX),
        status_interval: Duration::from_secs(status_interval_s),
        retry_cap: Duration::from_secs(retry_cap_s),
        confirm_timeout: Duration::from_millis(confirm_timeout_ms),
        font: p.font.clone(),
        templates,
    }
}

/// The first label whose barcode cannot hold the longest ids `station` makes (a daily
/// number of four digits, 99 items, RTV note 9999) at `dpi` with bars of at least
/// 0.25 mm, as the template's refusal: found by `check-config`, not by the first job.
fn longest_ids_misfit(set: &Templates, station: &str, dpi: u32) -> Option<String> {
    let return_id = format!("R-{station}-20261231-9999");
    let samples = [
        (
            "return_label",
            Fields::new()
                .text("return_id", return_id.as_str())
                .text("customer_name", "")
                .text("order_no", "")
                .text("kind", "")
                .text("date", "2026-12-31")
                .text("station", station),
        ),
        (
            "defect_tag",
            Fields::new()
                .text("return_id", return_id.as_str())
                .text("item_no", "99")
                .text("sku", "")
                .list("defect_reasons", Vec::<String>::new())
                .text("inspector", "")
                .text("date", "2026-12-31"),
        ),
        (
            "rtv_note",
            Fields::new()
                .text("note_no", format!("RTV-{station}-20261231-9999"))
                .text("vendor", "")
                .text("item_count", "99")
                .text("date", "2026-12-31")
                .text("station", station),
        ),
    ];
    samples
        .iter()
        .find_map(|(name, fields)| match set.fill(name, fields, dpi) {
            Err(e @ TemplateError::DoesNotFit { .. }) => {
                Some(format!("with station id {station:?} at {dpi} dpi: {e}"))
            }
            _ => None,
        })
}

/// The profile named by `p.profile`, checked against `p.kind`.
fn profile(
    p: &RawPrinter,
    key: &dyn Fn(&str) -> String,
    bad: &mut dyn FnMut(&str, String),
) -> Option<PrinterProfile> {
    let name = p.profile.as_deref()?;
    match profiles::find(name) {
        Ok(pr) => {
            if let Some(kind) = p.kind.as_deref()
                && !pr.transports.iter().any(|t| t == kind)
                && kind != "directory"
            {
                bad(
                    &key("kind"),
                    format!(
                        "{kind:?}: profile {name} offers {}",
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
    }
}

/// Validate one `[printer]` (or `[printer.secondary]`) table as printer `name`.
fn target(
    p: &RawPrinter,
    name: &'static str,
    section: &str,
    state_dir: &Path,
    bad: &mut dyn FnMut(&str, String),
) -> PrinterTarget {
    let key = |k: &str| format!("{section}.{k}");
    let profile = profile(p, &key, bad);
    let kind = p.kind.as_deref().unwrap_or_default();
    let transport = match p.kind.as_deref() {
        None => {
            bad(&key("kind"), "missing field `kind`".into());
            PrinterTransport::Directory(state_dir.join("labels"))
        }
        Some("directory") => {
            let dir = p.path.clone().unwrap_or_else(|| PathBuf::from("labels"));
            PrinterTransport::Directory(state_dir.join(dir))
        }
        Some("tcp") => {
            let a = p.address.clone().unwrap_or_default();
            if !a.contains(':') {
                bad(
                    &key("address"),
                    "a tcp printer needs address = \"host:9100\"".into(),
                );
            }
            PrinterTransport::Tcp(a)
        }
        Some(kind @ ("serial" | "usb")) => {
            let path = p.path.clone().unwrap_or_default();
            if path.as_os_str().is_empty() {
                let example = if kind == "usb" {
                    "/dev/usb/lp0"
                } else {
                    "/dev/serial/by-id/…"
                };
                bad(
                    &key("path"),
                    format!("a {kind} printer needs path = \"{example}\""),
                );
            }
            if kind == "usb" {
                PrinterTransport::Usb(path)
            } else {
                let baud = p.baud.or(profile.as_ref().map(|pr| pr.baud));
                PrinterTransport::Serial {
                    path,
                    baud: baud.unwrap_or(9600),
                }
            }
        }
        Some(other) => {
            bad(
                &key("kind"),
                format!("{other:?}: use \"tcp\", \"usb\", \"serial\" or \"directory\""),
            );
            PrinterTransport::Directory(state_dir.join("labels"))
        }
    };
    if p.baud.is_some() && kind != "serial" {
        bad(&key("baud"), "only a serial printer has a baud rate".into());
    }
    if p.address.is_some() && kind != "tcp" {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(printer: &str) -> (PrinterConfig, Vec<String>) {
        check_for(printer, "ST01")
    }

    fn check_for(printer: &str, station: &str) -> (PrinterConfig, Vec<String>) {
        let raw: RawPrinter = toml::from_str(printer).unwrap();
        let mut problems = Vec::new();
        let c = validate(
            &raw,
            Path::new("/var/lib/returnsd"),
            Path::new("/etc/returnsd"),
            Some(station),
            &mut |k, p| problems.push(format!("{k}: {p}")),
        );
        (c, problems)
    }

    /// A station id so long that its item labels' Code 128 cannot fit the built-in
    /// defect tag at 0.25 mm per module is a check-config problem naming the station,
    /// the dpi and the widths; a realistic one is not.
    #[test]
    fn ids_too_long_for_the_labels_barcodes_are_refused() {
        let printer = "kind = \"directory\"\ndpi = 300\n";
        // The README's promise: station ids of up to 12 characters fit the built-ins.
        for station in ["BENCH-12", "ABCDEFGHIJKL", "A_B-C_D-E_F-"] {
            let (_, problems) = check_for(printer, station);
            assert!(problems.is_empty(), "{station}: {problems:?}");
        }
        let (_, problems) = check_for(printer, "WAREHOUSE-NORTH-BENCH-12");
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert!(
            p.starts_with(
                "printer.templates: with station id \"WAREHOUSE-NORTH-BENCH-12\" at 300 dpi"
            ),
            "{p}"
        );
        assert!(
            p.contains("0.25 mm") && p.contains("widen the element"),
            "{p}"
        );
    }

    /// A directory printer under the state directory, with the queue's defaults.
    #[test]
    fn defaults() {
        let (c, problems) = check("kind = \"directory\"\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            c.primary.transport,
            PrinterTransport::Directory("/var/lib/returnsd/labels".into())
        );
        assert_eq!((c.primary.language.as_str(), c.primary.dpi), ("zpl", 203));
        assert_eq!(c.failover_after, 2);
        assert_eq!(c.status_interval, Duration::from_secs(15));
        assert_eq!(c.retry_cap, Duration::from_secs(30));
        assert_eq!(c.confirm_timeout, Duration::from_millis(5000));
        assert!(c.secondary.is_none() && c.templates.is_none() && c.font.is_none());
        let (c, _) = check("kind = \"serial\"\npath = \"/dev/ttyS0\"\n");
        assert_eq!(
            c.primary.transport,
            PrinterTransport::Serial {
                path: "/dev/ttyS0".into(),
                baud: 9600
            }
        );
    }

    /// A profile gives the language, dpi and baud; keys set next to it win; a wrong
    /// profile or a transport it does not offer is a problem naming the key.
    #[test]
    fn printer_profile_defaults_and_overrides() {
        let (c, problems) =
            check("kind = \"usb\"\npath = \"/dev/usb/lp0\"\nprofile = \"tsc-tspl-300\"\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((c.primary.language.as_str(), c.primary.dpi), ("tspl", 300));
        let (c, problems) = check(
            "kind = \"tcp\"\naddress = \"10.0.0.9:9100\"\nprofile = \"zebra-zpl-203\"\ndpi = 300\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.primary.dpi, 300);
        let (_, problems) = check("kind = \"tcp\"\naddress = \"h:9100\"\nprofile = \"zebra\"\n");
        assert!(
            problems[0].starts_with("printer.profile: ") && problems[0].contains("zebra-zpl-203"),
            "{problems:?}"
        );
        let (_, problems) = check(
            "kind = \"serial\"\npath = \"/dev/ttyS0\"\nprofile = \"generic-tspl-203\"\n[secondary]\nkind = \"tcp\"\naddress = \"x\"\n",
        );
        assert_eq!(
            problems,
            ["printer.secondary.address: a tcp printer needs address = \"host:9100\""]
        );
    }

    /// Each bad value is reported with its key.
    #[test]
    fn bad_values() {
        let (_, problems) = check(
            "kind = \"fax\"\nbaud = 9600\naddress = \"h:1\"\nlanguage = \"epl\"\ndpi = 100\n\
             failover_after = 0\nstatus_interval_s = 3601\nretry_cap_s = 0\nconfirm_timeout_ms = 99\n\
             templates = \"/nonexistent/templates\"\n\
             [secondary]\nkind = \"usb\"\nfont = \"f.ttf\"\n",
        );
        assert_eq!(problems.len(), 12, "{problems:?}");
        assert_eq!(
            problems[..11],
            [
                "printer.kind: \"fax\": use \"tcp\", \"usb\", \"serial\" or \"directory\"",
                "printer.baud: only a serial printer has a baud rate",
                "printer.address: only a tcp printer has an address",
                "printer.language: \"epl\": use zpl or tspl",
                "printer.dpi: must be 203, 300 or 600",
                "printer.secondary.font: set font on [printer], not on the secondary",
                "printer.secondary.path: a usb printer needs path = \"/dev/usb/lp0\"",
                "printer.failover_after: must be 1 to 100 attempts",
                "printer.status_interval_s: must be 0 (off) to 3600",
                "printer.retry_cap_s: must be 1 to 3600",
                "printer.confirm_timeout_ms: must be 100 to 120000",
            ]
        );
        assert!(
            problems[11].starts_with("printer.templates: "),
            "{problems:?}"
        );
        let (_, problems) = check("path = \"x\"\n");
        assert_eq!(problems, ["printer.kind: missing field `kind`"]);
    }
}
