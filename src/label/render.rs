//! One label, in the printer's language: the dispatch between the renderers (kept apart
//! from the label model so that the model names no renderer).

use super::model::{Label, Language, RenderError};
use super::text::Font;

/// Renders `label` in `language` ([`super::zpl::render`] / [`super::tspl::render`]).
///
/// # Errors
/// Those of the renderer.
pub fn render(
    language: Language,
    label: &Label,
    font: Option<&Font>,
) -> Result<Vec<u8>, RenderError> {
    match language {
        Language::Zpl => super::zpl::render(label, font),
        Language::Tspl => super::tspl::render(label, font),
    }
}
