//! Label rendering (`label`): printer-command injection is impossible. Whatever the field
//! values (`^`, `~`, `"`, `\`, CR/LF, NUL, Chinese), the rendered ZPL or TSPL holds
//! exactly the commands of the filled label's elements, in order, and each text prints
//! as given (control characters as spaces).

use std::sync::OnceLock;

use crate::label::model::{Element, Label, Language};
use crate::label::render::render;
use crate::label::template::{FieldKind, FieldValue, Fields, Templates};
use crate::label::text::Font;

/// The CJK font when the machine has one (without it, Chinese text is refused, which the
/// property accepts).
fn font() -> Option<&'static Font> {
    static FONT: OnceLock<Option<Font>> = OnceLock::new();
    FONT.get_or_init(|| Font::load_default().ok()).as_ref()
}

/// Text as a label prints it: one line, control characters as spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The fields of `template` filled from `data`: values separated by 0xFE, list items by
/// 0xFD (neither byte occurs in UTF-8), each value read as lossy UTF-8.
fn fields_from(kinds: &[(String, FieldKind)], data: &[u8]) -> Fields {
    let mut values = data.split(|&b| b == 0xFE);
    let mut fields = Fields::new();
    for (name, kind) in kinds {
        let raw = values.next().unwrap_or(b"A");
        let value = match kind {
            FieldKind::Text => FieldValue::Text(String::from_utf8_lossy(raw).into_owned()),
            FieldKind::List => FieldValue::List(
                raw.split(|&b| b == 0xFD)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect(),
            ),
        };
        fields.insert(name.clone(), value);
    }
    fields
}

/// Byte 0 picks a built-in template, byte 1 the resolution; the rest are the field values.
/// Every label that fills and renders holds exactly its elements' commands, in both
/// languages.
pub fn label(data: &[u8]) {
    let [pick, dpi, rest @ ..] = data else {
        return;
    };
    let Ok(templates) = Templates::builtin() else {
        panic!("the built-in templates parse");
    };
    let names: Vec<&str> = templates.names().collect();
    let name = names[usize::from(*pick) % names.len()];
    let Ok(template) = templates.get(name) else {
        panic!("{name} is a built-in template");
    };
    let kinds: Vec<(String, FieldKind)> = template
        .fields()
        .iter()
        .map(|(n, k)| (n.clone(), *k))
        .collect();
    let dpi = if dpi & 1 == 0 { 203 } else { 300 };
    let Ok(label) = template.fill(&fields_from(&kinds, rest), dpi) else {
        return;
    };
    if let Ok(zpl) = render(Language::Zpl, &label, font()) {
        check_zpl(&label, &zpl);
    }
    if let Ok(tspl) = render(Language::Tspl, &label, font()) {
        check_tspl(&label, &tspl);
    }
}

/// The text of a `Text` element as printed, `None` when it prints nothing.
fn printed(text: &str) -> Option<String> {
    let line = one_line(text);
    (!line.trim().is_empty()).then_some(line)
}

/// The ZPL commands each element must give (two-letter names after `^`), with the text
/// each `^FH_` text field must carry.
fn zpl_expected(label: &Label) -> (Vec<&'static str>, Vec<String>) {
    let mut cmds = vec!["XA", "CI", "PW", "LL", "LH"];
    let mut texts = Vec::new();
    for e in &label.elements {
        match e {
            Element::Text { text, .. } => match printed(text) {
                Some(t) if t.is_ascii() => {
                    cmds.extend(["FO", "A0", "FH", "FD", "FS"]);
                    texts.push(t);
                }
                Some(_) => cmds.extend(["FO", "GF", "FS"]),
                None => {}
            },
            Element::Barcode128 { data, .. } => {
                // Barcode data is refused if it holds `^ ~ >` (nothing to escape): its
                // field carries the subset plan's invocation codes (`>:`, `>5`, …).
                cmds.extend(["FO", "BY", "BC", "FD", "FS"]);
                texts.push(data.clone());
            }
            Element::Qr { .. } => cmds.extend(["FO", "BQ", "FD", "FS"]),
            Element::Box { .. } => cmds.extend(["FO", "GB", "FS"]),
        }
    }
    cmds.push("XZ");
    (cmds, texts)
}

/// `_XX` escapes undone (and `><`, the barcode's literal `>`).
fn unescape_zpl(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => {
                let hex = field.get(i + 1..i + 3).unwrap_or("");
                let byte = u8::from_str_radix(hex, 16)
                    .unwrap_or_else(|_| panic!("bad escape in {field:?}"));
                out.push(byte);
                i += 3;
            }
            b'>' => {
                assert_eq!(b.get(i + 1), Some(&b'<'), "a lone > in {field:?}");
                out.push(b'>');
                i += 2;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| panic!("escaped field {field:?}: {e}"))
}

