//! The push worker: sends the journal to the central in contiguous batches (≤ 1,000 events,
//! ≤ 1 MiB of JSON, gzip), one request in flight, and records `acked_through` through the
//! engine. It never drops an unacknowledged event: every failure is retried — with capped
//! exponential backoff and full jitter for transient ones, slowly and with an alarm for the
//! ones an operator must fix — except a `seq_conflict`, which stops pushing and alarms.
//!
//! Split the ntpd-rs way: `machine` decides (the batch window, what an answer means, the
//! backoff, photos first, the status), `wire` encodes batches and classifies answers, and
//! `run` below is the thin loop that performs the machine's actions — read and encode rows
//! on the blocking pool, upload photos, POST, record the ack through the engine, wait — and
//! feeds each result back with the time it happened.
//!
//! **Read-ahead** (issue "A year on the floor"): while a batch is in flight, the loop reads
//! and encodes the window after it on the blocking pool (`Journal::read_ahead`); when the
//! machine then asks for exactly that window — the central acknowledged the whole batch —
//! the read is already done, so between an answer and the next request the station only
//! gzips (the ack is recorded beside the send, below). The machine does not know: any
//! other request (a gap, a smaller batch after `413`, a failure) drops the read-ahead and
//! reads as before, and a read-ahead that found nothing is not used (new events may have
//! come since). While the central acknowledges only part of each batch, nothing is read
//! ahead (it would be read for nothing). Journal rows never change once written and the
//! reader sees committed rows only, so a window read early is the window read late. Still
//! one POST in flight.
//!
//! **The ack recorded beside the next send**: the machine still asks for `RecordAck` after
//! a `200`, but the loop's `Recorder` hands the ack to the engine and answers
//! `AckRecorded` at once, so the next batch (read ahead) goes out while the engine commits
//! the cursor. One recording is in flight at a time; a failed one is reported at the next
//! `RecordAck` or wait, as that round's recording failing (the machine backs off and
//! resends; the central holds the events and acknowledges them again). A stopping push
//! waits for the recording in flight. The durable cursor may lag the central's by one
//! round, which only ever means events resent, never events skipped.
//!
//! Contract 1.1's slow retry (a fixed interval, `RetrySettings::slow_retry`, 60 s by
//! default) and the 413 growth-back (`BatchLimit`: the last size that succeeded is the
//! ceiling, doubled again after `GROW_AFTER` consecutive successes) are the machine's.

mod machine;
mod wire;

pub use machine::{
    Action, BatchLimit, Candidate, Input, Outcome, Photo, PushMachine, PushSettings, window,
};
pub use wire::{Encoded, batch_body, classify, classify_blob, photos_of};

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{Notify, watch};

use super::client::{Central, describe};
use super::error::PushError;
use super::settings::WorkerSettings;
use super::worker::Signals;
use crate::config::Config;
use crate::engine::EngineHandle;
use crate::store;
use crate::sync_status::{SharedStatus, update};
use crate::telemetry::Telemetry;

