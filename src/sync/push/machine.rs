//! The push worker's decisions as a state machine, without I/O: plain data in (`Input`,
//! with the time it happened), the next thing to do out (`Action`). It owns the batch
//! window, what each answer of the central means, the backoff, when photos go first and
//! the status operators read. The loop in `push/mod.rs` only performs actions.
//!
//! One round: `Read` → (`UploadPhotos` →) `Send` → `RecordAck` → `Read` …; any failure
//! turns into a `Wait` (then `Read` again: a round always restarts from the journal), a
//! `seq_conflict` into `Stop`.
//!
//! Architecture invariant: pure — no tokio, reqwest, database or clock
//! (`sync::tests::machines_are_pure`).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::sync::error::PushError;
use crate::sync::retry::{Backoff, Jitter, Now, RetrySettings, Wait, Wake};
use crate::sync_status::{
    BlockedPhoto, ClockReading, PhotoProblem, PushState, PushStatus, SyncStatus,
};

/// What one answer of the central means.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// 200: the central holds everything through this seq; its clock read `server_time`.
    Acked {
        through: i64,
        server_time: Option<DateTime<Utc>>,
    },
    /// 409, not a conflict: resend from `acked_through + 1`.
    Gap {
        acked_through: i64,
    },
    /// 409 `seq_conflict`: the central holds a different event for a seq.
    Conflict {
        acked_through: Option<i64>,
        detail: String,
    },
    TooLarge,
    Auth(u16),
    Rejected(u16, String),
    /// 5xx, timeouts, resets, TLS and connection errors.
    Transient(String),
}

/// The push's part of the `[sync]` config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushSettings {
    /// Most events per batch (the contract: 1,000).
    pub batch_max_events: usize,
    /// Most bytes of JSON per batch before gzip (the contract: 1 MiB).
    pub batch_max_bytes: usize,
    pub retry: RetrySettings,
    /// A clock offset beyond this alarms.
    pub clock_offset_limit: Duration,
}

/// An idle push looks at the journal again after this even without a commit notice (the
/// notice can be missed while a round runs).
const IDLE_RECHECK: Duration = Duration::from_secs(5);
/// Pause after the journal could not be read (a busy or damaged database; logged).
const READ_RETRY: Duration = Duration::from_secs(5);

/// One journal event as the machine weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub seq: i64,
    /// Its bytes in the batch body, separator included (`wire::Encoded::sizes`).
    pub bytes: usize,
    /// The sha256 of every photo it references.
    pub photos: Vec<String>,
}

/// A photo to upload before the batch that references it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// The event that references it (named in the alarm if it is missing).
    pub seq: i64,
    pub sha256: String,
}

/// What happened, as the loop tells it.
#[derive(Debug, PartialEq)]
pub enum Input {
    /// `Read` done: the events after `start` (the resend position, or the durable cursor
    /// on the first read), encoded; `envelope` is the body's bytes besides its events.
    Read {
        start: i64,
        envelope: usize,
        events: Vec<Candidate>,
    },
    /// Every photo of `UploadPhotos` is at the central.
    PhotosUploaded,
    /// The central's answer to a photo upload, other than stored (`wire::classify_blob`).
    PhotoRefused(Outcome),
    /// The central's answer to the batch (`wire::classify`).
    Answer(Outcome),
    /// The engine recorded the ack of `RecordAck`.
    AckRecorded,
    /// A step ended without an answer.
    Failed(PushError),
    /// A `Wait` ended (its deadline, or a wake-up).
    Woken,
}

/// What the loop must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read up to `max` journal events after `after` (None: after the durable cursor) and
    /// encode them; answer `Input::Read`.
    Read {
        after: Option<i64>,
        max: usize,
    },
    /// Upload these photos, in order; answer `PhotosUploaded` or the first refusal.
    UploadPhotos(Vec<Photo>),
    /// POST the first `events` events of the last read; answer `Answer`.
    Send {
        events: usize,
    },
    /// Record `acked_through` through the engine; answer `AckRecorded`.
    RecordAck {
        through: i64,
    },
    Wait(Wait),
    /// Pushing has stopped for good (until restart): wait for the daemon to stop.
    Stop,
}

