//! One handler per input kind: what each input writes into the open batch and what its
//! sender will be told. Nothing here commits; the writer does, then answers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::handle::Input;
use super::keep::{KEEP_MS, Keep, keep_answer, kept_reply};
use super::stats::Stats;
use super::types::{Committed, EngineError, FeedApplied, FeedPage, Reply};
use crate::config::Config;
use crate::domain::doubleread::DoubleReadFilter;
use crate::domain::error::DomainError;
use crate::domain::ids::Badge;
use crate::domain::kind::Role;
use crate::domain::model::Station;
use crate::domain::ports::{Lookup, Settings};
use crate::domain::scan::ScanGrammar;
use crate::domain::step::{Command, Effect, Operator, Transition, step};
use crate::refdata::DbLookup;
use crate::store::{Batch, StoreError};

/// What the input handlers work on: the folded state and what they need to decide.
pub(super) struct Core {
    /// The projections as of the last commit (plus the batch's events while one is open).
    pub(super) station: Station,
    pub(super) cfg: Arc<Config>,
    /// The rules' settings, taken from the config once.
    pub(super) settings: Settings,
    pub(super) grammar: ScanGrammar,
    /// Drops a trigger pull read twice; only committed reads open its window.
    pub(super) filter: DoubleReadFilter,
    pub(super) stats: Arc<Stats>,
    /// The central's acks are in the epoch's wire seqs; the cursor is kept in local ones.
    pub(super) seqs: Arc<crate::store::SeqMap>,
    /// `[[operators]]` as the last reload left them.
    pub(super) operators: crate::config::LiveOperators,
    /// Test-only fault: end the process right after the batch holding a scan of this code
    /// commits, before anyone is answered (`RETURNSD_TEST_ABORT_AFTER_SCAN`; never set in
    /// production). It is how the tests make "the daemon died mid-request" happen at a
    /// known point.
    pub(super) abort_after_scan: Option<Vec<u8>>,
}

/// An answer held until the batch commits (or fails), with where it goes.
pub(super) enum Pending {
    Reply(oneshot::Sender<Reply>, Reply),
    Count(
        oneshot::Sender<Result<i64, EngineError>>,
        Result<i64, EngineError>,
    ),
    Feed(
        oneshot::Sender<Result<FeedApplied, EngineError>>,
        Result<FeedApplied, EngineError>,
    ),
    Done(
        oneshot::Sender<Result<(), EngineError>>,
        Result<(), EngineError>,
    ),
    Import(
        oneshot::Sender<Result<crate::manifest::ImportReport, EngineError>>,
        Result<crate::manifest::ImportReport, EngineError>,
    ),
}

impl Pending {
    /// The batch committed: say what was decided.
    pub(super) fn send(self) {
        let _ = match self {
            Pending::Reply(tx, r) => tx.send(r).map_err(drop),
            Pending::Count(tx, r) => tx.send(r).map_err(drop),
            Pending::Feed(tx, r) => tx.send(r).map_err(drop),
            Pending::Done(tx, r) => tx.send(r).map_err(drop),
            Pending::Import(tx, r) => tx.send(r).map_err(drop),
        };
    }

    /// Nothing of the batch is on disk: say so (`code` for operators' replies).
    pub(super) fn fail(self, code: &str, detail: &str) {
        let why = EngineError::NotStored(detail.to_string());
        let _ = match self {
            Pending::Reply(tx, _) => tx.send(Reply::not_stored(code)).map_err(drop),
            Pending::Count(tx, _) => tx.send(Err(why)).map_err(drop),
            Pending::Feed(tx, _) => tx.send(Err(why)).map_err(drop),
            Pending::Done(tx, _) => tx.send(Err(why)).map_err(drop),
            Pending::Import(tx, _) => tx.send(Err(why)).map_err(drop),
        };
    }
}

/// What a batch produced besides its answers: sent on only once it has committed.
#[derive(Default)]
pub(super) struct Out {
    pub(super) pending: Vec<Pending>,
    pub(super) effects: Vec<Effect>,
    /// The label jobs queued, with when the scan that asked for each reached the engine
    /// (None for a command's).
    pub(super) jobs: Vec<(i64, Option<Instant>)>,
    pub(super) committed: Vec<Committed>,
    /// Events pruned in this batch.
    pub(super) pruned: i64,
    /// The test-only abort hook matched a scan of this batch.
    pub(super) abort: bool,
    /// Feed operators deleted or changed in this batch (announced once it commits).
    pub(super) operators_changed: Vec<String>,
    /// Returns this batch recalled or changed: those no longer open work are let go of
    /// once it commits (`recall`).
    pub(super) touched: Vec<crate::domain::ids::ReturnId>,
    /// RTV notes this batch recalled or closed: closed ones leave memory after it commits.
    pub(super) notes_touched: Vec<String>,
}