/// A `^BC` mode N field with its invocation codes (`>` and the character after it) taken
/// out: the data the barcode encodes.
fn without_invocations(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '>' {
            let code = chars.next();
            assert!(code.is_some(), "a lone > ends {field:?}");
        } else {
            out.push(c);
        }
    }
    out
}

/// One format, no `~` anywhere, every line a `^` command, exactly the expected commands,
/// and every escaped field decoding to its text.
fn check_zpl(label: &Label, zpl: &[u8]) {
    let zpl = std::str::from_utf8(zpl).unwrap_or_else(|e| panic!("ZPL is ASCII: {e}"));
    assert!(zpl.is_ascii() && !zpl.contains('~'), "{zpl}");
    assert!(
        zpl.bytes().all(|b| b == b'\n' || !b.is_ascii_control()),
        "no control bytes but line ends: {zpl:?}"
    );
    let mut cmds = Vec::new();
    let mut fields = Vec::new();
    let mut prev = "";
    for line in zpl.lines() {
        assert!(line.starts_with('^'), "{line:?}");
        for cmd in line.split('^').skip(1) {
            let name = cmd.get(..2).unwrap_or(cmd);
            if name == "FD" && prev == "FH" {
                fields.push(unescape_zpl(&cmd[2..]));
            } else if name == "FD" && prev == "BC" {
                fields.push(without_invocations(&cmd[2..]));
            }
            prev = name;
            cmds.push(name);
        }
    }
    let (want, texts) = zpl_expected(label);
    assert_eq!(cmds, want, "{zpl}");
    assert_eq!(fields, texts, "{zpl}");
}

/// The TSPL command each element must give, and the text each `TEXT` must print.
fn tspl_expected(label: &Label) -> (Vec<&'static str>, Vec<String>) {
    let mut cmds = vec!["SIZE", "GAP", "DIRECTION", "CLS"];
    let mut texts = Vec::new();
    for e in &label.elements {
        match e {
            Element::Text { text, .. } => match printed(text) {
                Some(t) if t.is_ascii() => {
                    cmds.push("TEXT");
                    texts.push(t.replace('\\', "/"));
                }
                Some(_) => cmds.push("BITMAP"),
                None => {}
            },
            Element::Barcode128 { .. } => cmds.push("BARCODE"),
            Element::Qr { .. } => cmds.push("QRCODE"),
            Element::Box { .. } => cmds.push("BOX"),
        }
    }
    cmds.push("PRINT");
    (cmds, texts)
}

/// Splits a TSPL job as a printer does (CRLF lines; a `BITMAP`'s raw bytes counted from
/// its header), checks the commands, and that each `TEXT` string is closed only by its
/// last quote and prints its text.
fn check_tspl(label: &Label, mut job: &[u8]) {
    let mut cmds = Vec::new();
    let mut texts = Vec::new();
    while !job.is_empty() {
        let end = job
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("unterminated TSPL line {:?}", String::from_utf8_lossy(job)));
        let mut line = &job[..end];
        if line.starts_with(b"BITMAP ") {
            let header_end = line.iter().enumerate().filter(|(_, b)| **b == b',').nth(4);
            let header_end = header_end.map(|(i, _)| i + 1).expect("BITMAP header");
            let header = std::str::from_utf8(&line[7..header_end - 1]).expect("ASCII header");
            let nums: Vec<usize> = header
                .split(',')
                .map(|n| n.parse().expect("number"))
                .collect();
            let raw = nums[2] * nums[3];
            assert_eq!(&job[header_end + raw..header_end + raw + 2], b"\r\n");
            job = &job[header_end + raw + 2..];
            cmds.push("BITMAP");
            continue;
        }
        job = &job[end + 2..];
        let text = std::str::from_utf8(line).unwrap_or_else(|e| panic!("TSPL line: {e}"));
        assert!(!text.bytes().any(|b| b.is_ascii_control()), "{text:?}");
        let name = text.split(' ').next().unwrap_or("");
        if name == "TEXT" {
            let open = text
                .match_indices(",\"")
                .nth(1)
                .map(|(i, _)| i + 1)
                .expect("TEXT string");
            line = &line[open..];
            assert!(line.ends_with(b"\"") && line.len() >= 2, "{text:?}");
            let inner = std::str::from_utf8(&line[1..line.len() - 1]).expect("ASCII");
            assert!(
                !inner.replace("\\[\"]", "").contains('"'),
                "a quote closes {text:?}"
            );
            texts.push(inner.replace("\\[\"]", "\""));
        }
        cmds.push(match name {
            "SIZE" => "SIZE",
            "GAP" => "GAP",
            "DIRECTION" => "DIRECTION",
            "CLS" => "CLS",
            "TEXT" => "TEXT",
            "BARCODE" => "BARCODE",
            "QRCODE" => "QRCODE",
            "BOX" => "BOX",
            "PRINT" => "PRINT",
            other => panic!("unexpected TSPL command {other:?} in {text:?}"),
        });
    }
    let (want, want_texts) = tspl_expected(label);
    assert_eq!(cmds, want);
    assert_eq!(texts, want_texts);
}
