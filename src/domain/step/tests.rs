//! The supervisor's commands run through [`step`] and folded into the state as the engine
//! does: bin edits and their effect on put-away, RTV notes closed once, and restock moving
//! good units out of the good zone (and the one-time correction of older restocks).

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::error::DomainError;
use crate::domain::event::{Actor, Event, EventBody, RtvLine};
use crate::domain::ids::{Badge, BinCode, ItemRef, ReturnId, StationId, Waybill};
use crate::domain::kind::{BinClass, Grade, ItemZone, Role};
use crate::domain::model::Station;
use crate::domain::ports::{DefectReasonInfo, Lookup, ManifestEntry, OperatorInfo, Settings};
use crate::domain::scan::ZoneScan;

use super::{BinChange, Command, Operator, Transition, step};

/// The config has one good bin `A01` and one defect bin `D01`.
struct Lk;
impl Lookup for Lk {
    fn manifest(&self, _: &str) -> Option<ManifestEntry> {
        None
    }
    fn operator(&self, _: &str) -> Option<OperatorInfo> {
        None
    }
    fn defect_reason(&self, code: &str) -> Option<DefectReasonInfo> {
        Some(DefectReasonInfo {
            code: code.to_string(),
            seller_fault: true,
        })
    }
    fn bin(&self, code: &BinCode) -> Option<BinClass> {
        match code.as_str() {
            "A01" => Some(BinClass::Good),
            "D01" => Some(BinClass::Defect),
            _ => None,
        }
    }
}

fn bin(code: &str) -> BinCode {
    BinCode::parse(code).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap()
}

fn cfg() -> Settings {
    Settings {
        station: StationId::parse("ST01").unwrap(),
        tz: chrono_tz::Asia::Shanghai,
        defect_photo_required: false,
        two_person_check: false,
    }
}

fn op(role: Role) -> Operator {
    let badge = match role {
        Role::Keeper => "K1",
        Role::Inspector => "I1",
        Role::Supervisor => "S1",
    };
    Operator {
        badge: Badge::parse(badge).unwrap(),
        role,
    }
}

fn sup() -> Operator {
    op(Role::Supervisor)
}

/// Run a command and fold its events into the state (as the engine does).
fn run(st: &mut Station, cmd: Command) -> Result<Transition, DomainError> {
    let tr = step(st, &Lk, &cfg(), cmd, now())?;
    for ev in &tr.events {
        st.apply(ev);
    }
    Ok(tr)
}

fn set(code: &str, change: BinChange) -> Command {
    Command::SetBin {
        by: sup(),
        code: code.into(),
        change,
    }
}

fn upsert(class: BinClass, label: Option<&str>) -> BinChange {
    BinChange::Upsert {
        class,
        label: label.map(str::to_string),
    }
}

fn ev(body: EventBody, rid: Option<&ReturnId>) -> Event {
    Event {
        occurred_at: now(),
        actor: Actor("keeper:K1".into()),
        return_id: rid.cloned(),
        body,
    }
}

fn rid() -> ReturnId {
    ReturnId::parse("R-ST01-20261125-0001").unwrap()
}

