//! HID scanner actor: reads `/dev/hidrawN` directly (no hidapi, no libudev) through
//! `tokio::io::unix::AsyncFd` on a file opened `O_RDONLY|O_NONBLOCK`, and turns reports into
//! scans with the pure decoders: [`hidpos`](super::hidpos) for HID POS scanners (usage page
//! 0x8C), [`keyboard`](super::keyboard) + [`framing`](super::framing) (Enter suffix) for
//! keyboard-wedge scanners.
//!
//! Hotplug: the actor looks the scanner up in sysfs ([`discover::find_hid`]) by path or by
//! vendor/product (and serial) whenever a `hidraw…` node appears or changes in the dev
//! directory (a [`NodeWatch`]: inotify, so a replugged scanner is open within
//! milliseconds) and, as the fallback, every `poll` (≈1 s). Absent, or lost (read error
//! such as ENODEV/EIO, or end of file) → [`ScannerStatus::Disconnected`] with the reason,
//! and it keeps waiting; when the node is back it is reopened. A scan interrupted
//! by an unplug is dropped and logged, never delivered in part; reports are read once, so
//! nothing is delivered twice across the gap.
//!
//! A hidraw `read()` returns exactly one report. A FIFO (standing in for a node in tests)
//! has no message boundaries, so from a FIFO reports are read in chunks of the layout's
//! report length.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::discover::{self, HidTarget, Roots, Want};
use super::framing::{Framer, FramerConfig};
use super::hidpos::{Aim, HidPosLayout, Outcome, Reassembler};
use super::keyboard::KeyboardDecoder;
use super::layout::Layout;
use super::nodewatch::NodeWatch;
use super::serial::{ScannerStatus, appeared, arm, publish};

/// What a HID scanner sends.
#[derive(Debug, Clone)]
pub enum HidKind {
    /// HID POS reports (usage page 0x8C).
    HidPos {
        aim: Aim,
        /// Ends a scan whose last report never came (default 500 ms).
        quiet_gap_ms: Option<u64>,
        /// Layout when the device has no usable report descriptor.
        fallback: HidPosLayout,
    },
    /// Boot keyboard reports typed by a keyboard-wedge scanner.
    Keyboard {
        layout: Layout,
        framer: FramerConfig,
    },
}

impl HidKind {
    fn want(&self) -> Want {
        match self {
            HidKind::HidPos { .. } => Want::HidPos,
            HidKind::Keyboard { .. } => Want::Keyboard,
        }
    }

    pub fn transport(&self) -> &'static str {
        match self {
            HidKind::HidPos { .. } => "hidpos",
            HidKind::Keyboard { .. } => "keyboard",
        }
    }
}

/// Configuration of one HID scanner.
#[derive(Debug, Clone)]
pub struct HidScannerConfig {
    /// Bench the scans are attributed to.
    pub bench: String,
    /// Which device.
    pub target: HidTarget,
    pub kind: HidKind,
    /// sysfs and /dev (fake trees in tests).
    pub roots: Roots,
    /// Discovery interval while absent.
    pub poll: Duration,
}

impl HidScannerConfig {
    /// How the device is named in logs and on the board: the path, or `vvvv:pppp[:serial]`.
    pub fn label(&self) -> String {
        if let Some(p) = &self.target.path {
            return p.display().to_string();
        }
        let hex = |v: Option<u16>| v.map_or("*".to_string(), |v| format!("{v:04x}"));
        let mut s = format!(
            "{}:{}",
            hex(self.target.vendor_id),
            hex(self.target.product_id)
        );
        if let Some(sn) = &self.target.serial {
            s.push(':');
            s.push_str(sn);
        }
        s
    }
}

/// Turns reports into scans for one transport.
#[derive(Debug)]
pub enum Decoder {
    Pos(Reassembler),
    Keyboard(KeyboardDecoder, Framer),
}

impl Decoder {
    /// The decoder for a device with this report descriptor (HID POS falls back to the
    /// configured layout when there is none or it has no Decoded Data field).
    pub fn new(kind: &HidKind, descriptor: Option<&[u8]>) -> Decoder {
        match kind {
            HidKind::HidPos {
                aim,
                quiet_gap_ms,
                fallback,
            } => {
                let layout = descriptor
                    .and_then(HidPosLayout::from_descriptor)
                    .unwrap_or_else(|| fallback.clone());
                Decoder::Pos(Reassembler::new(layout, *aim, *quiet_gap_ms))
            }
            HidKind::Keyboard { layout, framer } => Decoder::Keyboard(
                KeyboardDecoder::with_layout(layout.clone()),
                Framer::new(framer.clone()),
            ),
        }
    }

