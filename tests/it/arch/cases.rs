//! The checker's own cases: each rule catches a violation planted in a small tree held in
//! memory (not the real one), and accepts the clean variant; the scanner reads each form
//! of naming this crate writes, and ignores comments and literals.

use std::collections::{BTreeMap, BTreeSet};

use super::docpaths;
use super::modgraph::{Graph, Repo};
use super::rules::{self, Known, Rule, Rules};
use super::scan;

/// The tree every case starts from: a domain with a state machine, an engine calling it,
/// a store, two edges and the binary. It keeps every rule.
const BASE: &[(&str, &str)] = &[
    (
        "src/lib.rs",
        "pub mod domain;\npub mod engine;\npub mod http;\npub mod store;\npub mod sync;\n",
    ),
    ("src/domain/mod.rs", "pub mod ids;\npub mod step;\n"),
    ("src/domain/ids.rs", "pub struct Id;\n"),
    (
        "src/domain/step/mod.rs",
        "use super::ids::Id;\n\npub struct Command;\n\npub fn step(_: Id, _: Command) {}\n",
    ),
    (
        "src/engine.rs",
        "use crate::domain::ids::Id;\nuse crate::domain::step::{self, step};\n\n\
         pub fn run() {\n    step(Id, step::Command);\n    crate::store::save();\n}\n",
    ),
    (
        "src/store/mod.rs",
        "use rusqlite::Connection;\n\npub fn save() {\n    let _ = Connection::open_in_memory();\n}\n",
    ),
    (
        "src/http/mod.rs",
        "use crate::domain::step::Command;\nuse crate::engine;\n\n\
         pub fn serve(_: Command) {\n    engine::run();\n}\n",
    ),
    (
        "src/sync/mod.rs",
        "pub fn push() {\n    crate::engine::run();\n}\n",
    ),
    (
        "src/main.rs",
        "fn main() {\n    returnsd::http::serve(returnsd::domain::step::Command);\n}\n",
    ),
    ("tests/it/main.rs", "//! Tests.\n"),
    (
        "README.md",
        "# x\n\nThe engine is `src/engine.rs::run`, tested in `tests/it/main.rs`; the \
         pages `src/{engine,lib}.rs` and `src/http/*.rs`, beside `../shared/spec.md` and \
         `/dev/usb/lp0`.\n\n## Codemap\n\n```\nsrc/engine.rs   the one writer\n\
         src/domain/     pure\n  ids.rs        identifiers\n  step/         the machine\n\
         \x20   mod.rs      step()\n```\n",
    ),
];

const ALLOWED: &[(&str, &str)] = &[
    ("domain", ""),
    ("store", "domain"),
    ("engine", "domain store"),
    ("http", "domain engine store"),
    ("sync", "domain engine store"),
    ("main", "http domain"),
];

fn rules(known: &[Known]) -> Rules<'_> {
    Rules {
        allowed: ALLOWED,
        step_fn: &["domain", "step", "step"],
        step_callers: &["engine", "domain"],
        only_in: &[("rusqlite", "store engine")],
        pure: &[("domain", "std::fs std::io rusqlite chrono::Utc::now")],
        cited_roots: "src tests docs",
        known,
        known_file: "known.rs",
    }
}

fn externs() -> BTreeSet<String> {
    ["rusqlite", "chrono"].map(String::from).into()
}

/// The base tree with `files` added (each declared in its parent: `pub mod x;` appended
/// to `src/lib.rs` or the directory's `mod.rs`) or replaced (a file the base has).
fn tree(files: &[(&str, &str)]) -> Repo {
    tree_with(files, true)
}