/// A return whose item 1 (SKU `X`) is graded `grade` and waits in pending.
fn station_with_graded_item(grade: Grade) -> Station {
    let mut st = Station::default();
    let id = rid();
    let body = |b| ev(b, Some(&id));
    st.apply(&body(EventBody::Received {
        bench: "B1".into(),
        waybill: crate::domain::ids::Waybill::parse("SF1234567890").unwrap(),
        courier: "SF".into(),
        kind: Some(crate::domain::kind::ReturnKind::CustomerReturn),
        number_date: now().date_naive(),
        number: 1,
        announced: false,
        manifest_version: None,
        order_no: None,
        claimed_reason: None,
        signed_at: None,
        free_shipping: false,
        expected: Vec::new(),
    }));
    st.apply(&body(EventBody::Unpacked { bench: "B1".into() }));
    st.apply(&body(EventBody::ItemScanned {
        item_no: 1,
        sku: "X".into(),
        barcode: "X".into(),
        name: "thing".into(),
        exception: None,
    }));
    st.apply(&body(EventBody::FirstCompleted {
        visual: crate::domain::kind::Visual::Ok,
        counts: Vec::new(),
        exceptions: Vec::new(),
        exchange_ship_by: now(),
    }));
    st.apply(&body(EventBody::ItemMoved {
        item_no: 1,
        from: ItemZone::Bench,
        to: ItemZone::Pending,
    }));
    st.apply(&body(EventBody::Ledger {
        sku: "X".into(),
        from: "in".into(),
        to: "pending".into(),
        qty: 1,
    }));
    st.apply(&body(EventBody::Inspected {
        items: vec![1],
        grade,
        defect_reasons: if grade == Grade::Defect {
            vec!["broken".into()]
        } else {
            Vec::new()
        },
        note: String::new(),
        photos: Vec::new(),
        checklist: Vec::new(),
    }));
    st
}

fn put_away(zone: &str) -> Command {
    Command::PutAway {
        by: op(Role::Keeper),
        return_id: rid(),
        items: Vec::new(),
        zone: ZoneScan::Bin(bin(zone)),
    }
}

/// Only a supervisor may edit zones: a keeper and an inspector get the role error.
#[test]
fn only_a_supervisor_edits_zones() {
    for role in [Role::Keeper, Role::Inspector] {
        let mut st = Station::default();
        let cmd = Command::SetBin {
            by: op(role),
            code: "B07".into(),
            change: upsert(BinClass::Good, None),
        };
        let e = run(&mut st, cmd).unwrap_err();
        assert_eq!(
            e,
            DomainError::RoleNotAllowed {
                role,
                action: "edit_zones"
            }
        );
        assert!(st.bins.is_empty());
    }
    let mut st = Station::default();
    let tr = run(&mut st, set("B07", upsert(BinClass::Good, Some("Shelf 7")))).unwrap();
    assert_eq!(tr.feedback.code, "bin_added");
    assert_eq!(tr.events[0].body.type_name(), "zone.bin_set");
    let b = st.bin(&Lk, &bin("B07")).unwrap();
    assert_eq!(
        (b.class, b.label.as_deref(), b.active, b.edited),
        (BinClass::Good, Some("Shelf 7"), true, true)
    );
}

/// Bin codes follow the config's rule (A-Z 0-9 -, 1–16, not a fixed zone's name) and
/// labels are at most 100 characters.
#[test]
fn bad_codes_and_labels_are_refused() {
    for code in [
        "",
        "a01",
        "A/01",
        "../X",
        "PENDING",
        "GOOD",
        "A0123456789012345",
    ] {
        let mut st = Station::default();
        let e = run(&mut st, set(code, upsert(BinClass::Good, None))).unwrap_err();
        assert_eq!(e.code(), "bad_input", "{code:?}");
    }
    let mut st = Station::default();
    let long = "x".repeat(101);
    let e = run(&mut st, set("B1", upsert(BinClass::Good, Some(&long)))).unwrap_err();
    assert_eq!(e.params()[0], ("field", "label".to_string()));
    run(
        &mut st,
        set("B1", upsert(BinClass::Good, Some(&"x".repeat(100)))),
    )
    .unwrap();
}