/// Run the push worker until `shutdown`.
pub async fn run(
    cfg: Arc<Config>,
    engine: EngineHandle,
    status: SharedStatus,
    network_up: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) {
    let Some((settings, central)) =
        super::worker::start(&cfg, &status, |s, e| s.push.cannot_start(e))
    else {
        return;
    };
    let mut journal = match Journal::open(&settings, engine.seqs.clone(), engine.telemetry.clone())
    {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(error = %e, "sync push cannot open the database");
            return;
        }
    };
    let uplink = Uplink::new(central, &settings, &engine);
    let mut signals = Signals::new(network_up, shutdown, Some(engine.events.subscribe()));
    if let Some(why) = &engine.moved {
        // Contract 1.1: a copied or moved database pushes nothing under its old epoch.
        tracing::error!(error = %why, "sync push held: the database was copied or moved");
        update(&status, |s| {
            s.push.state = crate::sync_status::PushState::Moved;
            s.push.last_error = Some(why.to_string());
            s.push.last_error_at = Some(Utc::now());
        });
        signals.stopped().await;
        return;
    }
    let mut machine = PushMachine::new(settings.push, Box::new(super::os_jitter));
    let mut recorder = Recorder::new(engine.clone());
    let mut action = machine.start();
    loop {
        update(&status, |s| machine.publish(s));
        if machine.take_network_back() {
            signals.network_back();
        }
        let input = match action {
            Action::Read { after, max } => {
                if signals.stopping() {
                    break;
                }
                match journal.read(uplink.header(), after, max).await {
                    Some(input) => input,
                    None => break,
                }
            }
            Action::UploadPhotos(photos) => uplink.upload(&photos).await,
            Action::Send { events } => match journal.prepared.take() {
                Some(enc) => {
                    journal.read_ahead(uplink.header(), events);
                    let input = uplink.send(enc, events).await;
                    journal.answered(&input);
                    input
                }
                None => Input::Failed(PushError::Journal("no batch was read".into())),
            },
            Action::RecordAck { through } => recorder.record(through).await,
            // Nothing goes out while the push waits: the ack in flight lands first.
            Action::Wait(w) => match recorder.settle().await {
                Err(e) => Input::Failed(e),
                Ok(()) if !signals.wait(w).await => break,
                Ok(()) => Input::Woken,
            },
            Action::Stop => {
                let _ = recorder.settle().await;
                signals.stopped().await;
                return;
            }
        };
        action = machine.handle(input, super::now());
    }
    // A stopping station records the last acknowledgement it was given.
    let _ = recorder.settle().await;
}

/// Records the central's acknowledgements through the engine (`acked_through`, an fsync'd
/// commit) while the next batch goes out: the machine is told an ack is recorded once the
/// engine has it in hand, and a recording that then fails is reported at the next
/// `RecordAck` (or wait), which the machine treats as that round's recording failing —
/// it backs off and resends from where it stood, and the central, holding those events,
/// acknowledges them again. One recording in flight at a time, so they land in order; a
/// recorded cursor that lags the central's by a round is only ever resent from.
struct Recorder {
    engine: EngineHandle,
    in_flight: Option<tokio::task::JoinHandle<Result<i64, crate::engine::EngineError>>>,
}

impl Recorder {
    fn new(engine: EngineHandle) -> Recorder {
        Recorder {
            engine,
            in_flight: None,
        }
    }

    /// Start recording `through` once the recording before it has landed; `AckRecorded`
    /// unless that one failed.
    async fn record(&mut self, through: i64) -> Input {
        if let Err(e) = self.settle().await {
            return Input::Failed(e);
        }
        let engine = self.engine.clone();
        self.in_flight = Some(tokio::spawn(async move { engine.ack(through).await }));
        Input::AckRecorded
    }

    /// Wait for the recording in flight, if any.
    async fn settle(&mut self) -> Result<(), PushError> {
        let Some(task) = self.in_flight.take() else {
            return Ok(());
        };
        match task.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(PushError::Ack(e.to_string())),
            Err(e) => Err(PushError::Ack(format!("the recording task failed: {e}"))),
        }
    }
}

/// The journal side of the push: the reader, the last read, and the read of the window
/// after the batch in flight.
struct Journal {
    /// The read-only handle, lent to the blocking pool for each read (never held across
    /// a wait, so it pins no WAL snapshot).
    reader: Option<store::Reader>,
    /// The last read, encoded, until the machine says how much of it to send.
    prepared: Option<Encoded>,
    /// The wire seqs of the last read's events, in order.
    read_seqs: Vec<i64>,
    /// The last read's window size (the machine's `max`).
    read_max: usize,
    /// The window after the batch in flight, being read: `(after, max)` and the task.
    ahead: Option<(i64, usize, ReadTask)>,
    /// The last seq of the batch sent last.
    sent_last: Option<i64>,
    /// Whether the central acknowledged the last batch whole. While it acknowledges part
    /// of each batch the window after one is never asked for, so none is read ahead.
    whole_acks: bool,
    /// Local seqs to the epoch's wire seqs (after a restore; else the identity).
    seqs: Arc<store::SeqMap>,
    telemetry: Arc<Telemetry>,
}

