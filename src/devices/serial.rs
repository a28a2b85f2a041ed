//! Serial scanner actor (RS-232 / USB CDC-ACM via `tokio-serial`).
//!
//! [`run_serial_scanner`] opens the port, reads, frames the bytes with a
//! [`Framer`](super::framing::Framer) and sends `(bench, scan)` to a sink (in production a
//! small task that forwards to `EngineHandle::scan`). On open failure or a read error
//! (unplug) it publishes [`ScannerStatus::Disconnected`] and reopens as soon as the port's
//! node appears again ([`NodeWatch`]: inotify on its directory), with a capped exponential
//! backoff as the fallback poll. It never panics and ends only on shutdown or when the
//! sink is closed. Nothing the scanner sent after the port appeared is flushed on open.
//! A partial scan buffered when the port is lost is dropped (it cannot be trusted).

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_serial::{SerialPortBuilderExt, SerialStream};

use super::framing::{Framer, FramerConfig};
use super::nodewatch::{NodeId, NodeWatch};

/// Connection state of one scanner, published through a `watch` channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerStatus {
    /// Not yet tried.
    Starting,
    /// Port open, reading.
    Connected,
    /// Open failed or the port was lost; the next attempt is in `retry_in`.
    Disconnected {
        /// Why (OS error text).
        reason: String,
        /// Backoff before the next open attempt.
        retry_in: Duration,
    },
    /// The actor has ended (shutdown or sink closed).
    Stopped,
}

impl ScannerStatus {
    /// Whether the port is currently open.
    pub fn is_connected(&self) -> bool {
        matches!(self, Self::Connected)
    }
}

/// Configuration of one serial scanner.
#[derive(Debug, Clone)]
pub struct SerialScannerConfig {
    /// Device path, preferably `/dev/serial/by-id/…`.
    pub path: String,
    /// Baud rate (ignored by CDC-ACM and ptys, required by RS-232).
    pub baud: u32,
    /// How bytes are cut into scans.
    pub framer: FramerConfig,
    /// Bench the scans are attributed to.
    pub bench: String,
    /// First reopen delay.
    pub backoff_initial: Duration,
    /// Reopen delay cap (the fallback poll's period once the port stays away).
    pub backoff_max: Duration,
    /// Strip a leading AIM symbology identifier (`]XY`) from each scan.
    pub strip_aim: bool,
}

impl SerialScannerConfig {
    /// Config with default framing (CR suffix) and the fallback poll: 250 ms doubling up
    /// to 1 s (the node's appearance itself wakes the actor, see [`run_serial_scanner`]).
    pub fn new(path: impl Into<String>, baud: u32, bench: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            baud,
            framer: FramerConfig::default(),
            bench: bench.into(),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(1),
            strip_aim: false,
        }
    }
}

enum SessionEnd {
    Shutdown,
    SinkClosed,
    Lost { reason: String, read_any: bool },
}