/// An edit overrides the configured bin: D01 relabelled and then retired is no longer
/// the config's defect bin as written.
#[test]
fn a_config_bin_is_overridden() {
    let mut st = Station::default();
    assert!(!st.bin(&Lk, &bin("D01")).unwrap().edited);
    let tr = run(
        &mut st,
        set("D01", upsert(BinClass::Defect, Some("Rack D"))),
    )
    .unwrap();
    assert_eq!(tr.feedback.code, "bin_updated");
    let b = st.bin(&Lk, &bin("D01")).unwrap();
    assert_eq!(
        (b.label.as_deref(), b.active, b.edited),
        (Some("Rack D"), true, true)
    );
    run(&mut st, set("D01", BinChange::Retire)).unwrap();
    assert!(!st.bin(&Lk, &bin("D01")).unwrap().active);
    // A relabel keeps it retired; reactivating brings it back.
    run(&mut st, set("D01", upsert(BinClass::Defect, None))).unwrap();
    let b = st.bin(&Lk, &bin("D01")).unwrap();
    assert_eq!((b.label, b.active), (None, false));
    let e = run(&mut st, set("D01", BinChange::Retire)).unwrap_err();
    assert_eq!(e.code(), "bin_already_retired");
    run(&mut st, set("D01", BinChange::Reactivate)).unwrap();
    assert!(st.bin(&Lk, &bin("D01")).unwrap().active);
    let e = run(&mut st, set("D01", BinChange::Reactivate)).unwrap_err();
    assert_eq!(e.code(), "bin_already_active");
    let e = run(&mut st, set("NOPE", BinChange::Retire)).unwrap_err();
    assert_eq!(e.code(), "unknown_bin");
}

/// A bin holding stock can be neither retired nor moved to the other class; the error
/// names the units. Relabelling it is fine.
#[test]
fn a_bin_with_stock_keeps_its_class_and_stays_active() {
    let mut st = station_with_graded_item(Grade::Good);
    run(&mut st, put_away("A01")).unwrap();
    assert_eq!(st.units_in_bin(&bin("A01")), 1);
    let e = run(&mut st, set("A01", BinChange::Retire)).unwrap_err();
    assert_eq!(
        e,
        DomainError::BinHoldsStock {
            bin: bin("A01"),
            units: 1
        }
    );
    let e = run(&mut st, set("A01", upsert(BinClass::Defect, None))).unwrap_err();
    assert_eq!(e.code(), "bin_holds_stock");
    assert_eq!(e.params()[1], ("units", "1".to_string()));
    run(&mut st, set("A01", upsert(BinClass::Good, Some("Front")))).unwrap();
    assert!(st.bin(&Lk, &bin("A01")).unwrap().active);
}

/// A retired bin refuses put-away with `bin_retired`; nothing moves.
#[test]
fn a_retired_bin_refuses_put_away() {
    let mut st = station_with_graded_item(Grade::Good);
    run(&mut st, set("A01", BinChange::Retire)).unwrap();
    let e = run(&mut st, put_away("A01")).unwrap_err();
    assert_eq!(e, DomainError::BinRetired { bin: bin("A01") });
    assert_eq!(st.units_in_bin(&bin("A01")), 0);
    run(&mut st, set("A01", BinChange::Reactivate)).unwrap();
    run(&mut st, put_away("A01")).unwrap();
    assert_eq!(st.units_in_bin(&bin("A01")), 1);
}

/// A bin added by a supervisor accepts put-away of its class (and only that class).
#[test]
fn a_new_bin_accepts_put_away() {
    let mut st = station_with_graded_item(Grade::Defect);
    let e = run(&mut st, put_away("D09")).unwrap_err();
    assert_eq!(e.code(), "unknown_bin");
    run(&mut st, set("D09", upsert(BinClass::Good, None))).unwrap();
    let e = run(&mut st, put_away("D09")).unwrap_err();
    assert_eq!(e.code(), "wrong_zone_for_grade");
    run(&mut st, set("D09", upsert(BinClass::Defect, None))).unwrap();
    run(&mut st, put_away("D09")).unwrap();
    assert_eq!(
        st.returns[&rid()].items[0].zone,
        ItemZone::Defect(Some(bin("D09")))
    );
    assert_eq!(st.units_in_bin(&bin("D09")), 1);
}

