//! Every decision of the push machine, driven with plain inputs and a fake clock.

use std::time::{Duration, Instant};

use chrono::DateTime;

use super::*;

const SLOW: Duration = Duration::from_secs(300);
const CAP: Duration = Duration::from_secs(8);
/// Envelope bytes of the test batches.
const ENV: usize = 100;

fn settings() -> PushSettings {
    PushSettings {
        batch_max_events: 4,
        batch_max_bytes: 1_000,
        retry: RetrySettings {
            backoff_cap: CAP,
            slow_retry: SLOW,
        },
        clock_offset_limit: Duration::from_secs(120),
    }
}

/// A machine whose jitter always draws the top of the range, so delays are exact.
fn machine() -> PushMachine {
    PushMachine::new(settings(), Box::new(|| 1.0))
}

fn t0() -> Now {
    Now {
        mono: Instant::now(),
        wall: DateTime::parse_from_rfc3339("2026-11-25T08:30:00.000Z")
            .unwrap()
            .to_utc(),
    }
}

fn later(t: Now, ms: u64) -> Now {
    let d = Duration::from_millis(ms);
    Now {
        mono: t.mono + d,
        wall: t.wall_after(d),
    }
}

/// Events `seqs`, 100 bytes each, without photos.
fn events(seqs: std::ops::RangeInclusive<i64>) -> Vec<Candidate> {
    seqs.map(|seq| Candidate {
        seq,
        bytes: 100,
        photos: vec![],
    })
    .collect()
}

fn read(m: &mut PushMachine, start: i64, ev: Vec<Candidate>, now: Now) -> Action {
    m.handle(
        Input::Read {
            start,
            envelope: ENV,
            events: ev,
        },
        now,
    )
}

/// The read of the next batch after `after`, at the test limit.
fn read_after(after: i64) -> Action {
    Action::Read {
        after: Some(after),
        max: 4,
    }
}

fn acked(through: i64) -> Input {
    Input::Answer(Outcome::Acked {
        through,
        server_time: None,
    })
}

fn wait_for(a: &Action, now: Now) -> Duration {
    match a {
        Action::Wait(w) => w.until - now.mono,
        other => panic!("expected a wait, got {other:?}"),
    }
}

/// `a` waits the slow interval, alarmed as `state` with exactly `error`.
fn assert_slow(m: &PushMachine, a: &Action, t: Now, state: PushState, error: &str) {
    assert_eq!(wait_for(a, t), SLOW);
    assert_eq!(m.status().state, state);
    assert_eq!(m.status().last_error.as_deref(), Some(error));
}

/// Sends one batch of `seqs` read after `start` and fails it with `outcome`.
fn fail_round(m: &mut PushMachine, start: i64, outcome: Outcome, now: Now) -> Action {
    let n = m.limit.get() as i64;
    read(m, start, events(start + 1..=start + n), now);
    m.handle(Input::Answer(outcome), now)
}

/// A round reads after the durable cursor, sends, records the ack, then reads after it.
#[test]
fn an_acked_batch_is_recorded_then_the_next_read_follows_it() {
    let mut m = machine();
    let t = t0();
    assert_eq!(
        m.start(),
        Action::Read {
            after: None,
            max: 4
        }
    );
    assert_eq!(
        read(&mut m, 10, events(11..=14), t),
        Action::Send { events: 4 }
    );
    assert_eq!(m.status().state, PushState::Sending);
    assert_eq!(m.handle(acked(14), t), Action::RecordAck { through: 14 });
    assert_eq!(
        m.status().last_success,
        None,
        "not a success until recorded"
    );
    let next = m.handle(Input::AckRecorded, later(t, 5));
    assert_eq!(next, read_after(14));
    assert_eq!(m.status().state, PushState::Idle);
    assert_eq!(m.status().last_success, Some(later(t, 5).wall));
}

/// A partial ack resends from the central's position, not after the batch.
#[test]
fn a_partial_ack_resends_the_rest() {
    let mut m = machine();
    let t = t0();
    read(&mut m, 0, events(1..=4), t);
    m.handle(acked(2), t);
    assert_eq!(m.handle(Input::AckRecorded, t), read_after(2));
}

/// A 409 gap records the central's position and resends from just after it, at once.
#[test]
fn a_gap_resends_from_the_centrals_position() {
    let mut m = machine();
    let t = t0();
    read(&mut m, 40, events(41..=44), t);
    let a = m.handle(Input::Answer(Outcome::Gap { acked_through: 3 }), t);
    assert_eq!(a, Action::RecordAck { through: 3 });
    assert_eq!(m.handle(Input::AckRecorded, t), read_after(3));
}

