//! The operator's view of the print queue (`returnsd print queue`): what is waiting, what
//! was sent but not confirmed, what failed and why. Reads the database only.

use serde_json::{Value, json};

use crate::store::jobs::Job;

/// A job as JSON (without its bytes; their size instead).
pub fn job_json(j: &Job) -> Value {
    json!({
        "id": j.id,
        "created_at": j.created_at,
        "seq": j.seq,
        "subject": j.subject,
        "template": j.template,
        "reason": j.reason,
        "item_no": j.item_no,
        "state": j.state,
        "attempts": j.attempts,
        "printer": j.printer,
        "language": j.language,
        "dpi": j.dpi,
        "bytes": j.bytes.as_ref().map(Vec::len),
        "sent_at": j.sent_at,
        "confirmed_at": j.confirmed_at,
        "last_error": j.last_error,
        "next_attempt_at": j.next_attempt_at,
    })
}

/// The queue as a table (or JSON lines), with a summary line of counts per state.
pub fn queue_text(
    conn: &rusqlite::Connection,
    all: bool,
    limit: i64,
    as_json: bool,
) -> Result<String, String> {
    use std::fmt::Write;
    let jobs = crate::store::jobs::list(conn, all, limit).map_err(|e| e.to_string())?;
    let mut out = String::new();
    if as_json {
        for j in &jobs {
            let _ = writeln!(out, "{}", job_json(j));
        }
        return Ok(out);
    }
    let counts = crate::store::jobs::counts(conn).map_err(|e| e.to_string())?;
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
    cfg: &crate::config::Config,
    conn: &rusqlite::Connection,
    job: Option<i64>,
    subject: Option<&str>,
) -> Result<(Job, Vec<u8>), String> {
    use crate::label::model::Language;
    use crate::label::template::Templates;
    let j = match (job, subject) {
        (Some(id), _) => crate::store::jobs::get(conn, id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no print job {id} (see `returnsd print queue --all`)"))?,
        (None, Some(s)) => crate::store::jobs::latest_for(conn, s)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no print job for {s} (see `returnsd print queue --all`)"))?,
        (None, None) => return Err("give --job N or --return ID".into()),
    };
    let printers = cfg.printer.as_ref();
    let templates = Templates::load(printers.and_then(|p| p.templates.as_deref()))
        .map_err(|e| e.to_string())?;
    let (w, h) = templates
        .get(&j.template)
        .map_err(|e| e.to_string())?
        .size_mm();
    let (bytes, language, dpi) = match (&j.bytes, &j.language, j.dpi) {
        (Some(b), Some(l), Some(d)) => (b.clone(), l.clone(), d as u32),
        _ => {
            let p = printers.ok_or("this job was never rendered and no [printer] is configured")?;
            let font = super::load_font(p);
            let b = super::render_job(cfg, &templates, &p.primary, font.as_deref(), &j)?;
            (b, p.primary.language.clone(), p.primary.dpi)
        }
    };
    let language =
        Language::parse(&language).ok_or_else(|| format!("unknown language {language:?}"))?;
    let png = crate::label::preview::render_png(&bytes, language, dpi, w, h)
        .map_err(|e| e.to_string())?;
    Ok((j, png))
}