/// The base tree with `files`, declared in their parents only if `declare`.
fn tree_with(files: &[(&str, &str)], declare: bool) -> Repo {
    let mut all: BTreeMap<String, String> = BASE
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    for (path, text) in files {
        let new = !all.contains_key(*path) && path.starts_with("src/") && path.ends_with(".rs");
        if declare && new {
            let (dir, name) = path.rsplit_once('/').unwrap();
            let parent = if dir == "src" {
                "src/lib.rs".to_string()
            } else {
                format!("{dir}/mod.rs")
            };
            let decl = format!("pub mod {};\n", name.trim_end_matches(".rs"));
            all.entry(parent).or_default().push_str(&decl);
        }
        all.insert(path.to_string(), text.to_string());
    }
    let list: Vec<(&str, &str)> = all.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    Repo::of(&list)
}

/// The violation lines of the base tree with `files` planted, allowing `known`.
fn check_with(files: &[(&str, &str)], known: &[Known]) -> Vec<String> {
    let lines: Vec<String> = rules::check(&tree(files), &rules(known), &externs())
        .iter()
        .map(|v| v.to_string())
        .collect();
    lines
}

fn check(files: &[(&str, &str)]) -> Vec<String> {
    check_with(files, &[])
}

/// `got` is one line per `expected` prefix, in order.
fn lines_start(got: &[String], expected: &[&str]) {
    let each = got.iter().zip(expected).all(|(g, e)| g.starts_with(e));
    assert!(
        got.len() == expected.len() && each,
        "expected lines starting\n{}\ngot:\n{}",
        expected.join("\n"),
        got.join("\n")
    );
}

/// The one violation `files` make, which must start with `expected`.
fn one(files: &[(&str, &str)], expected: &str) {
    lines_start(&check(files), &[expected]);
}

#[test]
fn the_base_tree_keeps_every_rule() {
    assert_eq!(check(&[]), Vec::<String>::new());
    let g = Graph::build(&tree(&[]), &externs(), &["domain", "step", "step"]);
    let step_call = g
        .edges
        .iter()
        .find(|e| e.from == "src/engine.rs" && e.named == ["domain", "step", "step"] && e.call);
    assert_eq!(
        step_call.map(|e| (e.line, e.call)),
        Some((5, true)),
        "read the engine's call"
    );
    assert_eq!(g.top("src/main.rs"), "main");
}

#[test]
fn an_edge_naming_another_edge_fails_in_every_form() {
    let forms = [
        ("use crate::sync;\n", 1, "sync"),
        ("use crate::{engine as e, sync::push};\n", 1, "sync::push"),
        (
            "pub fn f() {\n    crate::sync::push();\n}\n",
            2,
            "sync::push",
        ),
        ("use super::super::sync::push;\n", 1, "sync::push"),
        (
            "pub fn f() {}\nuse crate::sync as s;\npub fn g() {\n    s::push();\n}\n",
            2,
            "sync",
        ),
    ];
    for (text, line, named) in forms {
        one(
            &[("src/http/extra.rs", text)],
            &format!(
                "src/http/extra.rs:{line}: imports: http names sync ({named}); http may name: domain, engine, store"
            ),
        );
    }
    // Naming what the table allows passes.
    assert_eq!(
        check(&[(
            "src/http/extra.rs",
            "use crate::store::save;\nuse super::serve;\n"
        )]),
        Vec::<String>::new()
    );
}

#[test]
fn the_domain_names_nothing_of_the_crate() {
    one(
        &[(
            "src/domain/ids.rs",
            "use crate::store::save;\npub struct Id;\n",
        )],
        "src/domain/ids.rs:1: imports: domain names store (store::save); domain may name: \
         nothing of the crate",
    );
    // Through `super::` past the domain's root, in a unit test too.
    one(
        &[(
            "src/domain/ids.rs",
            "pub struct Id;\n#[cfg(test)]\nmod tests {\n    use super::super::super::engine;\n}\n",
        )],
        "src/domain/ids.rs:4: imports: domain names engine (engine)",
    );
}

#[test]
fn a_module_missing_from_the_table_fails() {
    one(
        &[("src/metrics.rs", "use crate::domain::ids::Id;\n")],
        "src/metrics.rs:1: imports: metrics has no row in the allowed-imports table",
    );
}