    /// Length of one report (with its id), to cut a FIFO's byte stream.
    pub fn report_len(&self) -> usize {
        match self {
            Decoder::Pos(r) => r.layout().report_len,
            Decoder::Keyboard(..) => super::keyboard::REPORT_LEN,
        }
    }

    /// One report in; the scans it completes out.
    pub fn push(&mut self, report: &[u8], now_ms: u64) -> Vec<Vec<u8>> {
        match self {
            Decoder::Pos(r) => match r.push(report, now_ms) {
                Outcome::Scan(s) => vec![s],
                Outcome::Partial => Vec::new(),
                Outcome::Stray => {
                    tracing::debug!(len = report.len(), "HID POS: stray report ignored");
                    Vec::new()
                }
            },
            Decoder::Keyboard(k, f) => {
                // A keyboard in a composite device prefixes its report id.
                let report = match report.len() {
                    9 => &report[1..],
                    _ => report,
                };
                match k.push_report(report) {
                    Ok(bytes) => f.push(&bytes, now_ms),
                    Err(e) => {
                        tracing::debug!(error = %e, "keyboard report ignored");
                        Vec::new()
                    }
                }
            }
        }
    }

    /// When a quiet-gap flush is due.
    pub fn deadline_ms(&self) -> Option<u64> {
        match self {
            Decoder::Pos(r) => r.quiet_deadline_ms(),
            Decoder::Keyboard(_, f) => f.quiet_deadline_ms(),
        }
    }

    /// The quiet gap ended the current scan.
    pub fn flush(&mut self, now_ms: u64) -> Option<Vec<u8>> {
        match self {
            Decoder::Pos(r) => {
                let g = r.flush_if_quiet(now_ms)?;
                tracing::warn!(
                    reports = g.reports,
                    bytes = g.scan.len(),
                    "HID POS: last report of a scan never came; delivered after the quiet gap"
                );
                Some(g.scan)
            }
            Decoder::Keyboard(_, f) => f.flush_if_quiet(now_ms),
        }
    }

    /// The device is gone: drop an unfinished scan (logged, never delivered). The decoder
    /// is not reused after this (a reopened device gets a new one).
    pub fn drop_partial(&mut self, label: &str) {
        let dropped = match self {
            Decoder::Pos(r) => r.drop_partial(),
            Decoder::Keyboard(_, f) => f.has_partial().then_some((0, 0)),
        };
        if let Some((reports, bytes)) = dropped {
            tracing::warn!(
                device = label,
                reports,
                bytes,
                "scanner lost mid-scan: the partial scan is dropped"
            );
        }
    }
}

/// A report source: a hidraw node, or in tests a SEQPACKET socket or a FIFO.
pub struct ReportReader {
    fd: AsyncFd<File>,
    /// From a FIFO: read exactly this many bytes per report.
    fifo_chunk: Option<usize>,
}

impl ReportReader {
    /// Wrap an open non-blocking file; `report_len` is used only when it is a FIFO.
    pub fn new(file: File, report_len: usize) -> std::io::Result<Self> {
        let fifo = file.metadata()?.file_type().is_fifo();
        Ok(ReportReader {
            // SAFETY: the `File` is owned by the `AsyncFd` from here on, so its descriptor
            // stays open and refers to the same file until the `AsyncFd` is dropped.
            fd: unsafe { AsyncFd::register_with_interest(file, tokio::io::Interest::READABLE) }?,
            fifo_chunk: fifo.then_some(report_len.max(1)),
        })
    }

    /// Open a device node `O_RDONLY|O_NONBLOCK`.
    pub fn open(path: &Path, report_len: usize) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)?;
        Self::new(file, report_len)
    }

    /// The next report; `Ok(0)` is end of file (the device went away).
    pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = self.fifo_chunk.unwrap_or(buf.len()).min(buf.len());
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|f| f.get_ref().read(&mut buf[..len])) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

/// How a read session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnd {
    Shutdown,
    SinkClosed,
    Lost(String),
}

