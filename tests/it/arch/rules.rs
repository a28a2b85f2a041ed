//! The rules checked over the module graph, and the allow-list of known violations. Each
//! violation is one line, `path:line: rule: detail`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::docpaths::doc_paths;
use super::modgraph::{Graph, Repo};

/// The rules, each named in a failure line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// A top-level module names one its row in the allowed-imports table does not list.
    Imports,
    /// Code outside the allowed callers names the state machine's `step` function.
    Step,
    /// An external path named where its rule does not allow it.
    Extern,
    /// Files that import each other, directly or through a chain.
    Cycle,
    /// A doc comment or the README cites a path that does not exist.
    DocPath,
    /// An allow-list entry that no violation needs any more.
    StaleAllow,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Imports => "imports",
            Rule::Step => "step",
            Rule::Extern => "extern",
            Rule::Cycle => "cycle",
            Rule::DocPath => "doc-path",
            Rule::StaleAllow => "stale-allow",
        })
    }
}

/// A known violation, allowed until the structure work removes it.
#[derive(Clone, Copy, Debug)]
pub struct Known {
    pub rule: Rule,
    /// The file that names (for `Cycle`: the first file of the cycle, sorted).
    pub from: &'static str,
    /// What it names: the file of the named module (`Imports`), `domain::step::step`
    /// (`Step`), the external path (`Extern`), the cycle's other files, space-separated
    /// (`Cycle`), the cited path (`DocPath`).
    pub to: &'static str,
    pub why: &'static str,
    /// Where the entry is written, for the stale-entry message.
    pub line: u32,
}

/// The architecture, as tables; see `arch.rs` for the real one.
pub struct Rules<'a> {
    /// Top-level module → the other top-level modules it may name. A module may always
    /// name itself; a module missing from the table is itself a violation.
    pub allowed: &'a [(&'a str, &'a str)],
    /// The state machine's entry point, as a path from the crate root.
    pub step_fn: &'a [&'a str],
    /// The top-level modules that may call it.
    pub step_callers: &'a [&'a str],
    /// External path → the only top-level modules that may name it, space-separated
    /// (test code exempt).
    pub only_in: &'a [(&'a str, &'a str)],
    /// Top-level module → external paths it may not name, space-separated, in test code
    /// neither.
    pub pure: &'a [(&'a str, &'a str)],
    /// Directories whose paths doc comments and the README may cite only if they exist,
    /// space-separated.
    pub cited_roots: &'a str,
    pub known: &'a [Known],
    /// Where `known` is written, for the stale-entry message.
    pub known_file: &'a str,
}

/// One violation: `path:line: rule: detail`.
#[derive(Clone, Debug)]
pub struct Violation {
    pub file: String,
    pub line: usize,
    pub rule: Rule,
    /// The allow-list key: (rule, from, to).
    pub from: String,
    pub to: String,
    /// For a cycle's hop: the file it names.
    pub hop: String,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.rule, self.detail
        )
    }
}

/// Whether `path` starts with the `::`-separated `prefix`.
fn starts(path: &[String], prefix: &str) -> bool {
    let p: Vec<&str> = prefix.split("::").collect();
    path.len() >= p.len() && path.iter().zip(&p).all(|(a, b)| a == b)
}

/// Run every rule; return the violations the allow-list does not cover, and its stale
/// entries.
pub fn check(repo: &Repo, rules: &Rules, externs: &BTreeSet<String>) -> Vec<Violation> {
    let g = Graph::build(repo, externs, rules.step_fn);
    let mut found = Vec::new();
    imports(&g, rules, &mut found);
    step(&g, rules, &mut found);
    extern_paths(&g, rules, &mut found);
    cycles(&g, &mut found);
    doc_paths(repo, rules, &mut found);
    allow(found, rules)
}

/// One violation per (rule, from, to), at its first line, counting the others.
fn dedup(found: Vec<Violation>) -> Vec<Violation> {
    type Key = (Rule, String, String, (String, usize));
    let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
    let mut kept: Vec<(Violation, usize)> = Vec::new();
    for v in found {
        // A cycle keeps a line per hop; the others one line per key.
        let at = match v.rule {
            Rule::Cycle => (format!("{} {}", v.file, v.detail), v.line),
            _ => Default::default(),
        };
        let key = (v.rule, v.from.clone(), v.to.clone(), at);
        match seen.get(&key) {
            Some(&k) => {
                let (first, n) = &mut kept[k];
                *n += 1;
                if (v.file.as_str(), v.line) < (first.file.as_str(), first.line) {
                    *first = v;
                }
            }
            None => {
                seen.insert(key, kept.len());
                kept.push((v, 0));
            }
        }
    }
    let mut out: Vec<Violation> = kept
        .into_iter()
        .map(|(mut v, n)| {
            if n > 0 {
                v.detail += &format!(" (and {n} more)");
            }
            v
        })
        .collect();
    // By rule, then place; a cycle's lines stay together, in the order of its hops.
    out.sort_by(|a, b| {
        let key = |v: &Violation| match v.rule {
            Rule::Cycle => (v.rule, v.from.clone(), 0),
            _ => (v.rule, v.file.clone(), v.line),
        };
        key(a).cmp(&key(b))
    });
    out
}