#[test]
fn only_the_engine_calls_step() {
    let forms = [
        ("use crate::domain::step::step;\n", 1),
        (
            "pub fn f() {\n    crate::domain::step::step(todo!(), todo!());\n}\n",
            2,
        ),
        (
            "use crate::domain::step;\npub fn f() {\n    step::step(todo!(), todo!());\n}\n",
            3,
        ),
        (
            "use crate::domain::step::*;\npub fn f() {\n    step(todo!(), Command);\n}\n",
            3,
        ),
    ];
    for (text, line) in forms {
        one(
            &[("src/sync/extra.rs", text)],
            &format!("src/sync/extra.rs:{line}: step: sync names domain::step::step"),
        );
    }
    // Its types may be named; a test may call it; another `step` is not the machine's.
    let clean = "use crate::domain::step::Command;\nfn step() {}\npub fn f(_: Command) {\n    \
                 step();\n}\n#[cfg(test)]\nmod tests {\n    use crate::domain::step::step;\n}\n";
    assert_eq!(check(&[("src/sync/extra.rs", clean)]), Vec::<String>::new());
}

#[test]
fn rusqlite_belongs_to_the_store_and_the_engine() {
    one(
        &[("src/http/extra.rs", "use rusqlite::Connection;\n")],
        "src/http/extra.rs:1: extern: http names rusqlite::Connection; rusqlite belongs to \
         store, engine",
    );
    one(
        &[(
            "src/http/extra.rs",
            "pub fn f(_: &::rusqlite::Connection) {}\n",
        )],
        "src/http/extra.rs:1: extern: http names rusqlite::Connection",
    );
    // The engine may; a test elsewhere may.
    let test = "#[cfg(test)]\nmod tests {\n    use rusqlite::Connection;\n}\n";
    assert_eq!(
        check(&[
            ("src/engine.rs", "use rusqlite::params;\n"),
            ("src/http/extra.rs", test)
        ]),
        Vec::<String>::new()
    );
}

#[test]
fn the_domain_names_no_io() {
    let got = check(&[(
        "src/domain/ids.rs",
        "use std::{fs, io::Read};\nuse chrono::Utc;\npub fn now() {\n    Utc::now();\n}\n",
    )]);
    assert_eq!(
        got,
        [
            "src/domain/ids.rs:1: extern: domain is pure and names std::fs",
            "src/domain/ids.rs:1: extern: domain is pure and names std::io::Read",
            "src/domain/ids.rs:4: extern: domain is pure and names chrono::Utc::now",
        ]
    );
    // Naming the clock's types is not reading it.
    assert_eq!(
        check(&[(
            "src/domain/ids.rs",
            "use chrono::{DateTime, Utc};\npub type T = DateTime<Utc>;\n"
        )]),
        Vec::<String>::new()
    );
}

#[test]
fn a_cycle_of_three_files_fails_with_a_line_per_hop() {
    let a = ("src/store/a.rs", "use super::b::B;\npub struct A;\n");
    let b = ("src/store/b.rs", "pub struct B;\n\nuse super::c::C;\n");
    let c = (
        "src/store/c.rs",
        "pub struct C;\npub fn f() {\n    let _ = super::a::A;\n}\n",
    );
    assert_eq!(
        check(&[a, b, c]),
        [
            "src/store/a.rs:1: cycle: names src/store/b.rs: src/store/a.rs → src/store/b.rs \
             → src/store/c.rs → src/store/a.rs",
            "src/store/b.rs:3: cycle: names src/store/c.rs: src/store/a.rs → src/store/b.rs \
             → src/store/c.rs → src/store/a.rs",
            "src/store/c.rs:3: cycle: names src/store/a.rs: src/store/a.rs → src/store/b.rs \
             → src/store/c.rs → src/store/a.rs",
        ]
    );
    // Without the back edge, or with it only in a unit test, there is no cycle.
    let c_clean = ("src/store/c.rs", "pub struct C;\n");
    assert_eq!(check(&[a, b, c_clean]), Vec::<String>::new());
    let c_test = (
        "src/store/c.rs",
        "pub struct C;\n#[cfg(test)]\nmod tests {\n    use super::super::a::A;\n}\n",
    );
    assert_eq!(check(&[a, b, c_test]), Vec::<String>::new());
}