impl Out {
    /// Hold an input's answer until the batch ends; a database error fails the whole
    /// batch (`pending` gets `None` then: the answer will be "not stored" whatever it says).
    fn hold<T>(
        &mut self,
        r: Result<T, StoreError>,
        pending: impl FnOnce(Option<T>) -> Pending,
    ) -> Result<(), StoreError> {
        match r {
            Ok(v) => {
                self.pending.push(pending(Some(v)));
                Ok(())
            }
            Err(e) => {
                self.pending.push(pending(None));
                Err(e)
            }
        }
    }
}

fn apply_feed_page(
    batch: &Batch<'_>,
    page: &FeedPage,
    now: DateTime<Utc>,
) -> Result<FeedApplied, StoreError> {
    use crate::feed::Applied;
    let mut out = FeedApplied::default();
    for item in &page.items {
        let before = match item.ty.as_str() {
            "operator" => crate::store::feed_items::get(batch, "operator", &item.key)?,
            _ => None,
        };
        let applied = crate::feed::apply(batch, item, "central", now)?;
        if let Some((_, old)) = &before
            && operator_changed(old, &applied, item.data.as_ref())
        {
            out.operators_changed.push(item.key.clone());
        }
        match applied {
            Applied::Stored => out.stored += 1,
            Applied::Deleted => out.deleted += 1,
            Applied::Stale => out.stale += 1,
            Applied::Rejected(reason) => {
                tracing::warn!(ty = %item.ty, key = %item.key, %reason, "feed item rejected");
                out.rejected += 1;
            }
        }
    }
    for (reason, raw) in &page.malformed {
        crate::feed::reject(batch, None, reason, "central", raw, now)?;
        tracing::warn!(%reason, "malformed feed item rejected");
        out.rejected += 1;
    }
    crate::store::set_feed_after(batch.conn(), &page.next_after)?;
    Ok(out)
}

/// A stored `operator` item was deleted, or its roles or PIN changed (not merely its name or
/// version): the sessions it opened no longer speak for it.
fn operator_changed(
    old: &serde_json::Value,
    applied: &crate::feed::Applied,
    new: Option<&serde_json::Value>,
) -> bool {
    match (applied, new) {
        (crate::feed::Applied::Deleted, _) => true,
        (crate::feed::Applied::Stored, Some(new)) => {
            old.get("roles") != new.get("roles") || old.get("pin_hash") != new.get("pin_hash")
        }
        _ => false,
    }
}

fn authorize(lk: &dyn Lookup, badge: &Badge, role: Option<Role>) -> Result<Operator, DomainError> {
    let op = lk
        .operator(badge.as_str())
        .ok_or_else(|| DomainError::UnknownOperator {
            badge: badge.as_str().to_string(),
        })?;
    let role = match role {
        Some(r) if op.has(r) => r,
        Some(r) => {
            return Err(DomainError::RoleNotAllowed {
                role: r,
                action: "act_as",
            });
        }
        None => op.primary_role(),
    };
    Ok(Operator {
        badge: badge.clone(),
        role,
    })
}

fn set_operator(cmd: &mut Command, op: Operator) {
    match cmd {
        Command::Scan { .. } | Command::RecordLockout { .. } | Command::EndSessions { .. } => {}
        Command::Inspect { by, .. }
        | Command::PutAway { by, .. }
        | Command::ExchangeShipped { by, .. }
        | Command::Restock { by, .. }
        | Command::CreateRtvNote { by, .. }
        | Command::Reprint { by, .. }
        | Command::Void { by, .. }
        | Command::SetBin { by, .. }
        | Command::Unlock { by, .. }
        | Command::PhotoLost { by, .. }
        | Command::CloseRtvNote { by, .. } => *by = op,
    }
}