/// A gap whose ack the engine cannot record still resends from the gap, without waiting.
#[test]
fn an_unrecorded_gap_ack_still_resends_from_the_gap() {
    let mut m = machine();
    let t = t0();
    read(&mut m, 40, events(41..=44), t);
    m.handle(Input::Answer(Outcome::Gap { acked_through: 3 }), t);
    let a = m.handle(Input::Failed(PushError::Ack("engine stopped".into())), t);
    assert_eq!(a, read_after(3));
}

/// An ack the engine cannot record is a transient failure: back off, resend the batch.
#[test]
fn an_unrecorded_ack_backs_off_and_resends_the_batch() {
    let mut m = machine();
    let t = t0();
    read(&mut m, 0, events(1..=4), t);
    m.handle(acked(4), t);
    let a = m.handle(Input::Failed(PushError::Ack("disk full".into())), t);
    assert_eq!(wait_for(&a, t), Duration::from_secs(1));
    assert_eq!(m.status().state, PushState::Backoff);
    assert_eq!(m.status().last_error.as_deref(), Some("disk full"));
    assert_eq!(m.handle(Input::Woken, t), read_after(0));
}

/// A seq_conflict stops the push for good, with the alarm text operators read.
#[test]
fn a_conflict_stops_pushing_and_alarms() {
    let mut m = machine();
    let t = t0();
    let conflict = Outcome::Conflict {
        acked_through: Some(3),
        detail: "seq 4".into(),
    };
    assert_eq!(fail_round(&mut m, 0, conflict, t), Action::Stop);
    let s = m.status();
    assert_eq!(s.state, PushState::Conflict);
    assert!(
        s.last_error
            .as_deref()
            .unwrap()
            .starts_with("seq_conflict: ")
    );
    assert_eq!(s.next_retry, None);
    assert_eq!(
        m.handle(Input::Woken, t),
        Action::Stop,
        "stopped until restart"
    );
}

/// Events the central asks for again after the station pruned them stop the push.
#[test]
fn pruned_events_the_central_wants_stop_with_a_conflict() {
    let mut m = machine();
    let t = t0();
    assert_eq!(read(&mut m, 5, events(9..=10), t), Action::Stop);
    let e = m.status().last_error.clone().unwrap();
    assert!(
        e.contains("asks for seq 6 but the station pruned through 8"),
        "{e}"
    );
}

/// 401/403 keep the events, alarm `auth_failed`, retry after the slow interval.
#[test]
fn a_refused_token_retries_slowly_with_an_alarm() {
    let mut m = machine();
    let t = t0();
    let a = fail_round(&mut m, 0, Outcome::Auth(401), t);
    assert_eq!(wait_for(&a, t), SLOW);
    assert_eq!(a, Action::Wait(Wait::network(t, SLOW)));
    let s = m.status();
    assert_eq!(s.state, PushState::AuthFailed);
    assert!(s.last_error.as_deref().unwrap().starts_with("HTTP 401: "));
    assert_eq!(s.last_error_at, Some(t.wall));
    assert_eq!(s.next_retry, Some(t.wall_after(SLOW)));
}

/// Another 4xx is `rejected`, retried slowly, and the alarm quotes the answer.
#[test]
fn another_4xx_is_rejected_and_retried_slowly() {
    let mut m = machine();
    let t = t0();
    let a = fail_round(&mut m, 0, Outcome::Rejected(422, "bad".into()), t);
    assert_slow(
        &m,
        &a,
        t,
        PushState::Rejected,
        "HTTP 422: bad (events kept)",
    );
}

/// Transient failures back off 1, 2, 4 … s up to the cap; a success starts over at 1 s,
/// and so does a slow failure.
#[test]
fn transient_failures_back_off_to_the_cap_and_reset_on_success() {
    let mut m = machine();
    let t = t0();
    let mut waits = vec![];
    for _ in 0..6 {
        let a = fail_round(&mut m, 0, Outcome::Transient("HTTP 503: x".into()), t);
        waits.push(wait_for(&a, t).as_secs());
        assert_eq!(m.handle(Input::Woken, t), read_after(0));
    }
    assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
    assert_eq!(m.status().state, PushState::Backoff);
    assert_eq!(m.status().next_retry, Some(t.wall_after(CAP)));
    read(&mut m, 0, events(1..=4), t);
    m.handle(acked(4), t);
    m.handle(Input::AckRecorded, t);
    let a = fail_round(&mut m, 4, Outcome::Transient("reset".into()), t);
    assert_eq!(wait_for(&a, t), Duration::from_secs(1), "success resets");
    fail_round(&mut m, 4, Outcome::Auth(403), t);
    let a = fail_round(&mut m, 4, Outcome::Transient("reset".into()), t);
    assert_eq!(
        wait_for(&a, t),
        Duration::from_secs(1),
        "a slow failure resets"
    );
}

