//! Filling a template in: placeholders replaced by field values, millimetres turned
//! into dots at the printer's resolution, barcodes sized to their space.
//!
//! * **Code 128**: the widest module not above the template's `module` and never below
//!   [`min_module_dots`](crate::label::code128::min_module_dots) (0.25 mm: 2 dots at
//!   203 dpi, 3 at 300) with which the bars of the encoder's
//!   [`Plan`] (the one the renderers spell out to the printer) *and* their quiet zones
//!   ([`QUIET_ZONE_MODULES`](crate::label::code128::QUIET_ZONE_MODULES) each side) fit
//!   the element's width; the bars are centred in it. Data that does not fit at the
//!   narrowest module is [`TemplateError::DoesNotFit`], never a narrower bar. Data the
//!   encoder refuses is left for the renderer to report.
//! * **QR**: the widest module not above `module` with which the symbol (an upper
//!   bound, [`crate::label::qr::symbol_modules`]) and its quiet zones fit the square;
//!   the symbol is centred in the square.
//! * **Text**: `max_width` (mm) cuts a line that would be wider, ending it with `..`,
//!   so a long name cannot run into its neighbours. Widths are estimated on the wide
//!   side: an ASCII character is 2/3 of the line height (the TSPL built-in fonts; ZPL
//!   font 0 is narrower), anything else (CJK, drawn as a bitmap) a full line height.
//!   Ids and codes are never given a `max_width` in the built-ins: they are printed
//!   whole or not at all.
//! * **Text** whose placeholders are all empty (an unannounced parcel's order) is left
//!   off the label, so no caption stands with nothing after it.
//! * **Lines**: one line per list item; more items than `max_lines` print the first
//!   `max_lines - 1` and the `overflow` line (`{more}` = how many were left out).

use crate::label::code128::{self, Plan, QUIET_ZONE_MODULES};
use crate::label::model::{Element, Label, dots_um};
use crate::label::qr;

use super::types::{Compiled, FieldKind, FieldValue, Fields, Piece, Template, TemplateError};

/// Substitutes the placeholders of `pieces`; a list placeholder takes `item`.
fn subst(pieces: &[Piece], fields: &Fields, item: &str, more: Option<usize>) -> String {
    let mut out = String::new();
    for p in pieces {
        match (p, more) {
            (Piece::Lit(s), _) => out.push_str(s),
            (Piece::Field(name), Some(n)) if name == "more" => out.push_str(&n.to_string()),
            (Piece::Field(name), _) => match fields.get(name) {
                Some(FieldValue::Text(v)) => out.push_str(v),
                Some(FieldValue::List(_)) => out.push_str(item),
                None => {}
            },
        }
    }
    out
}

/// True when `pieces` has placeholders and every one of them is given empty.
fn all_fields_empty(pieces: &[Piece], fields: &Fields) -> bool {
    let mut any = false;
    for p in pieces {
        if let Piece::Field(name) = p {
            any = true;
            match fields.get(name) {
                Some(FieldValue::Text(v)) if v.trim().is_empty() => {}
                Some(FieldValue::List(l)) if l.is_empty() => {}
                _ => return false,
            }
        }
    }
    any
}

/// Estimated width of `c` in a line `size` high (same unit as `size`).
fn char_width(c: char, size: u32) -> u32 {
    if c.is_ascii() { size * 2 / 3 } else { size }
}

/// `s` if it fits `max` (estimated, see the module docs) in a line `size` high, else
/// its longest prefix that fits followed by `..`.
fn truncate(s: String, max: Option<u32>, size: u32) -> String {
    let Some(max) = max else { return s };
    let width = |t: &str| t.chars().map(|c| char_width(c, size)).sum::<u32>();
    if width(&s) <= max {
        return s;
    }
    let room = max.saturating_sub(2 * char_width('.', size));
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        used += char_width(c, size);
        if used > room {
            break;
        }
        out.push(c);
    }
    out.push_str("..");
    out
}

