//! What the service manager is told while the daemon runs (`sd_notify(3)`):
//!
//! - **`WATCHDOG=1`**, when the unit sets `WatchdogSec=`, sent only on progress: each ping
//!   follows a probe the engine answered after taking it through a batch of its own (the
//!   engine thread took an input and the writer got its transaction through). A wedged
//!   writer — a hung `fsync`, a stuck lock — answers nothing, the pings stop, and systemd
//!   restarts the daemon at `WatchdogSec` (committed work is on disk). A station stopped
//!   for storage still answers (it refuses work and re-verifies the disk by itself), so it
//!   keeps its pings: a restart would not help it.
//! - **`STATUS=`**, one line `systemctl status` shows: `ready` with the day's figures, or
//!   what is degraded — stopped for storage, the disk full or above its high-water mark, a
//!   device in alarm, the sync push failing with its backlog, the engine not answering.
//!   Sent when it changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::board::DeviceBoard;
use crate::config::Config;
use crate::engine::EngineHandle;
use crate::sync_status::{PushState, SharedStatus};

/// How often the `STATUS=` line is worked out again.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// What the two notifiers read.
#[derive(Clone)]
pub(super) struct Watch {
    pub cfg: Arc<Config>,
    pub engine: EngineHandle,
    pub board: DeviceBoard,
    pub sync: SharedStatus,
    /// Set while a probe is overdue (the watchdog withholds its pings).
    pub late: Arc<AtomicBool>,
}

/// Ping the watchdog at half its interval (as `sd_watchdog_enabled(3)` advises), each ping
/// only after a probe the engine answered; until `stop`. A no-op without `WatchdogSec=`.
pub(super) async fn watchdog(w: Watch, mut stop: watch::Receiver<bool>) {
    let Some(every) = crate::systemd::watchdog_interval() else {
        return;
    };
    let half = every / 2;
    tracing::info!(
        interval_ms = every.as_millis() as u64,
        "systemd watchdog on: pinged while the engine and its writer make progress"
    );
    loop {
        let probe = w.engine.probe();
        tokio::pin!(probe);
        loop {
            tokio::select! {
                _ = &mut probe => break,
                _ = tokio::time::sleep(half) => {
                    if !w.late.swap(true, Ordering::Relaxed) {
                        tracing::error!(
                            waited_ms = half.as_millis() as u64,
                            "the engine has not answered a probe: watchdog pings withheld (systemd restarts the daemon if this lasts)"
                        );
                        crate::systemd::notify(&format!("STATUS={}", status_line(&w, None)));
                    }
                }
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        if w.late.swap(false, Ordering::Relaxed) {
            tracing::warn!("the engine answers again: watchdog pings resume");
        }
        crate::systemd::notify("WATCHDOG=1");
        tokio::select! {
            _ = tokio::time::sleep(half) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Send `STATUS=` whenever the line changes; until `stop`. A no-op outside systemd.
pub(super) async fn status(w: Watch, mut stop: watch::Receiver<bool>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let mut last = String::new();
    let mut reader: Option<crate::store::Reader> = None;
    loop {
        let backlog = backlog(&w.cfg, &mut reader);
        let line = status_line(&w, backlog);
        if line != last {
            crate::systemd::notify(&format!("STATUS={line}"));
            last = line;
        }
        tokio::select! {
            _ = tokio::time::sleep(STATUS_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Events the central has not acknowledged, and how old the oldest is (none when the
/// database cannot be read just now, or no central is configured).
fn backlog(cfg: &Config, reader: &mut Option<crate::store::Reader>) -> Option<(i64, Duration)> {
    if cfg.sync.central_url.is_none() && cfg.sync.central_token.is_none() {
        return None;
    }
    if reader.is_none() {
        *reader = crate::store::Reader::open(&cfg.storage.database).ok();
    }
    let c = crate::store::sync_counters(reader.as_ref()?).ok()?;
    let age = c
        .oldest_unacked_at
        .map(|t| (chrono::Utc::now() - t).to_std().unwrap_or_default())
        .unwrap_or_default();
    Some((c.last_seq - c.acked_through, age))
}

/// A sync backlog is degraded once its oldest event waits longer than this.
const BACKLOG_AGE: Duration = Duration::from_secs(3600);

/// The one line: `ready — …` or `degraded: a; b; c`. `backlog`: events the central has not
/// acknowledged and the oldest one's age, shown beside a failing push, and on its own once
/// the oldest has waited over an hour.
pub(super) fn status_line(w: &Watch, backlog: Option<(i64, Duration)>) -> String {
    let stats = &w.engine.stats;
    let mut bad: Vec<String> = Vec::new();
    if w.late.load(Ordering::Relaxed) {
        bad.push("engine not answering (watchdog pings withheld)".into());
    }
    if let Some(fault) = stats.storage_fault() {
        bad.push(format!("stopped for storage: {fault}"));
    }
    let storage = &w.cfg.storage;
    let used = stats.disk_used.load(Ordering::Relaxed);
    if stats.fs_full.load(Ordering::Relaxed) {
        bad.push(format!(
            "filesystem full ({} free): new work refused",
            crate::format::mib(stats.fs_free.load(Ordering::Relaxed))
        ));
    } else if stats.cap_full.load(Ordering::Relaxed) {
        bad.push(format!(
            "disk cap reached ({} of {}): new work refused",
            crate::format::mib(used),
            crate::format::mib(storage.cap_bytes)
        ));
    } else if used >= storage.cap_bytes / 100 * u64::from(storage.high_water_pct) {
        bad.push(format!(
            "disk above high water ({} of {})",
            crate::format::mib(used),
            crate::format::mib(storage.cap_bytes)
        ));
    }
    for d in w.board.snapshot() {
        if d.state.is_alarm() {
            let mut s = format!("{} {} {}", d.kind.as_str(), d.id, d.state.as_str());
            if !d.faults.is_empty() {
                s.push_str(&format!(" ({})", d.faults.join(", ")));
            }
            bad.push(s);
        }
    }
    let push = crate::sync_status::snapshot(&w.sync).push;
    let failing = !matches!(
        push.state,
        PushState::Disabled | PushState::Idle | PushState::Sending
    );
    let waiting = backlog.filter(|(n, _)| *n > 0);
    match waiting {
        Some((n, age)) if failing || age >= BACKLOG_AGE => bad.push(format!(
            "sync push {}: {n} events not yet at the central, oldest {} min old",
            push.state.as_str(),
            age.as_secs() / 60
        )),
        _ if failing => bad.push(format!("sync push {}", push.state.as_str())),
        _ => {}
    }
    let scans = stats.scans.load(Ordering::Relaxed);
    let last_seq = stats.last_seq.load(Ordering::Relaxed);
    if bad.is_empty() {
        format!("ready — {scans} scans since start, journal at seq {last_seq}")
    } else {
        format!("degraded: {}", bad.join("; "))
    }
}
