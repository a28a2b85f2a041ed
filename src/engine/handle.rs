//! The handle every edge holds to reach the engine, and the closed set of inputs it sends
//! (each with where its answer goes).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::{Committed, EngineError, FeedApplied, FeedPage, Keep, Reply, Stats};
use crate::domain::ids::Badge;
use crate::domain::kind::Role;
use crate::domain::step::Command;
use crate::telemetry::Telemetry;

pub(super) enum Input {
    Scan {
        bench: String,
        bytes: Vec<u8>,
        at_ms: u64,
        /// When the handle took it: the start of its scan → durable and scan → label
        /// latencies.
        received: Instant,
        /// A client request id: its answer is kept, so a resubmission after an unknown
        /// outcome is answered, never recorded twice.
        keep: Option<Keep>,
        reply: oneshot::Sender<Reply>,
    },
    Command {
        badge: Badge,
        role: Option<Role>,
        cmd: Box<Command>,
        keep: Option<Keep>,
        reply: oneshot::Sender<Reply>,
    },
    /// Operator API sessions and lockouts (station-local rows, not journal events).
    Auth {
        writes: Vec<crate::store::api_state::AuthWrite>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// The central acknowledged the journal through `through` (push or pull).
    Ack {
        through: i64,
        reply: oneshot::Sender<Result<i64, EngineError>>,
    },
    /// A feed page: its items applied and its cursor stored in one transaction.
    Feed {
        page: FeedPage,
        reply: oneshot::Sender<Result<FeedApplied, EngineError>>,
    },
    /// Part of a manifest file (`manifest import`): versioned upserts in the group commit.
    Import {
        source: String,
        lines: Vec<crate::manifest::Line>,
        reply: oneshot::Sender<Result<crate::manifest::ImportReport, EngineError>>,
    },
    /// The print worker reports what happened to a job.
    PrintJob {
        update: crate::store::jobs::JobUpdate,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Prune acknowledged events older than the retention period.
    Prune {
        reply: oneshot::Sender<Result<i64, EngineError>>,
    },
    /// Is the engine alive? Answered after the batch it joins has committed (or failed):
    /// proof that the engine thread takes inputs and the writer gets its transaction
    /// through. The systemd watchdog pings only on these answers.
    Probe {
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// The daemon is stopping: commit what was sent before this, refuse what comes after.
    Close,
}

/// A scan the engine has queued; [`SubmittedScan::reply`] waits for its answer.
pub struct SubmittedScan {
    /// None: the engine had stopped before it took the scan.
    rx: Option<oneshot::Receiver<Reply>>,
    received: Instant,
    telemetry: Arc<Telemetry>,
}

impl SubmittedScan {
    /// The engine's answer, once the scan is durably recorded (or refused).
    pub async fn reply(self) -> Reply {
        let Some(rx) = self.rx else {
            return Reply::not_stored("engine_stopped");
        };
        let reply = rx
            .await
            .unwrap_or_else(|_| Reply::not_stored("engine_stopped"));
        if reply.stored {
            self.telemetry.scan_durable(self.received.elapsed());
        }
        reply
    }
}

/// A cheap, cloneable handle to the engine.
#[derive(Clone)]
pub struct EngineHandle {
    pub(super) tx: mpsc::Sender<Input>,
    pub(super) started: Instant,
    pub stats: Arc<Stats>,
    /// The latency histograms `/metrics` shows; the engine records the scans', the edges
    /// record theirs.
    pub telemetry: Arc<Telemetry>,
    pub events: broadcast::Sender<Committed>,
    /// Badges whose operator the central's feed deleted or whose roles or PIN it changed,
    /// announced after the commit (the API ends their sessions).
    pub operator_changes: broadcast::Sender<Vec<String>>,
    pub epoch: Arc<str>,
    /// The journal's local seqs to the epoch's wire seqs (the identity unless the database
    /// was restored): what the sync edges send and the central's acks are in wire seqs.
    pub seqs: Arc<crate::store::SeqMap>,
    /// Why the database is not where it was created (copied or moved): the sync edges send
    /// nothing under its epoch until `returnsd restore --confirm-moved`.
    pub moved: Option<Arc<str>>,
    /// `[[operators]]` as the engine and the API use them now; a reload replaces them.
    pub operators: crate::config::LiveOperators,
}

impl EngineHandle {
    /// Submit a scan from a bench; resolves once it is durably recorded (or refused).
    pub async fn scan(&self, bench: &str, bytes: Vec<u8>) -> Reply {
        self.scan_kept(bench, bytes, None).await
    }

    /// [`EngineHandle::scan`] with a client request id ([`Keep`]): a scan whose id was
    /// already answered gets that answer back ([`Kept::Replay`]) and is not recorded again.
    pub async fn scan_kept(&self, bench: &str, bytes: Vec<u8>, keep: Option<Keep>) -> Reply {
        self.submit_scan(bench, bytes, keep).await.reply().await
    }

    /// Queue a scan for the engine and return at once: its answer comes from
    /// [`SubmittedScan::reply`]. Scans submitted one after another from a bench are
    /// handled in that order, without each waiting for the previous one's commit, so a
    /// batch-upload scanner's burst shares group commits instead of paying one each.
    pub async fn submit_scan(
        &self,
        bench: &str,
        bytes: Vec<u8>,
        keep: Option<Keep>,
    ) -> SubmittedScan {
        let received = Instant::now();
        let at_ms = received.duration_since(self.started).as_millis() as u64;
        let (reply, rx) = oneshot::channel();
        let input = Input::Scan {
            bench: bench.to_string(),
            bytes,
            at_ms,
            received,
            keep,
            reply,
        };
        let rx = self.tx.send(input).await.ok().map(|()| rx);
        SubmittedScan {
            rx,
            received,
            telemetry: self.telemetry.clone(),
        }
    }

    /// Inputs sent to the engine and not yet answered: those in its channel, the batch
    /// being written and those waiting their turn.
    pub fn inputs_waiting(&self) -> u64 {
        let queued = self.tx.max_capacity().saturating_sub(self.tx.capacity()) as u64;
        queued
            + self
                .stats
                .inputs_taken
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Record the central's acknowledgement (`through` in the epoch's wire seqs); answers
    /// the cursor after it (never lower), in wire seqs too.
    pub async fn ack(&self, through: i64) -> Result<i64, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Ack { through, reply })
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Apply a feed page and store its cursor in the same transaction.
    pub async fn apply_feed(&self, page: FeedPage) -> Result<FeedApplied, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Feed { page, reply })
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Apply part of a manifest file (versioned upserts), committed between scans.
    pub async fn import(
        &self,
        source: String,
        lines: Vec<crate::manifest::Line>,
    ) -> Result<crate::manifest::ImportReport, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Import {
                source,
                lines,
                reply,
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Record a print job's progress (the print worker's only way to write).
    pub async fn print_job(
        &self,
        update: crate::store::jobs::JobUpdate,
    ) -> Result<(), EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::PrintJob { update, reply })
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Stop taking inputs: everything sent before is committed (and answered), later
    /// senders are told the engine stopped; the engine thread then ends even while
    /// handles are still alive (a lingering HTTP or control connection).
    pub async fn close(&self) {
        let _ = self.tx.send(Input::Close).await;
    }

