//! The operator's view of the print queue (`returnsd print queue`): what is waiting, what
//! was sent but not confirmed, what failed and why; and `label preview`. Reads the database
//! only, through the store's read models.

use super::{PrintError, PrintSettings, load_font, render_job};
use crate::label::model::Language;
use crate::label::template::Templates;
use crate::store::Read;
use crate::store::jobs::{self, Job};
use crate::views::job_json;

/// The queue as a table (or JSON lines), with a summary line of counts per state.
pub fn queue_text(
    db: &dyn Read,
    all: bool,
    limit: i64,
    as_json: bool,
) -> Result<String, PrintError> {
    use std::fmt::Write;
    let jobs = jobs::list(db, all, limit)?;
    let mut out = String::new();
    if as_json {
        for j in &jobs {
            let _ = writeln!(out, "{}", job_json(j));
        }
        return Ok(out);
    }
    let counts = jobs::counts(db)?;
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let _ = writeln!(
        out,
        "print jobs: {}",
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    );
    if jobs.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            if all {
                "no jobs"
            } else {
                "nothing waiting: every job was confirmed by its printer"
            }
        );
        return Ok(out);
    }
    let _ = writeln!(
        out,
        "{:>6} {:<26} {:<12} {:<8} {:<10} {:>3} {:<9} {:<24} note",
        "job", "subject", "template", "reason", "state", "try", "printer", "created"
    );
    for j in &jobs {
        let note = match (&j.last_error, &j.next_attempt_at) {
            (Some(e), Some(at)) if j.state == "queued" => format!("{e} (next try {at})"),
            (Some(e), _) => e.clone(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:>6} {:<26} {:<12} {:<8} {:<10} {:>3} {:<9} {:<24} {}",
            j.id,
            j.subject,
            j.template,
            j.reason,
            j.state,
            j.attempts,
            j.printer.as_deref().unwrap_or("-"),
            j.created_at,
            note
        );
    }
    Ok(out)
}

/// `returnsd label preview`: the PNG of a job's bytes exactly as sent (or as they will be
/// sent: a job not rendered yet is rendered now for the primary printer, nothing stored).
/// `job` picks a job by id; otherwise `subject` picks the newest job of a return or RTV note.
pub fn preview(
    settings: &PrintSettings,
    db: &dyn Read,
    job: Option<i64>,
    subject: Option<&str>,
) -> Result<(Job, Vec<u8>), PrintError> {
    let j = match (job, subject) {
        (Some(id), _) => jobs::get(db, id)?.ok_or(PrintError::NoJob(id))?,
        (None, Some(s)) => {
            jobs::latest_for(db, s)?.ok_or_else(|| PrintError::NoJobFor(s.to_string()))?
        }
        (None, None) => return Err(PrintError::NoSelection),
    };
    let printers = settings.printer.as_ref();
    let templates = Templates::load(printers.and_then(|p| p.templates.as_deref()))?;
    let (w, h) = templates.get(&j.template)?.size_mm();
    let (bytes, language, dpi) = match (&j.bytes, &j.language, j.dpi) {
        (Some(b), Some(l), Some(d)) => (b.clone(), l.clone(), d as u32),
        _ => {
            let p = printers.ok_or(PrintError::NoPrinter)?;
            let font = load_font(p);
            let b = render_job(db, settings, &templates, &p.primary, font.as_deref(), &j)?;
            (b, p.primary.language.clone(), p.primary.dpi)
        }
    };
    let language = Language::parse(&language).ok_or(PrintError::Language(language))?;
    let png = crate::label::preview::render_png(&bytes, language, dpi, w, h)?;
    Ok((j, png))
}
