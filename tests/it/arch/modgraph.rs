//! The module graph of `src/`: which file names which, read from the sources. Works on an
//! in-memory [`Repo`] (path → text), so the cases in `cases.rs` can plant a violation in a
//! tree of three files; `Repo::load` reads the real one.
//!
//! Resolution: the module tree is read from `src/lib.rs` through its `mod` declarations
//! (`#[path]` honoured); `src/main.rs` is the binary, module `main`. A referenced path
//! (`crate::…`, `super::…`, `self::…`, a child module's name, a name a `use` bound, or the
//! crate's own name from the binary) resolves to the file of its longest module prefix.
//! For the file graph (cycles) a name that file only re-imports (`pub use x::Y`, `use
//! shared::Ctx`) is followed to where it comes from: a re-export is a signpost, not code
//! the importer depends on, and counting it would make every `mod.rs` that re-exports a
//! child part of a cycle with that child.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::scan::{self, Scan};

/// The files the checks read (`.rs` under `src/`, `tests/`, `benches/`, and `README.md`),
/// and every path in the repository, for the cited-path rule.
pub struct Repo {
    pub files: BTreeMap<String, String>,
    pub paths: BTreeSet<String>,
}

impl Repo {
    /// A tree in memory: every file given, and its directories, exist.
    pub fn of(files: &[(&str, &str)]) -> Repo {
        let mut paths = BTreeSet::new();
        for (p, _) in files {
            let mut at = p.to_string();
            paths.insert(at.clone());
            while let Some(k) = at.rfind('/') {
                at.truncate(k);
                paths.insert(at.clone());
            }
        }
        let files = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        Repo { files, paths }
    }

    /// The repository on disk (without `target/` and dot-directories).
    pub fn load(root: &Path) -> Repo {
        fn walk(root: &Path, dir: &Path, repo: &mut Repo) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                if name.starts_with('.') || rel == "target" {
                    continue;
                }
                repo.paths.insert(rel.clone());
                if p.is_dir() {
                    walk(root, &p, repo);
                } else if rel == "README.md"
                    || (rel.ends_with(".rs")
                        && ["src/", "tests/", "benches/"]
                            .iter()
                            .any(|d| rel.starts_with(d)))
                {
                    repo.files.insert(rel, std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        let mut repo = Repo {
            files: BTreeMap::new(),
            paths: BTreeSet::new(),
        };
        walk(root, root, &mut repo);
        repo
    }
}

/// A resolved reference.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    /// A path from the crate root.
    Crate(Vec<String>),
    /// A path of another crate (`std::fs::File`, `rusqlite::Connection`).
    Extern(Vec<String>),
}

/// The names one module scope's `use`s bind; a name may be bound twice (`use
/// …::step::{self, step}`: the module and the function).
type Aliases = BTreeMap<String, Vec<Target>>;

/// One file's reference to the crate.
#[derive(Debug)]
pub struct Edge {
    pub from: String,
    pub line: usize,
    /// The path as named, from the crate root (`use` bindings expanded).
    pub named: Vec<String>,
    /// The file of its longest module prefix.
    pub named_file: String,
    /// Where it is defined: `named_file`, re-exports followed.
    pub to: String,
    pub call: bool,
    pub test: bool,
}

/// One file's reference to another crate.
#[derive(Debug)]
pub struct ExternRef {
    pub from: String,
    pub line: usize,
    pub path: Vec<String>,
    pub test: bool,
}

/// The crate's files, modules and references.
pub struct Graph {
    /// File → (module path, test-only).
    pub modules: BTreeMap<String, (Vec<String>, bool)>,
    /// Module path → its file, for modules with a file of their own.
    file_of: BTreeMap<Vec<String>, String>,
    /// Every module path, inline ones too.
    pub mods: BTreeSet<Vec<String>>,
    pub scans: BTreeMap<String, Scan>,
    pub edges: Vec<Edge>,
    pub externs: Vec<ExternRef>,
}

/// The names of other crates a path may start with.
const EXTERN_ROOTS: &[&str] = &["std", "core", "alloc"];

/// The crate's own name, as the binary and the tests name it.
const CRATE: &str = "returnsd";

impl Graph {
    pub fn build(repo: &Repo, externs: &BTreeSet<String>, step_fn: &[&str]) -> Graph {
        let scans: BTreeMap<String, Scan> = repo
            .files
            .iter()
            .filter(|(p, _)| p.starts_with("src/") && p.ends_with(".rs"))
            .map(|(p, t)| (p.clone(), scan::scan(t)))
            .collect();
        let mut g = Graph {
            modules: BTreeMap::new(),
            file_of: BTreeMap::new(),
            mods: BTreeSet::new(),
            scans,
            edges: Vec::new(),
            externs: Vec::new(),
        };
        g.module_tree();
        g.references(externs, step_fn);
        g
    }