/// Events per batch *(contract 1.1, § 4.5)*: halved on a `413`; the size that then
/// succeeds is kept, and the batch doubles again only after [`GROW_AFTER`] consecutive
/// acknowledged batches — and never again to a size the central refused (until restart).
/// A central with a smaller limit is not hit with `413` again and again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimit {
    current: usize,
    /// One less than the smallest batch the central refused.
    ceiling: usize,
    /// Acknowledged batches since the last `413` or the last doubling.
    streak: u32,
}

/// Consecutive acknowledged batches before the batch size doubles after a `413`.
pub const GROW_AFTER: u32 = 100;

impl BatchLimit {
    pub fn new(max: usize) -> BatchLimit {
        BatchLimit {
            current: max,
            ceiling: max,
            streak: 0,
        }
    }

    pub fn get(&self) -> usize {
        self.current
    }

    /// The central answered `413` to a batch of `sent` events (two or more).
    pub fn refused(&mut self, sent: usize) {
        self.ceiling = sent.saturating_sub(1).max(1).min(self.ceiling);
        self.current = (sent / 2).max(1);
        self.streak = 0;
    }

    /// A batch was acknowledged.
    pub fn succeeded(&mut self) {
        if self.current >= self.ceiling {
            return;
        }
        self.streak += 1;
        if self.streak >= GROW_AFTER {
            self.current = self.current.saturating_mul(2).min(self.ceiling);
            self.streak = 0;
        }
    }
}

/// How many events go in a batch: at most `max_events`, no more than `max_bytes` of JSON
/// with the `envelope` — but always the first, so an oversized event still goes, alone.
pub fn window(
    max_events: usize,
    max_bytes: usize,
    envelope: usize,
    sizes: impl IntoIterator<Item = usize>,
) -> usize {
    let mut total = envelope;
    let mut n = 0;
    for size in sizes.into_iter().take(max_events) {
        total += size;
        if n > 0 && total > max_bytes {
            break;
        }
        n += 1;
    }
    n
}

/// The batch of the current round, from its read to its answer.
#[derive(Debug, Clone, Copy)]
struct Batch {
    /// The resend position it was read from (its first seq − 1).
    start: i64,
    first: i64,
    last: i64,
    events: usize,
    /// When the POST went out (for the clock offset's round trip).
    sent: Option<Now>,
}

/// What the `RecordAck` in progress is for.
#[derive(Debug, Clone, Copy)]
enum Recording {
    /// A `200`: the round succeeds once the recording is under way (the loop records it
    /// beside the next send), and is resent if the recording fails.
    Ack {
        through: i64,
        start: i64,
        last: i64,
        clock: Option<ClockReading>,
    },
    /// A gap's `acked_through`: worth recording, not worth a retry.
    Gap,
}

pub struct PushMachine {
    settings: PushSettings,
    limit: BatchLimit,
    backoff: Backoff,
    /// Where the next batch starts. The durable cursor only moves forward, but after a
    /// partial ack or a gap the central may ask for events again. None until the first
    /// read says where the cursor is.
    next: Option<i64>,
    batch: Option<Batch>,
    recording: Option<Recording>,
    /// Set by every failed round; the next success tells the other workers the network is
    /// back (`take_network_back`).
    failing: bool,
    network_back: bool,
    status: PushStatus,
    /// A clock reading not yet published.
    fresh_clock: Option<ClockReading>,
    /// After a `seq_conflict`: nothing more is sent until restart.
    stopped: bool,
}

impl PushMachine {
    /// `jitter` draws the backoff's randomness (the loop passes the OS RNG).
    pub fn new(settings: PushSettings, jitter: Jitter) -> PushMachine {
        PushMachine {
            settings,
            limit: BatchLimit::new(settings.batch_max_events),
            backoff: Backoff::new(settings.retry.backoff_cap, jitter),
            next: None,
            batch: None,
            recording: None,
            failing: false,
            network_back: false,
            status: PushStatus {
                state: PushState::Idle,
                batch_limit: settings.batch_max_events,
                ..Default::default()
            },
            fresh_clock: None,
            stopped: false,
        }
    }

