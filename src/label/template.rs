//! Label templates: the layouts of the labels the station prints, as TOML files in
//! `config/labels/` (one per template, named by the file stem), embedded in the binary
//! and optionally overridden by a station from a directory.
//!
//! A template declares its size in millimetres, the fields it takes (`text` or `list`)
//! and its elements (`box`, `text`, `lines`, `code128`, `qr`) with positions and sizes
//! in millimetres (decimals allowed; the label size is whole millimetres). Strings hold `{field}` placeholders (`{{` and
//! `}}` for literal braces); every fixed word printed ("Order", "不良品 Defect") comes
//! from the template, never from code.
//!
//! Loading validates everything a layout can get wrong before anything is printed:
//! unknown keys, unknown placeholders (checked against the declared fields), a list
//! field where a single value is expected, elements outside the label, zero sizes. A
//! station's override of a built-in template may only declare fields the built-in
//! declares, because the callers fill built-ins with exactly those. Errors name the
//! file, the element index and the key.
//!
//! [`Template::fill`] turns a template and a [`Fields`] map into a printer-independent
//! [`Label`] at a resolution (see [`fill`] for how barcodes are sized).
//!
//! Invariant: the layout of a label lives in exactly one place, its template file;
//! [`Label::return_label`] is the return-label template filled in.

mod fill;
mod raw;
#[cfg(test)]
mod tests;
mod types;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use super::model::Label;

pub use types::{FieldKind, FieldValue, Fields, Template, TemplateError};

/// The built-in templates: (name, file name, TOML text).
pub const BUILTIN: [(&str, &str); 4] = [
    (
        "return_label",
        include_str!("../../config/labels/return_label.toml"),
    ),
    (
        "defect_tag",
        include_str!("../../config/labels/defect_tag.toml"),
    ),
    (
        "rtv_note",
        include_str!("../../config/labels/rtv_note.toml"),
    ),
    (
        "command_label",
        include_str!("../../config/labels/command_label.toml"),
    ),
];

impl Template {
    /// Parses and validates one template; `file` names it in errors.
    ///
    /// # Errors
    /// [`TemplateError::Invalid`] naming the key (`elements[2].data`) and the problem.
    pub fn parse(name: &str, file: &str, text: &str) -> Result<Template, TemplateError> {
        raw::parse(name, file, text)
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fields it declares and their kinds.
    pub fn fields(&self) -> &BTreeMap<String, FieldKind> {
        &self.fields
    }

    /// Label size in millimetres.
    pub fn size_mm(&self) -> (u32, u32) {
        (self.width / 1000, self.height / 1000)
    }

    /// Fills the template in at `dpi`.
    ///
    /// # Errors
    /// [`TemplateError::MissingField`] / [`TemplateError::WrongKind`] for fields not
    /// given or of the wrong kind; [`TemplateError::DoesNotFit`] when a Code 128 cannot
    /// fit its space at 0.25 mm per module or a QR code at one dot per module. Barcode *data* is
    /// checked by the renderers ([`super::zpl::render`], [`super::tspl::render`]).
    pub fn fill(&self, fields: &Fields, dpi: u32) -> Result<Label, TemplateError> {
        fill::fill(self, fields, dpi)
    }
}

/// A set of templates by name: the built-ins, possibly overridden from a directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Templates(BTreeMap<String, Template>);

impl Templates {
    /// The built-in templates, parsed once.
    ///
    /// # Errors
    /// [`TemplateError::Builtin`] if a built-in file is broken (the tests prevent it).
    pub fn builtin() -> Result<&'static Templates, TemplateError> {
        static BUILTIN_SET: OnceLock<Result<Templates, String>> = OnceLock::new();
        BUILTIN_SET
            .get_or_init(|| {
                let mut set = BTreeMap::new();
                for (name, text) in BUILTIN {
                    let t = Template::parse(name, &format!("{name}.toml"), text)
                        .map_err(|e| e.to_string())?;
                    set.insert(name.to_owned(), t);
                }
                Ok(Templates(set))
            })
            .as_ref()
            .map_err(|e| TemplateError::Builtin(e.clone()))
    }

    /// The built-in templates, overridden (or extended) by every `*.toml` file in
    /// `dir` when given: `dir/return_label.toml` replaces the built-in return label.
    ///
    /// # Errors
    /// [`TemplateError::Io`] if `dir` cannot be read; the first invalid file's
    /// [`TemplateError::Invalid`] (an override of a built-in that declares a field the
    /// built-in does not is invalid: nothing would fill it).
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut set = Templates::builtin()?.clone();
        let Some(dir) = dir else {
            return Ok(set);
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TemplateError::Io { path, source }
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            let t = Template::parse(name, &file, &text)?;
            if let Some(builtin) = set.0.get(name)
                && let Some(extra) = t.fields.keys().find(|f| !builtin.fields.contains_key(*f))
            {
                return Err(TemplateError::Invalid {
                    file,
                    key: format!("fields.{extra}"),
                    problem: format!(
                        "the built-in {name} template has no field {extra:?}, so the \
                             station never fills it; use one of: {}",
                        builtin
                            .fields
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            set.0.insert(name.to_owned(), t);
        }
        Ok(set)
    }

    /// The template called `name`.
    ///
    /// # Errors
    /// [`TemplateError::Unknown`].
    pub fn get(&self, name: &str) -> Result<&Template, TemplateError> {
        self.0.get(name).ok_or_else(|| TemplateError::Unknown {
            name: name.to_owned(),
            known: self.0.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Fills the template called `name` with `fields` at `dpi`: what the print queue
    /// calls for every job.
    ///
    /// # Errors
    /// [`TemplateError::Unknown`] and the errors of [`Template::fill`].
    pub fn fill(&self, name: &str, fields: &Fields, dpi: u32) -> Result<Label, TemplateError> {
        self.get(name)?.fill(fields, dpi)
    }

    /// The template names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// Loads the templates (built-ins overridden from `dir`) and fills `name`: a one-call
/// convenience; a long-running caller loads [`Templates`] once instead.
///
/// # Errors
/// Those of [`Templates::load`] and [`Templates::fill`].
pub fn fill_template(
    name: &str,
    fields: &Fields,
    dpi: u32,
    dir: Option<&Path>,
) -> Result<Label, TemplateError> {
    Templates::load(dir)?.fill(name, fields, dpi)
}