/// A transport error and an unread answer body are transient, with their text.
#[test]
fn transport_errors_are_transient() {
    let mut m = machine();
    let t = t0();
    read(&mut m, 0, events(1..=4), t);
    let e = PushError::AnswerBody("connection reset".into());
    let a = m.handle(Input::Failed(e), t);
    assert_eq!(wait_for(&a, t), Duration::from_secs(1));
    assert_eq!(
        m.status().last_error.as_deref(),
        Some("reading the answer: connection reset")
    );
}

/// A 413 halves the batch at once; the size that then succeeds is kept for 100
/// consecutive acknowledged batches (contract 1.1, § 4.5), then doubles — never again to
/// the size the central refused.
#[test]
fn too_large_halves_the_batch_and_it_grows_back_only_after_100_successes() {
    let mut m = PushMachine::new(
        PushSettings {
            batch_max_events: 1_000,
            batch_max_bytes: 1 << 20,
            ..settings()
        },
        Box::new(|| 1.0),
    );
    let t = t0();
    read(&mut m, 0, events(1..=1_000), t);
    let a = m.handle(Input::Answer(Outcome::TooLarge), t);
    assert_eq!(
        a,
        Action::Read {
            after: Some(0),
            max: 500
        },
        "no wait"
    );
    assert_eq!(m.status().batch_limit, 500);
    // 99 acknowledged batches of 500 keep the size; the 100th doubles it, but below the
    // refused 1,000.
    let mut after = 0;
    for n in 1..=super::GROW_AFTER {
        read(&mut m, after, events(after + 1..=after + 500), t);
        m.handle(acked(after + 500), t);
        after += 500;
        let max = if n < super::GROW_AFTER { 500 } else { 999 };
        let a = m.handle(Input::AckRecorded, t);
        assert_eq!(
            a,
            Action::Read {
                after: Some(after),
                max
            },
            "after {n} acknowledged batches"
        );
    }
    assert_eq!(m.status().batch_limit, 999);
}

/// A 413 for a lone event cannot be halved: it is rejected, alarmed and retried slowly.
#[test]
fn too_large_for_one_event_is_rejected_slowly() {
    let mut m = machine();
    let t = t0();
    read(&mut m, 6, events(7..=7), t);
    let a = m.handle(Input::Answer(Outcome::TooLarge), t);
    let e = "HTTP 413: the central refuses event seq 7 alone as too large (events kept)";
    assert_slow(&m, &a, t, PushState::Rejected, e);
}

/// A batch holds at most the limit's events, however small they are.
#[test]
fn the_batch_is_cut_by_count() {
    assert_eq!(window(4, 1_000_000, ENV, [10; 9]), 4);
    assert_eq!(window(4, 1_000_000, ENV, [10; 3]), 3);
    let mut m = machine();
    assert_eq!(
        read(&mut m, 0, events(1..=9), t0()),
        Action::Send { events: 4 }
    );
}

/// A batch stops before the byte cap (envelope included), but the first event always goes.
#[test]
fn the_batch_is_cut_by_bytes() {
    assert_eq!(
        window(10, 400, ENV, [100; 9]),
        3,
        "100 + 3 × 100 = 400 fits"
    );
    assert_eq!(window(10, 399, ENV, [100; 9]), 2);
    assert_eq!(
        window(10, 50, ENV, [5_000, 1]),
        1,
        "an oversized event goes alone"
    );
    assert_eq!(window(10, 50, ENV, []), 0);
    let mut m = machine();
    let t = t0();
    let mut ev = events(1..=4);
    ev[2].bytes = 701; // 100 + 100 + 100 + 701 > 1,000
    assert_eq!(read(&mut m, 0, ev, t), Action::Send { events: 2 });
    m.handle(Input::Answer(Outcome::TooLarge), t);
    assert_eq!(
        m.limit.get(),
        1,
        "a 413 halves what was sent, not the limit"
    );
}

