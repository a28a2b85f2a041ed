//! `returnsd commands --out sheet.png`: the printable sheets of codes a keeper scans
//! instead of touching a keyboard, with titles in Chinese and English — the bench's
//! command codes, the operators' badges (`--badges`) and the bins' shelf labels
//! (`--bins`). Every code on them is what the scan grammar reads as that command, badge
//! or bin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::domain::ids::{Badge, BinCode};
use crate::domain::kind::{BinClass, Role};
use crate::domain::scan::{CommandCode, ZoneScan};
use crate::i18n::{Lang, message};
use crate::label::sheet::{PageSize, SheetEntry, render_command_sheet, sheet_capacity};
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

/// Which sheet to print: its entries and its title's translation key.
pub enum Sheet {
    /// The bench's command codes and the three fixed zones.
    Commands,
    /// One badge per operator: `OP-<badge>`, titled with the badge id and the roles.
    Badges(Vec<(Badge, Vec<Role>)>),
    /// One shelf label per bin: `Z-<bin>`, titled with the zone of its class.
    Bins(BTreeMap<BinCode, BinClass>),
}

impl Sheet {
    /// The badge sheet of operators given as (badge id, roles), each id checked by the
    /// badge rule (an id the bench could not read as a badge is refused, naming it).
    pub fn badges<'a>(
        operators: impl IntoIterator<Item = (&'a str, Vec<Role>)>,
    ) -> Result<Sheet, String> {
        operators
            .into_iter()
            .map(|(id, roles)| {
                Badge::parse(id)
                    .map(|b| (b, roles))
                    .map_err(|e| format!("operator badge {id:?}: {e}"))
            })
            .collect::<Result<_, _>>()
            .map(Sheet::Badges)
    }

    fn title_key(&self) -> &'static str {
        match self {
            Sheet::Commands => "sheet.title",
            Sheet::Badges(_) => "sheet.badges_title",
            Sheet::Bins(_) => "sheet.bins_title",
        }
    }

    /// What the sheet holds, in order.
    pub fn entries(&self) -> Vec<SheetEntry> {
        match self {
            Sheet::Commands => entries(),
            Sheet::Badges(ops) => badge_entries(ops),
            Sheet::Bins(bins) => bin_entries(bins),
        }
    }
}

/// A badge per operator: the code the bench reads as that badge (`OP-<badge>`), and the
/// badge id with the operator's roles in each language. Nothing secret (no PIN).
pub fn badge_entries(operators: &[(Badge, Vec<Role>)]) -> Vec<SheetEntry> {
    let title = |lang: Lang, badge: &Badge, roles: &[Role]| {
        let names: Vec<String> = roles
            .iter()
            .map(|r| message(lang, &format!("role.{}", r.as_str()), &[]))
            .collect();
        let sep = if lang == Lang::Zh { "、" } else { ", " };
        message(
            lang,
            "sheet.badge",
            &[
                ("badge", badge.as_str().to_string()),
                ("roles", names.join(sep)),
            ],
        )
    };
    operators
        .iter()
        .map(|(badge, roles)| SheetEntry {
            code: badge.scan_form(),
            title_en: title(Lang::En, badge, roles),
            title_zh: title(Lang::Zh, badge, roles),
        })
        .collect()
}

/// A shelf label per bin: the code put-away reads as that bin (`Z-<bin>`), and the bin
/// with the zone of its class in each language.
pub fn bin_entries(bins: &BTreeMap<BinCode, BinClass>) -> Vec<SheetEntry> {
    // `{zone}` is named by the table from its ledger name (`good` → 良品区).
    let title = |lang: Lang, bin: &BinCode, class: BinClass| {
        let params = [
            ("bin", bin.as_str().to_string()),
            ("zone", class.as_str().to_string()),
        ];
        message(lang, "sheet.bin", &params)
    };
    bins.iter()
        .map(|(bin, class)| SheetEntry {
            code: ZoneScan::Bin(bin.clone()).label(),
            title_en: title(Lang::En, bin, *class),
            title_zh: title(Lang::Zh, bin, *class),
        })
        .collect()
}

/// The files of a sheet's pages: `out` for the first, `<stem>-<n>.<ext>` beside it for
/// page n.
pub fn page_paths(out: &Path, pages: usize) -> Vec<PathBuf> {
    (1..=pages)
        .map(|n| {
            if n == 1 {
                return out.to_path_buf();
            }
            let stem = out.file_stem().unwrap_or_default().to_string_lossy();
            let name = match out.extension() {
                Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
                None => format!("{stem}-{n}"),
            };
            out.with_file_name(name)
        })
        .collect()
}

/// Each page's entries and titles (English, Chinese): as many entries as an A4 page
/// holds, the page number in the title when there is more than one.
pub fn pages(sheet: &Sheet) -> Result<Vec<(String, String, Vec<SheetEntry>)>, String> {
    let entries = sheet.entries();
    if entries.is_empty() {
        return Err(message(Lang::En, "sheet.empty", &[]));
    }
    let per_page = sheet_capacity(PageSize::A4_300DPI);
    let chunks: Vec<&[SheetEntry]> = entries.chunks(per_page).collect();
    let count = chunks.len();
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let title = |lang: Lang| {
                let t = message(lang, sheet.title_key(), &[]);
                if count == 1 {
                    return t;
                }
                let page = [
                    ("title", t),
                    ("page", (i + 1).to_string()),
                    ("pages", count.to_string()),
                ];
                message(lang, "sheet.page", &page)
            };
            (title(Lang::En), title(Lang::Zh), chunk.to_vec())
        })
        .collect())
}