    /// Module paths from `src/lib.rs` down its `mod` declarations; `src/main.rs` is
    /// `main`; a file no declaration reaches gets the module its path spells.
    fn module_tree(&mut self) {
        let mut todo = vec![("src/lib.rs".to_string(), Vec::new(), false)];
        if self.scans.contains_key("src/main.rs") {
            todo.push(("src/main.rs".to_string(), vec!["main".to_string()], false));
        }
        while let Some((file, path, test)) = todo.pop() {
            let Some(s) = self.scans.get(&file) else {
                continue;
            };
            let test = test || s.test_file;
            let own_dir = file.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            let is_root = ["mod.rs", "lib.rs", "main.rs"]
                .iter()
                .any(|r| file.ends_with(&format!("/{r}")));
            let dir = if is_root {
                own_dir.clone()
            } else {
                file.trim_end_matches(".rs").to_string()
            };
            for inline in &s.inline {
                self.mods.insert([path.clone(), inline.clone()].concat());
            }
            for m in &s.mods {
                let sub = [vec![dir.clone()], m.scope.clone()].concat().join("/");
                let candidates = match &m.path_attr {
                    Some(p) if m.scope.is_empty() => vec![format!("{own_dir}/{p}")],
                    Some(p) => vec![format!("{sub}/{p}")],
                    None => vec![
                        format!("{sub}/{}.rs", m.name),
                        format!("{sub}/{}/mod.rs", m.name),
                    ],
                };
                if let Some(child) = candidates.into_iter().find(|c| self.scans.contains_key(c)) {
                    let child_path = [path.clone(), m.scope.clone(), vec![m.name.clone()]].concat();
                    todo.push((child, child_path, test || m.test));
                }
            }
            self.mods.insert(path.clone());
            self.file_of.insert(path.clone(), file.clone());
            self.modules.insert(file, (path, test));
        }
        let unreached: Vec<String> = self
            .scans
            .keys()
            .filter(|f| !self.modules.contains_key(*f))
            .cloned()
            .collect();
        for file in unreached {
            let rel = file.trim_start_matches("src/").trim_end_matches(".rs");
            let rel = rel.trim_end_matches("/mod");
            let path: Vec<String> = rel.split('/').map(str::to_string).collect();
            self.mods.insert(path.clone());
            self.file_of.insert(path.clone(), file.clone());
            self.modules.insert(file, (path, false));
        }
    }

    /// The file of the longest module prefix of `abs`, and that prefix's length.
    fn file_for(&self, abs: &[String]) -> Option<(String, usize)> {
        (0..=abs.len())
            .rev()
            .find_map(|k| self.file_of.get(&abs[..k]).map(|f| (f.clone(), k)))
    }

    /// Resolve `segs`, named in `module` (a file's module path plus its inline scope).
    fn resolve(
        &self,
        module: &[String],
        segs: &[String],
        aliases: &Aliases,
        externs: &BTreeSet<String>,
        call: bool,
    ) -> Option<Target> {
        let first = segs.first()?.as_str();
        let rest = &segs[1..];
        let join = |base: &[String], rest: &[String]| [base, rest].concat();
        match first {
            "crate" | "$crate" | CRATE => Some(Target::Crate(rest.to_vec())),
            "self" => Some(Target::Crate(join(module, rest))),
            "super" => {
                let ups = segs.iter().take_while(|s| *s == "super").count();
                let base = &module[..module.len().checked_sub(ups)?];
                Some(Target::Crate(join(base, &segs[ups..])))
            }
            "::" => Some(Target::Extern(rest.to_vec())),
            _ if self.mods.contains(&join(module, &segs[..1])) => {
                Some(Target::Crate(join(module, segs)))
            }
            _ if aliases.contains_key(first) => {
                let options = &aliases[first];
                // `step` may be bound twice (`use …::step::{self, step}`): as a module before
                // `::`, as the function in a call.
                let is_mod = |t: &&Target| match t {
                    Target::Crate(p) => self.mods.contains(p),
                    Target::Extern(_) => true,
                };
                let pick = if rest.is_empty() && call {
                    options
                        .iter()
                        .find(|t| !is_mod(t) || matches!(t, Target::Extern(_)))
                } else {
                    options.iter().find(is_mod)
                };
                Some(match pick.unwrap_or(&options[0]) {
                    Target::Crate(p) => Target::Crate(join(p, rest)),
                    Target::Extern(p) => Target::Extern(join(p, rest)),
                })
            }
            _ if externs.contains(first) || EXTERN_ROOTS.contains(&first) => {
                Some(Target::Extern(segs.to_vec()))
            }
            _ => None,
        }
    }

