//! `returnsd commands --out sheet.png`: the printable sheet of command codes a keeper scans
//! instead of touching a keyboard, with titles in Chinese and English.

use std::path::{Path, PathBuf};

use crate::domain::scan::CommandCode;
use crate::i18n::{Lang, message};
use crate::label::sheet::{SheetEntry, render_command_sheet};
use crate::label::text::{Font, default_font_paths};

/// The entries of the sheet: every command code, then the three fixed zones.
pub fn entries() -> Vec<SheetEntry> {
    let mut out: Vec<SheetEntry> = CommandCode::ALL
        .iter()
        .map(|c| {
            let key = format!("cmd.{}", c.key());
            SheetEntry {
                code: c.code().to_string(),
                title_en: message(Lang::En, &key, &[]),
                title_zh: message(Lang::Zh, &key, &[]),
            }
        })
        .collect();
    for (code, key) in [
        ("Z-PENDING", "zone.pending"),
        ("Z-GOOD", "zone.good"),
        ("Z-DEFECT", "zone.defect"),
    ] {
        out.push(SheetEntry {
            code: code.to_string(),
            title_en: message(Lang::En, key, &[]),
            title_zh: message(Lang::Zh, key, &[]),
        });
    }
    out
}

pub fn write_command_sheet(out: &Path, font: Option<&Path>) -> Result<(), String> {
    let paths: Vec<PathBuf> = match font {
        Some(p) => vec![p.to_path_buf()],
        None => default_font_paths().iter().map(PathBuf::from).collect(),
    };
    let font = Font::load_first_available(&paths).map_err(|e| e.to_string())?;
    let bmp = render_command_sheet(
        &message(Lang::En, "sheet.title", &[]),
        &message(Lang::Zh, "sheet.title", &[]),
        &entries(),
        &font,
    )
    .map_err(|e| e.to_string())?;
    let png = bmp.to_png().map_err(|e| e.to_string())?;
    std::fs::write(out, png).map_err(|e| format!("{}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sheet entry has real titles in both languages, not a raw translation key.
    #[test]
    fn every_entry_is_translated() {
        for e in entries() {
            assert!(
                !e.title_en.starts_with("cmd.") && !e.title_en.starts_with("zone."),
                "{e:?}"
            );
            assert!(
                !e.title_zh.starts_with("cmd.") && !e.title_zh.starts_with("zone."),
                "{e:?}"
            );
            assert_ne!(e.title_en, e.title_zh, "{e:?}");
        }
    }
}