    /// Prune acknowledged, expired events (a contiguous prefix of the journal); answers how
    /// many were removed.
    pub async fn prune(&self) -> Result<i64, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Prune { reply })
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Wait until the engine has taken a probe through a batch of its own (see
    /// [`Input::Probe`]): `Ok` when the batch committed, an error when storage refused it
    /// (the engine is alive either way). Never resolves while the writer is wedged.
    pub async fn probe(&self) -> Result<(), EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Probe { reply })
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Store operator API session and lockout changes (committed before the answer).
    pub async fn auth(
        &self,
        writes: Vec<crate::store::api_state::AuthWrite>,
    ) -> Result<(), EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Auth { writes, reply })
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Journal `operator.locked_out` for a badge (the operator API's lockout).
    pub async fn record_lockout(&self, badge: Badge, failures: u32, minutes: u32) -> Reply {
        let cmd = Command::RecordLockout {
            badge: badge.clone(),
            failures,
            minutes,
        };
        self.command(badge, None, cmd).await
    }

    /// End the bench logins of these badges (contract 1.1 § 6.5: a reload removed them or
    /// changed their roles, PIN or name). Journals nothing when none is logged in.
    pub async fn end_bench_sessions(&self, badges: &[String]) -> Option<Reply> {
        let badges: Vec<Badge> = badges.iter().filter_map(|b| Badge::parse(b).ok()).collect();
        let first = badges.first()?.clone();
        Some(
            self.command(first, None, Command::EndSessions { badges })
                .await,
        )
    }

    /// Submit an operator command. The operator is checked against the reference data;
    /// `role` picks which of their roles they act in (default: their most capable).
    pub async fn command(&self, badge: Badge, role: Option<Role>, cmd: Command) -> Reply {
        self.command_kept(badge, role, cmd, None).await
    }

    /// [`EngineHandle::command`] with an optional `Idempotency-Key` ([`Keep`]): see
    /// [`Reply::kept`] for what became of it.
    pub async fn command_kept(
        &self,
        badge: Badge,
        role: Option<Role>,
        cmd: Command,
        keep: Option<Keep>,
    ) -> Reply {
        let (reply, rx) = oneshot::channel();
        let input = Input::Command {
            badge,
            role,
            cmd: Box::new(cmd),
            keep,
            reply,
        };
        if self.tx.send(input).await.is_err() {
            return Reply::not_stored("engine_stopped");
        }
        rx.await
            .unwrap_or_else(|_| Reply::not_stored("engine_stopped"))
    }
}