/// The photos of the batch's events are uploaded, in order, before the batch is sent —
/// and only those of events inside the window.
#[test]
fn photos_are_uploaded_before_their_batch() {
    let mut m = machine();
    let t = t0();
    let mut ev = events(1..=6);
    ev[1].photos = vec!["aa".into(), "bb".into()];
    ev[5].photos = vec!["cc".into()];
    let a = read(&mut m, 0, ev, t);
    let photo = |seq, sha: &str| Photo {
        seq,
        sha256: sha.into(),
    };
    assert_eq!(
        a,
        Action::UploadPhotos(vec![photo(2, "aa"), photo(2, "bb")])
    );
    assert_eq!(m.status().state, PushState::Idle, "not sending yet");
    assert_eq!(
        m.handle(Input::PhotosUploaded, t),
        Action::Send { events: 4 }
    );
}

/// A photo the central refuses, or the station cannot find, holds the batch back with an
/// alarm and a slow retry; nothing is sent.
#[test]
fn a_failed_photo_holds_the_batch_back() {
    let mut m = machine();
    let t = t0();
    let mut ev = events(1..=2);
    ev[0].photos = vec!["aa".into()];
    read(&mut m, 0, ev.clone(), t);
    let refused = Outcome::Rejected(409, "central says photo aa does not match".into());
    let a = m.handle(Input::PhotoRefused(refused), t);
    assert_eq!(wait_for(&a, t), SLOW);
    assert_eq!(m.status().state, PushState::Rejected);
    m.handle(Input::Woken, t);
    read(&mut m, 0, ev, t);
    let missing = PushError::PhotoMissing {
        sha256: "aa".into(),
        seq: 1,
    };
    m.handle(Input::Failed(missing), t);
    assert_eq!(
        m.status().last_error.as_deref(),
        Some(
            "photo aa referenced by seq 1 is missing from the photo store (events kept); if it is lost for good a supervisor acknowledges it: returnsd photo-lost aa --badge <supervisor> --reason <why>"
        )
    );
    assert_eq!(m.handle(Input::PhotosUploaded, t), read_after(0));
}

/// A photo the station cannot upload names itself, its event and what is wrong in the
/// status while it holds the push back; once a supervisor acknowledged it as lost the next
/// read carries no photo to upload (the reader marks it lost), the batch goes out, and the
/// alarm clears (contract 1.1).
#[test]
fn a_blocked_photo_is_named_until_it_is_acknowledged_lost() {
    let mut m = machine();
    let t = t0();
    let mut ev = events(1..=3);
    ev[1].photos = vec!["aa".into()];
    assert_eq!(
        read(&mut m, 0, ev.clone(), t),
        Action::UploadPhotos(vec![Photo {
            seq: 2,
            sha256: "aa".into()
        }])
    );
    let damaged = PushError::PhotoUnreadable {
        sha256: "aa".into(),
        seq: 2,
        error: "the stored photo is damaged (hash mismatch)".into(),
        damaged: true,
    };
    let a = m.handle(Input::Failed(damaged), t);
    assert_eq!(
        a,
        Action::Wait(Wait {
            until: t.mono + SLOW,
            wake: Wake::PhotoLost
        }),
        "retried slowly, or at once when a supervisor acknowledges a photo as lost"
    );
    assert_eq!(m.status().state, PushState::Rejected);
    assert_eq!(
        m.status().blocked_photo,
        Some(BlockedPhoto {
            sha256: "aa".into(),
            seq: 2,
            problem: PhotoProblem::Damaged
        })
    );
    assert!(
        m.status()
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("returnsd photo-lost aa")),
        "{:?}",
        m.status().last_error
    );
    // Still missing at the next try: still named.
    assert_eq!(m.handle(Input::Woken, t), read_after(0));
    read(&mut m, 0, ev.clone(), t);
    let missing = PushError::PhotoMissing {
        sha256: "aa".into(),
        seq: 2,
    };
    m.handle(Input::Failed(missing), t);
    assert_eq!(
        m.status().blocked_photo.as_ref().map(|p| p.problem),
        Some(PhotoProblem::Missing)
    );
    // Acknowledged lost: the reader no longer lists it for upload.
    m.handle(Input::Woken, t);
    ev[1].photos.clear();
    assert_eq!(read(&mut m, 0, ev, t), Action::Send { events: 3 });
    assert_eq!(m.status().blocked_photo, None, "the alarm clears");
    m.handle(acked(3), t);
    assert_eq!(m.handle(Input::AckRecorded, t), read_after(3));
    assert_eq!(m.status().state, PushState::Idle);
}

