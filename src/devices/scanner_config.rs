//! `[[scanners]]` entries: the raw TOML ([`RawScanner`]) merged with its profile and
//! validated into a [`ScannerConfig`] that cannot be invalid (serial, HID POS or keyboard
//! wedge). Every problem is reported as `scanners[i].key: what to do`, through a plain
//! callback.
//!
//! Precedence: a key set in the station config wins over the profile, which wins over the
//! built-in default. Without `profile` and `transport` an entry is a serial scanner, so
//! configs written before HID support keep their meaning.
//!
//! Architecture invariant: this file does not depend on the config module (which depends on
//! it): the config reads each entry into `RawScanner` and calls [`validate`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::discover::{HidTarget, Roots};
use super::framing::{FramerConfig, Suffix};
use super::hid::{HidKind, HidScannerConfig};
use super::hidpos::{Aim, HidPosLayout};
use super::layout::Layout;
use super::profiles::{self, Profile, Transport, parse_usb_id};
use super::serial::SerialScannerConfig;

/// One `[[scanners]]` entry as TOML says it.
#[derive(Debug, Deserialize, Default)]
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

/// One validated scanner.
#[derive(Debug, Clone)]
pub enum ScannerConfig {
    Serial(SerialScannerConfig),
    Hid(HidScannerConfig),
}

impl ScannerConfig {
    pub fn bench(&self) -> &str {
        match self {
            ScannerConfig::Serial(c) => &c.bench,
            ScannerConfig::Hid(c) => &c.bench,
        }
    }

    /// `serial`, `hidpos` or `keyboard`.
    pub fn transport(&self) -> &'static str {
        match self {
            ScannerConfig::Serial(_) => "serial",
            ScannerConfig::Hid(c) => c.kind.transport(),
        }
    }

    /// The device path or USB id, for the board and logs.
    pub fn label(&self) -> String {
        match self {
            ScannerConfig::Serial(c) => c.path.clone(),
            ScannerConfig::Hid(c) => c.label(),
        }
    }
}

/// Validate entry `i`; problems go to `bad(key, problem)`. Returns `None` only when the
/// entry is too broken to build (a problem has then been reported).
pub fn validate(
    i: usize,
    s: &RawScanner,
    default_bench: &str,
    bad: &mut dyn FnMut(&str, String),
) -> Option<ScannerConfig> {
    let key = |k: &str| format!("scanners[{i}].{k}");
    let profile: Option<&Profile> = match &s.profile {
        None => None,
        Some(name) => match profiles::find(name) {
            Some(p) => Some(p),
            None => {
                bad(
                    &key("profile"),
                    format!(
                        "{name:?} is not a scanner profile: use one of {}",
                        profiles::names()
                    ),
                );
                return None;
            }
        },
    };
    let transport = match (&s.transport, profile) {
        (Some(t), _) => match Transport::parse(t) {
            Some(t) => t,
            None => {
                bad(
                    &key("transport"),
                    format!("{t:?}: use serial, hidpos or keyboard"),
                );
                return None;
            }
        },
        (None, Some(p)) => p.transports[0],
        (None, None) => Transport::Serial,
    };
    if let Some(p) = profile
        && !p.transports.contains(&transport)
    {
        let list: Vec<&str> = p.transports.iter().map(|t| t.as_str()).collect();
        bad(
            &key("transport"),
            format!(
                "profile {} supports {}; pick one of those or another profile",
                p.name,
                list.join(", ")
            ),
        );
    }
    let pick = |own: &Option<String>, prof: Option<&Option<String>>| {
        own.clone().or_else(|| prof.cloned().flatten())
    };
    let bench = s.bench.clone().unwrap_or_else(|| default_bench.to_string());
    if bench.is_empty()
        || bench.len() > 64
        || !bench
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bad(&key("bench"), "must be 1 to 64 of A-Z a-z 0-9 _ -".into());
    }
    let aim = match pick(&s.aim, profile.map(|p| &p.aim)).as_deref() {
        None | Some("keep") => Aim::Keep,
        Some("strip") => Aim::Strip,
        Some(other) => {
            bad(
                &key("aim"),
                format!("{other:?}: use keep (deliver the ]XY symbology prefix) or strip"),
            );
            Aim::Keep
        }
    };
    let quiet_gap_ms = s.quiet_gap_ms.or(profile.and_then(|p| p.quiet_gap_ms));
    if let Some(g) = s.quiet_gap_ms
        && !(1..=10_000).contains(&g)
    {
        bad(&key("quiet_gap_ms"), "must be 1 to 10000 (ms)".into());
    }
    let suffix_text = pick(&s.suffix, profile.map(|p| &p.suffix));
    let suffix = match suffix_text.as_deref().unwrap_or("cr") {
        "cr" => Suffix::Cr,
        "lf" => Suffix::Lf,
        "crlf" => Suffix::CrLf,
        "none" => Suffix::None,
        other => {
            bad(
                &key("suffix"),
                format!("{other:?}: use cr, lf, crlf or none"),
            );
            Suffix::Cr
        }
    };
    let framer = FramerConfig {
        suffix,
        quiet_gap_ms,
        prefix: pick(&s.prefix, profile.map(|p| &p.prefix))
            .filter(|p| !p.is_empty())
            .map(String::into_bytes),
        ..FramerConfig::default()
    };
    let common = Common { bench, aim, framer };
    Some(if transport == Transport::Serial {
        serial(i, s, profile, common, bad)
    } else {
        hid(i, s, profile, transport, common, bad)
    })
}

