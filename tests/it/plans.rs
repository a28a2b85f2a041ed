//! No query an operator, a page or the engine makes walks the whole journal or the whole
//! returns table: their cost would grow with the station's history. The real daemon runs
//! with `RETURNSD_TEST_SQL_TRACE` (every statement its connections run, written to a file)
//! through the bench flow, the inspection, put-away, restock, an RTV note, a waybill
//! scanned again after its return was put away, and every `GET` of the API (taken from
//! the router's own table, so a new endpoint cannot be forgotten) with every filter; then
//! each distinct statement is planned with `EXPLAIN QUERY PLAN` against the database it
//! ran on, and a full `SCAN` of `journal` or `returns` fails the test, naming the query.

use std::collections::BTreeSet;

use rusqlite::Connection;

use crate::api_client::{addr, get, login, post, station};
use crate::support::{Station, book_in_scans, scan_ok};

/// Walk returns through the bench: received, kind, unpacked, one item, visual, first
/// check (`Z-PENDING`). Their ids.
fn receive(st: &Station, waybills: &[&str]) -> Vec<String> {
    waybills
        .iter()
        .map(|w| {
            let r = scan_ok(st, &book_in_scans(w));
            r[1]["return_id"].as_str().expect("return id").to_string()
        })
        .collect()
}

/// The tables and aliases a statement names for the journal and the returns.
fn watched_names(sql: &str) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = ["journal", "returns"].map(String::from).into();
    let words: Vec<&str> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    const KEYWORDS: &[&str] = &[
        "where", "on", "join", "left", "inner", "order", "group", "limit", "set", "values",
        "union", "except", "as", "using", "select", "from", "and", "or",
    ];
    for pair in words.windows(3) {
        if matches!(pair[0], "journal" | "returns") {
            let alias = if pair[1].eq_ignore_ascii_case("as") {
                pair[2]
            } else {
                pair[1]
            };
            if !KEYWORDS.contains(&alias.to_ascii_lowercase().as_str()) {
                names.insert(alias.to_string());
            }
        }
    }
    names
}

/// The full scans of `journal` or `returns` in `sql`'s plan (empty: none).
fn full_scans(conn: &Connection, sql: &str) -> Result<Vec<String>, String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .map_err(|e| format!("{e}"))?;
    // Unbound parameters are NULL: the plan is the one SQLite makes for any values.
    let mut rows = stmt.raw_query();
    let watched = watched_names(sql);
    let mut bad = Vec::new();
    while let Some(row) = rows.next().map_err(|e| format!("{e}"))? {
        let detail: String = row.get(3).map_err(|e| format!("{e}"))?;
        let has = |word: &str| sql.to_ascii_uppercase().contains(word);
        if let Some(rest) = detail.strip_prefix("SCAN ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            // "SCAN t USING INDEX …" under a LIMIT walks an index in order and stops at
            // the page's end; any other scan reads every row (or index entry) of the table.
            if watched.contains(name) && !(rest.contains(" USING ") && has(" LIMIT ")) {
                bad.push(detail);
            }
        } else if let Some(name) = detail.strip_prefix("SEARCH ") {
            // A bare "SEARCH t" is the MIN/MAX walk along the key: one row without a
            // WHERE, but with one it steps row by row until the condition holds.
            if watched.contains(name) && has(" WHERE ") {
                bad.push(detail);
            }
        }
    }
    Ok(bad)
}

/// Statements that are not queries of the data (transactions, settings, the schema's own
/// migrations, which run once on upgrade).
fn is_query(sql: &str) -> bool {
    let first = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "WITH" | "REPLACE"
    ) && !sql.contains("sqlite_")
}