    /// The first action.
    pub fn start(&self) -> Action {
        self.read()
    }

    /// Take in what happened at `now`; say what to do next.
    pub fn handle(&mut self, input: Input, now: Now) -> Action {
        if self.stopped {
            return Action::Stop;
        }
        match input {
            Input::Read {
                start,
                envelope,
                events,
            } => self.on_read(start, envelope, events, now),
            Input::PhotosUploaded => self.send(now),
            Input::PhotoRefused(outcome) => self.fail(outcome, now),
            Input::Answer(outcome) => self.on_answer(outcome, now),
            Input::AckRecorded => self.on_ack_recorded(now),
            Input::Failed(e) => self.on_error(e, now),
            Input::Woken => self.read(),
        }
    }

    pub fn status(&self) -> &PushStatus {
        &self.status
    }

    /// Copy the push's section (and a fresh clock reading) into the shared status.
    pub fn publish(&mut self, s: &mut SyncStatus) {
        s.push.clone_from(&self.status);
        if let Some(c) = self.fresh_clock.take() {
            s.clock = Some(c);
        }
    }

    /// True once after a success that followed a failure: wake the other workers.
    pub fn take_network_back(&mut self) -> bool {
        std::mem::take(&mut self.network_back)
    }

    fn read(&self) -> Action {
        Action::Read {
            after: self.next.map(|n| n - 1),
            max: self.limit.get(),
        }
    }

    fn on_read(&mut self, start: i64, envelope: usize, events: Vec<Candidate>, now: Now) -> Action {
        self.next.get_or_insert(start + 1);
        let Some(first) = events.first().map(|e| e.seq) else {
            self.status.state = PushState::Idle;
            return Action::Wait(Wait {
                until: now.mono + IDLE_RECHECK,
                wake: Wake::NewEvents,
            });
        };
        if first > start + 1 {
            let detail = format!(
                "the central asks for seq {} but the station pruned through {} after the central had acknowledged them",
                start + 1,
                first - 1
            );
            return self.stop(Some(start), detail, now);
        }
        let sizes = events.iter().map(|e| e.bytes);
        let n = window(
            self.limit.get(),
            self.settings.batch_max_bytes,
            envelope,
            sizes,
        );
        let last = events.get(n.saturating_sub(1)).map_or(first, |e| e.seq);
        self.batch = Some(Batch {
            start,
            first,
            last,
            events: n,
            sent: None,
        });
        // Photos first: the central must hold every blob an event references.
        let photos: Vec<Photo> = events
            .into_iter()
            .take(n)
            .flat_map(|e| {
                let seq = e.seq;
                e.photos
                    .into_iter()
                    .map(move |sha256| Photo { seq, sha256 })
            })
            .collect();
        if photos.is_empty() {
            self.send(now)
        } else {
            Action::UploadPhotos(photos)
        }
    }

    fn send(&mut self, now: Now) -> Action {
        let Some(batch) = self.batch.as_mut() else {
            return self.read();
        };
        batch.sent = Some(now);
        self.status.state = PushState::Sending;
        self.status.blocked_photo = None;
        Action::Send {
            events: batch.events,
        }
    }