/// Render `sheet` to PNG pages (A4, 300 dpi): `out`, then `<stem>-2.<ext>`, … when it
/// takes more than one page. The files written.
pub fn write_sheet(sheet: &Sheet, out: &Path, font: Option<&Path>) -> Result<Vec<PathBuf>, String> {
    let paths: Vec<PathBuf> = match font {
        Some(p) => vec![p.to_path_buf()],
        None => default_font_paths().iter().map(PathBuf::from).collect(),
    };
    let font = Font::load_first_available(&paths).map_err(|e| e.to_string())?;
    let pages = pages(sheet)?;
    let files = page_paths(out, pages.len());
    for ((title_en, title_zh, entries), file) in pages.iter().zip(&files) {
        let bmp =
            render_command_sheet(title_en, title_zh, entries, &font).map_err(|e| e.to_string())?;
        let png = bmp.to_png().map_err(|e| e.to_string())?;
        std::fs::write(file, png).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scan::{ScanClass, ScanGrammar};

    /// `n` operators `zhang_<i>`: keepers, or inspectors who also supervise.
    fn operators(n: usize) -> Vec<(Badge, Vec<Role>)> {
        (0..n)
            .map(|i| {
                let roles = if i % 2 == 0 {
                    vec![Role::Keeper]
                } else {
                    vec![Role::Inspector, Role::Supervisor]
                };
                (Badge::parse(&format!("zhang_{i}")).unwrap(), roles)
            })
            .collect()
    }

    fn badges(n: usize) -> Sheet {
        Sheet::Badges(operators(n))
    }

    fn bins() -> Sheet {
        Sheet::Bins(
            [
                ("A01", BinClass::Good),
                ("D-07", BinClass::Defect),
                ("ABCDEFGHIJKLMNOP", BinClass::Good),
            ]
            .into_iter()
            .map(|(c, k)| (BinCode::parse(c).unwrap(), k))
            .collect(),
        )
    }

    /// Every entry of every sheet has real titles in both languages, not a raw
    /// translation key or a placeholder left unfilled.
    #[test]
    fn every_entry_is_translated() {
        for sheet in [Sheet::Commands, badges(3), bins()] {
            for e in sheet.entries() {
                for t in [&e.title_en, &e.title_zh] {
                    assert!(
                        !["cmd.", "zone.", "sheet.", "role."]
                            .iter()
                            .any(|k| t.starts_with(k) || t.contains(&format!(" {k}")))
                            && !t.contains('{'),
                        "{e:?}"
                    );
                }
                assert_ne!(e.title_en, e.title_zh, "{e:?}");
            }
        }
    }

    /// A badge carries `OP-<badge>`, the badge id and the role names in each language; a
    /// bin label `Z-<bin>` and the zone of its class. Each code is what the real scan
    /// grammar reads as that badge or bin.
    #[test]
    fn badge_and_bin_codes_classify_as_badges_and_bins() {
        let grammar = ScanGrammar::new(&ScanGrammar::default_couriers(), 4096).unwrap();
        let e = badges(2).entries();
        assert_eq!(e[1].code, "OP-zhang_1");
        assert_eq!(e[1].title_en, "Badge zhang_1 · inspector, supervisor");
        assert_eq!(e[1].title_zh, "工牌 zhang_1 · 质检员、主管");
        for (entry, (badge, _)) in e.iter().zip(operators(2)) {
            let class = grammar.classify(entry.code.as_bytes()).class;
            assert_eq!(class, ScanClass::Badge(badge), "{}", entry.code);
        }
        let refused = Sheet::badges([("zh-3", vec![Role::Keeper])]).err();
        assert!(
            refused.is_some_and(|e| e.contains("\"zh-3\"")),
            "a badge the bench could not read is refused, named"
        );
        let e = bins().entries();
        let codes: Vec<&str> = e.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["Z-A01", "Z-ABCDEFGHIJKLMNOP", "Z-D-07"]);
        assert_eq!(e[2].title_en, "Defect zone · bin D-07");
        assert_eq!(e[2].title_zh, "不良区 · 库位 D-07");
        for entry in &e {
            let class = grammar.classify(entry.code.as_bytes()).class;
            let bin = BinCode::parse(&entry.code[2..]).unwrap();
            assert_eq!(class, ScanClass::Zone(ZoneScan::Bin(bin)), "{}", entry.code);
        }
    }

    /// More entries than an A4 page holds go on further pages, each titled with its
    /// number, in files beside the first; one page keeps the plain title and file.
    #[test]
    fn a_long_sheet_goes_on_numbered_pages() {
        let per_page = sheet_capacity(PageSize::A4_300DPI);
        let p = pages(&badges(per_page + 1)).unwrap();
        assert_eq!(
            p.iter().map(|(_, _, e)| e.len()).collect::<Vec<_>>(),
            [per_page, 1]
        );
        assert_eq!(p[1].0, "Operator badges (page 2 of 2)");
        assert_eq!(p[1].1, "操作员工牌(第 2/2 页)");
        assert_eq!(pages(&bins()).unwrap()[0].0, "Bin labels");
        assert_eq!(
            page_paths(Path::new("/x/badges.png"), 3),
            [
                PathBuf::from("/x/badges.png"),
                PathBuf::from("/x/badges-2.png"),
                PathBuf::from("/x/badges-3.png"),
            ]
        );
        assert!(
            pages(&Sheet::Bins(BTreeMap::new())).is_err(),
            "nothing to print"
        );
    }
}
