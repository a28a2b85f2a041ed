//! A job's bytes: its label template filled with the station's data (`data.rs`) and
//! rendered in a printer's language and resolution; the CJK font for text drawn on the PC.

use std::path::PathBuf;
use std::sync::Arc;

use super::printer_config::{PrinterConfig, PrinterTarget};
use super::{PrintError, PrintSettings, data};
use crate::label::model::Language;
use crate::label::template::Templates;
use crate::label::text::Font;
use crate::store::Read;
use crate::store::jobs::Job;

/// Render a job's label in a printer's language and resolution, from its template and
/// the station's data.
pub fn render_job(
    db: &dyn Read,
    settings: &PrintSettings,
    templates: &Templates,
    target: &PrinterTarget,
    font: Option<&Font>,
    job: &Job,
) -> Result<Vec<u8>, PrintError> {
    let fields = data::fields(db, settings, job)?;
    let label = templates.fill(&job.template, &fields, target.dpi)?;
    let language = Language::parse(&target.language)
        .ok_or_else(|| PrintError::Language(target.language.clone()))?;
    Ok(crate::label::render::render(language, &label, font)?)
}

/// The CJK font for text rendered on the PC: the configured one, else the first default
/// found. None (logged) when there is none: labels with Chinese text then fail to render.
pub fn load_font(p: &PrinterConfig) -> Option<Arc<Font>> {
    let paths: Vec<PathBuf> = match &p.font {
        Some(f) => vec![f.clone()],
        None => crate::label::text::default_font_paths()
            .iter()
            .map(PathBuf::from)
            .collect(),
    };
    match Font::load_first_available(&paths) {
        Ok(f) => Some(Arc::new(f)),
        Err(e) => {
            tracing::error!(error = %e, "no CJK font: labels with Chinese text cannot be rendered");
            None
        }
    }
}
