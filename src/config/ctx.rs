//! What every section validates into: `ctx.bad(key, problem)` becomes a [`ConfigProblem`]
//! naming the file and the line the key stands on, so `check-config` can list every
//! problem of a file in one run. What the file does not say itself is placed as well as
//! it can be: a key set by a `RETURNSD__…` variable points at the environment, a key left
//! to its default at the nearest table the file does have.
//!
//! This file knows keys only as dotted paths (`scan.couriers[1].pattern`); it knows no
//! section.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::problem::{ConfigError, ConfigProblem};

/// The problems of one config, and what is needed to say where each one is.
pub struct Ctx {
    /// The config file as the operator named it: the start of every problem.
    file: String,
    /// The config file's directory: relative paths in the file are relative to it, so a
    /// config and the files it names can move together.
    base: PathBuf,
    /// The line of every key and array entry in the file (`operators[1]` is the line of
    /// its `[[operators]]` header).
    lines: BTreeMap<String, usize>,
    /// Keys set from the environment: a problem with one of them is not on any line of the
    /// file, and pointing at the file's own (overridden) line would mislead.
    from_env: Vec<String>,
    /// Keys the reader reported as unreadable and dropped: what validation would say about
    /// them next (a missing field, a default) is noise after the real problem.
    dropped: Vec<String>,
    /// Problems found so far, in the order found.
    problems: Vec<ConfigProblem>,
}

impl Ctx {
    /// A context for `text`, the content of the config file `file` at `path`.
    pub fn new(file: &str, path: &Path, text: &str) -> Ctx {
        let mut lines = BTreeMap::new();
        if let Ok(table) = DeTable::parse(text) {
            index_table(text, "", table.get_ref(), &mut lines);
        }
        Ctx {
            file: file.to_string(),
            base: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            lines,
            from_env: Vec::new(),
            dropped: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The directory relative paths in the config are relative to.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// `p` as the config means it: relative to the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_relative() {
            self.base.join(p)
        } else {
            p.to_path_buf()
        }
    }

    /// Report `problem` with `key`.
    pub fn bad(&mut self, key: &str, problem: impl Into<String>) {
        if self.dropped.iter().any(|d| is_under(key, d)) {
            return;
        }
        let from_env = self.from_env.iter().any(|e| is_under(key, e));
        self.problems.push(ConfigProblem {
            file: if from_env {
                format!("environment ({})", self.file)
            } else {
                self.file.clone()
            },
            key: key.to_string(),
            line: if from_env { None } else { self.line(key) },
            problem: problem.into(),
        });
    }

    /// Report a required key that is not there, in serde's words.
    pub fn missing(&mut self, key: &str) {
        let field = key.rsplit('.').next().unwrap_or(key);
        self.bad(key, format!("missing field `{field}`"));
    }

    /// `value`, reporting `problem` with `key` when it is outside `range`.
    pub fn within<T: PartialOrd>(
        &mut self,
        key: &str,
        value: T,
        range: RangeInclusive<T>,
        problem: &str,
    ) -> T {
        if !range.contains(&value) {
            self.bad(key, problem);
        }
        value
    }

    /// `bad` as a plain callback, for the validators owned by other modules (scanners,
    /// printers, TLS), which do not know this type.
    pub fn sink(&mut self) -> impl FnMut(&str, String) + '_ {
        |key: &str, problem: String| self.bad(key, problem)
    }

    /// Record a problem that is already placed (the environment's own).
    pub fn push(&mut self, problem: ConfigProblem) {
        self.problems.push(problem);
    }

    /// `key` (and what is below it) was set from the environment.
    pub fn set_from_env(&mut self, key: String) {
        self.from_env.push(key);
    }

    /// `key` (and what is below it) was reported unreadable and left out.
    pub fn drop_key(&mut self, key: String) {
        self.dropped.push(key);
    }

    /// The line of `key`, or of the nearest enclosing key the file has.
    fn line(&self, key: &str) -> Option<usize> {
        let mut k = key;
        loop {
            if let Some(l) = self.lines.get(k) {
                return Some(*l);
            }
            k = &k[..k.rfind(['.', '['])?];
        }
    }

    /// The config when no problem was found; otherwise every problem, in file order
    /// (problems without a line last).
    pub fn finish<T>(mut self, value: Option<T>) -> Result<T, ConfigError> {
        if value.is_none() && self.problems.is_empty() {
            // Every `None` comes with a reported problem; never exit 1 saying nothing.
            self.bad("-", "the config could not be read");
        }
        let mut problems = self.problems;
        match value {
            Some(v) if problems.is_empty() => Ok(v),
            _ => {
                problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
                Err(ConfigError(problems))
            }
        }
    }
}