pub(super) fn fill(t: &Template, fields: &Fields, dpi: u32) -> Result<Label, TemplateError> {
    check_fields(t, fields)?;
    let f = Filler { t, fields, dpi };
    let mut elements = Vec::with_capacity(t.elements.len());
    for (i, e) in t.elements.iter().enumerate() {
        let d = |um: u32| f.d(um);
        match e {
            Compiled::Box {
                x,
                y,
                w,
                h,
                thickness,
            } => elements.push(Element::Box {
                x: d(*x),
                y: d(*y),
                w: d(*w),
                h: d(*h),
                thickness: d(*thickness).max(1),
            }),
            // A line whose every field is empty (the order of an unannounced parcel) is
            // left off: no "Order" with nothing after it.
            Compiled::Text { text, .. } if all_fields_empty(text, fields) => {}
            Compiled::Text {
                x,
                y,
                size,
                text,
                max_width,
            } => elements.push(Element::Text {
                x: d(*x),
                y: d(*y),
                size: d(*size),
                text: truncate(subst(text, fields, "", None), *max_width, *size),
            }),
            Compiled::Lines { .. } => f.lines(e, &mut elements),
            Compiled::Code128 { .. } => elements.push(f.code128(i, e)?),
            Compiled::Qr { .. } => elements.push(f.qr(i, e)?),
        }
    }
    let (width_mm, height_mm) = t.size_mm();
    Ok(Label {
        width_mm,
        height_mm,
        dpi,
        elements,
    })
}

/// Every field the template declares is given, with the kind it declares.
fn check_fields(t: &Template, fields: &Fields) -> Result<(), TemplateError> {
    for (name, kind) in &t.fields {
        match (fields.get(name), kind) {
            (Some(FieldValue::Text(_)), FieldKind::Text)
            | (Some(FieldValue::List(_)), FieldKind::List) => {}
            (None, _) => {
                return Err(TemplateError::MissingField {
                    template: t.name.clone(),
                    field: name.clone(),
                });
            }
            (Some(_), expected) => {
                return Err(TemplateError::WrongKind {
                    template: t.name.clone(),
                    field: name.clone(),
                    expected: *expected,
                });
            }
        }
    }
    Ok(())
}

/// One template being filled in at one resolution.
struct Filler<'a> {
    t: &'a Template,
    fields: &'a Fields,
    dpi: u32,
}