/// Reads reports until the device is lost, the sink closes or shutdown; sends each scan as
/// `(bench, bytes)`. On loss the unfinished scan is dropped.
pub async fn read_session(
    reader: &ReportReader,
    decoder: &mut Decoder,
    bench: &str,
    label: &str,
    sink: &mpsc::Sender<(String, Vec<u8>)>,
    shutdown: &mut watch::Receiver<bool>,
) -> SessionEnd {
    let base = Instant::now();
    let now_ms = || base.elapsed().as_millis() as u64;
    let mut buf = vec![0u8; 4096];
    loop {
        let deadline = decoder.deadline_ms();
        let wake = base + Duration::from_millis(deadline.unwrap_or(0));
        // Biased: a report already waiting (or the end of file) is read before the quiet
        // gap is judged, so a scan is never cut just because its next report was queued.
        let scans = tokio::select! {
            biased;
            res = shutdown.changed() => {
                if res.is_err() || *shutdown.borrow() {
                    return SessionEnd::Shutdown;
                }
                continue;
            }
            r = reader.read(&mut buf) => match r {
                Ok(0) => {
                    decoder.drop_partial(label);
                    return SessionEnd::Lost("end of file (unplugged)".into());
                }
                Ok(n) => decoder.push(&buf[..n], now_ms()),
                Err(e) => {
                    decoder.drop_partial(label);
                    return SessionEnd::Lost(e.to_string());
                }
            },
            _ = tokio::time::sleep_until(wake), if deadline.is_some() => {
                decoder.flush(now_ms()).into_iter().collect()
            }
        };
        for scan in scans {
            if sink.send((bench.to_string(), scan)).await.is_err() {
                return SessionEnd::SinkClosed;
            }
        }
    }
}

/// A watch for this scanner's node: its path when configured by path, else any `hidraw…`
/// entry of the dev directory (the sysfs entry exists before the kernel makes the node).
fn arm_hid(cfg: &HidScannerConfig) -> Option<NodeWatch> {
    match &cfg.target.path {
        Some(p) => arm(p),
        None => NodeWatch::for_prefix(&cfg.roots.dev, "hidraw")
            .map_err(|e| tracing::debug!(dev = %cfg.roots.dev.display(), error = %e, "no hotplug watch; polling only"))
            .ok(),
    }
}

/// Runs until `shutdown` is `true` (or dropped) or `sink` closes; ends with
/// [`ScannerStatus::Stopped`]. Never panics; a missing device is only a status.
pub async fn run_hid_scanner(
    cfg: HidScannerConfig,
    sink: mpsc::Sender<(String, Vec<u8>)>,
    status: watch::Sender<ScannerStatus>,
    mut shutdown: watch::Receiver<bool>,
) {
    let label = cfg.label();
    let poll = cfg.poll.max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watch = None;
    loop {
        tokio::select! {
            res = shutdown.changed() => {
                if res.is_err() || *shutdown.borrow() {
                    break;
                }
                continue;
            }
            _ = tick.tick() => {}
            _ = appeared(&mut watch) => {}
        }
        // Armed before looking, so a node that appears right after a failed look still
        // wakes the next one.
        watch = arm_hid(&cfg);
        let want = cfg.kind.want();
        let Some(node) = discover::find_hid(&cfg.roots, &cfg.target, want) else {
            let what = match want {
                Want::HidPos => "HID POS interface (usage page 0x8C)",
                Want::Keyboard => "keyboard interface",
            };
            publish(
                &status,
                ScannerStatus::Disconnected {
                    reason: format!("not found: no {what} of {label}"),
                    retry_in: poll,
                },
            );
            continue;
        };
        let mut decoder = Decoder::new(&cfg.kind, node.descriptor.as_deref());
        let reader = match ReportReader::open(&node.dev_path, decoder.report_len()) {
            Ok(r) => r,
            Err(e) => {
                publish(
                    &status,
                    ScannerStatus::Disconnected {
                        reason: format!("{}: {e}", node.dev_path.display()),
                        retry_in: poll,
                    },
                );
                continue;
            }
        };
        tracing::info!(device = %label, node = %node.dev_path.display(), transport = cfg.kind.transport(), descriptor = node.descriptor.is_some(), "HID scanner opened");
        publish(&status, ScannerStatus::Connected);
        // Not needed while the node is open; armed again once it is lost.
        drop(watch.take());
        match read_session(
            &reader,
            &mut decoder,
            &cfg.bench,
            &label,
            &sink,
            &mut shutdown,
        )
        .await
        {
            SessionEnd::Shutdown | SessionEnd::SinkClosed => break,
            SessionEnd::Lost(reason) => {
                // Armed again after the loss: only a node appearing from now wakes us.
                watch = arm_hid(&cfg);
                publish(
                    &status,
                    ScannerStatus::Disconnected {
                        reason: format!("{}: {reason}", node.dev_path.display()),
                        retry_in: poll,
                    },
                );
            }
        }
    }
    status.send_replace(ScannerStatus::Stopped);
}

#[cfg(test)]
#[path = "hid_tests.rs"]
mod tests;
