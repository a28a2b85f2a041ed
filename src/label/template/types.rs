//! The template module's types: what a template declares and holds once validated, the
//! values it is filled with, and what can go wrong. Parsing (`raw`) and filling (`fill`)
//! both work on them; neither is named from here.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use thiserror::Error;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// One value.
    Text,
    /// Several values (one line each in a `lines` element).
    List,
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldKind::Text => "text",
            FieldKind::List => "list",
        })
    }
}

/// A piece of a string with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal text.
    Lit(String),
    /// `{name}`.
    Field(String),
}

/// A validated element; lengths in micrometres.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Compiled {
    Box {
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        thickness: u32,
    },
    Text {
        x: u32,
        y: u32,
        size: u32,
        text: Vec<Piece>,
        max_width: Option<u32>,
    },
    Lines {
        x: u32,
        y: u32,
        size: u32,
        spacing: u32,
        max_lines: u32,
        text: Vec<Piece>,
        overflow: Vec<Piece>,
        max_width: Option<u32>,
    },
    Code128 {
        x: u32,
        y: u32,
        w: u32,
        height: u32,
        module: u32,
        data: Vec<Piece>,
    },
    Qr {
        x: u32,
        y: u32,
        size: u32,
        module: u32,
        data: Vec<Piece>,
    },
}

/// Why a template cannot be loaded or filled.
#[derive(Debug, Error)]
pub enum TemplateError {
    /// The override directory or a file in it cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A template file is wrong: bad TOML, unknown key, bad value, unknown placeholder.
    #[error("{file}: {key}: {problem}")]
    Invalid {
        /// The template file (`return_label.toml` or the override's path).
        file: String,
        /// Where in the file: `width_mm`, `fields.kind`, `elements[3].data`, …
        key: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// No template of that name.
    #[error("no label template named {name:?} (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// A declared field was not given.
    #[error("label template {template}: field {field:?} was not given")]
    MissingField {
        /// The template.
        template: String,
        /// The field.
        field: String,
    },
    /// A field was given as a list where the template wants one value, or the reverse.
    #[error("label template {template}: field {field:?} must be a {expected}")]
    WrongKind {
        /// The template.
        template: String,
        /// The field.
        field: String,
        /// `text` or `list`.
        expected: FieldKind,
    },
    /// The filled-in data does not fit the space the template gives it.
    #[error("label template {template}: elements[{element}]: {problem}")]
    DoesNotFit {
        /// The template.
        template: String,
        /// Index of the element.
        element: usize,
        /// What does not fit.
        problem: String,
    },
    /// A built-in template is broken (a bug caught by the tests).
    #[error("built-in label templates: {0}")]
    Builtin(String),
}

/// The value of one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// One value.
    Text(String),
    /// Several values, printed one per line by a `lines` element.
    List(Vec<String>),
}

/// The values a template is filled with, by field name. Fields a template does not
/// declare are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(BTreeMap<String, FieldValue>);

impl Fields {
    /// No fields.
    pub fn new() -> Fields {
        Fields::default()
    }

    /// Adds (or replaces) a single-value field.
    pub fn text(mut self, name: &str, value: impl Into<String>) -> Fields {
        self.0
            .insert(name.to_owned(), FieldValue::Text(value.into()));
        self
    }

    /// Adds (or replaces) a list field.
    pub fn list<S: Into<String>>(
        mut self,
        name: &str,
        values: impl IntoIterator<Item = S>,
    ) -> Fields {
        let values = values.into_iter().map(Into::into).collect();
        self.0.insert(name.to_owned(), FieldValue::List(values));
        self
    }

    /// Adds (or replaces) a field.
    pub fn insert(&mut self, name: impl Into<String>, value: FieldValue) {
        self.0.insert(name.into(), value);
    }

    /// The value of a field.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0.get(name)
    }
}

impl From<&crate::label::sheet::SheetEntry> for Fields {
    /// The fields of `command_label` for one command of the command sheet.
    fn from(e: &crate::label::sheet::SheetEntry) -> Fields {
        Fields::new()
            .text("code", e.code.clone())
            .text("title_zh", e.title_zh.clone())
            .text("title_en", e.title_en.clone())
    }
}

/// A loaded, validated template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Its name (the file stem).
    pub(crate) name: String,
    /// Where it came from, for messages.
    pub(crate) file: String,
    /// Width in micrometres (whole millimetres).
    pub(crate) width: u32,
    /// Height in micrometres (whole millimetres).
    pub(crate) height: u32,
    /// Declared fields.
    pub(crate) fields: BTreeMap<String, FieldKind>,
    /// Elements, lengths in micrometres, placeholders parsed.
    pub(crate) elements: Vec<Compiled>,
}
