//! Label jobs: the engine's print-label effects rendered to the configured printer language
//! (ZPL or TSPL) from one label model, then sent to a directory (one file per job: labs,
//! previews, a spool) or a raw TCP printer (port 9100), whose `~HS` status is read after
//! each job: a fault (paper out, head open, …) alarms; no answer is "unknown", never "ok".
//! The durable print queue (sent vs confirmed, failover) comes with the device layer.

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

/// Send a job to a raw TCP printer; for ZPL, ask `~HS` on the same connection.
/// Returns the status when the printer answered.
async fn send_tcp(
    address: &str,
    bytes: &[u8],
    zpl: bool,
) -> Result<Option<crate::devices::zpl_status::ZplStatus>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = std::time::Duration::from_secs(5);
    let mut s = tokio::time::timeout(t, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| format!("{address}: connect timed out"))?
        .map_err(|e| format!("{address}: {e}"))?;
    tokio::time::timeout(t, s.write_all(bytes))
        .await
        .map_err(|_| format!("{address}: write timed out"))?
        .map_err(|e| format!("{address}: {e}"))?;
    if !zpl {
        return Ok(None);
    }
    s.write_all(b"~HS")
        .await
        .map_err(|e| format!("{address}: {e}"))?;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut buf = [0u8; 512];
    while !crate::devices::zpl_status::hs_complete(&got) && got.len() < 4096 {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return Err(format!("{address}: {e}")),
        }
    }
    Ok(crate::devices::zpl_status::parse_hs(&got))
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
        let result = tokio::task::spawn_blocking({
            let printer = printer.clone();
            move || render_return_label(&cfg2, &printer, font2.as_deref(), &id)
        })
        .await;
        let bytes = match result {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                tracing::error!(%return_id, error = %e, "label job FAILED to render; reprint once fixed");
                continue;
            }
            Err(e) => {
                tracing::error!(%return_id, error = %e, "label job task failed");
                continue;
            }
        };
        match &printer.address {
            None => {
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3f");
                let name = format!("{return_id}-{stamp}-{n}.{}", printer.language);
                let dir = printer.dir.clone();
                match tokio::task::spawn_blocking(move || write_job(&dir, &name, &bytes)).await {
                    Ok(Ok(path)) => {
                        tracing::info!(%return_id, reason = reason.as_str(), path = %path.display(), "label job written")
                    }
                    Ok(Err(e)) => {
                        tracing::error!(%return_id, error = %e, "label job FAILED; reprint once fixed")
                    }
                    Err(e) => tracing::error!(%return_id, error = %e, "label job task failed"),
                }
            }
            Some(address) => {
                // Bounded retries while the printer is unreachable (1, 2, 4, 8 s); the
                // durable queue will keep jobs across restarts.
                let zpl = printer.language == "zpl";
                let mut delay = std::time::Duration::from_secs(1);
                for attempt in 1..=5 {
                    match send_tcp(address, &bytes, zpl).await {
                        Ok(status) => {
                            match status {
                                Some(st) if st.faults().is_empty() => {
                                    tracing::info!(%return_id, printer = %address, "label job sent; printer ok")
                                }
                                Some(st) => {
                                    tracing::warn!(%return_id, printer = %address, faults = ?st.faults(), "label job sent; PRINTER FAULT")
                                }
                                None => {
                                    tracing::warn!(%return_id, printer = %address, "label job sent; printer status unknown (no answer to ~HS)")
                                }
                            }
                            break;
                        }
                        Err(e) if attempt < 5 => {
                            tracing::warn!(%return_id, error = %e, attempt, "printer unreachable; retrying");
                            tokio::time::sleep(delay).await;
                            delay *= 2;
                        }
                        Err(e) => {
                            tracing::error!(%return_id, error = %e, "label job FAILED after 5 tries; reprint once the printer is back")
                        }
                    }
                }
            }
        }
    }
}