#[test]
fn a_known_cycle_may_not_grow_and_must_be_narrowed_when_it_shrinks() {
    let a = ("src/store/a.rs", "use super::b::B;\npub struct A;\n");
    let b = ("src/store/b.rs", "use super::a::A;\npub struct B;\n");
    let cycle = |from: &'static str, to: &'static str| Known {
        rule: Rule::Cycle,
        from,
        to,
        why: "planted",
        line: 9,
    };
    let ab = [cycle("src/store/a.rs", "src/store/b.rs")];
    assert_eq!(check_with(&[a, b], &ab), Vec::<String>::new());
    // c joins the cycle: only the hops that bring it in are new.
    let b_c = (
        "src/store/b.rs",
        "use super::a::A;\nuse super::c::C;\npub struct B;\n",
    );
    let c = ("src/store/c.rs", "use super::a::A;\npub struct C;\n");
    let mut got = check_with(&[a, b_c, c], &ab);
    got.sort();
    lines_start(
        &got,
        &[
            "src/store/b.rs:2: cycle: names src/store/c.rs",
            "src/store/c.rs:1: cycle: names src/store/a.rs",
        ],
    );
    // A known cycle of three that is now two.
    let abc = [cycle("src/store/a.rs", "src/store/b.rs src/store/c.rs")];
    assert_eq!(
        check_with(&[a, b], &abc),
        [
            "known.rs:9: stale-allow: the known cycle src/store/a.rs src/store/b.rs src/store/c.rs \
          is now only src/store/a.rs src/store/b.rs: narrow this entry to \"src/store/a.rs\" => \
          \"src/store/b.rs\""
        ]
    );
}

#[test]
fn a_re_export_is_followed_to_where_the_name_comes_from() {
    // mod.rs re-exports B and calls a; a takes B through mod.rs: no cycle, as the file B
    // comes from is b.rs. A name mod.rs defines itself does make one.
    let m = "pub use b::B;\npub fn save() {\n    a::f();\n}\n";
    let a = ("src/store/a.rs", "use super::B;\npub fn f() {}\n");
    let b = ("src/store/b.rs", "pub struct B;\n");
    assert_eq!(
        check(&[("src/store/mod.rs", m), a, b]),
        Vec::<String>::new()
    );
    let a_own = ("src/store/a.rs", "use super::save;\npub fn f() {}\n");
    lines_start(
        &check(&[("src/store/mod.rs", m), a_own, b]),
        &[
            "src/store/a.rs:1: cycle: names src/store/mod.rs",
            "src/store/mod.rs:3: cycle: names src/store/a.rs",
        ],
    );
}

#[test]
fn a_cited_path_must_exist() {
    let readme = "# x\n\nSee `src/gone.rs` and tests/it/main.rs.\n";
    one(
        &[("README.md", readme)],
        "README.md:3: doc-path: cites src/gone.rs, which does not exist",
    );
    // A doc comment with an item suffix, and brace alternatives each checked.
    one(
        &[(
            "src/sync/mod.rs",
            "//! Pushes (`src/engine.rs::run`, `docs/gone.md::x`).\n",
        )],
        "src/sync/mod.rs:1: doc-path: cites docs/gone.md, which does not exist",
    );
    one(
        &[(
            "src/sync/mod.rs",
            "/// See src/{engine,gone}.rs.\npub fn push() {}\n",
        )],
        "src/sync/mod.rs:1: doc-path: cites src/{engine,gone}.rs",
    );
    // A plain comment is not a citation; neither is a path under another one.
    let plain =
        "// src/gone.rs\n/// ../src/gone.rs, /src/gone.rs, x/src/gone.rs\npub fn push() {}\n";
    assert_eq!(check(&[("src/sync/mod.rs", plain)]), Vec::<String>::new());
}