/// `key` is `prefix` or inside it (`a.b` and `a.b[0].c` are inside `a.b`; `a.bc` is not).
fn is_under(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// The 1-based line of byte `offset` of `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn index_table(text: &str, prefix: &str, t: &DeTable<'_>, out: &mut BTreeMap<String, usize>) {
    for (k, v) in t.iter() {
        let path = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        out.insert(path.clone(), line_at(text, k.span().start));
        index_value(text, &path, v, out);
    }
}

fn index_value(
    text: &str,
    path: &str,
    v: &Spanned<DeValue<'_>>,
    out: &mut BTreeMap<String, usize>,
) {
    match v.get_ref() {
        DeValue::Table(t) => index_table(text, path, t, out),
        DeValue::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                out.insert(p.clone(), line_at(text, e.span().start));
                index_value(text, &p, e, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
impl Ctx {
    /// A context for section tests: config `/etc/returnsd/t.toml`, no lines known.
    pub fn test() -> Ctx {
        Ctx::new("t.toml", Path::new("/etc/returnsd/t.toml"), "")
    }

    /// The problems so far as `key: problem`.
    pub fn reported(&self) -> Vec<String> {
        self.problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.problem))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[station]\nid = \"ST01\"\n\n[[operators]]\nbadge = \"1\"\nroles = [\"a\",\n  \"b\"]\n[[operators]]\nname = \"x\"\n";

    fn placed(ctx: &mut Ctx, key: &str) -> String {
        ctx.bad(key, "p");
        ctx.problems.pop().unwrap().to_string()
    }

    /// A key is placed on its own line, an array entry on its header or its own line, a
    /// key the file lacks on the nearest table it has, and nothing on no line.
    #[test]
    fn problems_are_placed_on_the_line_of_their_key() {
        let mut c = Ctx::new("t.toml", Path::new("t.toml"), TEXT);
        assert_eq!(placed(&mut c, "station.id"), "t.toml:2: station.id: p");
        assert_eq!(placed(&mut c, "operators[1]"), "t.toml:8: operators[1]: p");
        assert_eq!(
            placed(&mut c, "operators[0].roles[1]"),
            "t.toml:7: operators[0].roles[1]: p"
        );
        assert_eq!(
            placed(&mut c, "operators[1].badge"),
            "t.toml:8: operators[1].badge: p"
        );
        assert_eq!(
            placed(&mut c, "station.timezone"),
            "t.toml:1: station.timezone: p"
        );
        assert_eq!(
            placed(&mut c, "sync.central_url"),
            "t.toml: sync.central_url: p"
        );
    }

    /// A key from the environment points there; a dropped key's follow-ups are silent.
    #[test]
    fn environment_and_dropped_keys() {
        let mut c = Ctx::new("t.toml", Path::new("t.toml"), TEXT);
        c.set_from_env("station.id".into());
        assert_eq!(
            placed(&mut c, "station.id"),
            "environment (t.toml): station.id: p"
        );
        assert_eq!(placed(&mut c, "station.idx"), "t.toml:1: station.idx: p");
        c.drop_key("operators[0].roles".into());
        c.bad("operators[0].roles", "needs at least one role");
        c.bad("operators[0].roles[1]", "x");
        assert!(c.problems.is_empty());
        c.missing("operators[0].badge");
        assert_eq!(c.reported(), ["operators[0].badge: missing field `badge`"]);
    }

    /// Problems come out in file order, those without a line last.
    #[test]
    fn finish_sorts_by_line() {
        let mut c = Ctx::new("t.toml", Path::new("t.toml"), TEXT);
        c.bad("log.level", "a");
        c.bad("operators[1]", "b");
        c.bad("station.id", "c");
        let e = c.finish(Some(())).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.toml:2: station.id: c\nt.toml:8: operators[1]: b\nt.toml: log.level: a"
        );
        assert_eq!(Ctx::test().finish(Some(7)).unwrap(), 7);
    }
}