fn station_with_note() -> (Station, String) {
    let mut st = station_with_graded_item(Grade::Defect);
    run(&mut st, put_away("D01")).unwrap();
    let cmd = Command::CreateRtvNote {
        by: op(Role::Keeper),
        vendor: "ACME".into(),
        items: vec![ItemRef {
            return_id: rid(),
            item_no: 1,
        }],
    };
    let tr = run(&mut st, cmd).unwrap();
    let no = tr.feedback.params[0].1.clone();
    (st, no)
}

fn close(by: Operator, no: &str) -> Command {
    Command::CloseRtvNote {
        by,
        note_no: no.into(),
        waybill: Some(Waybill::parse("SF9876543210").unwrap()),
        note: " handed to the driver ".into(),
    }
}

/// The note is folded into the state, open; a supervisor closes it once (with the
/// waybill and note); a second close is refused as already closed.
#[test]
fn a_note_closes_once() {
    let (mut st, no) = station_with_note();
    let n = &st.rtv_notes[&no];
    assert_eq!(n.vendor, "ACME");
    assert_eq!(
        n.lines,
        vec![RtvLine {
            item: ItemRef {
                return_id: rid(),
                item_no: 1
            },
            sku: "X".into()
        }]
    );
    assert_eq!(n.created_by, "keeper:K1");
    assert!(n.closed.is_none());
    let tr = run(&mut st, close(sup(), &no)).unwrap();
    assert_eq!(tr.feedback.code, "rtv_closed");
    assert_eq!(tr.events[0].body.type_name(), "rtv.note_closed");
    let c = st.rtv_notes[&no].closed.clone().unwrap();
    assert_eq!(c.by, "supervisor:S1");
    assert_eq!(c.note, "handed to the driver");
    assert_eq!(c.waybill.unwrap().as_str(), "SF9876543210");
    let e = run(&mut st, close(sup(), &no)).unwrap_err();
    assert_eq!(e, DomainError::RtvNoteAlreadyClosed { note_no: no });
}

/// An unknown note is `unknown_rtv_note`.
#[test]
fn an_unknown_note_is_not_found() {
    let (mut st, _) = station_with_note();
    let e = run(&mut st, close(sup(), "RTV-ST01-20261125-0099")).unwrap_err();
    assert_eq!(e.code(), "unknown_rtv_note");
}

/// Only a supervisor closes a note: a keeper (who may create one) and an inspector
/// get the role error, and the note stays open.
#[test]
fn only_a_supervisor_closes_a_note() {
    let (mut st, no) = station_with_note();
    for role in [Role::Keeper, Role::Inspector] {
        let e = run(&mut st, close(op(role), &no)).unwrap_err();
        assert_eq!(
            e,
            DomainError::RoleNotAllowed {
                role,
                action: "close_rtv_note"
            }
        );
    }
    assert!(st.rtv_notes[&no].closed.is_none());
}

/// A lookup that knows one operator who is both keeper and inspector.
struct KeeperInspector;
impl Lookup for KeeperInspector {
    fn manifest(&self, w: &str) -> Option<ManifestEntry> {
        Lk.manifest(w)
    }
    fn operator(&self, badge: &str) -> Option<OperatorInfo> {
        // 030 keeps and inspects; 031 (another keeper) for the tests of two benches.
        matches!(badge, "030" | "031").then(|| OperatorInfo {
            badge: badge.to_string(),
            roles: vec![Role::Inspector, Role::Keeper],
        })
    }
    fn defect_reason(&self, code: &str) -> Option<DefectReasonInfo> {
        Lk.defect_reason(code)
    }
    fn bin(&self, code: &BinCode) -> Option<BinClass> {
        Lk.bin(code)
    }
}