/// What serial and HID entries share once validated.
struct Common {
    bench: String,
    aim: Aim,
    framer: FramerConfig,
}

/// Report key `k` of entry `i` when it is `set` but applies to `what` only.
fn only(i: usize, k: &str, set: bool, what: &str, bad: &mut dyn FnMut(&str, String)) {
    if set {
        bad(
            &format!("scanners[{i}].{k}"),
            format!("applies to {what} only: remove it"),
        );
    }
}

/// A serial scanner, named by its path.
fn serial(
    i: usize,
    s: &RawScanner,
    profile: Option<&Profile>,
    common: Common,
    bad: &mut dyn FnMut(&str, String),
) -> ScannerConfig {
    let hid_keys = "hidpos and keyboard scanners (a serial scanner is named by its path, e.g. the /dev/serial/by-id/… path `returnsd devices` prints)";
    only(i, "vendor_id", s.vendor_id.is_some(), hid_keys, bad);
    only(i, "product_id", s.product_id.is_some(), hid_keys, bad);
    only(i, "serial_number", s.serial_number.is_some(), hid_keys, bad);
    only(i, "sysfs_root", s.sysfs_root.is_some(), hid_keys, bad);
    only(i, "dev_root", s.dev_root.is_some(), hid_keys, bad);
    only(i, "layout", s.layout.is_some(), "keyboard scanners", bad);
    let path = s.path.clone().unwrap_or_default();
    if path.is_empty() {
        bad(
            &format!("scanners[{i}].path"),
            "is missing: use the scanner's /dev/serial/by-id/… path (`returnsd devices` lists them)".into(),
        );
    }
    let mut c = SerialScannerConfig::new(
        path,
        s.baud.or(profile.and_then(|p| p.baud)).unwrap_or(9600),
        common.bench,
    );
    c.framer = common.framer;
    c.strip_aim = common.aim == Aim::Strip;
    ScannerConfig::Serial(c)
}