#[test]
fn the_codemap_lists_files_under_their_directory() {
    let readme = "## Codemap\n\n```\nsrc/domain/     pure\n  ids.rs gone.rs  the ids\n  \
                  step/         the machine\n    mod.rs      step()\n                  a \
                  continued.rs description\nsrc/engine.rs\n  old/          not under a file\n```\n";
    assert_eq!(
        check(&[("README.md", readme)]),
        ["README.md:5: doc-path: the codemap lists src/domain/gone.rs, which does not exist"]
    );
    let listed: Vec<String> = docpaths::codemap(readme)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        listed,
        [
            "src/domain/ids.rs",
            "src/domain/gone.rs",
            "src/domain/step/",
            "src/domain/step/mod.rs"
        ]
    );
}

#[test]
fn the_allow_list_only_shrinks() {
    let planted = [("src/http/extra.rs", "use crate::sync;\n")];
    let entry = |from: &'static str, to: &'static str| Known {
        rule: Rule::Imports,
        from,
        to,
        why: "planted",
        line: 7,
    };
    // A known violation passes.
    let known = [entry("src/http/extra.rs", "src/sync/mod.rs")];
    assert_eq!(check_with(&planted, &known), Vec::<String>::new());
    // Once fixed, its entry is an error.
    assert_eq!(
        check_with(&[], &known),
        [
            "known.rs:7: stale-allow: the known imports violation src/http/extra.rs → \
          src/sync/mod.rs (planted) is gone: delete this entry"
        ]
    );
    // An entry for another file covers nothing.
    let other = [entry("src/http/mod.rs", "src/sync/mod.rs")];
    let got = check_with(&planted, &other);
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn comments_and_literals_name_nothing() {
    let text = "// use crate::sync;\n/* crate::sync /* nested */ crate::sync */\n\
                /// crate::sync::push\nconst A: &str = \"crate::sync \\\" crate::sync\";\n\
                const B: &str = r#\"crate::sync \" crate::sync\"#;\nconst C: &[u8] = b\"crate::sync\";\n\
                const D: char = '\"';\nfn f<'a>(x: &'a str) -> &'a str {\n    x\n}\n\
                const E: char = '\\'';\nuse crate::sync;\n";
    one(
        &[("src/http/extra.rs", text)],
        "src/http/extra.rs:12: imports: http names sync",
    );
    let b = scan::blank(text);
    assert_eq!(b.code.len(), text.len(), "offsets kept");
    assert_eq!(b.code.lines().count(), text.lines().count(), "lines kept");
    assert_eq!(b.docs, [(3, " crate::sync::push".to_string())]);
}

#[test]
fn modules_follow_their_declarations() {
    // `#[path]`, inline modules and `#[cfg(test)]` files.
    let m = "#[path = \"odd_name.rs\"]\nmod tests;\nmod inner {\n    pub mod deep {\n        \
             use super::super::super::super::sync;\n    }\n}\n";
    let repo = tree_with(
        &[
            ("src/http/mod.rs", "pub mod extra;\n"),
            ("src/http/extra.rs", m),
            ("src/http/odd_name.rs", "use crate::store::save;\n"),
        ],
        false,
    );
    let g = Graph::build(&repo, &externs(), &["domain", "step", "step"]);
    assert_eq!(
        g.modules["src/http/odd_name.rs"].0,
        ["http", "extra", "tests"]
    );
    let deep = g
        .edges
        .iter()
        .find(|e| e.from == "src/http/extra.rs")
        .unwrap();
    assert_eq!(
        (deep.line, deep.named.clone()),
        (5, vec!["sync".to_string()])
    );
}