/// At the bench a person acts as keeper when they hold that role, even if they also
/// inspect: the login and the bench's scans are journaled as `keeper:…`.
#[test]
fn a_keeper_who_also_inspects_is_a_keeper_at_the_bench() {
    let mut st = Station::default();
    let cmd = Command::Scan {
        bench: "bench-1".into(),
        text: "030".into(),
        class: crate::domain::scan::ScanClass::Badge(Badge::parse("030").unwrap()),
    };
    let tr = step(&st, &KeeperInspector, &cfg(), cmd, now()).unwrap();
    let role = tr.events.iter().find_map(|e| match &e.body {
        EventBody::LoggedIn { role, .. } => Some(*role),
        _ => None,
    });
    assert_eq!(role, Some(Role::Keeper));
    for ev in &tr.events {
        st.apply(ev);
    }
    let cmd = Command::Scan {
        bench: "bench-1".into(),
        text: "CMD-CANCEL".into(),
        class: crate::domain::scan::ScanClass::Command(crate::domain::scan::CommandCode::Cancel),
    };
    let tr = step(&st, &KeeperInspector, &cfg(), cmd, now()).unwrap();
    assert_eq!(tr.events[0].actor, Actor("keeper:030".into()));
}

fn restock() -> Command {
    Command::Restock {
        by: op(Role::Keeper),
        return_id: rid(),
    }
}

/// Restock moves the good units out of the returns good zone to sellable stock in the
/// same transition as `return.restocked`: stock per zone no longer counts them, the
/// ledger still balances against the items, and the return closes.
#[test]
fn a_restock_moves_good_units_out_of_the_good_zone() {
    let mut st = station_with_graded_item(Grade::Good);
    run(&mut st, put_away("A01")).unwrap();
    let good = ("good/A01".to_string(), "X".to_string());
    assert_eq!(st.stock.get(&good), Some(&1), "waiting in the bin");
    let tr = run(&mut st, restock()).unwrap();
    let bodies: Vec<&EventBody> = tr.events.iter().map(|e| &e.body).collect();
    assert_eq!(
        bodies,
        [
            &EventBody::Restocked { items: vec![1] },
            &EventBody::ItemMoved {
                item_no: 1,
                from: ItemZone::Good(Some(bin("A01"))),
                to: ItemZone::Sellable,
            },
            &EventBody::Ledger {
                sku: "X".into(),
                from: "good/A01".into(),
                to: "sellable".into(),
                qty: 1,
            },
            &EventBody::Closed {
                reason: crate::domain::event::CloseReason::Completed
            },
        ]
    );
    assert!(st.stock.is_empty(), "nothing waits: {:?}", st.stock);
    assert_eq!(st.stock, st.stock_from_items());
    assert_eq!(st.units_in_bin(&bin("A01")), 0, "the bin can be retired");
    let r = &st.returns[&rid()];
    assert_eq!(r.items[0].zone, ItemZone::Sellable);
    assert!(r.items[0].restocked && r.closed);
    assert_eq!(
        ItemZone::parse_ledger_name("sellable"),
        Some(ItemZone::Sellable),
        "the zone reads back from its ledger name"
    );
}

/// A restock leaves the units of other grades where they are: a defect still waiting
/// for its RTV note keeps the return open and stays in the defect zone's stock.
#[test]
fn a_restock_leaves_a_waiting_defect_and_the_return_open() {
    let mut st = station_with_graded_item(Grade::Good);
    let id = rid();
    for b in [
        EventBody::ItemScanned {
            item_no: 2,
            sku: "Y".into(),
            barcode: "Y".into(),
            name: "other".into(),
            exception: None,
        },
        EventBody::ItemMoved {
            item_no: 2,
            from: ItemZone::Bench,
            to: ItemZone::Defect(None),
        },
        EventBody::Ledger {
            sku: "Y".into(),
            from: "in".into(),
            to: "defect".into(),
            qty: 1,
        },
    ] {
        st.apply(&ev(b, Some(&id)));
    }
    run(&mut st, put_away("A01")).unwrap();
    let tr = run(&mut st, restock()).unwrap();
    assert!(
        !tr.events
            .iter()
            .any(|e| matches!(e.body, EventBody::Closed { .. })),
        "a unit still waits"
    );
    let want: std::collections::BTreeMap<_, _> = [(("defect".to_string(), "Y".to_string()), 1)]
        .into_iter()
        .collect();
    assert_eq!(st.stock, want);
    assert_eq!(st.stock, st.stock_from_items());
    assert_eq!(
        run(&mut st, restock()).unwrap_err(),
        DomainError::NothingToMove,
        "nothing good is left to restock"
    );
}

