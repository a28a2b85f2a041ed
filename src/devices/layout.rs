//! Keyboard layouts for keyboard-wedge scanners: which characters a HID key usage types,
//! as overrides of the built-in US layout. Pure.
//!
//! A keyboard-wedge scanner "types" each character as the key that produces it on the
//! keyboard layout the *scanner* is set to. When the scanner is set to German or French,
//! the key positions differ from US (QWERTZ swaps Y/Z; AZERTY types digits with Shift), so
//! the decoder needs the same table. A layout is a small table of overrides:
//!
//! ```toml
//! # in [[scanners]]: layout = "de" (built in), or an inline table of overrides:
//! layout = { "0x1C" = "zZ", "0x1D" = "yY" }
//! ```
//!
//! Each key is a HID usage on the Keyboard page (hex `0x1C` or decimal), each value one to
//! three characters: unshifted, with Shift, with AltGr (right Alt). Keys not listed keep the
//! US meaning. Ctrl combinations (Ctrl+] = GS) and Alt+keypad codes are taken by key
//! position and are not affected. Built in: `us` (no overrides), `de`, `fr` (only the keys
//! that matter for bar codes: letters, digits and common punctuation).

use std::collections::BTreeMap;

/// Characters of one key: plain, with Shift, with AltGr (UTF-8 bytes each).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyChars {
    pub plain: Option<Vec<u8>>,
    pub shift: Option<Vec<u8>>,
    pub altgr: Option<Vec<u8>>,
}

/// A set of overrides over the US layout, by HID usage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// Name for logs (`us`, `de`, `fr`, `custom`).
    pub name: String,
    keys: BTreeMap<u8, KeyChars>,
}

/// German QWERTZ, the keys that differ from US and occur in bar codes.
const DE: &str = r##"
"0x1C" = "zZ"
"0x1D" = "yY"
"0x1F" = "2\"²"
"0x20" = "3§³"
"0x23" = "6&"
"0x24" = "7/{"
"0x25" = "8(["
"0x26" = "9)]"
"0x27" = "0=}"
"0x2D" = "ß?\\"
"0x30" = "+*~"
"0x32" = "#'"
"0x36" = ",;"
"0x37" = ".:"
"0x38" = "-_"
"0x14" = "qQ@"
"##;

/// French AZERTY: digits need Shift; A/Q and Z/W swapped; M on the `;` key.
const FR: &str = r##"
"0x04" = "qQ"
"0x14" = "aA"
"0x1A" = "zZ"
"0x1D" = "wW"
"0x33" = "mM"
"0x10" = ",?"
"0x36" = ";."
"0x37" = ":/"
"0x38" = "!§"
"0x1E" = "&1"
"0x1F" = "é2~"
"0x20" = "\"3#"
"0x21" = "'4{"
"0x22" = "(5["
"0x23" = "-6|"
"0x24" = "è7`"
"0x25" = "_8\\"
"0x26" = "ç9^"
"0x27" = "à0@"
"0x2D" = ")°]"
"0x2E" = "=+}"
"0x30" = "$£¤"
"##;

impl Layout {
    /// The US layout (no overrides).
    pub fn us() -> Self {
        Layout {
            name: "us".into(),
            keys: BTreeMap::new(),
        }
    }

    /// A built-in layout by name.
    pub fn builtin(name: &str) -> Option<Self> {
        let text = match name {
            "us" => return Some(Self::us()),
            "de" => DE,
            "fr" => FR,
            _ => return None,
        };
        let table: toml::Table = text.parse().ok()?;
        let mut l = Self::from_table(&table).ok()?;
        l.name = name.to_string();
        Some(l)
    }

    /// Overrides from a TOML table (`"0x1C" = "zZ"`); the error says which key is wrong.
    pub fn from_table(table: &toml::Table) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        for (k, v) in table {
            let usage = parse_usage(k).ok_or_else(|| {
                format!("{k:?} is not a key usage: use hex like \"0x1C\" (4 to 231)")
            })?;
            let s = v.as_str().ok_or_else(|| {
                format!("{k}: use a string of 1 to 3 characters (plain, Shift, AltGr)")
            })?;
            let chars: Vec<Vec<u8>> = s.chars().map(|c| c.to_string().into_bytes()).collect();
            if chars.is_empty() || chars.len() > 3 {
                return Err(format!(
                    "{k}: {s:?} must be 1 to 3 characters (plain, Shift, AltGr)"
                ));
            }
            let mut it = chars.into_iter();
            keys.insert(
                usage,
                KeyChars {
                    plain: it.next(),
                    shift: it.next(),
                    altgr: it.next(),
                },
            );
        }
        Ok(Layout {
            name: "custom".into(),
            keys,
        })
    }

    /// The override for a key, if any.
    pub fn get(&self, usage: u8) -> Option<&KeyChars> {
        self.keys.get(&usage)
    }
}

fn parse_usage(k: &str) -> Option<u8> {
    let v = match k.strip_prefix("0x").or_else(|| k.strip_prefix("0X")) {
        Some(h) => u8::from_str_radix(h, 16).ok()?,
        None => k.parse().ok()?,
    };
    (4..=231).contains(&v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_custom_tables_are_checked() {
        for name in ["us", "de", "fr"] {
            assert!(Layout::builtin(name).is_some(), "{name}");
        }
        assert!(Layout::builtin("xx").is_none());
        let de = Layout::builtin("de").unwrap();
        assert_eq!(de.get(0x1C).unwrap().plain.as_deref(), Some(&b"z"[..]));
        let t: toml::Table = r#""0x1C" = "zZ"
29 = "yY""#
            .parse()
            .unwrap();
        let l = Layout::from_table(&t).unwrap();
        assert_eq!(l.get(29).unwrap().shift.as_deref(), Some(&b"Y"[..]));
        for bad in [
            r#""0x01" = "a""#,
            r#""zz" = "a""#,
            r#""0x1C" = """#,
            r#""0x1C" = 3"#,
        ] {
            let t: toml::Table = bad.parse().unwrap();
            assert!(Layout::from_table(&t).is_err(), "{bad}");
        }
    }
}
