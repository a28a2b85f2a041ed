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
