//! The template file format (serde, unknown keys rejected) and its validation into
//! compiled elements: positions in tenths of a millimetre, placeholders parsed and
//! checked against the declared fields.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::types::{Compiled, FieldKind, Piece, Template, TemplateError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    width_mm: f64,
    height_mm: f64,
    fields: BTreeMap<String, FieldKind>,
    elements: Vec<RawElement>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RawElement {
    Box(RawBox),
    Text(RawText),
    Lines(RawLines),
    Code128(RawCode128),
    Qr(RawQr),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBox {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    thickness: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    x: f64,
    y: f64,
    size: f64,
    text: String,
    max_width: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLines {
    x: f64,
    y: f64,
    size: f64,
    spacing: f64,
    max_lines: u32,
    text: String,
    overflow: String,
    max_width: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCode128 {
    x: f64,
    y: f64,
    w: f64,
    height: f64,
    module: f64,
    data: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQr {
    x: f64,
    y: f64,
    size: f64,
    module: f64,
    data: String,
}

/// Largest length accepted anywhere, millimetres.
const MAX_MM: f64 = 1000.0;

/// Splits `s` into literals and `{field}` placeholders (`{{`, `}}` are literal braces).
fn pieces(s: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) if c.is_ascii_alphanumeric() || c == '_' => name.push(c),
                        _ => {
                            return Err(format!(
                                "unclosed or malformed placeholder {{{name}… (a placeholder is \
                                 {{field_name}}; write {{{{ for a literal brace)"
                            ));
                        }
                    }
                }
                if name.is_empty() {
                    return Err("empty placeholder {}".into());
                }
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(Piece::Field(name));
            }
            '}' => return Err("lone } (write }} for a literal brace)".into()),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Ok(out)
}

/// Validation context: the file, its declared fields and the label size.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    file: &'a str,
    fields: &'a BTreeMap<String, FieldKind>,
    width: u32,
    height: u32,
}