type ReadTask = tokio::task::JoinHandle<(Option<store::Reader>, Result<Read, PushError>)>;

impl Journal {
    fn open(
        s: &WorkerSettings,
        seqs: Arc<store::SeqMap>,
        telemetry: Arc<Telemetry>,
    ) -> Result<Journal, store::StoreError> {
        Ok(Journal {
            reader: Some(store::Reader::open(&s.database)?),
            prepared: None,
            read_seqs: Vec::new(),
            read_max: 0,
            ahead: None,
            sent_last: None,
            whole_acks: true,
            seqs,
            telemetry,
        })
    }

    /// Read and encode (under `header`) up to `max` events after `after`, off the async
    /// threads: the window after a batch of `sent` events of the last read, which the
    /// machine asks for next when the central acknowledges the whole batch.
    fn read_ahead(&mut self, header: Vec<u8>, sent: usize) {
        self.sent_last = self.read_seqs.get(sent.wrapping_sub(1)).copied();
        let Some(last) = self.sent_last else {
            return;
        };
        if self.reader.is_none() || !self.whole_acks {
            return;
        }
        let task = self.spawn_read(Some(last), self.read_max, header);
        self.ahead = Some((last, self.read_max, task));
    }

    /// Note whether the central's answer to the batch sent last acknowledged all of it
    /// (any other answer leaves the note as it was).
    fn answered(&mut self, input: &Input) {
        if let Input::Answer(Outcome::Acked { through, .. }) = input {
            self.whole_acks = self.sent_last.is_some_and(|last| *through >= last);
        }
    }

    /// Lend the reader to the blocking pool for one read.
    fn spawn_read(&mut self, after: Option<i64>, max: usize, header: Vec<u8>) -> ReadTask {
        let reader = self.reader.take();
        let seqs = self.seqs.clone();
        tokio::task::spawn_blocking(move || {
            let r = read_batch(reader.as_ref(), &seqs, after, max, header);
            (reader, r)
        })
    }

    /// The read's result, the reader back. None when the blocking task died.
    async fn finish(&mut self, task: ReadTask) -> Option<Result<Read, PushError>> {
        match task.await {
            Ok((reader, r)) => {
                self.reader = reader;
                Some(r)
            }
            Err(e) => {
                tracing::error!(error = %e, "push reader task failed");
                None
            }
        }
    }

    /// Read and encode (under `header`) up to `max` events after `after` (or the durable
    /// cursor), off the async threads — or take the read-ahead when it is that window and
    /// found events. None when the blocking task died: the worker cannot go on.
    async fn read(&mut self, header: Vec<u8>, after: Option<i64>, max: usize) -> Option<Input> {
        let mut early = None;
        if let Some((from, window, task)) = self.ahead.take() {
            let r = self.finish(task).await?;
            if after == Some(from) && max == window {
                early = r.ok().filter(|(_, _, events)| !events.is_empty());
            }
        }
        let r = match early {
            Some(read) => {
                self.telemetry.push_read_ahead();
                Ok(read)
            }
            None => {
                let task = self.spawn_read(after, max, header);
                self.finish(task).await?
            }
        };
        Some(match r {
            Ok((start, enc, events)) => {
                let envelope = enc.envelope();
                self.prepared = Some(enc);
                self.read_seqs = events.iter().map(|e| e.seq).collect();
                self.read_max = max;
                Input::Read {
                    start,
                    envelope,
                    events,
                }
            }
            Err(e) => Input::Failed(e),
        })
    }
}

/// The network side of the push: the central, where to send, what to say.
struct Uplink {
    central: Central,
    events_url: String,
    blobs_url: String,
    station: String,
    epoch: String,
    /// Where the photo store lives.
    state_dir: PathBuf,
    /// Where each push request's duration is recorded.
    telemetry: Arc<Telemetry>,
}

impl Uplink {
    fn new(central: Central, s: &WorkerSettings, engine: &EngineHandle) -> Uplink {
        let base = format!("{}/v1/stations/{}", central.base_url, s.station);
        Uplink {
            events_url: format!("{base}/events"),
            blobs_url: format!("{base}/blobs"),
            central,
            station: s.station.clone(),
            epoch: engine.epoch.to_string(),
            state_dir: s.state_dir.clone(),
            telemetry: engine.telemetry.clone(),
        }
    }