    /// The names each file's `use`s bind, per module scope of the file (a `use` inside
    /// `mod tests { … }` binds only there): two rounds, so a `use` may start from a name
    /// an earlier (or later) `use` bound.
    fn aliases(
        &self,
        file: &str,
        externs: &BTreeSet<String>,
        step_fn: &[&str],
    ) -> BTreeMap<Vec<String>, Aliases> {
        let (path, _) = &self.modules[file];
        let s = &self.scans[file];
        let mut all: BTreeMap<Vec<String>, Aliases> = BTreeMap::new();
        let none = Aliases::new();
        let step_mod: Vec<String> = step_fn[..step_fn.len().saturating_sub(1)]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for _round in 0..2 {
            let mut next = all.clone();
            for u in &s.uses {
                let module = [path.clone(), u.scope.clone()].concat();
                let known = all.get(&u.scope).unwrap_or(&none);
                let Some(t) = self.resolve(&module, &u.segs, known, externs, false) else {
                    continue;
                };
                // A glob of the step function's module brings the function in.
                let bound = match (&u.binds, u.glob, &t) {
                    (Some(name), _, _) => Some((name.clone(), t.clone())),
                    (None, true, Target::Crate(p)) if *p == step_mod => step_fn.last().map(|n| {
                        let f = step_fn.iter().map(|s| s.to_string()).collect();
                        (n.to_string(), Target::Crate(f))
                    }),
                    _ => None,
                };
                if let Some((name, t)) = bound {
                    let e = next
                        .entry(u.scope.clone())
                        .or_default()
                        .entry(name)
                        .or_default();
                    if !e.contains(&t) {
                        e.push(t);
                    }
                }
            }
            all = next;
        }
        all
    }

    /// Follow re-imports from the file of `abs`'s module to where the name comes from.
    fn defined_in(&self, abs: &[String], externs: &BTreeSet<String>) -> Option<String> {
        let mut abs = abs.to_vec();
        let mut file = String::new();
        for _hop in 0..8 {
            let (f, k) = self.file_for(&abs)?;
            file = f;
            let Some(name) = abs.get(k) else { break };
            let (path, _) = &self.modules[&file];
            let s = &self.scans[&file];
            let found = s.uses.iter().find_map(|u| {
                if !u.scope.is_empty() || u.binds.as_ref() != Some(name) {
                    return None;
                }
                match self.resolve(path, &u.segs, &Aliases::new(), externs, false)? {
                    Target::Crate(t) => Some(t),
                    Target::Extern(_) => None,
                }
            });
            match found {
                Some(t) => abs = [t, abs[k + 1..].to_vec()].concat(),
                None => break,
            }
        }
        Some(file)
    }

    fn references(&mut self, externs: &BTreeSet<String>, step_fn: &[&str]) {
        let mut edges = Vec::new();
        let mut ext = Vec::new();
        for (file, s) in &self.scans {
            let (path, file_test) = &self.modules[file];
            let aliases = self.aliases(file, externs, step_fn);
            let none = Aliases::new();
            let refs = s
                .uses
                .iter()
                .map(|u| (&u.scope, u.line, &u.segs, false, u.test))
                .chain(
                    s.paths
                        .iter()
                        .map(|p| (&p.scope, p.line, &p.segs, p.call, p.test)),
                );
            for (scope, line, segs, call, test) in refs {
                let module = [path.clone(), scope.clone()].concat();
                let test = test || *file_test;
                let scoped = aliases.get(scope).unwrap_or(&none);
                match self.resolve(&module, segs, scoped, externs, call) {
                    Some(Target::Crate(named)) if !named.is_empty() => {
                        let Some((named_file, _)) = self.file_for(&named) else {
                            continue;
                        };
                        let to = self
                            .defined_in(&named, externs)
                            .unwrap_or(named_file.clone());
                        edges.push(Edge {
                            from: file.clone(),
                            line,
                            named,
                            named_file,
                            to,
                            call,
                            test,
                        });
                    }
                    Some(Target::Extern(p)) if !p.is_empty() => ext.push(ExternRef {
                        from: file.clone(),
                        line,
                        path: p,
                        test,
                    }),
                    _ => {}
                }
            }
        }
        self.edges = edges;
        self.externs = ext;
    }

    /// The top-level module of a file (`main` for the binary, `lib` for the crate root).
    pub fn top(&self, file: &str) -> String {
        match self.modules.get(file).and_then(|(p, _)| p.first()) {
            Some(t) => t.clone(),
            None => "lib".to_string(),
        }
    }
}