fn imports(g: &Graph, rules: &Rules, out: &mut Vec<Violation>) {
    for e in &g.edges {
        let from = g.top(&e.from);
        let to = &e.named[0];
        if &from == to || !g.mods.contains(&e.named[..1]) {
            continue;
        }
        let row = rules.allowed.iter().find(|(m, _)| *m == from);
        let row = row.map(|(_, may)| may.split_whitespace().collect::<Vec<_>>());
        let detail = match row {
            Some(may) if may.contains(&to.as_str()) => continue,
            Some(may) => format!(
                "{from} names {to} ({}); {from} may name: {}",
                e.named.join("::"),
                if may.is_empty() {
                    "nothing of the crate".to_string()
                } else {
                    may.join(", ")
                }
            ),
            None => format!("{from} has no row in the allowed-imports table (it names {to})"),
        };
        out.push(Violation {
            file: e.from.clone(),
            line: e.line,
            rule: Rule::Imports,
            from: e.from.clone(),
            to: e.named_file.clone(),
            hop: String::new(),
            detail,
        });
    }
}

fn step(g: &Graph, rules: &Rules, out: &mut Vec<Violation>) {
    let f: Vec<String> = rules.step_fn.iter().map(|s| s.to_string()).collect();
    let module = &f[..f.len() - 1];
    for e in &g.edges {
        let from = g.top(&e.from);
        // The function itself, or its module called as a function (a re-export of `step`
        // at the module's place).
        let names = e.named == f || (e.call && e.named == module);
        if !names || e.test || rules.step_callers.contains(&from.as_str()) {
            continue;
        }
        out.push(Violation {
            file: e.from.clone(),
            line: e.line,
            rule: Rule::Step,
            from: e.from.clone(),
            to: f.join("::"),
            hop: String::new(),
            detail: format!(
                "{from} names {}; only {} may call the state machine",
                f.join("::"),
                rules.step_callers.join(", ")
            ),
        });
    }
}

fn extern_paths(g: &Graph, rules: &Rules, out: &mut Vec<Violation>) {
    for r in &g.externs {
        let from = g.top(&r.from);
        let mut push = |to: &str, detail: String| {
            out.push(Violation {
                file: r.from.clone(),
                line: r.line,
                rule: Rule::Extern,
                from: r.from.clone(),
                to: to.to_string(),
                hop: String::new(),
                detail,
            })
        };
        for (prefix, only) in rules.only_in {
            let only: Vec<&str> = only.split_whitespace().collect();
            if !r.test && starts(&r.path, prefix) && !only.contains(&from.as_str()) {
                push(
                    prefix,
                    format!(
                        "{from} names {}; {prefix} belongs to {}",
                        r.path.join("::"),
                        only.join(", ")
                    ),
                );
            }
        }
        for (module, forbidden) in rules.pure {
            if *module != from {
                continue;
            }
            for prefix in forbidden.split_whitespace().filter(|p| starts(&r.path, p)) {
                push(
                    prefix,
                    format!("{from} is pure and names {}", r.path.join("::")),
                );
            }
        }
    }
}

/// Tarjan's strongly connected components of the file graph.
fn sccs(nodes: &[String], next: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        next: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.next.get(v).into_iter().flatten() {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let l = t.low[w.as_str()].min(t.low[v]);
                t.low.insert(v, l);
            } else if t.on.contains(w.as_str()) {
                let l = t.index[w.as_str()].min(t.low[v]);
                t.low.insert(v, l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.push(w.to_string());
                if w == v {
                    break;
                }
            }
            c.sort();
            t.out.push(c);
        }
    }
    let mut t = T {
        next,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for n in nodes {
        if !t.index.contains_key(n.as_str()) {
            visit(&mut t, n);
        }
    }
    t.out
}