/// Another failure after a blocked photo (the network, say) does not leave the photo
/// named: the status says what holds the push back now.
#[test]
fn a_later_failure_replaces_the_blocked_photo() {
    let mut m = machine();
    let t = t0();
    let mut ev = events(1..=1);
    ev[0].photos = vec!["aa".into()];
    read(&mut m, 0, ev.clone(), t);
    let missing = PushError::PhotoMissing {
        sha256: "aa".into(),
        seq: 1,
    };
    m.handle(Input::Failed(missing), t);
    assert!(m.status().blocked_photo.is_some());
    m.handle(Input::Woken, t);
    read(&mut m, 0, ev, t);
    m.handle(Input::PhotoRefused(Outcome::Transient("reset".into())), t);
    assert_eq!(m.status().state, PushState::Backoff);
    assert_eq!(m.status().blocked_photo, None);
}

/// An unreadable token file alarms `auth_failed` and retries slowly, but is not the
/// central's answer: the transient backoff keeps its count.
#[test]
fn an_unreadable_token_alarms_without_resetting_the_backoff() {
    let mut m = machine();
    let t = t0();
    fail_round(&mut m, 0, Outcome::Transient("x".into()), t);
    read(&mut m, 0, events(1..=4), t);
    let a = m.handle(Input::Failed(PushError::Token("token: empty".into())), t);
    assert_slow(&m, &a, t, PushState::AuthFailed, "token: empty");
    let a = fail_round(&mut m, 0, Outcome::Transient("x".into()), t);
    assert_eq!(wait_for(&a, t), Duration::from_secs(2));
}

/// With nothing to push the machine is idle and waits for new events (or 5 s).
#[test]
fn an_empty_journal_waits_for_new_events() {
    let mut m = machine();
    let t = t0();
    let a = read(&mut m, 7, vec![], t);
    assert_eq!(
        a,
        Action::Wait(Wait {
            until: t.mono + IDLE_RECHECK,
            wake: Wake::NewEvents
        })
    );
    assert_eq!(m.handle(Input::Woken, t), read_after(7));
}

/// A journal that cannot be read is retried after a pause, without an alarm.
#[test]
fn an_unreadable_journal_is_retried_quietly() {
    let mut m = machine();
    let t = t0();
    let a = m.handle(Input::Failed(PushError::Journal("busy".into())), t);
    assert_eq!(a, Action::Wait(Wait::network(t, READ_RETRY)));
    assert_eq!(m.status().last_error, None);
    assert_eq!(
        m.handle(Input::Woken, t),
        Action::Read {
            after: None,
            max: 4
        }
    );
}

/// The clock offset is measured from the answer's server_time against the request's
/// midpoint, published once, and alarmed past the limit.
#[test]
fn the_clock_offset_comes_from_the_answer() {
    let mut m = machine();
    let t = t0();
    read(&mut m, 0, events(1..=1), t);
    let server = t.wall + chrono::Duration::milliseconds(300_100);
    let answer = Outcome::Acked {
        through: 1,
        server_time: Some(server),
    };
    m.handle(Input::Answer(answer), later(t, 200));
    m.handle(Input::AckRecorded, later(t, 250));
    let mut s = SyncStatus::default();
    m.publish(&mut s);
    assert_eq!(
        s.clock,
        Some(ClockReading {
            offset_ms: 300_000,
            alarm: true
        })
    );
    assert_eq!(s.push.state, PushState::Idle);
    s.clock = None;
    m.publish(&mut s);
    assert_eq!(s.clock, None, "a reading is published once");
}

/// The first success after a failure, and only that one, says the network is back.
#[test]
fn the_first_success_after_a_failure_wakes_the_others() {
    let mut m = machine();
    let t = t0();
    let round = |m: &mut PushMachine, start: i64| {
        read(m, start, events(start + 1..=start + 1), t);
        m.handle(acked(start + 1), t);
        m.handle(Input::AckRecorded, t);
    };
    round(&mut m, 0);
    assert!(!m.take_network_back(), "no failure before");
    fail_round(&mut m, 1, Outcome::Transient("x".into()), t);
    assert!(!m.take_network_back());
    round(&mut m, 1);
    assert!(m.take_network_back());
    assert!(!m.take_network_back(), "said once");
}