impl Core {
    /// Take one input into the open batch. An error fails the batch (every input in it is
    /// answered "not stored"); a refusal by the rules is an answer, not an error.
    pub(super) fn handle(
        &mut self,
        batch: &mut Batch<'_>,
        input: Input,
        now: DateTime<Utc>,
        cap_full: bool,
        out: &mut Out,
    ) -> Result<(), StoreError> {
        if cap_full && input.is_operator() && !input.acknowledges_a_lost_photo() {
            // The disk cap: new work is refused (not dropped: the sender is told NOT
            // SAVED) while the database, its WAL and the photos use the whole cap.
            self.stats.refused_full.fetch_add(1, Ordering::Relaxed);
            input.fail("storage_cap", "the disk cap is reached");
            return Ok(());
        }
        match input {
            // Taken out by the engine thread before batching.
            Input::Close => Ok(()),
            Input::Auth { writes, reply } => {
                let r = writes
                    .iter()
                    .try_for_each(|w| crate::store::api_state::apply(batch.conn(), w));
                out.hold(r, |_| Pending::Done(reply, Ok(())))
            }
            Input::Prune { reply } => {
                let r = self.prune(batch, now);
                if let Ok(n) = &r {
                    out.pruned += n;
                }
                out.hold(r, |n| Pending::Count(reply, Ok(n.unwrap_or(0))))
            }
            Input::Import {
                source,
                lines,
                reply,
            } => {
                let r = crate::manifest::apply(&*batch, &source, &lines, now);
                out.hold(r, |r| Pending::Import(reply, Ok(r.unwrap_or_default())))
            }
            Input::PrintJob { update, reply } => {
                let r = crate::store::jobs::apply(batch.conn(), &update);
                out.hold(r, |_| Pending::Done(reply, Ok(())))
            }
            Input::Probe { reply } => {
                out.hold(Ok::<(), StoreError>(()), |_| Pending::Done(reply, Ok(())))
            }
            Input::Ack { through, reply } => {
                // Checked and answered in the epoch's wire seqs, recorded in local ones.
                let seqs = &self.seqs;
                let last = seqs.to_wire(batch.next_seq_ref() - 1);
                let r = if through > last {
                    Ok(Err(EngineError::Refused(format!(
                        "acked_through {through} is beyond the journal's last seq {last}"
                    ))))
                } else if through < 0 {
                    Ok(Err(EngineError::Refused(
                        "acked_through must not be negative".to_string(),
                    )))
                } else {
                    crate::store::advance_ack(batch.conn(), seqs.to_local(through))
                        .map(|cursor| Ok(seqs.to_wire(cursor)))
                };
                out.hold(r, |a| Pending::Count(reply, a.unwrap_or(Ok(0))))
            }
            Input::Feed { page, reply } => {
                let mut r = apply_feed_page(batch, &page, now);
                if let Ok(a) = &r {
                    out.operators_changed
                        .extend(a.operators_changed.iter().cloned());
                    // Contract 1.1 § 6.5: their bench logins end with the page, at once.
                    let badges = a.operators_changed.clone();
                    if let Err(e) = self.end_bench_sessions(batch, &badges, now, out) {
                        r = Err(e);
                    }
                }
                out.hold(r, |a| Pending::Feed(reply, Ok(a.unwrap_or_default())))
            }
            Input::Scan {
                bench,
                bytes,
                at_ms,
                received,
                keep,
                reply,
            } => {
                let jobs = out.jobs.len();
                let r = self.scan(batch, bench, bytes, at_ms, keep, now, out);
                for (_, at) in &mut out.jobs[jobs..] {
                    *at = Some(received);
                }
                out.hold(r, |r| {
                    Pending::Reply(reply, r.unwrap_or_else(|| Reply::not_stored("")))
                })
            }
            Input::Command {
                badge,
                role,
                cmd,
                keep,
                reply,
            } => {
                let r = self.command(batch, badge, role, *cmd, keep, now, out);
                out.hold(r, |r| {
                    Pending::Reply(reply, r.unwrap_or_else(|| Reply::not_stored("")))
                })
            }
        }
    }

    /// Housekeeping of the API's rows (idle sessions, spent lockouts, idempotency answers
    /// past 24 h), then acknowledged events past the retention period.
    fn prune(&self, batch: &Batch<'_>, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let cutoff = now - chrono::Duration::from_std(self.cfg.sync.retention).unwrap_or_default();
        let http = &self.cfg.http;
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        crate::store::api_state::prune(
            batch.conn(),
            now.timestamp_millis(),
            ms(http.session_idle),
            ms(http.lockout_window),
            KEEP_MS,
        )?;
        crate::store::prune(batch.conn(), cutoff, 20_000)
    }