/// Runs until `shutdown` becomes `true` (or its sender is dropped) or `sink` is closed.
/// Publishes the connection state on `status`; ends with [`ScannerStatus::Stopped`].
///
/// While the port is missing the actor waits on a [`NodeWatch`] of its path (armed before
/// each open attempt, so a port that appears right after a failed open still wakes it) and
/// on the backoff, whichever comes first: a replugged scanner is open within milliseconds,
/// and the backoff (250 ms doubling to 1 s) is only the fallback poll.
pub async fn run_serial_scanner(
    cfg: SerialScannerConfig,
    sink: mpsc::Sender<(String, Vec<u8>)>,
    status: watch::Sender<ScannerStatus>,
    mut shutdown: watch::Receiver<bool>,
) {
    let base = Instant::now();
    let path = Path::new(&cfg.path);
    let initial = cfg.backoff_initial.max(Duration::from_millis(1));
    let cap = cfg.backoff_max.max(initial);
    let mut backoff = initial;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let mut watch = arm(path);
        // After a lost port: whether a new node already stands at the path (replugged
        // faster than we noticed), so it is opened at once instead of after a wait.
        let mut replaced = false;
        let reason = match open(&cfg) {
            Ok(port) => {
                // Not needed while the port is open; armed again once it is lost.
                drop(watch.take());
                let opened = NodeId::of(path);
                tracing::info!(path = %cfg.path, bench = %cfg.bench, "serial scanner connected");
                status.send_replace(ScannerStatus::Connected);
                match session(&cfg, port, base, &sink, &mut shutdown).await {
                    SessionEnd::Shutdown | SessionEnd::SinkClosed => break,
                    SessionEnd::Lost { reason, read_any } => {
                        if read_any {
                            backoff = initial;
                        }
                        // Armed again after the loss: only what happens from now wakes us.
                        watch = arm(path);
                        replaced = NodeId::of(path).is_some_and(|now| Some(now) != opened);
                        reason
                    }
                }
            }
            Err(e) => e.to_string(),
        };
        let retry_in_ms = backoff.as_millis() as u64;
        let st = ScannerStatus::Disconnected {
            reason: reason.clone(),
            retry_in: backoff,
        };
        // Warned once per change: a scanner left unplugged is retried every second.
        if publish(&status, st) {
            tracing::warn!(path = %cfg.path, bench = %cfg.bench, %reason, retry_in_ms, "serial scanner disconnected");
        } else {
            tracing::debug!(path = %cfg.path, bench = %cfg.bench, %reason, retry_in_ms, "serial scanner still missing");
        }
        if replaced {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = appeared(&mut watch) => {}
            res = shutdown.changed() => {
                if res.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
        backoff = (backoff * 2).min(cap);
    }
    status.send_replace(ScannerStatus::Stopped);
}

/// Publish `s` unless it is the current status; whether it was new.
pub(super) fn publish(status: &watch::Sender<ScannerStatus>, s: ScannerStatus) -> bool {
    status.send_if_modified(|cur| {
        if *cur == s {
            return false;
        }
        *cur = s;
        true
    })
}

/// A watch for `path` to appear; `None` (logged) where inotify is not available, which
/// leaves the backoff alone to find the port.
pub(super) fn arm(path: &Path) -> Option<NodeWatch> {
    NodeWatch::for_path(path)
        .map_err(|e| tracing::debug!(path = %path.display(), error = %e, "no hotplug watch; polling only"))
        .ok()
}

/// Resolves when the watch reports its node may be there; never without a watch.
pub(super) async fn appeared(watch: &mut Option<NodeWatch>) {
    match watch {
        Some(w) => {
            if let Err(e) = w.changed().await {
                tracing::debug!(error = %e, "hotplug watch failed; polling only");
                *watch = None;
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Opens the port as it is: bytes the scanner sent since the port appeared (a scan made
/// right after the replug) wait in its input queue and are read, never flushed. Neither
/// `serialport` nor `tokio-serial` flushes on open on Linux (only on macOS).
fn open(cfg: &SerialScannerConfig) -> tokio_serial::Result<SerialStream> {
    tokio_serial::new(&cfg.path, cfg.baud).open_native_async()
}

async fn session(
    cfg: &SerialScannerConfig,
    mut port: SerialStream,
    base: Instant,
    sink: &mpsc::Sender<(String, Vec<u8>)>,
    shutdown: &mut watch::Receiver<bool>,
) -> SessionEnd {
    let now_ms = || base.elapsed().as_millis() as u64;
    let mut framer = Framer::new(cfg.framer.clone());
    let mut buf = [0u8; 1024];
    let mut read_any = false;
    loop {
        let deadline = framer.quiet_deadline_ms();
        let wake = base + Duration::from_millis(deadline.unwrap_or(0));
        let scans = tokio::select! {
            res = shutdown.changed() => {
                if res.is_err() || *shutdown.borrow() {
                    return SessionEnd::Shutdown;
                }
                continue;
            }
            r = port.read(&mut buf) => match r {
                Ok(0) => {
                    return SessionEnd::Lost { reason: "end of stream".into(), read_any };
                }
                Ok(n) => {
                    read_any = true;
                    framer.push(&buf[..n], now_ms())
                }
                Err(e) => return SessionEnd::Lost { reason: e.to_string(), read_any },
            },
            _ = tokio::time::sleep_until(wake), if deadline.is_some() => {
                framer.flush_if_quiet(now_ms()).into_iter().collect()
            }
        };
        for mut scan in scans {
            if cfg.strip_aim
                && let (Some(_), rest) = crate::domain::scan::Symbology::split_prefix(&scan)
            {
                scan = rest.to_vec();
            }
            if sink.send((cfg.bench.clone(), scan)).await.is_err() {
                return SessionEnd::SinkClosed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::framing::Suffix;
    use tokio::io::AsyncWriteExt;
    use tokio::time::timeout;
    use tokio_serial::SerialPort;

    const T: Duration = Duration::from_secs(5);

    struct Harness {
        rx: mpsc::Receiver<(String, Vec<u8>)>,
        status: watch::Receiver<ScannerStatus>,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
    }

    fn start(path: &str, suffix: Suffix) -> Harness {
        start_polling(
            path,
            suffix,
            Duration::from_millis(10),
            Duration::from_millis(40),
        )
    }

    /// An actor whose fallback poll starts at `initial` and is capped at `max`.
    fn start_polling(path: &str, suffix: Suffix, initial: Duration, max: Duration) -> Harness {
        let mut cfg = SerialScannerConfig::new(path, 9600, "B1");
        cfg.framer = FramerConfig::with_suffix(suffix);
        cfg.backoff_initial = initial;
        cfg.backoff_max = max;
        let (tx, rx) = mpsc::channel(16);
        let (status_tx, status) = watch::channel(ScannerStatus::Starting);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run_serial_scanner(cfg, tx, status_tx, stop_rx));
        Harness {
            rx,
            status,
            stop,
            task,
        }
    }

    /// A pty pair; returns the master and the slave's path (slave handle closed so the
    /// actor can open it exclusively).
    fn pty() -> (SerialStream, String) {
        let (master, slave) = SerialStream::pair().expect("pty pair");
        let path = slave.name().expect("slave has a path");
        drop(slave);
        (master, path)
    }

    /// A pty pair whose slave stays open (a real port exists whether or not the daemon has
    /// it open, and keeps what the scanner sends): master, held slave, the slave's path.
    fn plugged() -> (SerialStream, SerialStream, String) {
        let (master, slave) = SerialStream::pair().expect("pty pair");
        let path = slave.name().expect("slave has a path");
        (master, slave, path)
    }

    async fn wait_status(h: &mut Harness, f: impl Fn(&ScannerStatus) -> bool) -> ScannerStatus {
        timeout(T, h.status.wait_for(|s| f(s)))
            .await
            .expect("status deadline")
            .expect("status sender alive")
            .clone()
    }

    async fn shutdown(h: Harness) {
        h.stop.send_replace(true);
        timeout(T, h.task)
            .await
            .expect("actor stops on shutdown")
            .expect("actor did not panic");
        assert_eq!(*h.status.borrow(), ScannerStatus::Stopped);
    }

    #[tokio::test]
    async fn pty_scans_then_unplug() {
        let (mut master, path) = pty();
        let mut h = start(&path, Suffix::CrLf);
        wait_status(&mut h, ScannerStatus::is_connected).await;

        let wire = b"ABC123\r\nR-ST01-20261125-0001\r\n";
        for chunk in [
            &wire[..2],
            &wire[2..7],
            &wire[7..9],
            &wire[9..20],
            &wire[20..],
        ] {
            timeout(T, master.write_all(chunk))
                .await
                .expect("write deadline")
                .expect("write");
            timeout(T, master.flush())
                .await
                .expect("flush deadline")
                .expect("flush");
            tokio::task::yield_now().await;
        }
        let first = timeout(T, h.rx.recv()).await.expect("scan 1 deadline");
        assert_eq!(first, Some(("B1".to_string(), b"ABC123".to_vec())));
        let second = timeout(T, h.rx.recv()).await.expect("scan 2 deadline");
        assert_eq!(
            second,
            Some(("B1".to_string(), b"R-ST01-20261125-0001".to_vec()))
        );

        // Unplug: the master goes away, the slave read fails.
        drop(master);
        let st = wait_status(&mut h, |s| matches!(s, ScannerStatus::Disconnected { .. })).await;
        eprintln!("unplug status: {st:?}");
        // Still alive and retrying (no panic, no exit); no spurious scans.
        assert!(!h.task.is_finished());
        assert!(h.rx.try_recv().is_err());
        shutdown(h).await;
    }

    #[tokio::test]
    async fn open_failure_backs_off_capped_then_reconnects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("scanner");
        let link_str = link.to_string_lossy().into_owned();
        let mut h = start(&link_str, Suffix::Cr);

        // Nothing there yet: backoff doubles and is capped at 40 ms (published once: the
        // same status is not sent again). A watch may coalesce updates under load, so
        // assert a non-decreasing walk within {10, 20, 40} that reaches 40.
        let mut seen = Vec::new();
        loop {
            let st = wait_status(&mut h, |s| matches!(s, ScannerStatus::Disconnected { .. })).await;
            if let ScannerStatus::Disconnected { retry_in, reason } = st {
                assert!(reason.contains("No such file"), "{reason}");
                seen.push(retry_in.as_millis());
            }
            if seen.last() == Some(&40) {
                break;
            }
            h.status.mark_unchanged();
            timeout(T, h.status.changed())
                .await
                .expect("retry deadline")
                .expect("alive");
        }
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!(seen.iter().all(|ms| [10, 20, 40].contains(ms)), "{seen:?}");
        assert!(!h.task.is_finished());

        // "Replug": the path appears; the actor reopens it and reads.
        let (mut master, path) = pty();
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        wait_status(&mut h, ScannerStatus::is_connected).await;
        timeout(T, master.write_all(b"XYZ9\r"))
            .await
            .expect("write deadline")
            .expect("write");
        let got = timeout(T, h.rx.recv()).await.expect("scan deadline");
        assert_eq!(got, Some(("B1".to_string(), b"XYZ9".to_vec())));
        shutdown(h).await;
    }

    #[tokio::test]
    async fn quiet_gap_frames_without_suffix_and_sink_close_stops() {
        let (mut master, path) = pty();
        let mut h = start(&path, Suffix::None);
        wait_status(&mut h, ScannerStatus::is_connected).await;
        timeout(T, master.write_all(b"NOSUFFIX1"))
            .await
            .expect("write deadline")
            .expect("write");
        let got = timeout(T, h.rx.recv()).await.expect("scan deadline");
        assert_eq!(got, Some(("B1".to_string(), b"NOSUFFIX1".to_vec())));

        // Closing the sink ends the actor on the next scan.
        drop(h.rx);
        timeout(T, master.write_all(b"MORE"))
            .await
            .expect("write deadline")
            .expect("write");
        timeout(T, h.task)
            .await
            .expect("actor stops")
            .expect("no panic");
        assert_eq!(*h.status.borrow(), ScannerStatus::Stopped);
    }

    /// With the fallback poll at a minute only the port's appearance can reopen it: each
    /// replug (a link made to a new pty) is opened, and a scan written the moment the link
    /// is in place — before the actor opened the port — is delivered within 0.5 s of the
    /// replug, not flushed.
    #[tokio::test]
    async fn replug_wakes_the_actor_and_nothing_waiting_is_flushed() {
        const MINUTE: Duration = Duration::from_secs(60);
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("usb-Scanner-if00");
        let mut h = start_polling(&link.to_string_lossy(), Suffix::Cr, MINUTE, MINUTE);
        wait_status(&mut h, |s| matches!(s, ScannerStatus::Disconnected { .. })).await;
        for round in 0..3 {
            let (mut master, slave, path) = plugged();
            let replugged = Instant::now();
            std::os::unix::fs::symlink(&path, &link).expect("symlink");
            let code = format!("REPLUG{round}");
            timeout(T, master.write_all(format!("{code}\r").as_bytes()))
                .await
                .expect("write deadline")
                .expect("write");
            let got = timeout(Duration::from_millis(500), h.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("round {round}: no scan 0.5 s after the replug"));
            eprintln!("replug → scan delivered: {:?}", replugged.elapsed());
            assert_eq!(got, Some(("B1".to_string(), code.into_bytes())));
            assert!(h.status.borrow().is_connected());

            // Unplug: the link goes, the pty closes.
            std::fs::remove_file(&link).expect("remove the link");
            drop((master, slave));
            wait_status(&mut h, |s| matches!(s, ScannerStatus::Disconnected { .. })).await;
        }
        assert!(h.rx.try_recv().is_err(), "nothing delivered twice");
        shutdown(h).await;
    }
}
