//! Upgrades: a database of every earlier schema version, as the returnsd of its time wrote
//! it (one SQL dump per version in `tests/fixtures/schema/`; how each was made: its README.md),
//! opened by the current daemon — migrated to the current version, `journal verify`
//! passes, every row kept, and new work continues the journal. An empty file becomes a
//! current database. A database (or a backup) of a newer version is refused, naming the
//! file and both versions, untouched.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::kit::control::Ctl;
use crate::support::{Station, assert_journal_verifies, request};

/// The schema version this returnsd writes. A new migration fails this test until a
/// fixture of the version before it is added (`make.sh`), so every earlier version stays
/// covered.
const CURRENT: i64 = 8;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema")
}

/// A station whose database is fixture `n`.
fn station_on_fixture(n: i64) -> Station {
    let st = Station::new("");
    std::fs::create_dir_all(st.state_dir()).unwrap();
    let sql = std::fs::read_to_string(fixture_dir().join(format!("v{n}.sql")))
        .unwrap_or_else(|e| panic!("fixture v{n}.sql: {e} (make it with make.sh)"));
    let c = Connection::open(st.db()).unwrap();
    c.execute_batch(&sql).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, n, "fixture v{n}.sql sets its version");
    st
}

fn user_version(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// What must survive a migration: the journal (every column), the projections, the
/// ledger, the reference data, the meta rows and, from version 3, the print queue.
fn rows(db: &Path, n: i64) -> Vec<(String, Vec<Vec<String>>)> {
    let c = Connection::open(db).unwrap();
    let mut tables = vec![
        (
            "journal",
            "SELECT seq, id, type, occurred_at, actor, IFNULL(return_id, ''), data FROM journal ORDER BY seq",
        ),
        (
            "returns",
            "SELECT return_id, waybill, IFNULL(kind, ''), stage, received_at, state FROM returns ORDER BY return_id",
        ),
        ("benches", "SELECT bench, state FROM benches ORDER BY bench"),
        (
            "ledger",
            "SELECT seq, sku, from_zone, to_zone, qty FROM ledger ORDER BY seq",
        ),
        (
            "feed_items",
            "SELECT type, key, version, IFNULL(data, '') FROM feed_items ORDER BY type, key",
        ),
        ("meta", "SELECT key, value FROM meta ORDER BY key"),
    ];
    if n >= 3 {
        tables.push((
            "print_jobs",
            "SELECT id, subject, template, reason, state FROM print_jobs ORDER BY id",
        ));
    }
    tables
        .into_iter()
        .map(|(name, q)| {
            let mut stmt = c.prepare(q).unwrap();
            let width = stmt.column_count();
            let got = stmt
                .query_map([], |r| {
                    (0..width)
                        .map(|i| {
                            r.get_ref(i).map(|v| match v {
                                rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                                rusqlite::types::ValueRef::Text(t) => {
                                    String::from_utf8_lossy(t).into_owned()
                                }
                                other => format!("{other:?}"),
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let got = if name == "returns" {
                got.into_iter().map(|r| whole_return(&c, r)).collect()
            } else {
                got
            };
            (name.to_string(), got)
        })
        .collect()
}

/// A `returns` row with its state as the whole return, whatever the schema: from version
/// 7 the items are rows of their own (`return_items`) and the header counts them
/// (`item_count`); the state is put back together (keys sorted) so rows of either
/// version compare.
fn whole_return(c: &Connection, mut row: Vec<String>) -> Vec<String> {
    let mut state: Value = serde_json::from_str(&row[5]).unwrap();
    let split = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'return_items'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        == 1;
    if split {
        let mut q = c
            .prepare("SELECT state FROM return_items WHERE return_id = ?1 ORDER BY item_no")
            .unwrap();
        let items: Vec<Value> = q
            .query_map([&row[0]], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|t| serde_json::from_str(&t.unwrap()).unwrap())
            .collect();
        let count = items.iter().filter(|i| i["voided"] != json!(true)).count();
        assert_eq!(state["item_count"], json!(count), "{}: item_count", row[0]);
        state.as_object_mut().unwrap().remove("item_count");
        state["items"] = json!(items);
    }
    row[5] = state.to_string();
    row
}

/// Every fixture of versions 1 … CURRENT − 1 starts the current daemon: migrated to
/// CURRENT, every row as it was (the new tables empty), `journal verify` OK, the same
/// epoch, and a new scan takes the next seq.
#[test]
fn every_earlier_schema_version_migrates_and_keeps_its_rows() {
    for n in 1..CURRENT {
        let st = station_on_fixture(n);
        let before = rows(&st.db(), n);
        let journal = &before[0].1;
        assert!(journal.len() > 20, "v{n}: a representative journal");
        let epoch = before[5]
            .1
            .iter()
            .find(|r| r[0] == "epoch")
            .map(|r| r[1].clone())
            .expect("epoch in meta");
        // A database written before restock moved units to `sellable` still has its
        // restocked unit in bin A01: the first start corrects it with two events (an
        // `item.moved` and a `ledger.entry`, by `system`). A later one has nothing to fix.
        let fix = if before[5].1.iter().any(|r| r[0] == "restock_moved") {
            0
        } else {
            2
        };
        let d = st.start();
        let ping = request(&st.socket(), &json!({"op": "ping"})).unwrap();
        assert_eq!(ping["epoch"], json!(epoch), "v{n}: the epoch is kept");
        let mut ctl = Ctl::new(st.socket());
        let v = ctl.scan("bench-1", "AFTER-UPGRADE").unwrap();
        assert_eq!(v["stored"], true, "v{n}: {v}");
        assert_eq!(
            v["seq_first"],
            json!(journal.len() + fix + 1),
            "v{n}: the journal continues (after the correction)"
        );
        let log = d.log_text();
        d.stop();
        assert_eq!(user_version(&st.db()), CURRENT, "v{n}: migrated");
        for said in [
            format!("upgrading the database schema path={}", st.db().display()),
            format!("database schema upgraded from={n} to={CURRENT}"),
        ] {
            assert!(log.contains(&said), "v{n}: the log says {said:?}:\n{log}");
        }
        assert_journal_verifies(&st);
        let after = rows(&st.db(), n);
        for ((name, was), (_, now)) in before.iter().zip(&after) {
            match name.as_str() {
                // The new scan's event, after the correction's two when there is one; its
                // bench's snapshot; nothing else.
                "journal" if fix == 0 => {
                    assert_eq!(&now[..was.len()], &was[..], "v{n}: journal")
                }
                "journal" => {
                    assert_eq!(&now[..was.len()], &was[..], "v{n}: journal");
                    let added: Vec<(&str, &str)> = now[was.len()..was.len() + 2]
                        .iter()
                        .map(|r| (r[2].as_str(), r[4].as_str()))
                        .collect();
                    assert_eq!(
                        added,
                        [("item.moved", "system"), ("ledger.entry", "system")],
                        "v{n}: the correction"
                    );
                    let ledger: Value = serde_json::from_str(&now[was.len() + 1][6]).unwrap();
                    assert_eq!(
                        ledger,
                        json!({"sku": "SKU-A", "from": "good/A01", "to": "sellable", "qty": 1}),
                        "v{n}: the restocked unit leaves bin A01"
                    );
                }
                "ledger" if fix > 0 => {
                    assert_eq!(&now[..was.len()], &was[..], "v{n}: ledger");
                    let added: Vec<&[String]> = now[was.len()..].iter().map(|r| &r[1..]).collect();
                    assert_eq!(
                        added,
                        [["SKU-A", "good/A01", "sellable", "1"]],
                        "v{n}: ledger"
                    );
                }
                // The restocked return's unit is now in `sellable`; every other row as it was.
                "returns" if fix > 0 => {
                    assert_eq!(now.len(), was.len(), "v{n}: returns");
                    for (w, r) in was.iter().zip(now) {
                        let state: Value = serde_json::from_str(&r[5]).unwrap();
                        if w[5].contains(r#""restocked":true"#) {
                            assert_eq!(&r[..5], &w[..5], "v{n}: {}", w[0]);
                            assert_eq!(state["items"][0]["zone"], "sellable", "v{n}: {}", w[0]);
                        } else {
                            assert_eq!(r, w, "v{n}: returns");
                        }
                    }
                }
                "benches" => {}
                // Every row kept; the daemon's start backfills the RTV notes and bin edits
                // of the journal into `meta` snapshots once (`snapshot::load_and_backfill`,
                // closed notes under `rtv_done:`, open ones under `rtv_note:`, then
                // `meta_layout`) and records where the database lives (`identity_*`: it
                // predates them). A closed note's row moves to `rtv_done:`, same value.
                "meta" => {
                    let moved = |r: &Vec<String>| {
                        r[0].strip_prefix("rtv_note:").is_some_and(|no| {
                            now.contains(&vec![format!("rtv_done:{no}"), r[1].clone()])
                        })
                    };
                    let added: Vec<_> = now.iter().filter(|r| !was.contains(r)).collect();
                    assert!(
                        was.iter().all(|r| now.contains(r) || moved(r))
                            && added.iter().all(|r| {
                                [
                                    "rtv_note:",
                                    "rtv_done:",
                                    "identity_",
                                    "meta_layout",
                                    "restock_moved",
                                ]
                                .iter()
                                .any(|p| r[0].starts_with(p))
                            }),
                        "v{n}: meta {was:?} → {now:?}"
                    );
                }
                _ => assert_eq!(now, was, "v{n}: {name}"),
            }
        }
        let c = Connection::open(st.db()).unwrap();
        let stock: Vec<(String, String, i64)> = c
            .prepare("SELECT zone, sku, qty FROM stock WHERE sku = 'SKU-A'")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            stock,
            [("sellable".to_string(), "SKU-A".to_string(), 1)],
            "v{n}: nothing restocked waits in a good zone"
        );
        let out = st.cli(&["returns", "list", "--json"]);
        let list: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("one return per line"))
            .collect();
        assert_eq!(
            list.len(),
            before[1].1.len(),
            "v{n}: the returns list reads the migrated projections"
        );
    }
}

/// A 0-byte database file with no creation marker (schema version 0) becomes a current,
/// empty database.
#[test]
fn an_empty_file_becomes_a_current_database() {
    let st = Station::new("");
    std::fs::create_dir_all(st.state_dir()).unwrap();
    std::fs::write(st.db(), b"").unwrap();
    let d = st.start();
    d.stop();
    assert_eq!(user_version(&st.db()), CURRENT);
    assert_journal_verifies(&st);
}

/// A database of a newer schema version than this binary is refused by the daemon naming
/// the file and both versions (exit 2) and left as it was; a backup of one is refused by
/// `restore` the same way.
#[test]
fn a_newer_schema_version_is_refused_naming_the_file_and_both_versions() {
    let st = station_on_fixture(CURRENT - 1);
    {
        let c = Connection::open(st.db()).unwrap();
        c.execute_batch("PRAGMA user_version = 99;").unwrap();
    }
    let size = std::fs::metadata(st.db()).unwrap().len();
    let (status, err) = st.run_refused();
    assert_eq!(status.code(), Some(2), "{err}");
    let db = st.db().display().to_string();
    assert!(
        err.contains(&db)
            && err.contains("schema version 99")
            && err.contains(&format!("({CURRENT})")),
        "{err}"
    );
    assert_eq!(user_version(&st.db()), 99, "untouched");
    assert_eq!(std::fs::metadata(st.db()).unwrap().len(), size);

    // A backup written by a newer returnsd.
    let ok = Station::new("");
    let d = ok.start();
    d.stop();
    let file = ok.dir.path().join("newer.backup");
    let out = ok.cli(&["backup", "--out", file.to_str().unwrap()]);
    assert!(out.status.success());
    {
        let c = Connection::open(&file).unwrap();
        c.execute_batch("PRAGMA user_version = 99;").unwrap();
    }
    let out = ok.cli(&["restore", "--from", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&file.display().to_string())
            && err.contains(&format!(
                "schema version 99 is newer than this returnsd knows ({CURRENT})"
            )),
        "{err}"
    );
}