/// Every file cycle: per strongly connected component, the shortest cycle through each of
/// its files (until all are on one), one line per hop at the line that names the next file.
fn cycles(g: &Graph, out: &mut Vec<Violation>) {
    let mut next: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut line: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    // Test code is not part of the build order: a unit test may use its siblings.
    for e in g.edges.iter().filter(|e| e.from != e.to && !e.test) {
        next.entry(e.from.clone()).or_default().insert(e.to.clone());
        let l = line.entry((&e.from, &e.to)).or_insert(e.line);
        *l = (*l).min(e.line);
    }
    let nodes: Vec<String> = g.modules.keys().cloned().collect();
    for c in sccs(&nodes, &next).into_iter().filter(|c| c.len() > 1) {
        let members: BTreeSet<&str> = c.iter().map(String::as_str).collect();
        let mut covered = BTreeSet::new();
        let mut hops = BTreeSet::new();
        for start in &c {
            if covered.contains(start.as_str()) {
                continue;
            }
            // Breadth-first from `start` inside the component, back to `start`.
            let mut from: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([start.as_str()]);
            'bfs: while let Some(v) = queue.pop_front() {
                for w in next.get(v).into_iter().flatten() {
                    if !members.contains(w.as_str()) {
                        continue;
                    }
                    if w == start {
                        from.insert(start, v);
                        break 'bfs;
                    }
                    if !from.contains_key(w.as_str()) {
                        from.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            let mut ring = vec![start.as_str()];
            let mut at = from[start.as_str()];
            while at != start {
                ring.push(at);
                at = from[at];
            }
            ring.reverse();
            ring.rotate_right(1);
            let mut shown = [&ring[..], &ring[..1]].concat().join(" → ");
            if ring.len() < c.len() && covered.is_empty() {
                shown += &format!(" (the first of the cycles among {})", c.join(" "));
            }
            for (k, a) in ring.iter().enumerate() {
                let b = ring[(k + 1) % ring.len()];
                covered.insert(*a);
                if hops.insert((*a, b)) {
                    out.push(Violation {
                        file: a.to_string(),
                        line: line[&(*a, b)],
                        rule: Rule::Cycle,
                        from: c[0].clone(),
                        to: c[1..].join(" "),
                        hop: b.to_string(),
                        detail: format!("names {b}: {shown}"),
                    });
                }
            }
        }
    }
}

/// Drop the violations the allow-list names; add its entries no violation needs.
///
/// A cycle entry names a whole component (its files). A component that grew past a known
/// one reports only its new hops (a hop inside the known component stays allowed); a
/// known component that shrank asks for its entry to be narrowed.
fn allow(found: Vec<Violation>, rules: &Rules) -> Vec<Violation> {
    let found = dedup(found);
    let files = |from: &str, to: &str| -> BTreeSet<String> {
        std::iter::once(from)
            .chain(to.split_whitespace())
            .map(str::to_string)
            .collect()
    };
    let known_cycles: Vec<(usize, BTreeSet<String>)> = (rules.known.iter().enumerate())
        .filter(|(_, k)| k.rule == Rule::Cycle)
        .map(|(i, k)| (i, files(k.from, k.to)))
        .collect();
    let mut used = vec![false; rules.known.len()];
    let mut shrunk: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for v in found {
        if v.rule == Rule::Cycle {
            let c = files(&v.from, &v.to);
            if let Some((i, _)) = known_cycles.iter().find(|(_, k)| *k == c) {
                used[*i] = true;
                continue;
            }
            if let Some((i, _)) = known_cycles.iter().find(|(_, k)| k.is_superset(&c)) {
                used[*i] = true;
                shrunk.insert(*i, c);
                continue;
            }
            let mut inside = false;
            for (i, k) in known_cycles.iter().filter(|(_, k)| k.is_subset(&c)) {
                used[*i] = true;
                inside |= k.contains(&v.file) && k.contains(&v.hop);
            }
            if !inside {
                out.push(v);
            }
            continue;
        }
        let hit = rules
            .known
            .iter()
            .position(|k| k.rule == v.rule && k.from == v.from && k.to == v.to);
        match hit {
            Some(k) => used[k] = true,
            None => out.push(v),
        }
    }
    for (i, (k, u)) in rules.known.iter().zip(used).enumerate() {
        let detail = match shrunk.get(&i) {
            Some(now) => {
                let now: Vec<&str> = now.iter().map(String::as_str).collect();
                format!(
                    "the known cycle {} {} is now only {}: narrow this entry to \"{}\" => \"{}\"",
                    k.from,
                    k.to,
                    now.join(" "),
                    now[0],
                    now[1..].join(" ")
                )
            }
            None if !u => format!(
                "the known {} violation {} → {} ({}) is gone: delete this entry",
                k.rule, k.from, k.to, k.why
            ),
            None => continue,
        };
        out.push(Violation {
            file: rules.known_file.to_string(),
            line: k.line as usize,
            rule: Rule::StaleAllow,
            from: k.from.to_string(),
            to: k.to.to_string(),
            hop: String::new(),
            detail,
        });
    }
    out
}