    fn on_answer(&mut self, outcome: Outcome, now: Now) -> Action {
        let Some(batch) = self.batch.take() else {
            return self.read();
        };
        match outcome {
            Outcome::Acked {
                through,
                server_time,
            } => {
                let clock = server_time.zip(batch.sent).map(|(t, sent)| {
                    let rtt = now.mono.saturating_duration_since(sent.mono);
                    ClockReading::measure(t, sent.wall, rtt, self.settings.clock_offset_limit)
                });
                self.recording = Some(Recording::Ack {
                    through,
                    start: batch.start,
                    last: batch.last,
                    clock,
                });
                Action::RecordAck { through }
            }
            Outcome::Gap { acked_through } => {
                tracing::warn!(acked_through, "central reports a gap; resending from there");
                self.next = Some(acked_through + 1);
                self.backoff.reset();
                self.recording = Some(Recording::Gap);
                Action::RecordAck {
                    through: acked_through,
                }
            }
            // Nothing left to halve: the central refuses one event. Alarm, keep it, retry
            // slowly (the central's limit may be raised).
            Outcome::TooLarge if batch.events <= 1 => {
                let text = format!(
                    "the central refuses event seq {} alone as too large",
                    batch.first
                );
                self.fail(Outcome::Rejected(413, text), now)
            }
            Outcome::TooLarge => {
                self.limit.refused(batch.events);
                tracing::warn!(
                    limit = self.limit.get(),
                    "central answered 413; halving the batch"
                );
                self.status.batch_limit = self.limit.get();
                self.read()
            }
            other => self.fail(other, now),
        }
    }

    fn on_ack_recorded(&mut self, now: Now) -> Action {
        let Some(Recording::Ack {
            through,
            start,
            last,
            clock,
        }) = self.recording.take()
        else {
            return self.read();
        };
        if through < last {
            tracing::info!(through, last_sent = last, "partial ack; resending the rest");
        }
        self.next = Some(through.max(start) + 1);
        self.backoff.reset();
        self.limit.succeeded();
        if let Some(c) = clock {
            if c.alarm {
                tracing::warn!(
                    offset_ms = c.offset_ms,
                    limit_ms = self.settings.clock_offset_limit.as_millis() as u64,
                    "station clock differs from the central's"
                );
            }
            self.fresh_clock = Some(c);
        }
        self.status.state = PushState::Idle;
        self.status.last_success = Some(now.wall);
        self.status.next_retry = None;
        self.status.batch_limit = self.limit.get();
        self.network_back |= std::mem::take(&mut self.failing);
        self.read()
    }

    fn on_error(&mut self, e: PushError, now: Now) -> Action {
        match e {
            PushError::Journal(_) => {
                tracing::error!(error = %e, "push cannot read the journal");
                Action::Wait(Wait::network(now, READ_RETRY))
            }
            PushError::Token(e) => {
                // Not the central's answer: the backoff keeps its count.
                self.batch = None;
                self.failing = true;
                tracing::error!(error = %e, "station token unreadable; events kept");
                self.slow(PushState::AuthFailed, e, now)
            }
            PushError::PhotoMissing { ref sha256, seq } => {
                let p = blocked(sha256, seq, PhotoProblem::Missing);
                self.photo_blocked(p, e.to_string(), now)
            }
            PushError::PhotoUnreadable {
                ref sha256,
                seq,
                damaged,
                ..
            } => {
                let problem = if damaged {
                    PhotoProblem::Damaged
                } else {
                    PhotoProblem::Unreadable
                };
                self.photo_blocked(blocked(sha256, seq, problem), e.to_string(), now)
            }
            PushError::Transport(_) | PushError::AnswerBody(_) => {
                self.fail(Outcome::Transient(e.to_string()), now)
            }
            PushError::Ack(e) => match self.recording.take() {
                Some(Recording::Ack { .. }) => {
                    tracing::error!(error = %e, "cannot record the ack; will resend");
                    self.back_off(e, now)
                }
                Some(Recording::Gap) => {
                    tracing::warn!(error = %e, "gap ack not recorded");
                    self.read()
                }
                // The loop records acks while the next batch goes out: this is an earlier
                // round's, reported late. The central holds those events; the next
                // recording covers them.
                None => {
                    tracing::warn!(error = %e, "an ack was not recorded; the next one covers it");
                    self.read()
                }
            },
        }
    }