#[test]
fn no_store_query_scans_the_whole_journal_or_returns_table() {
    let st = station("");
    let mut text = std::fs::read_to_string(&st.config).unwrap();
    text.push_str(
        "\n[printer]\nkind = \"directory\"\nlanguage = \"zpl\"\n\n[inspection]\ndefect_photo_required = false\n",
    );
    std::fs::write(&st.config, text).unwrap();
    let trace = st.config.with_file_name("sql-trace.log");
    let d = st.start_with_env("RETURNSD_TEST_SQL_TRACE", trace.to_str().unwrap());
    let a = addr(&d);

    // The bench and the inspection, through the control socket (as the CLI and scanners).
    let ids = receive(
        &st,
        &["SF1000000000001", "SF1000000000002", "SF1000000000003"],
    );
    let (good, defect, waiting) = (&ids[0], &ids[1], &ids[2]);
    st.cli_ok(&["inspect", good, "--badge", "021", "--grade", "good"]);
    st.cli_ok(&[
        "inspect",
        defect,
        "--badge",
        "021",
        "--grade",
        "defect",
        "--reason",
        "damaged_casing",
    ]);
    st.cli_ok(&["put-away", good, "--badge", "021", "--zone", "A01"]);
    st.cli_ok(&["put-away", defect, "--badge", "021", "--zone", "Z-DEFECT"]);
    // Put away: no longer open work, read back from its row when named again.
    let again = scan_ok(&st, &["SF1000000000001"]);
    assert_eq!(
        again[0]["return_id"].as_str(),
        Some(good.as_str()),
        "the waybill finds its put-away return, not a new one"
    );
    st.cli_ok(&["restock", good, "--badge", "017"]);
    st.cli_ok(&[
        "rtv",
        "--badge",
        "001",
        "--vendor",
        "ACME",
        &format!("{defect}.1"),
    ]);

    // A lost photo (contract 1.1) looked up in the journal: refused, nothing references it.
    let out = st.cli(&[
        "photo-lost",
        &"0".repeat(64),
        "--badge",
        "001",
        "--reason",
        "plan check",
    ]);
    assert_eq!(out.status.code(), Some(1), "no event references that photo");

    // Every GET of the API as a supervisor, path parameters filled with real values.
    let sup = login(&a, "001", "3333");
    let notes = get(&a, &sup, "/api/v1/rtv-notes").json();
    let note = notes["notes"][0]["note_no"]
        .as_str()
        .unwrap_or_else(|| panic!("an RTV note: {notes}"))
        .to_string();
    let jobs = get(&a, &sup, "/api/v1/print-jobs").json();
    let job = jobs["jobs"][0]["id"]
        .as_i64()
        .or_else(|| jobs[0]["id"].as_i64())
        .unwrap_or(1)
        .to_string();
    let mut called = 0;
    for route in returnsd::http::api::ROUTES {
        if route.method != "GET" || route.path == "/events" {
            continue; // the live stream is a long poll; its reads are the kiosk's
        }
        let path = route
            .path
            .replace("{id}", waiting)
            .replace("{note}", &note)
            .replace("{bin}", "A01")
            .replace("{job}", &job)
            .replace("{sha}", &"0".repeat(64));
        let r = get(&a, &sup, &format!("/api/v1{path}"));
        assert!(r.status < 500, "GET {path}: {}", r.status);
        called += 1;
    }
    assert!(called >= 15, "only {called} GET routes");
    for query in [
        "/api/v1/returns",
        "/api/v1/returns?stage=first_checked",
        "/api/v1/returns?kind=customer_return",
        "/api/v1/returns?q=SF10000",
        "/api/v1/returns?q=R-ST01",
        "/api/v1/returns?stage=put_away&kind=customer_return&q=SF1",
        "/api/v1/returns?limit=2&offset=1",
        "/api/v1/inspection-queue",
        "/api/v1/journal?after=3",
        "/api/v1/kiosk/state?bench=bench-1",
        "/api/v1/kiosk/state?bench=bench-1&lang=zh-CN",
    ] {
        let r = get(&a, &sup, query);
        assert_eq!(r.status, 200, "GET {query}: {}", r.text());
    }
    let r = post(
        &a,
        &sup,
        &format!("/api/v1/returns/{waiting}/reprint"),
        &serde_json::json!({"reason": "smudged"}),
    );
    assert!(r.status < 500, "reprint: {}", r.status);
    d.stop();

    let text = std::fs::read_to_string(&trace).expect("the daemon wrote its SQL trace");
    // Each line: the bytes bound to the statement, a tab, its text.
    let statements: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(_, sql)| sql))
        .filter(|l| is_query(l))
        .collect();
    assert!(
        statements.len() >= 40,
        "only {} distinct statements traced: is the hook working?",
        statements.len()
    );
    let conn = Connection::open(st.db()).unwrap();
    let mut failures = Vec::new();
    if std::env::var_os("PLANS_LIST").is_some() {
        for sql in &statements {
            eprintln!("TRACED {sql}");
        }
    }
    for sql in &statements {
        match full_scans(&conn, sql) {
            Ok(bad) if bad.is_empty() => {}
            Ok(bad) => failures.push(format!("{sql}\n    plan: {}", bad.join("; "))),
            Err(e) => failures.push(format!("{sql}\n    cannot plan: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} statements scan the whole journal or returns table:\n{}",
        failures.len(),
        statements.len(),
        failures.join("\n")
    );
}

/// The check itself: a bare scan of either table (or an alias of one) is caught, an
/// indexed search or an ordered index walk is not.
#[test]
fn the_plan_check_catches_a_full_scan() {
    let st = Station::new("");
    std::fs::create_dir_all(st.state_dir()).unwrap();
    drop(returnsd::store::Store::open(&st.db(), "ST01").expect("a new station database"));
    let conn = Connection::open(st.db()).unwrap();
    let scan = "SELECT COUNT(*) FROM journal WHERE json_extract(data, '$.bench') = 'b'";
    assert!(!full_scans(&conn, scan).unwrap().is_empty(), "{scan}");
    let aliased = "SELECT COUNT(*) FROM journal AS j WHERE j.actor = ?1";
    assert!(!full_scans(&conn, aliased).unwrap().is_empty(), "{aliased}");
    let by_key = "SELECT data FROM journal WHERE seq > ?1 ORDER BY seq LIMIT 10";
    assert!(full_scans(&conn, by_key).unwrap().is_empty(), "{by_key}");
    let walk = "SELECT MIN(seq) FROM journal WHERE occurred_at >= ?1";
    assert!(!full_scans(&conn, walk).unwrap().is_empty(), "{walk}");
    // The push's read of the lost photos (contract 1.1) walks only the partial index.
    let lost = "SELECT seq, json_extract(data, '$.sha256') FROM journal
         WHERE type = 'photo.lost' ORDER BY seq";
    assert!(full_scans(&conn, lost).unwrap().is_empty(), "{lost}");
    let whole_index = "SELECT MIN(seq), MAX(seq) FROM journal";
    assert!(
        !full_scans(&conn, whole_index).unwrap().is_empty(),
        "{whole_index}"
    );
    let last = "SELECT MAX(seq) FROM journal";
    assert!(full_scans(&conn, last).unwrap().is_empty(), "{last}");
    let by_stage = "SELECT state FROM returns WHERE stage = ?1";
    assert!(
        full_scans(&conn, by_stage).unwrap().is_empty(),
        "{by_stage}"
    );
}