    /// A scan from a bench. A request id already answered gets its answer back; a double
    /// read of the bench's last committed read is dropped; anything else is journaled.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        batch: &mut Batch<'_>,
        bench: String,
        bytes: Vec<u8>,
        at_ms: u64,
        keep: Option<Keep>,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<Reply, StoreError> {
        self.stats.scans.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = kept_reply(batch.conn(), keep.as_ref(), now)? {
            return Ok(r);
        }
        if self.filter.is_double(&bench, &bytes, at_ms) {
            self.stats.double_reads.fetch_add(1, Ordering::Relaxed);
            let mut r = Reply::not_stored("double_read");
            r.ok = true;
            keep_answer(batch.conn(), keep, &mut r, now)?;
            return Ok(r);
        }
        out.abort |= self.abort_after_scan.as_deref() == Some(bytes.as_slice());
        let scan = self.grammar.classify(&bytes);
        self.recall_for_scan(batch.conn(), &bench, &scan.class, now, out)?;
        let operators = self.operators.get();
        let lk = DbLookup {
            db: &*batch,
            cfg: &self.cfg,
            operators: &operators,
        };
        let cmd = Command::Scan {
            bench,
            text: scan.text,
            class: scan.class,
        };
        let outcome = step(&self.station, &lk, &self.settings, cmd, now);
        self.record(batch, outcome, keep, now, out)
    }