/// A return restocked before restock moved its units (a `return.restocked` alone, the
/// unit left in the good zone, the return closed) is corrected once by the station: its
/// unit moves to sellable stock, as `system`; a second pass finds nothing.
#[test]
fn a_return_restocked_before_the_move_is_corrected_once() {
    let mut st = station_with_graded_item(Grade::Good);
    run(&mut st, put_away("A01")).unwrap();
    let id = rid();
    st.apply(&ev(EventBody::Restocked { items: vec![1] }, Some(&id)));
    st.apply(&ev(
        EventBody::Closed {
            reason: crate::domain::event::CloseReason::Completed,
        },
        Some(&id),
    ));
    assert_eq!(
        st.units_in_bin(&bin("A01")),
        1,
        "the old way: still counted"
    );
    let fix = super::restocked_to_sellable(&st.returns[&id], now());
    assert_eq!(fix.len(), 2, "{fix:?}");
    assert!(fix.iter().all(|e| e.actor == Actor::system()));
    assert_eq!(
        fix[1].body,
        EventBody::Ledger {
            sku: "X".into(),
            from: "good/A01".into(),
            to: "sellable".into(),
            qty: 1,
        }
    );
    for e in &fix {
        st.apply(e);
    }
    assert!(st.stock.is_empty(), "{:?}", st.stock);
    assert_eq!(st.stock, st.stock_from_items());
    assert!(super::restocked_to_sellable(&st.returns[&id], now()).is_empty());
    // A unit in the good zone that was never restocked is not touched.
    let mut waiting = station_with_graded_item(Grade::Good);
    run(&mut waiting, put_away("A01")).unwrap();
    assert!(super::restocked_to_sellable(&waiting.returns[&id], now()).is_empty());
}

/// The journal as the photo lookup sees it: `a…` waits for the central, `b…` was
/// acknowledged lost at seq 9, anything else is referenced by no waiting event.
struct PhotoLk;
impl Lookup for PhotoLk {
    fn manifest(&self, w: &str) -> Option<ManifestEntry> {
        Lk.manifest(w)
    }
    fn operator(&self, b: &str) -> Option<OperatorInfo> {
        Lk.operator(b)
    }
    fn defect_reason(&self, code: &str) -> Option<DefectReasonInfo> {
        Lk.defect_reason(code)
    }
    fn bin(&self, code: &BinCode) -> Option<BinClass> {
        Lk.bin(code)
    }
    fn photo_uplink(&self, sha256: &str) -> crate::domain::ports::PhotoUplink {
        use crate::domain::ports::PhotoUplink;
        match sha256.as_bytes().first() {
            Some(b'a') => PhotoUplink::Waiting,
            Some(b'b') => PhotoUplink::Lost { seq: 9 },
            _ => PhotoUplink::NotWaiting,
        }
    }
}

fn photo_lost(by: Operator, sha256: &str, reason: &str) -> Result<Transition, DomainError> {
    let cmd = Command::PhotoLost {
        by,
        sha256: sha256.into(),
        reason: reason.into(),
    };
    step(&Station::default(), &PhotoLk, &cfg(), cmd, now())
}