/// A HID POS or keyboard-wedge scanner: by path, or by USB id (the profile's vendor when
/// none is given).
fn hid(
    i: usize,
    s: &RawScanner,
    profile: Option<&Profile>,
    transport: Transport,
    common: Common,
    bad: &mut dyn FnMut(&str, String),
) -> ScannerConfig {
    let key = |k: &str| format!("scanners[{i}].{k}");
    only(i, "baud", s.baud.is_some(), "serial scanners", bad);
    let usb_id = |k: &str, v: &Option<String>, bad: &mut dyn FnMut(&str, String)| {
        v.as_ref().and_then(|v| {
            let id = parse_usb_id(v);
            if id.is_none() {
                bad(
                    &key(k),
                    format!("{v:?} is not a USB id: use 4 hex digits as lsusb prints them, e.g. \"0c2e\""),
                );
            }
            id
        })
    };
    let vendor_id = usb_id("vendor_id", &s.vendor_id, bad).or(profile.and_then(|p| p.vendor_id));
    let product_id = usb_id("product_id", &s.product_id, bad);
    let path = s.path.clone().filter(|p| !p.is_empty()).map(PathBuf::from);
    if path.is_none() && vendor_id.is_none() {
        bad(
            &key("vendor_id"),
            "is missing: a HID scanner needs vendor_id (and product_id) or path; `returnsd devices` prints both".into(),
        );
    }
    if path.is_some() && (s.vendor_id.is_some() || s.product_id.is_some()) {
        bad(
            &key("path"),
            "give either path or vendor_id/product_id, not both".into(),
        );
    }
    let roots = Roots {
        sysfs: s
            .sysfs_root
            .clone()
            .map_or_else(|| Roots::default().sysfs, PathBuf::from),
        dev: s
            .dev_root
            .clone()
            .map_or_else(|| Roots::default().dev, PathBuf::from),
    };
    let kind = if transport == Transport::HidPos {
        if s.suffix.is_some() || s.prefix.is_some() {
            bad(
                &key(if s.suffix.is_some() {
                    "suffix"
                } else {
                    "prefix"
                }),
                "HID POS scanners frame scans themselves: remove it".into(),
            );
        }
        only(i, "layout", s.layout.is_some(), "keyboard scanners", bad);
        let fallback = profile
            .and_then(|p| p.hidpos_fallback.as_deref())
            .and_then(HidPosLayout::fallback)
            .unwrap_or_else(HidPosLayout::honeywell);
        HidKind::HidPos {
            aim: common.aim,
            quiet_gap_ms: common.framer.quiet_gap_ms,
            fallback,
        }
    } else {
        let layout = keyboard_layout(s, profile, &key("layout"), bad);
        HidKind::Keyboard {
            layout,
            framer: common.framer,
        }
    };
    let target = match path {
        Some(p) => HidTarget {
            path: Some(p),
            ..HidTarget::default()
        },
        None => HidTarget {
            path: None,
            vendor_id,
            product_id,
            serial: s.serial_number.clone().filter(|v| !v.is_empty()),
        },
    };
    ScannerConfig::Hid(HidScannerConfig {
        bench: common.bench,
        target,
        kind,
        roots,
        poll: Duration::from_secs(1),
    })
}