    /// End the bench logins of `badges` (operators the reference data removed, or whose
    /// roles or PIN changed): `bench.return_released` and `operator.logged_out` by the
    /// station, in the batch that changed them. Nothing when none of them is logged in.
    pub(super) fn end_bench_sessions(
        &mut self,
        batch: &mut Batch<'_>,
        badges: &[String],
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<(), StoreError> {
        let badges: Vec<Badge> = badges.iter().filter_map(|b| Badge::parse(b).ok()).collect();
        let logged_in = self.station.benches.values().any(|b| {
            b.session
                .as_ref()
                .is_some_and(|s| badges.contains(&s.badge))
        });
        if !logged_in {
            return Ok(());
        }
        let operators = self.operators.get();
        let lk = DbLookup {
            db: &*batch,
            cfg: &self.cfg,
            operators: &operators,
        };
        let cmd = Command::EndSessions { badges };
        if let Ok(tr) = step(&self.station, &lk, &self.settings, cmd, now) {
            self.append(batch, tr, now, out)?;
        }
        Ok(())
    }

    /// An operator command, checked against the operator's roles.
    #[allow(clippy::too_many_arguments)]
    fn command(
        &mut self,
        batch: &mut Batch<'_>,
        badge: Badge,
        role: Option<Role>,
        mut cmd: Command,
        keep: Option<Keep>,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<Reply, StoreError> {
        if let Some(r) = kept_reply(batch.conn(), keep.as_ref(), now)? {
            return Ok(r);
        }
        self.recall_for_command(batch.conn(), &cmd, now, out)?;
        let operators = self.operators.get();
        let lk = DbLookup {
            db: &*batch,
            cfg: &self.cfg,
            operators: &operators,
        };
        let unlocks = match &cmd {
            Command::Unlock { badge, .. } => Some(badge.as_str().to_string()),
            _ => None,
        };
        let outcome = if matches!(
            cmd,
            Command::RecordLockout { .. } | Command::EndSessions { .. }
        ) {
            // The station's own record about a badge, not an operator's act.
            step(&self.station, &lk, &self.settings, cmd, now)
        } else {
            authorize(&lk, &badge, role).and_then(|op| {
                set_operator(&mut cmd, op);
                step(&self.station, &lk, &self.settings, cmd, now)
            })
        };
        if let (Some(badge), Ok(_)) = (unlocks, &outcome) {
            // The stored lockout goes with the event that lifts it.
            let clear = crate::store::api_state::AuthWrite::ClearLockout(badge);
            crate::store::api_state::apply(batch.conn(), &clear)?;
        }
        self.record(batch, outcome, keep, now, out)
    }

    /// Journal what the rules decided (or answer their refusal), with the key's answer in
    /// the same transaction.
    fn record(
        &mut self,
        batch: &mut Batch<'_>,
        outcome: Result<Transition, DomainError>,
        keep: Option<Keep>,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<Reply, StoreError> {
        let mut r = match outcome {
            Err(e) => Reply {
                ok: false,
                stored: false,
                code: e.code().to_string(),
                params: params_owned(e.params()),
                seqs: None,
                return_id: None,
                kept: None,
            },
            Ok(tr) => self.append(batch, tr, now, out)?,
        };
        // The key's answer is committed with the command's events, or neither is.
        keep_answer(batch.conn(), keep, &mut r, now)?;
        Ok(r)
    }

    /// Append a transition's events (folding each into the state) and queue its label
    /// jobs in the same transaction.
    fn append(
        &mut self,
        batch: &mut Batch<'_>,
        tr: Transition,
        now: DateTime<Utc>,
        out: &mut Out,
    ) -> Result<Reply, StoreError> {
        if tr.rejected.is_some() {
            self.stats.rejected_scans.fetch_add(1, Ordering::Relaxed);
        }
        let mut seqs: Option<(i64, i64)> = None;
        let mut return_id = None;
        for ev in &tr.events {
            let a = batch.append(ev)?;
            seqs = Some((seqs.map_or(a.seq, |s| s.0), a.seq));
            if return_id.is_none() {
                return_id = ev.return_id.as_ref().map(|r| r.to_string());
            }
            out.touched.extend(ev.return_id.iter().cloned());
            out.committed.push(Committed {
                seq: a.seq,
                ty: ev.body.type_name(),
                return_id: ev.return_id.as_ref().map(|r| r.to_string()),
            });
            self.station.apply(ev);
            // Bin edits and RTV notes keep their snapshot in `meta`.
            crate::store::snapshot::save_for_event(batch.conn(), &self.station, &ev.body)?;
        }
        let last = seqs.map(|s| s.1);
        // Each label job is queued in the same transaction as the event that asked for
        // it: committed together or not at all.
        for e in &tr.effects {
            let job = match e {
                Effect::PrintLabel {
                    return_id,
                    template,
                    reason,
                    item_no,
                } => crate::store::jobs::enqueue(
                    batch.conn(),
                    return_id.as_str(),
                    template,
                    reason.as_str(),
                    item_no.map(i64::from),
                    last,
                    now,
                )?,
                Effect::PrintRtvNote { note_no } => crate::store::jobs::enqueue(
                    batch.conn(),
                    note_no,
                    "rtv_note",
                    "first",
                    None,
                    last,
                    now,
                )?,
            };
            out.jobs.push((job, None));
        }
        out.effects.extend(tr.effects);
        Ok(Reply {
            ok: tr.feedback.ok,
            stored: true,
            code: tr.feedback.code.to_string(),
            params: params_owned(tr.feedback.params),
            seqs,
            return_id,
            kept: None,
        })
    }
}

fn params_owned(p: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    p.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl Input {
    /// The input was not taken: tell its sender (`code` for operators' replies).
    pub(super) fn fail(self, code: &str, detail: &str) {
        let p = match self {
            Input::Scan { reply, .. } | Input::Command { reply, .. } => {
                Pending::Reply(reply, Reply::not_stored(code))
            }
            Input::Auth { reply, .. } | Input::PrintJob { reply, .. } | Input::Probe { reply } => {
                Pending::Done(reply, Ok(()))
            }
            Input::Ack { reply, .. } | Input::Prune { reply } => Pending::Count(reply, Ok(0)),
            Input::Feed { reply, .. } => Pending::Feed(reply, Ok(FeedApplied::default())),
            Input::Import { reply, .. } => Pending::Import(reply, Ok(Default::default())),
            Input::Close => return,
        };
        p.fail(code, detail);
    }

    /// An operator's input (a scan or a command), as opposed to the station's own work.
    pub(super) fn is_operator(&self) -> bool {
        matches!(self, Input::Scan { .. } | Input::Command { .. })
    }

    /// A supervisor's `photo.lost`: taken even at the disk cap — one small event, and the
    /// photo may be what holds back the push whose acknowledgement (then the prune) frees
    /// the space.
    pub(super) fn acknowledges_a_lost_photo(&self) -> bool {
        matches!(self, Input::Command { cmd, .. } if matches!(**cmd, Command::PhotoLost { .. }))
    }
}
