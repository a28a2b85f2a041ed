//! The daemon's scan sources: one actor per configured scanner (it owns its device and
//! reconnects; a missing scanner is a board state, never fatal), a forwarder that counts
//! each actor's scans on the board, and standard input for a keyboard-only bench
//! (`run --scan-stdin`). Every scan goes to the engine; its feedback is logged (or printed,
//! for standard input).

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, watch};

use crate::board::DeviceBoard;
use crate::config::Config;
use crate::engine::EngineHandle;
use crate::i18n::{Lang, message};

/// Start every configured scanner, the task that hands their scans to the engine (and logs
/// the feedback), and, with `scan_stdin`, the standard-input source.
pub(super) fn start(
    cfg: &Arc<Config>,
    engine: &EngineHandle,
    board: &DeviceBoard,
    stop_rx: &watch::Receiver<bool>,
    scan_stdin: bool,
) {
    let lang = Lang::parse(&cfg.station.language);
    let (scan_tx, mut scan_rx) = mpsc::channel::<(String, Vec<u8>)>(1024);
    for sc in &cfg.scanners {
        spawn_scanner(sc, board, &scan_tx, stop_rx);
    }
    drop(scan_tx);
    {
        // Scans are handed on in the order they were read, without waiting for each
        // commit: a burst from one scanner shares group commits, and another bench's scan
        // is never queued behind it here (the engine takes sources round-robin). Up to
        // `IN_FLIGHT` answers are awaited behind, in order, for the log.
        const IN_FLIGHT: usize = 1024;
        let (answers_tx, mut answers) =
            mpsc::channel::<(String, crate::engine::SubmittedScan)>(IN_FLIGHT);
        let engine = engine.clone();
        tokio::spawn(async move {
            while let Some((bench, bytes)) = scan_rx.recv().await {
                let submitted = engine.submit_scan(&bench, bytes, None).await;
                if answers_tx.send((bench, submitted)).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            while let Some((bench, submitted)) = answers.recv().await {
                let r = submitted.reply().await;
                tracing::info!(%bench, ok = r.ok, stored = r.stored, code = %r.code, feedback = %feedback(lang, &r), "scan");
            }
        });
    }
    if scan_stdin {
        tokio::spawn(stdin_scans(
            engine.clone(),
            cfg.scan.default_bench.clone(),
            lang,
        ));
    }
}

/// The engine's answer in the station's language.
fn feedback(lang: Lang, r: &crate::engine::Reply) -> String {
    let params: Vec<(&str, String)> = r
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    message(lang, &r.code, &params)
}

/// One scan per line of standard input; each answer printed once it is stored (or refused).
async fn stdin_scans(engine: EngineHandle, bench: String, lang: Lang) {
    let mut lines = BufReader::new(tokio::io::stdin()).split(b'\n');
    while let Ok(Some(line)) = lines.next_segment().await {
        let r = engine.scan(&bench, line).await;
        println!(
            "{} {}",
            if r.ok { "OK " } else { "ERR" },
            feedback(lang, &r)
        );
    }
}

/// Start one scanner actor, its status bridge to the board and its counting forwarder.
fn spawn_scanner(
    sc: &crate::devices::scanner_config::ScannerConfig,
    board: &DeviceBoard,
    scan_tx: &mpsc::Sender<(String, Vec<u8>)>,
    stop_rx: &watch::Receiver<bool>,
) {
    use crate::board::{DeviceKind, DeviceState};
    use crate::devices::scanner_config::ScannerConfig;
    use crate::devices::serial::ScannerStatus;
    let (status_tx, mut status_rx) = watch::channel(ScannerStatus::Starting);
    let label = sc.label();
    let id = format!("scanner:{}:{}", sc.bench(), label);
    board.register(
        &id,
        DeviceKind::Scanner,
        sc.transport(),
        &label,
        Some(sc.bench()),
    );
    {
        let board = board.clone();
        let id = id.clone();
        tokio::spawn(async move {
            while status_rx.changed().await.is_ok() {
                let s = status_rx.borrow().clone();
                let (state, detail) = match s {
                    ScannerStatus::Starting => (DeviceState::Starting, None),
                    ScannerStatus::Connected => (DeviceState::Connected, None),
                    ScannerStatus::Disconnected { reason, .. } => {
                        (DeviceState::Disconnected, Some(reason))
                    }
                    ScannerStatus::Stopped => (DeviceState::Stopped, None),
                };
                board.set(&id, state, detail, Vec::new());
            }
        });
    }
    let (tx, mut rx) = mpsc::channel::<(String, Vec<u8>)>(64);
    {
        let board = board.clone();
        let out = scan_tx.clone();
        tokio::spawn(async move {
            while let Some(scan) = rx.recv().await {
                board.count(&id);
                if out.send(scan).await.is_err() {
                    break;
                }
            }
        });
    }
    match sc {
        ScannerConfig::Serial(c) => {
            tokio::spawn(crate::devices::serial::run_serial_scanner(
                c.clone(),
                tx,
                status_tx,
                stop_rx.clone(),
            ));
        }
        ScannerConfig::Hid(c) => {
            tokio::spawn(crate::devices::hid::run_hid_scanner(
                c.clone(),
                tx,
                status_tx,
                stop_rx.clone(),
            ));
        }
    }
}
