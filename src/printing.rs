//! Label jobs: the engine's print-label effects rendered to the configured printer language
//! (ZPL or TSPL) from one label model. The only sink so far is a directory (one file per
//! job: labs, previews, and a spool a print server can pick up); network, serial and USB
//! printers, status polling and the durable print queue come with the device layer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::config::{Config, PrinterConfig};
use crate::domain::step::Effect;
use crate::i18n::{Lang, message};
use crate::label::model::Label;
use crate::label::text::Font;

/// Everything a return label shows, read from the station's database.
struct LabelData {
    customer_name: String,
    order_no: String,
    kind: String,
    date: String,
}

fn label_data(db: &Path, return_id: &str) -> Result<LabelData, String> {
    let conn = crate::store::open_reader(db).map_err(|e| e.to_string())?;
    let state: String = conn
        .query_row(
            "SELECT state FROM returns WHERE return_id = ?1",
            [return_id],
            |r| r.get(0),
        )
        .map_err(|e| format!("return {return_id}: {e}"))?;
    let st: Value = serde_json::from_str(&state).map_err(|e| e.to_string())?;
    let waybill = st["waybill"].as_str().unwrap_or("");
    let customer_name = crate::feed::get(&conn, "expected_return", waybill)
        .ok()
        .flatten()
        .and_then(|(_, d)| {
            d.get("customer_name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let kind = st["kind"].as_str().unwrap_or("");
    let kind = format!(
        "{} {}",
        message(Lang::Zh, &format!("kind.{kind}"), &[]),
        message(Lang::En, &format!("kind.{kind}"), &[])
    );
    Ok(LabelData {
        customer_name,
        order_no: st["order_no"].as_str().unwrap_or("").to_string(),
        kind,
        date: st["received_at"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(10)
            .collect(),
    })
}

/// Render one return label in the printer's language.
pub fn render_return_label(
    cfg: &Config,
    printer: &PrinterConfig,
    font: Option<&Font>,
    return_id: &str,
) -> Result<Vec<u8>, String> {
    let d = label_data(&cfg.database, return_id)?;
    let label = Label::return_label(
        return_id,
        &d.customer_name,
        &d.order_no,
        &d.kind,
        &d.date,
        cfg.station.as_str(),
        printer.dpi,
    );
    let out = if printer.language == "tspl" {
        crate::label::tspl::render(&label, font)
    } else {
        crate::label::zpl::render(&label, font)
    };
    out.map_err(|e| e.to_string())
}

/// Write a job file atomically: a temp name, fsync, rename.
fn write_job(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let mut f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.sync_all()
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Run label jobs until the engine stops.
pub async fn run(cfg: Arc<Config>, mut rx: tokio::sync::mpsc::UnboundedReceiver<Effect>) {
    let font = cfg.printer.as_ref().and_then(|p| {
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
    });
    let mut n: u64 = 0;
    while let Some(effect) = rx.recv().await {
        let Effect::PrintLabel {
            return_id,
            template,
            reason,
        } = effect;
        let Some(printer) = cfg.printer.clone() else {
            tracing::info!(%return_id, template, reason = reason.as_str(), "label job (no printer configured)");
            continue;
        };
        n += 1;
        let cfg2 = cfg.clone();
        let font2 = font.clone();
        let id = return_id.to_string();
        let result = tokio::task::spawn_blocking(move || {
            let bytes = render_return_label(&cfg2, &printer, font2.as_deref(), &id)?;
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3f");
            let name = format!("{id}-{stamp}-{n}.{}", printer.language);
            write_job(&printer.dir, &name, &bytes)
        })
        .await;
        match result {
            Ok(Ok(path)) => {
                tracing::info!(%return_id, reason = reason.as_str(), path = %path.display(), "label job written")
            }
            Ok(Err(e)) => {
                tracing::error!(%return_id, error = %e, "label job FAILED; reprint once fixed")
            }
            Err(e) => tracing::error!(%return_id, error = %e, "label job task failed"),
        }
    }
}
