//! Scanner profiles: per-model defaults (USB vendor, transports, suffix, AIM handling, quiet
//! gap, HID POS fallback layout, how to switch the scanner's mode), one TOML file each in
//! `devices/scanners/`, embedded in the binary and parsed at startup. A `[[scanners]]`
//! entry names one with `profile = "…"` and may override any field; `returnsd devices`
//! suggests the profile that matches what it sees.

use std::sync::OnceLock;

use serde::Deserialize;

/// The embedded profile files (name, text).
const FILES: &[(&str, &str)] = &[
    (
        "honeywell-hidpos",
        include_str!("../../devices/scanners/honeywell-hidpos.toml"),
    ),
    (
        "honeywell-serial",
        include_str!("../../devices/scanners/honeywell-serial.toml"),
    ),
    (
        "zebra-symbol",
        include_str!("../../devices/scanners/zebra-symbol.toml"),
    ),
    (
        "datalogic",
        include_str!("../../devices/scanners/datalogic.toml"),
    ),
    (
        "newland",
        include_str!("../../devices/scanners/newland.toml"),
    ),
    (
        "generic-serial",
        include_str!("../../devices/scanners/generic-serial.toml"),
    ),
    (
        "generic-hidpos",
        include_str!("../../devices/scanners/generic-hidpos.toml"),
    ),
    (
        "generic-keyboard",
        include_str!("../../devices/scanners/generic-keyboard.toml"),
    ),
];

/// How scans reach the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Serial,
    HidPos,
    Keyboard,
}

impl Transport {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "serial" => Some(Transport::Serial),
            "hidpos" => Some(Transport::HidPos),
            "keyboard" => Some(Transport::Keyboard),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Serial => "serial",
            Transport::HidPos => "hidpos",
            Transport::Keyboard => "keyboard",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    description: String,
    vendor_id: Option<String>,
    #[serde(default)]
    product_ids: Vec<String>,
    transports: Vec<String>,
    suffix: Option<String>,
    prefix: Option<String>,
    quiet_gap_ms: Option<u64>,
    baud: Option<u32>,
    aim: Option<String>,
    layout: Option<String>,
    hidpos_fallback: Option<String>,
    switch: String,
}

/// One validated profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// USB vendor id; `None` for the generic profiles.
    pub vendor_id: Option<u16>,
    /// Product ids this profile is for; empty = any product of the vendor.
    pub product_ids: Vec<u16>,
    /// Supported transports; the first is the default.
    pub transports: Vec<Transport>,
    pub suffix: Option<String>,
    pub prefix: Option<String>,
    pub quiet_gap_ms: Option<u64>,
    pub baud: Option<u32>,
    pub aim: Option<String>,
    pub layout: Option<String>,
    /// HID POS layout when the device has no usable descriptor: `honeywell` or `newland`.
    pub hidpos_fallback: Option<String>,
    /// How to put the scanner in this mode (from the vendor's manual).
    pub switch: String,
}

/// A USB id written as 4 hex digits (`"0c2e"`, `"0x0C2E"`).
pub fn parse_usb_id(s: &str) -> Option<u16> {
    let h = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    (h.len() == 4)
        .then(|| u16::from_str_radix(h, 16).ok())
        .flatten()
}