fn keyboard_layout(
    s: &RawScanner,
    profile: Option<&Profile>,
    key: &str,
    bad: &mut dyn FnMut(&str, String),
) -> Layout {
    let builtin = |name: &str, bad: &mut dyn FnMut(&str, String)| {
        Layout::builtin(name).unwrap_or_else(|| {
            bad(
                key,
                format!("{name:?} is not a built-in layout: use us, de, fr or a table of overrides like {{ \"0x1C\" = \"zZ\" }}"),
            );
            Layout::us()
        })
    };
    match &s.layout {
        None => match profile.and_then(|p| p.layout.as_deref()) {
            Some(name) => builtin(name, bad),
            None => Layout::us(),
        },
        Some(toml::Value::String(name)) => builtin(name, bad),
        Some(toml::Value::Table(t)) => Layout::from_table(t).unwrap_or_else(|e| {
            bad(key, e);
            Layout::us()
        }),
        Some(_) => {
            bad(
                key,
                "use a layout name (us, de, fr) or a table of overrides like { \"0x1C\" = \"zZ\" }"
                    .into(),
            );
            Layout::us()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The validated `[[scanners]]` entries of `text`, or every problem as `key: problem`.
    fn load(text: &str) -> Result<Vec<ScannerConfig>, String> {
        #[derive(Deserialize)]
        struct File {
            scanners: Vec<RawScanner>,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        let mut bad = |k: &str, p: String| problems.push(format!("{k}: {p}"));
        let scanners: Vec<ScannerConfig> = file
            .scanners
            .iter()
            .enumerate()
            .filter_map(|(i, s)| validate(i, s, "bench-1", &mut bad))
            .collect();
        if problems.is_empty() {
            Ok(scanners)
        } else {
            Err(problems.join("\n"))
        }
    }

    fn errors(scanners: &str) -> String {
        load(scanners).expect_err("must be refused")
    }

    /// A serial entry written before HID support keeps its meaning.
    #[test]
    fn old_serial_entries_are_unchanged() {
        let c = load("[[scanners]]\npath = \"/dev/ttyACM0\"\nbench = \"b1\"\nsuffix = \"crlf\"\nprefix = \"@\"\n").unwrap();
        let ScannerConfig::Serial(s) = &c[0] else {
            panic!("serial")
        };
        assert_eq!(
            (s.path.as_str(), s.bench.as_str(), s.baud),
            ("/dev/ttyACM0", "b1", 9600)
        );
        assert_eq!(s.framer.suffix, Suffix::CrLf);
        assert_eq!(s.framer.prefix.as_deref(), Some(&b"@"[..]));
        assert!(!s.strip_aim);
    }

    /// Profiles fill in what the entry leaves out; the entry's own keys win.
    #[test]
    fn profiles_and_overrides() {
        let c = load(
            "[[scanners]]\nprofile = \"honeywell-hidpos\"\nproduct_id = \"0b8f\"\nserial_number = \"17001\"\n\
             [[scanners]]\nprofile = \"zebra-symbol\"\ntransport = \"serial\"\npath = \"/dev/serial/by-id/z\"\naim = \"strip\"\n\
             [[scanners]]\nprofile = \"generic-keyboard\"\nvendor_id = \"05f9\"\nlayout = { \"0x1C\" = \"zZ\" }\n\
             [[scanners]]\ntransport = \"keyboard\"\npath = \"/dev/hidraw5\"\nlayout = \"fr\"\nsysfs_root = \"/tmp/sys\"\n",
        )
        .unwrap();
        let ScannerConfig::Hid(h) = &c[0] else {
            panic!("hid")
        };
        assert_eq!(h.target.vendor_id, Some(0x0c2e), "from the profile");
        assert_eq!(
            (h.target.product_id, h.target.serial.as_deref()),
            (Some(0x0b8f), Some("17001"))
        );
        assert!(matches!(
            h.kind,
            HidKind::HidPos {
                aim: Aim::Keep,
                quiet_gap_ms: Some(500),
                ..
            }
        ));
        assert_eq!(c[0].label(), "0c2e:0b8f:17001");
        let ScannerConfig::Serial(z) = &c[1] else {
            panic!("serial")
        };
        assert!(z.strip_aim);
        let ScannerConfig::Hid(k) = &c[2] else {
            panic!("kbd")
        };
        let HidKind::Keyboard { layout, framer } = &k.kind else {
            panic!("kbd")
        };
        assert_eq!(layout.get(0x1C).unwrap().plain.as_deref(), Some(&b"z"[..]));
        assert_eq!(framer.suffix, Suffix::Cr);
        let ScannerConfig::Hid(p) = &c[3] else {
            panic!("kbd")
        };
        assert_eq!(
            p.target.path.as_deref(),
            Some(std::path::Path::new("/dev/hidraw5"))
        );
        assert_eq!(p.roots.sysfs, PathBuf::from("/tmp/sys"));
        assert_eq!(c[3].transport(), "keyboard");
    }

    /// Each mistake names the entry and key and says what to do.
    #[test]
    fn bad_entries_say_what_to_do() {
        let cases = [
            (
                "profile = \"acme\"\npath = \"/dev/x\"",
                "scanners[0].profile",
                "use one of",
            ),
            (
                "transport = \"usb\"\npath = \"/dev/x\"",
                "scanners[0].transport",
                "serial, hidpos or keyboard",
            ),
            (
                "profile = \"honeywell-serial\"\ntransport = \"hidpos\"",
                "scanners[0].transport",
                "supports serial",
            ),
            (
                "transport = \"hidpos\"\nvendor_id = \"c2e\"",
                "scanners[0].vendor_id",
                "4 hex digits",
            ),
            (
                "transport = \"hidpos\"",
                "scanners[0].vendor_id",
                "is missing",
            ),
            (
                "path = \"/dev/ttyACM0\"\nvendor_id = \"0c2e\"",
                "scanners[0].vendor_id",
                "hidpos and keyboard",
            ),
            (
                "transport = \"hidpos\"\nvendor_id = \"0c2e\"\nsuffix = \"cr\"",
                "scanners[0].suffix",
                "frame scans themselves",
            ),
            (
                "transport = \"keyboard\"\nvendor_id = \"0c2e\"\nlayout = \"xx\"",
                "scanners[0].layout",
                "built-in layout",
            ),
            (
                "transport = \"keyboard\"\nvendor_id = \"0c2e\"\nlayout = { \"0x01\" = \"a\" }",
                "scanners[0].layout",
                "not a key usage",
            ),
            (
                "path = \"/dev/x\"\naim = \"maybe\"",
                "scanners[0].aim",
                "keep",
            ),
            ("bench = \"b1\"", "scanners[0].path", "is missing"),
            ("path = \"/dev/x\"\ncolour = 1", "colour", "unknown field"),
        ];
        for (entry, key, what) in cases {
            let e = errors(&format!("[[scanners]]\n{entry}\n"));
            assert!(e.contains(key) && e.contains(what), "{entry}: {e}");
        }
    }
}