    /// The station cannot upload a photo an event references (contract 1.1): alarm, keep
    /// every event, retry slowly — until the photo is back in the store, or a supervisor
    /// acknowledges it as lost and the next read carries it marked `"lost": true` (the
    /// machine is then not asked to upload it; a `photo.lost` ends the wait at once).
    fn photo_blocked(&mut self, photo: BlockedPhoto, error: String, now: Now) -> Action {
        self.batch = None;
        self.failing = true;
        let e = format!(
            "{error} (events kept); if it is lost for good a supervisor acknowledges it: {}",
            photo.command()
        );
        tracing::error!(error = %e, "push held back by a photo");
        self.backoff.reset();
        let d = self.settings.retry.slow_retry;
        self.alarm(PushState::Rejected, e, d, now);
        self.status.blocked_photo = Some(photo);
        // The supervisor's acknowledgement is what lets it go on: do not wait a slow
        // retry for it.
        Action::Wait(Wait {
            until: now.mono + d,
            wake: Wake::PhotoLost,
        })
    }

    /// A round failed with the central's (or the transport's) verdict.
    fn fail(&mut self, outcome: Outcome, now: Now) -> Action {
        self.batch = None;
        self.failing = true;
        match outcome {
            Outcome::Transient(e) => self.back_off(e, now),
            Outcome::Auth(code) => {
                let e = format!(
                    "HTTP {code}: the central refused the station token (events kept; fix the token file, it is re-read)"
                );
                tracing::error!(error = %e, "push refused");
                self.backoff.reset();
                self.slow(PushState::AuthFailed, e, now)
            }
            Outcome::Rejected(code, body) => {
                let e = format!("HTTP {code}: {body} (events kept)");
                tracing::error!(error = %e, "push rejected");
                self.backoff.reset();
                self.slow(PushState::Rejected, e, now)
            }
            Outcome::Conflict {
                acked_through,
                detail,
            } => self.stop(acked_through, detail, now),
            // Not failures; only a photo answer could bring them here, and
            // `classify_blob` never does.
            other @ (Outcome::Acked { .. } | Outcome::Gap { .. } | Outcome::TooLarge) => self.fail(
                Outcome::Rejected(0, format!("unexpected answer {other:?}")),
                now,
            ),
        }
    }

    /// A transient failure: capped exponential backoff with full jitter.
    fn back_off(&mut self, error: String, now: Now) -> Action {
        let d = self.backoff.next_delay();
        tracing::warn!(error = %error, retry_in_ms = d.as_millis() as u64, "push failed; retrying");
        self.alarm(PushState::Backoff, error, d, now);
        Action::Wait(Wait::network(now, d))
    }

    /// A failure an operator must fix: retry every `slow_retry`.
    fn slow(&mut self, state: PushState, error: String, now: Now) -> Action {
        let d = self.settings.retry.slow_retry;
        self.alarm(state, error, d, now);
        Action::Wait(Wait::network(now, d))
    }

    fn alarm(&mut self, state: PushState, error: String, retry_in: Duration, now: Now) {
        self.status.state = state;
        self.status.blocked_photo = None;
        self.status.last_error = Some(error);
        self.status.last_error_at = Some(now.wall);
        self.status.next_retry = Some(now.wall_after(retry_in));
    }

    /// The central holds different events than the station: stop, alarm, keep everything.
    fn stop(&mut self, acked_through: Option<i64>, detail: String, now: Now) -> Action {
        let e = format!(
            "seq_conflict: the central holds a different event for a seq after {acked_through:?} ({detail}); pushing stopped, every event kept — a supervisor must reconcile with the central"
        );
        tracing::error!(error = %e, "push stopped");
        self.stopped = true;
        self.batch = None;
        self.status.state = PushState::Conflict;
        self.status.blocked_photo = None;
        self.status.last_error = Some(e);
        self.status.last_error_at = Some(now.wall);
        self.status.next_retry = None;
        Action::Stop
    }
}

fn blocked(sha256: &str, seq: i64, problem: PhotoProblem) -> BlockedPhoto {
    BlockedPhoto {
        sha256: sha256.to_string(),
        seq,
        problem,
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