fn parse(file: &str, text: &str) -> Result<Profile, String> {
    let raw: RawProfile =
        toml::from_str(text).map_err(|e| format!("profile {file}: {}", e.message()))?;
    let bad = |what: &str| format!("profile {file}: {what}");
    if raw.name != file {
        return Err(bad("name differs from the file name"));
    }
    let vendor_id = match &raw.vendor_id {
        None => None,
        Some(v) => Some(parse_usb_id(v).ok_or_else(|| bad("vendor_id is not 4 hex digits"))?),
    };
    let product_ids = raw
        .product_ids
        .iter()
        .map(|p| parse_usb_id(p).ok_or_else(|| bad("product_ids: not 4 hex digits")))
        .collect::<Result<Vec<_>, _>>()?;
    let transports = raw
        .transports
        .iter()
        .map(|t| Transport::parse(t).ok_or_else(|| bad("transports: serial, hidpos, keyboard")))
        .collect::<Result<Vec<_>, _>>()?;
    if transports.is_empty() {
        return Err(bad("transports is empty"));
    }
    if let Some(f) = &raw.hidpos_fallback
        && super::hidpos::HidPosLayout::fallback(f).is_none()
    {
        return Err(bad("hidpos_fallback: honeywell or newland"));
    }
    Ok(Profile {
        name: raw.name,
        description: raw.description,
        vendor_id,
        product_ids,
        transports,
        suffix: raw.suffix,
        prefix: raw.prefix,
        quiet_gap_ms: raw.quiet_gap_ms,
        baud: raw.baud,
        aim: raw.aim,
        layout: raw.layout,
        hidpos_fallback: raw.hidpos_fallback,
        switch: raw.switch,
    })
}

/// Every built-in profile (parsed once; a profile that does not parse is a build defect,
/// caught by the unit test, and is left out with an error in the log).
pub fn all() -> &'static [Profile] {
    static ALL: OnceLock<Vec<Profile>> = OnceLock::new();
    ALL.get_or_init(|| {
        FILES
            .iter()
            .filter_map(|(f, t)| match parse(f, t) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(error = %e, "built-in scanner profile ignored");
                    None
                }
            })
            .collect()
    })
}

/// A profile by name.
pub fn find(name: &str) -> Option<&'static Profile> {
    all().iter().find(|p| p.name == name)
}

/// Names, for error messages.
pub fn names() -> String {
    all()
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The profile for a device seen with this USB id and transport: the vendor's own profile
/// that supports the transport, else the generic one for the transport.
pub fn matching(
    vendor_id: Option<u16>,
    product_id: Option<u16>,
    t: Transport,
) -> Option<&'static Profile> {
    let vendor = all().iter().find(|p| {
        p.vendor_id.is_some()
            && p.vendor_id == vendor_id
            && p.transports.contains(&t)
            && (p.product_ids.is_empty()
                || product_id.is_some_and(|id| p.product_ids.contains(&id)))
    });
    vendor.or_else(|| {
        let generic = match t {
            Transport::Serial => "generic-serial",
            Transport::Keyboard => "generic-keyboard",
            Transport::HidPos => "generic-hidpos",
        };
        find(generic)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_profile_parses_and_the_required_ones_exist() {
        for (f, t) in FILES {
            parse(f, t).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(all().len(), FILES.len());
        for name in [
            "honeywell-hidpos",
            "honeywell-serial",
            "zebra-symbol",
            "datalogic",
            "newland",
            "generic-serial",
            "generic-keyboard",
            "generic-hidpos",
        ] {
            assert!(find(name).is_some(), "{name}");
        }
        // The directory holds exactly the embedded files (none forgotten).
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/devices/scanners");
        let on_disk = std::fs::read_dir(dir).unwrap().count();
        assert_eq!(on_disk, FILES.len());
    }

    #[test]
    fn matching_prefers_the_vendor_then_the_generic_profile() {
        let hw = Some(0x0c2e);
        assert_eq!(
            matching(hw, None, Transport::HidPos).unwrap().name,
            "honeywell-hidpos"
        );
        assert_eq!(
            matching(hw, None, Transport::Serial).unwrap().name,
            "honeywell-serial"
        );
        assert_eq!(
            matching(Some(0x1eab), None, Transport::HidPos)
                .unwrap()
                .name,
            "newland"
        );
        assert_eq!(
            matching(Some(0x1234), None, Transport::Serial)
                .unwrap()
                .name,
            "generic-serial"
        );
        assert_eq!(
            matching(hw, None, Transport::Keyboard).unwrap().name,
            "generic-keyboard"
        );
        assert_eq!(
            matching(Some(0x1234), None, Transport::HidPos)
                .unwrap()
                .name,
            "generic-hidpos"
        );
        assert_eq!(parse_usb_id("0x0C2E"), Some(0x0c2e));
        assert_eq!(parse_usb_id("c2e"), None);
    }
}