    /// The batch envelope's opening, `sent_at` now.
    fn header(&self) -> Vec<u8> {
        wire::header(&self.station, &self.epoch, Utc::now())
    }

    async fn upload(&self, photos: &[Photo]) -> Input {
        let token = match self.central.token.read() {
            Ok(t) => t,
            Err(e) => return Input::Failed(PushError::Token(e)),
        };
        for p in photos {
            match self.upload_one(&token, p).await {
                Ok(None) => {}
                Ok(Some(refused)) => return Input::PhotoRefused(refused),
                Err(e) => return Input::Failed(e),
            }
        }
        Input::PhotosUploaded
    }

    /// PUT one photo; `Some` is the central's refusal.
    async fn upload_one(&self, token: &str, p: &Photo) -> Result<Option<Outcome>, PushError> {
        let (bytes, content_type) = match crate::photos::read(&self.state_dir, &p.sha256) {
            Ok(Some(photo)) => photo,
            Ok(None) => {
                return Err(PushError::PhotoMissing {
                    sha256: p.sha256.clone(),
                    seq: p.seq,
                });
            }
            Err(error) => {
                return Err(PushError::PhotoUnreadable {
                    sha256: p.sha256.clone(),
                    seq: p.seq,
                    damaged: matches!(error, crate::photos::PhotoError::Damaged(_)),
                    error: error.to_string(),
                });
            }
        };
        let resp = self
            .central
            .http
            .put(format!("{}/{}", self.blobs_url, p.sha256))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .map_err(|e| PushError::Transport(describe(&e)))?;
        let code = resp.status().as_u16();
        if matches!(code, 200 | 201) {
            return Ok(None);
        }
        let body = resp.text().await.unwrap_or_default();
        Ok(classify_blob(code, &p.sha256, &body))
    }

    /// POST the first `events` events of `enc`, gzipped under a fresh `sent_at` (the
    /// uncompressed batch is gone before the request goes out).
    async fn send(&self, enc: Encoded, events: usize) -> Input {
        let token = match self.central.token.read() {
            Ok(t) => t,
            Err(e) => return Input::Failed(PushError::Token(e)),
        };
        let body = enc.gzip(events, &self.header());
        drop(enc);
        let started = std::time::Instant::now();
        let input = self.post(&token, body).await;
        self.telemetry.sync_push(started.elapsed());
        input
    }

    /// The POST itself and its answer, classified.
    async fn post(&self, token: &str, body: Vec<u8>) -> Input {
        let resp = self
            .central
            .http
            .post(&self.events_url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await;
        match resp {
            Ok(r) => {
                let code = r.status().as_u16();
                match r.text().await {
                    Ok(t) => Input::Answer(classify(code, &t)),
                    Err(e) => Input::Failed(PushError::AnswerBody(e.to_string())),
                }
            }
            Err(e) => Input::Failed(PushError::Transport(describe(&e))),
        }
    }
}

type Read = (i64, Encoded, Vec<Candidate>);

/// The events after `after` (or the durable cursor), encoded under `header`, with what the
/// machine weighs of each. Everything the machine sees is in wire seqs (`seqs`).
fn read_batch(
    db: Option<&store::Reader>,
    seqs: &store::SeqMap,
    after: Option<i64>,
    max: usize,
    header: Vec<u8>,
) -> Result<Read, PushError> {
    let journal = |e: store::StoreError| PushError::Journal(e.to_string());
    let db = db.ok_or_else(|| PushError::Journal("no reader".into()))?;
    let (start, rows) = store::wire_after(db, seqs, after, max as i64).map_err(journal)?;
    let enc = Encoded::new(header, &rows);
    let events = rows
        .iter()
        .zip(enc.sizes())
        .map(|(row, bytes)| Candidate {
            seq: row.seq,
            bytes,
            photos: photos_of(row),
        })
        .collect();
    Ok((start, enc, events))
}
