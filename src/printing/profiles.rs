//! Printer profiles: `devices/printers/*.toml`, built into the binary. A profile names a
//! model family's language, resolution, transports and serial speed; `[printer] profile =
//! "…"` takes them as defaults, and any key set next to it wins.

use serde::Deserialize;

/// One printer profile.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PrinterProfile {
    pub name: String,
    pub description: String,
    /// USB vendor id (lower-case hex) where one is known.
    pub vendor_id: Option<String>,
    /// `zpl` or `tspl`.
    pub language: String,
    pub dpi: u32,
    /// Transports the model offers, most usual first.
    pub transports: Vec<String>,
    pub baud: u32,
}

const BUILT_IN: &[(&str, &str)] = &[
    (
        "zebra-zpl-203.toml",
        include_str!("../../devices/printers/zebra-zpl-203.toml"),
    ),
    (
        "zebra-zpl-300.toml",
        include_str!("../../devices/printers/zebra-zpl-300.toml"),
    ),
    (
        "tsc-tspl-203.toml",
        include_str!("../../devices/printers/tsc-tspl-203.toml"),
    ),
    (
        "tsc-tspl-300.toml",
        include_str!("../../devices/printers/tsc-tspl-300.toml"),
    ),
    (
        "generic-tspl-203.toml",
        include_str!("../../devices/printers/generic-tspl-203.toml"),
    ),
    (
        "generic-zpl-203.toml",
        include_str!("../../devices/printers/generic-zpl-203.toml"),
    ),
];

/// Every built-in profile (a broken one is a build defect: the test below parses all).
pub fn all() -> Vec<PrinterProfile> {
    BUILT_IN
        .iter()
        .filter_map(|(file, text)| match toml::from_str(text) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(file, error = %e, "built-in printer profile is broken");
                None
            }
        })
        .collect()
}

/// A profile by name, or the list of names to choose from.
pub fn find(name: &str) -> Result<PrinterProfile, String> {
    let all = all();
    all.iter().find(|p| p.name == name).cloned().ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        format!(
            "{name:?} is not a printer profile; use one of {}",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in profile parses, is named after its file and is consistent.
    #[test]
    fn built_in_profiles_are_valid() {
        for (file, text) in BUILT_IN {
            let p: PrinterProfile = toml::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(format!("{}.toml", p.name), *file);
            assert!(["zpl", "tspl"].contains(&p.language.as_str()), "{file}");
            assert!([203, 300, 600].contains(&p.dpi), "{file}");
            assert!(!p.transports.is_empty(), "{file}");
            for t in &p.transports {
                assert!(
                    ["tcp", "usb", "serial"].contains(&t.as_str()),
                    "{file}: {t}"
                );
            }
        }
        assert_eq!(all().len(), BUILT_IN.len());
        assert!(find("nope").unwrap_err().contains("zebra-zpl-203"));
    }
}

#[cfg(test)]
mod config_tests {
    use std::path::Path;

    fn parse(printer: &str) -> Result<crate::config::Config, String> {
        let text = format!(
            "[station]\nid = \"ST01\"\n[storage]\nstate_dir = \"/tmp/returnsd-profile-test\"\n{printer}"
        );
        crate::config::parse(&text, "t.toml", Path::new("/tmp/t.toml"), &[])
            .map_err(|e| e.to_string())
    }

    /// A profile gives the language, dpi and baud; keys set next to it win; a wrong
    /// profile or a transport it does not offer is a config error naming the key.
    #[test]
    fn printer_profile_defaults_and_overrides() {
        let c = parse(
            "[printer]\nkind = \"usb\"\npath = \"/dev/usb/lp0\"\nprofile = \"tsc-tspl-300\"\n",
        )
        .unwrap();
        let p = c.printer.unwrap().primary;
        assert_eq!((p.language.as_str(), p.dpi), ("tspl", 300));
        let c = parse(
            "[printer]\nkind = \"tcp\"\naddress = \"10.0.0.9:9100\"\nprofile = \"zebra-zpl-203\"\ndpi = 300\n",
        )
        .unwrap();
        assert_eq!(c.printer.unwrap().primary.dpi, 300);
        let e = parse("[printer]\nkind = \"tcp\"\naddress = \"h:9100\"\nprofile = \"zebra\"\n")
            .unwrap_err();
        assert!(
            e.contains("printer.profile") && e.contains("zebra-zpl-203"),
            "{e}"
        );
        let e = parse("[printer]\nkind = \"serial\"\npath = \"/dev/ttyS0\"\nprofile = \"generic-tspl-203\"\n[printer.secondary]\nkind = \"tcp\"\naddress = \"x\"\n")
            .unwrap_err();
        assert!(e.contains("printer.secondary.address"), "{e}");
    }
}
