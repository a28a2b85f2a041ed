//! The print worker's loop: reads the next due job, renders it once for the chosen
//! printer, sends it, asks the printer's status until it is done, and reports each step
//! to the engine (the one writer) as a [`JobUpdate`]; failover between the two printers
//! and an idle printer's status polls.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::transport::{self, Status};
use crate::board::{DeviceBoard, DeviceKind, DeviceState};
use crate::domain::step::Effect;
use crate::engine::EngineHandle;
use crate::label::template::Templates;
use crate::label::text::Font;
use crate::labels::printer_config::{PrinterConfig, PrinterTarget};
use crate::labels::{PrintError, PrintSettings, load_font, render_job};
use crate::store::SharedReader;
use crate::store::jobs::{self, Job, JobUpdate};

/// The board id of a printer.
pub fn board_id(t: &PrinterTarget) -> String {
    format!("printer:{}", t.name)
}

/// In-memory health of one printer (for failover; the truth is on the board).
#[derive(Debug, Default)]
struct Health {
    /// Failed attempts in a row (connect or write).
    failures: u32,
    /// Reported a fault at the last look.
    faulted: bool,
}

struct Worker {
    /// What labels show besides the database (station, time zone, defect-reason labels).
    settings: Arc<PrintSettings>,
    printers: PrinterConfig,
    engine: EngineHandle,
    board: DeviceBoard,
    font: Option<Arc<Font>>,
    templates: Arc<Templates>,
    health: [Health; 2],
    /// The queue's reads (a look and a render per label) on one kept connection: opening
    /// one per read cost more than the read.
    reader: SharedReader,
}

impl Worker {
    fn target(&self, i: usize) -> Option<&PrinterTarget> {
        if i == 0 {
            Some(&self.printers.primary)
        } else {
            self.printers.secondary.as_ref()
        }
    }

    fn unhealthy(&self, i: usize) -> bool {
        let h = &self.health[i];
        h.faulted || h.failures >= self.printers.failover_after
    }

    /// Which printer the next attempt goes to: the primary, unless it is unhealthy and the
    /// secondary is not.
    fn choose(&self) -> usize {
        if self.printers.secondary.is_some() && self.unhealthy(0) && !self.unhealthy(1) {
            1
        } else {
            0
        }
    }

    fn set_board(&self, i: usize, st: &Status) {
        let Some(t) = self.target(i) else { return };
        let (state, detail, faults) = match st {
            Status::Idle | Status::Busy => (DeviceState::Ok, None, Vec::new()),
            Status::Fault(f) => (DeviceState::Fault, None, f.clone()),
            Status::Unknown => (
                DeviceState::Unknown,
                Some("no answer to the status query".to_string()),
                Vec::new(),
            ),
            Status::Lost => (
                DeviceState::Offline,
                Some("connection lost before the printer answered".to_string()),
                Vec::new(),
            ),
        };
        self.board.set(&board_id(t), state, detail, faults);
    }

    fn offline(&mut self, i: usize, error: &str) {
        self.health[i].failures += 1;
        if let Some(t) = self.target(i) {
            self.board.set(
                &board_id(t),
                DeviceState::Offline,
                Some(error.to_string()),
                Vec::new(),
            );
        }
    }