/// A supervisor acknowledges a photo waiting for the central as lost: one `photo.lost`
/// with the sha256 (lower-cased) and the trimmed reason, concerning no return.
#[test]
fn a_supervisor_acknowledges_a_waiting_photo_as_lost() {
    let sha = "A".repeat(64);
    let tr = photo_lost(sup(), &sha, "  file deleted by a disk repair ").unwrap();
    assert_eq!(tr.events.len(), 1);
    assert_eq!(tr.events[0].return_id, None);
    assert_eq!(tr.events[0].actor, Actor("supervisor:S1".into()));
    assert_eq!(
        tr.events[0].body,
        EventBody::PhotoLost {
            sha256: "a".repeat(64),
            reason: "file deleted by a disk repair".into()
        }
    );
    assert_eq!(tr.events[0].body.type_name(), "photo.lost");
    assert_eq!(tr.feedback.code, "photo_lost_recorded");
}

/// Refused, nothing journaled: a keeper or an inspector, an empty reason, a malformed
/// sha256, a photo no waiting event references, and one already acknowledged lost.
#[test]
fn a_lost_photo_is_refused_unless_it_holds_the_push_back() {
    let a = "a".repeat(64);
    for role in [Role::Keeper, Role::Inspector] {
        let e = photo_lost(op(role), &a, "gone").unwrap_err();
        assert_eq!(e.code(), "role_not_allowed", "{role:?}");
    }
    assert_eq!(
        photo_lost(sup(), &a, "  ").unwrap_err(),
        DomainError::ReasonRequired
    );
    assert_eq!(
        photo_lost(sup(), "abc", "gone").unwrap_err().code(),
        "bad_input"
    );
    assert_eq!(
        photo_lost(sup(), &"c".repeat(64), "gone").unwrap_err(),
        DomainError::PhotoNotWaiting {
            sha256: "c".repeat(64)
        }
    );
    assert_eq!(
        photo_lost(sup(), &"b".repeat(64), "gone").unwrap_err(),
        DomainError::PhotoAlreadyLost {
            sha256: "b".repeat(64),
            seq: 9
        }
    );
}

/// Contract 1.1 § 6.5: the station ends the bench logins of changed operators — a bench
/// holding one releases its return and logs out, by the station; another operator's bench
/// is left as it is; with nobody of theirs logged in, nothing is recorded.
#[test]
fn ending_an_operators_bench_logins_releases_and_logs_out_only_theirs() {
    let mut st = Station::default();
    let badge = |s: &str| Badge::parse(s).unwrap();
    let scan = |bench: &str, text: &str, class: crate::domain::scan::ScanClass| Command::Scan {
        bench: bench.into(),
        text: text.into(),
        class,
    };
    use crate::domain::scan::ScanClass;
    for (bench, b) in [("bench-1", "030"), ("bench-2", "031")] {
        let tr = step(
            &st,
            &KeeperInspector,
            &cfg(),
            scan(bench, b, ScanClass::Badge(badge(b))),
            now(),
        )
        .unwrap();
        for ev in &tr.events {
            st.apply(ev);
        }
    }
    let id = rid();
    st.benches.get_mut("bench-1").unwrap().current = Some(id.clone());
    let end_030 = |st: &Station| {
        let cmd = Command::EndSessions {
            badges: vec![badge("030")],
        };
        step(st, &KeeperInspector, &cfg(), cmd, now()).unwrap()
    };
    let tr = end_030(&st);
    let got: Vec<(String, Option<ReturnId>)> = tr
        .events
        .iter()
        .map(|e| (e.body.type_name().to_string(), e.return_id.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("bench.return_released".to_string(), Some(id)),
            ("operator.logged_out".to_string(), None)
        ]
    );
    assert!(tr.events.iter().all(|e| e.actor == Actor::system()));
    for ev in &tr.events {
        st.apply(ev);
    }
    assert!(st.bench("bench-1").session.is_none());
    assert!(st.bench("bench-2").session.is_some());
    assert!(end_030(&st).events.is_empty());
}