impl Ctx<'_> {
    fn err(&self, key: String, problem: impl Into<String>) -> TemplateError {
        TemplateError::Invalid {
            file: self.file.to_owned(),
            key,
            problem: problem.into(),
        }
    }

    /// Millimetres → micrometres, `min_um` or more.
    fn mm(&self, key: String, v: f64, min_um: u32) -> Result<u32, TemplateError> {
        if !v.is_finite() || !(0.0..=MAX_MM).contains(&v) {
            return Err(self.err(key, format!("{v} mm is outside 0..={MAX_MM} mm")));
        }
        // In range 0..=1_000_000 after the check, so the cast is exact.
        let um = (v * 1000.0).round() as u32;
        if um < min_um {
            return Err(self.err(
                key,
                format!(
                    "{v} mm is too small (at least {} mm)",
                    f64::from(min_um) / 1000.0
                ),
            ));
        }
        Ok(um)
    }

    /// `x + w` within the width and `y + h` within the height.
    fn inside(&self, at: &str, x: u32, y: u32, w: u32, h: u32) -> Result<(), TemplateError> {
        if x + w > self.width {
            return Err(self.err(
                format!("{at}.x"),
                format!(
                    "the element reaches {} mm, past the label's width of {} mm",
                    f64::from(x + w) / 1000.0,
                    f64::from(self.width) / 1000.0
                ),
            ));
        }
        if y + h > self.height {
            return Err(self.err(
                format!("{at}.y"),
                format!(
                    "the element reaches {} mm, past the label's height of {} mm",
                    f64::from(y + h) / 1000.0,
                    f64::from(self.height) / 1000.0
                ),
            ));
        }
        Ok(())
    }

    /// The optional `max_width` of a text at `x`: at least 1 mm, inside the label.
    fn max_width(&self, at: &str, x: u32, mm: Option<f64>) -> Result<Option<u32>, TemplateError> {
        let Some(mm) = mm else { return Ok(None) };
        let w = self.mm(format!("{at}.max_width"), mm, 1000)?;
        self.inside(at, x, 0, w, 0)?;
        Ok(Some(w))
    }

    /// Parses `s` and checks every placeholder: declared, and of kind `Text` except
    /// exactly `lists` list placeholders (0 or 1).
    fn placeholders(
        &self,
        key: String,
        s: &str,
        lists: usize,
    ) -> Result<Vec<Piece>, TemplateError> {
        let p = pieces(s).map_err(|e| self.err(key.clone(), e))?;
        let mut list_count = 0;
        for piece in &p {
            let Piece::Field(name) = piece else { continue };
            match self.fields.get(name) {
                None => {
                    return Err(self.err(
                        key,
                        format!(
                            "unknown placeholder {{{name}}}: declare it under [fields] or use \
                             one of: {}",
                            self.fields.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                Some(FieldKind::List) if lists == 0 => {
                    return Err(self.err(
                        key,
                        format!("{{{name}}} is a list field: only a `lines` element can print it"),
                    ));
                }
                Some(FieldKind::List) => list_count += 1,
                Some(FieldKind::Text) => {}
            }
        }
        if list_count != lists {
            return Err(self.err(
                key,
                "a `lines` element prints exactly one list field: put one {list_field} \
                 placeholder in its text",
            ));
        }
        Ok(p)
    }
}

/// Parses and validates a template file.
pub(super) fn parse(name: &str, file: &str, text: &str) -> Result<Template, TemplateError> {
    let invalid = |key: String, problem: String| TemplateError::Invalid {
        file: file.to_owned(),
        key,
        problem,
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| invalid("-".into(), format!("not valid TOML: {e}")))?;
    let raw: RawTemplate = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let key = e.path().to_string();
            invalid(key, e.into_inner().message().to_owned())
        },
    )?;
    if raw.fields.contains_key("more") {
        return Err(invalid(
            "fields.more".into(),
            "`more` is reserved for the overflow line of `lines` elements: rename the field".into(),
        ));
    }
    let mut ctx = Ctx {
        file,
        fields: &raw.fields,
        width: 0,
        height: 0,
    };
    ctx.width = ctx.mm("width_mm".into(), raw.width_mm, 5000)?;
    ctx.height = ctx.mm("height_mm".into(), raw.height_mm, 5000)?;
    for (key, v) in [("width_mm", ctx.width), ("height_mm", ctx.height)] {
        if v % 1000 != 0 {
            return Err(ctx.err(key.into(), "label sizes are whole millimetres"));
        }
    }
    let more: BTreeMap<String, FieldKind> = [("more".to_owned(), FieldKind::Text)].into();
    let more_ctx = Ctx {
        fields: &more,
        ..ctx
    };
    let mut elements = Vec::with_capacity(raw.elements.len());
    for (i, e) in raw.elements.iter().enumerate() {
        let c = compile_element(&ctx, &more_ctx, i, e)?;
        elements.push(c);
    }
    Ok(Template {
        name: name.to_owned(),
        file: file.to_owned(),
        width: ctx.width,
        height: ctx.height,
        fields: raw.fields,
        elements,
    })
}

/// One element of a template, checked against the label's size and fields; `more_ctx`
/// knows the overflow line's own `{more}` field.
fn compile_element(
    ctx: &Ctx<'_>,
    more_ctx: &Ctx<'_>,
    i: usize,
    e: &RawElement,
) -> Result<Compiled, TemplateError> {
    let at = format!("elements[{i}]");
    let k = |key: &str| format!("{at}.{key}");
    Ok(match e {
        RawElement::Box(b) => {
            let thickness = ctx.mm(k("thickness"), b.thickness, 100)?;
            let (x, y) = (ctx.mm(k("x"), b.x, 0)?, ctx.mm(k("y"), b.y, 0)?);
            let w = ctx.mm(k("w"), b.w, thickness)?;
            let h = ctx.mm(k("h"), b.h, thickness)?;
            ctx.inside(&at, x, y, w, h)?;
            Compiled::Box {
                x,
                y,
                w,
                h,
                thickness,
            }
        }
        RawElement::Text(t) => {
            let (x, y) = (ctx.mm(k("x"), t.x, 0)?, ctx.mm(k("y"), t.y, 0)?);
            let size = ctx.mm(k("size"), t.size, 1000)?;
            ctx.inside(&at, x, y, 1, size)?;
            let max_width = ctx.max_width(&at, x, t.max_width)?;
            Compiled::Text {
                x,
                y,
                size,
                text: ctx.placeholders(k("text"), &t.text, 0)?,
                max_width,
            }
        }
        RawElement::Lines(l) => {
            let (x, y) = (ctx.mm(k("x"), l.x, 0)?, ctx.mm(k("y"), l.y, 0)?);
            let size = ctx.mm(k("size"), l.size, 1000)?;
            let spacing = ctx.mm(k("spacing"), l.spacing, size)?;
            if l.max_lines == 0 {
                return Err(ctx.err(k("max_lines"), "must be at least 1"));
            }
            let max_width = ctx.max_width(&at, x, l.max_width)?;
            let block = spacing.saturating_mul(l.max_lines - 1).saturating_add(size);
            ctx.inside(&at, x, y, 1, block)?;
            Compiled::Lines {
                x,
                y,
                size,
                spacing,
                max_lines: l.max_lines,
                text: ctx.placeholders(k("text"), &l.text, 1)?,
                overflow: more_ctx.placeholders(k("overflow"), &l.overflow, 0)?,
                max_width,
            }
        }
        RawElement::Code128(b) => {
            let (x, y) = (ctx.mm(k("x"), b.x, 0)?, ctx.mm(k("y"), b.y, 0)?);
            let w = ctx.mm(k("w"), b.w, 1000)?;
            let height = ctx.mm(k("height"), b.height, 3000)?;
            ctx.inside(&at, x, y, w, height)?;
            Compiled::Code128 {
                x,
                y,
                w,
                height,
                // The narrowest bar a 1D laser reads on a thermal label.
                module: ctx.mm(k("module"), b.module, crate::label::code128::MIN_MODULE_UM)?,
                data: ctx.placeholders(k("data"), &b.data, 0)?,
            }
        }
        RawElement::Qr(q) => {
            let (x, y) = (ctx.mm(k("x"), q.x, 0)?, ctx.mm(k("y"), q.y, 0)?);
            let size = ctx.mm(k("size"), q.size, 5000)?;
            ctx.inside(&at, x, y, size, size)?;
            Compiled::Qr {
                x,
                y,
                size,
                module: ctx.mm(k("module"), q.module, 50)?,
                data: ctx.placeholders(k("data"), &q.data, 0)?,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_syntax() {
        assert_eq!(
            pieces("Order {order_no}!").unwrap(),
            [
                Piece::Lit("Order ".into()),
                Piece::Field("order_no".into()),
                Piece::Lit("!".into())
            ]
        );
        assert_eq!(pieces("{{x}}").unwrap(), [Piece::Lit("{x}".into())]);
        for bad in ["{", "{a", "{}", "}", "{a b}", "{a-b}"] {
            assert!(pieces(bad).is_err(), "{bad:?}");
        }
    }
}