    async fn update(&self, u: JobUpdate) {
        // The engine refuses only when the database fails; the job then stays as it was
        // on disk (queued or sent) and is looked at again.
        if let Err(e) = self.engine.print_job(u).await {
            tracing::error!(error = %e, "print job update not stored; the job is looked at again shortly");
            // Do not spin on a job whose progress cannot be recorded.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// One attempt at one job: its bytes for the chosen printer, sent, then confirmed.
    /// Freshly rendered bytes are recorded with the job right after they were sent: the
    /// label leaves after the scan's own commit, with no second fsync on its way (a crash
    /// between the two prints the job again after the restart — as a crash between the
    /// send and its `sent` record always did).
    async fn attempt(&mut self, job: Job) {
        let i = self.choose();
        let Some(target) = self.target(i).cloned() else {
            return;
        };
        let Some((bytes, fresh)) = self.bytes_for(&job, &target).await else {
            return;
        };
        let sent = self.send(i, &job, &target, &bytes).await;
        if fresh {
            self.update(JobUpdate::Rendered {
                id: job.id,
                language: target.language.clone(),
                dpi: target.dpi,
                bytes,
            })
            .await;
        }
        let Some(conn) = sent else {
            return;
        };
        self.confirm(i, &job, &target, conn).await;
    }

    /// The bytes to send, and whether they were rendered now (not yet kept with the job):
    /// rendered once per printer language and resolution (the bytes kept with the job are
    /// the bytes sent). None when the job cannot be rendered: it is failed, for an
    /// operator to fix and reprint.
    async fn bytes_for(&self, job: &Job, target: &PrinterTarget) -> Option<(Vec<u8>, bool)> {
        if let (Some(b), Some(l), Some(d)) = (&job.bytes, &job.language, job.dpi)
            && *l == target.language
            && d == i64::from(target.dpi)
        {
            return Some((b.clone(), false));
        }
        let settings = self.settings.clone();
        let templates = self.templates.clone();
        let font = self.font.clone();
        let t = target.clone();
        let j = job.clone();
        let reader = self.reader.clone();
        let r = tokio::task::spawn_blocking(move || {
            reader
                .with(|db| {
                    Ok(render_job(
                        db,
                        &settings,
                        &templates,
                        &t,
                        font.as_deref(),
                        &j,
                    ))
                })
                .map_err(PrintError::from)
                .and_then(|r| r)
        })
        .await
        .map_err(|e| PrintError::Task(e.to_string()))
        .and_then(|r| r);
        match r {
            Ok(b) => Some((b, true)),
            Err(e) => {
                tracing::error!(job = job.id, subject = %job.subject, template = %job.template, error = %e, "PRINT JOB FAILED: cannot render the label; fix the cause and reprint");
                self.engine.telemetry.label_failed(job.id);
                self.update(JobUpdate::Failed {
                    id: job.id,
                    error: e.to_string(),
                })
                .await;
                None
            }
        }
    }

    /// Open printer `i` and send the bytes. None when it cannot be reached: the job stays
    /// queued for a retry (at once on the secondary when this failure fails over).
    async fn send(
        &mut self,
        i: usize,
        job: &Job,
        target: &PrinterTarget,
        bytes: &[u8],
    ) -> Option<transport::Conn> {
        let name = format!(
            "{}-{}-{}.{}",
            job.subject, job.template, job.id, target.language
        );
        let sent = async {
            let mut c = transport::open(target).await?;
            c.send(&name, bytes).await?;
            Ok::<_, String>(c)
        }
        .await;
        match sent {
            Ok(c) => {
                self.engine.telemetry.label_sent(job.id);
                self.health[i].failures = 0;
                self.board.count(&board_id(target));
                Some(c)
            }
            Err(e) => {
                self.offline(i, &e);
                let failover_now = i == 0
                    && self.printers.secondary.is_some()
                    && self.unhealthy(0)
                    && !self.unhealthy(1);
                let delay = if failover_now {
                    Duration::ZERO
                } else {
                    retry_delay(job.attempts, self.printers.retry_cap)
                };
                tracing::warn!(job = job.id, subject = %job.subject, printer = target.name, error = %e, attempt = job.attempts + 1, retry_in_ms = delay.as_millis() as u64, "printer unreachable; the job stays queued");
                self.update(JobUpdate::Retry {
                    id: job.id,
                    error: e,
                    retry_at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                })
                .await;
                None
            }
        }
    }

    /// Sent: ask until the printer says it is done (or faulted, or silent), then record
    /// `sent` — and `confirmed` when it is done with no fault.
    async fn confirm(
        &mut self,
        i: usize,
        job: &Job,
        target: &PrinterTarget,
        mut conn: transport::Conn,
    ) {
        let deadline = tokio::time::Instant::now() + self.printers.confirm_timeout;
        let status = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let st = conn
                .status(&target.language, left.min(Duration::from_secs(2)))
                .await;
            if st != Status::Busy || left.is_zero() {
                break st;
            }
            // A printer still printing: ask again shortly.
            tokio::time::sleep(Duration::from_millis(100).min(left)).await;
        };
        self.health[i].faulted = matches!(status, Status::Fault(_));
        self.set_board(i, &status);
        log_sent(job, target, &status);
        let now = Utc::now();
        if status == Status::Lost && job.last_error.as_deref() != Some(LOST_RESENT) {
            // The printer went away with the job in hand (rebooted, unplugged, its buffer
            // gone): nothing says the label came out, and a later "idle" from the restarted
            // printer must not confirm it. The job stays queued and is sent again — at least
            // once, so a label may come out twice, never zero times.
            self.health[i].failures += 1;
            self.update(JobUpdate::Retry {
                id: job.id,
                error: LOST_RESENT.to_string(),
                retry_at: now,
            })
            .await;
            return;
        }
        let note = match &status {
            Status::Idle => None,
            Status::Busy => Some("printer still busy; not confirmed yet".to_string()),
            Status::Fault(f) => Some(format!("printer fault: {}", f.join(", "))),
            Status::Unknown => Some("printer status unknown (no answer)".to_string()),
            Status::Lost => Some(
                "connection lost before the printer answered, twice in a row; not sent again"
                    .to_string(),
            ),
        };
        self.update(JobUpdate::Sent {
            id: job.id,
            printer: target.name.to_string(),
            at: now,
            note,
        })
        .await;
        if status == Status::Idle {
            self.update(JobUpdate::Confirmed {
                id: job.id,
                at: now,
            })
            .await;
        }
    }

    /// Ask every printer's status; an idle one confirms what it took.
    async fn poll_status(&mut self) {
        for i in 0..2 {
            let Some(t) = self.target(i).cloned() else {
                continue;
            };
            let st = match transport::open(&t).await {
                Ok(mut c) => c.status(&t.language, Duration::from_secs(2)).await,
                Err(e) => {
                    self.offline(i, &e);
                    continue;
                }
            };
            self.health[i].failures = 0;
            self.health[i].faulted = matches!(st, Status::Fault(_));
            self.set_board(i, &st);
            if st == Status::Idle {
                self.update(JobUpdate::ConfirmAllSent {
                    printer: t.name.to_string(),
                    at: Utc::now(),
                })
                .await;
            }
        }
    }
}

/// The error a job is queued again with when its connection ended before the printer
/// answered. A job whose previous attempt ended so too is not sent a third time: a printer
/// that closes every connection after a job (and so never answers on it) prints each label
/// at most twice, and the job is left `sent` with a note. Earlier attempts that could not
/// reach the printer at all (it was down) do not count against the resend.
const LOST_RESENT: &str = "connection lost before the printer answered; the label is sent again";

/// Wait before attempt `attempts + 1`: 1 s doubling, capped.
fn retry_delay(attempts: i64, cap: Duration) -> Duration {
    let exp = attempts.clamp(0, 16) as u32;
    Duration::from_secs(1u64 << exp).min(cap)
}

/// What the printer said after taking a job, for the log.
fn log_sent(job: &Job, target: &PrinterTarget, status: &Status) {
    match status {
        Status::Idle => {
            tracing::info!(job = job.id, subject = %job.subject, reason = %job.reason, printer = target.name, "label printed (confirmed by the printer)")
        }
        Status::Fault(f) => {
            tracing::warn!(job = job.id, subject = %job.subject, printer = target.name, faults = %f.join(","), "label sent; PRINTER FAULT: it prints once the fault is cleared")
        }
        Status::Unknown => {
            tracing::warn!(job = job.id, subject = %job.subject, printer = target.name, "label sent; printer status unknown (no answer to the status query)")
        }
        Status::Busy => {
            tracing::info!(job = job.id, subject = %job.subject, printer = target.name, "label sent; printer still busy")
        }
        Status::Lost => {
            tracing::warn!(job = job.id, subject = %job.subject, printer = target.name, attempt = job.attempts + 1, "label sent; the connection ended before the printer answered (it may not have printed)")
        }
    }
}

/// Read the next due job and when the next one becomes due.
fn look(reader: &SharedReader) -> Result<(Option<Job>, Option<DateTime<Utc>>), PrintError> {
    Ok(reader.with(|db| Ok((jobs::next_due(db, Utc::now())?, jobs::next_wake(db)?)))?)
}

/// Run the print queue until `stop`. `wake` carries the engine's print effects (the jobs
/// themselves are already in the queue; a message only says "look again").
pub async fn run(
    settings: PrintSettings,
    engine: EngineHandle,
    board: DeviceBoard,
    mut wake: tokio::sync::mpsc::UnboundedReceiver<Effect>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(printers) = settings.printer.clone() else {
        // No printer: jobs stay queued (visible in `returnsd print queue`) until one is
        // configured.
        loop {
            tokio::select! {
                e = wake.recv() => match e {
                    Some(Effect::PrintLabel { return_id, template, .. }) => tracing::info!(return_id = %return_id.as_str(), template, "label job queued (no printer configured)"),
                    Some(Effect::PrintRtvNote { note_no }) => tracing::info!(note = %note_no, "RTV note label queued (no printer configured)"),
                    None => return,
                },
                _ = stop.changed() => return,
            }
        }
    };
    for t in std::iter::once(&printers.primary).chain(printers.secondary.as_ref()) {
        board.register(
            &board_id(t),
            DeviceKind::Printer,
            t.transport.kind(),
            &t.transport.location(),
            None,
        );
    }
    let font = tokio::task::spawn_blocking({
        let p = printers.clone();
        move || load_font(&p)
    })
    .await
    .ok()
    .flatten();
    let templates = match Templates::load(printers.templates.as_deref()) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            // check-config reports this before start; at run time the built-in ones serve.
            tracing::error!(error = %e, "label templates: using the built-in ones");
            match Templates::builtin() {
                Ok(t) => Arc::new(t.clone()),
                Err(e) => {
                    tracing::error!(error = %e, "built-in label templates are broken; jobs stay queued");
                    return;
                }
            }
        }
    };
    let settings = Arc::new(settings);
    let mut w = Worker {
        settings: settings.clone(),
        printers,
        engine,
        board,
        font,
        templates,
        health: Default::default(),
        reader: SharedReader::new(&settings.database),
    };
    w.poll_status().await;
    let interval = w.printers.status_interval;
    let mut next_poll = tokio::time::Instant::now() + interval;
    loop {
        if *stop.borrow() {
            return;
        }
        let reader = w.reader.clone();
        let looked = tokio::task::spawn_blocking(move || look(&reader))
            .await
            .map_err(|e| PrintError::Task(e.to_string()))
            .and_then(|r| r);
        let wait = match looked {
            Ok((Some(job), _)) => {
                w.attempt(job).await;
                continue;
            }
            Ok((None, Some(at))) => (at - Utc::now()).to_std().unwrap_or(Duration::ZERO),
            Ok((None, None)) => Duration::from_secs(3600),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the print queue; retrying");
                Duration::from_secs(1)
            }
        };
        let wait = wait.max(Duration::from_millis(5));
        let poll_in = next_poll.saturating_duration_since(tokio::time::Instant::now());
        let polling = !interval.is_zero();
        tokio::select! {
            m = wake.recv() => {
                if m.is_none() {
                    return;
                }
            }
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::time::sleep(poll_in), if polling => {
                w.poll_status().await;
                next_poll = tokio::time::Instant::now() + interval;
            }
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{tspl_status, zpl_status};
    use super::*;

    /// Every fault a printer can report has a message in both languages.
    #[test]
    fn every_printer_fault_is_translated() {
        let known: Vec<&str> = crate::i18n::codes().collect();
        let zpl = zpl_status::ZplStatus {
            paper_out: true,
            paused: true,
            buffer_full: true,
            under_temperature: true,
            over_temperature: true,
            head_open: true,
            ribbon_out: true,
            formats_in_buffer: 0,
        };
        for f in zpl
            .faults()
            .into_iter()
            .chain(tspl_status::TsplStatus(0xff).faults())
        {
            let code = format!("printer.fault.{f}");
            assert!(known.contains(&code.as_str()), "{code} has no translation");
        }
    }

    #[test]
    fn retry_delay_doubles_to_the_cap() {
        let cap = Duration::from_secs(30);
        assert_eq!(retry_delay(0, cap), Duration::from_secs(1));
        assert_eq!(retry_delay(3, cap), Duration::from_secs(8));
        assert_eq!(retry_delay(10, cap), cap);
        assert_eq!(retry_delay(-1, cap), Duration::from_secs(1));
    }
}