impl Filler<'_> {
    /// Micrometres to dots.
    fn d(&self, um: u32) -> u32 {
        dots_um(um, self.dpi)
    }

    fn does_not_fit(&self, element: usize, problem: String) -> TemplateError {
        TemplateError::DoesNotFit {
            template: self.t.name.clone(),
            element,
            problem,
        }
    }

    /// A list field, one line per item, the last lines folded into the overflow text.
    fn lines(&self, e: &Compiled, out: &mut Vec<Element>) {
        let Compiled::Lines {
            x,
            y,
            size,
            spacing,
            max_lines,
            text,
            overflow,
            max_width,
        } = e
        else {
            return;
        };
        let fields = self.fields;
        let items: &[String] = text
            .iter()
            .find_map(|p| match p {
                Piece::Field(name) => match fields.get(name) {
                    Some(FieldValue::List(items)) => Some(items.as_slice()),
                    _ => None,
                },
                Piece::Lit(_) => None,
            })
            .unwrap_or(&[]);
        let max = *max_lines as usize;
        let shown = if items.len() <= max {
            items.len()
        } else {
            max - 1
        };
        let mut lines: Vec<String> = items[..shown]
            .iter()
            .map(|item| subst(text, fields, item, None))
            .collect();
        if shown < items.len() {
            lines.push(subst(overflow, fields, "", Some(items.len() - shown)));
        }
        for (n, line) in lines.into_iter().enumerate() {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            out.push(Element::Text {
                x: self.d(*x),
                y: self.d(y.saturating_add(spacing.saturating_mul(n))),
                size: self.d(*size),
                text: truncate(line, *max_width, *size),
            });
        }
    }

    /// A Code 128 centred in its box, at the widest module that fits with its quiet zones.
    fn code128(&self, i: usize, e: &Compiled) -> Result<Element, TemplateError> {
        let Compiled::Code128 {
            x,
            y,
            w,
            height,
            module,
            data,
        } = e
        else {
            return Err(self.does_not_fit(i, "not a Code 128 element".into()));
        };
        let dpi = self.dpi;
        let data = subst(data, self.fields, "", None);
        let min = code128::min_module_dots(dpi);
        let (area, target) = (self.d(*w), self.d(*module).max(min));
        let (module, bx) = match Plan::new(&data) {
            Ok(plan) => {
                let m = (min..=target)
                    .rev()
                    .find(|m| plan.footprint_dots(*m) <= u64::from(area))
                    .ok_or_else(|| self.too_narrow(i, &data, &plan, area))?;
                let bars = plan.width_modules() * m;
                (m, self.d(*x) + (area - bars) / 2)
            }
            // The renderer reports the bad data with its reason.
            Err(_) => (target, self.d(*x) + QUIET_ZONE_MODULES * target),
        };
        Ok(Element::Barcode128 {
            x: bx,
            y: self.d(*y),
            height: self.d(*height),
            module,
            data,
        })
    }

    /// The Code 128 of `data` does not fit `area` dots even at the narrowest module.
    fn too_narrow(&self, i: usize, data: &str, plan: &Plan, area: u32) -> TemplateError {
        let (dpi, min) = (self.dpi, code128::min_module_dots(self.dpi));
        let need = plan.footprint_dots(min);
        let mm = |dots: u64| dots as f64 * 25.4 / f64::from(dpi);
        self.does_not_fit(
            i,
            format!(
                "the Code 128 of {data:?} is {} modules wide with its quiet zones \
                 ({QUIET_ZONE_MODULES} each side): {need} dots ({:.1} mm) at the narrowest \
                 bar a scanner reads ({min} dots = 0.25 mm at {dpi} dpi), but the element is \
                 {area} dots ({:.1} mm) wide: widen the element (and the label) or \
                 shorten the data",
                plan.width_modules() + 2 * QUIET_ZONE_MODULES,
                mm(need),
                mm(area.into()),
            ),
        )
    }

    /// A QR code centred in its square, at the largest module that fits with its quiet
    /// zone.
    fn qr(&self, i: usize, e: &Compiled) -> Result<Element, TemplateError> {
        let Compiled::Qr {
            x,
            y,
            size,
            module,
            data,
        } = e
        else {
            return Err(self.does_not_fit(i, "not a QR element".into()));
        };
        let dpi = self.dpi;
        let data = subst(data, self.fields, "", None);
        let side = self.d(*size);
        let n = qr::symbol_modules(&data).ok_or_else(|| {
            self.does_not_fit(i, format!("{data:?} is too long for a QR code on a label"))
        })?;
        let m = (self.d(*module).max(1)).min(side / (n + 2 * qr::QUIET_ZONE_MODULES));
        if m == 0 {
            return Err(self.does_not_fit(
                i,
                format!(
                    "the QR code of {data:?} needs {} dots with its quiet zones; the \
                     square is {side} dots at {dpi} dpi: enlarge it",
                    n + 2 * qr::QUIET_ZONE_MODULES
                ),
            ));
        }
        let offset = (side - n * m) / 2;
        Ok(Element::Qr {
            x: self.d(*x) + offset,
            y: self.d(*y) + offset,
            module: m,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_estimates_wide_characters_wider() {
        // size 3: ASCII 2, CJK 3 wide.
        assert_eq!(truncate("abcdef".into(), Some(12), 3), "abcdef");
        assert_eq!(truncate("abcdefg".into(), Some(12), 3), "abcd..");
        assert_eq!(truncate("张三丰abc".into(), Some(12), 3), "张三..");
        assert_eq!(truncate("张三丰abc".into(), None, 3), "张三丰abc");
    }
}
