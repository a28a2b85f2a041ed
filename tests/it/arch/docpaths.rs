//! The doc-path rule: every path a doc comment or the README cites exists.

use super::rules::{Rule, Rules, Violation};
use super::{modgraph::Repo, scan};

pub fn doc_paths(repo: &Repo, rules: &Rules, out: &mut Vec<Violation>) {
    let roots: Vec<&str> = rules.cited_roots.split_whitespace().collect();
    let roots = roots.join("|");
    // A path starting at one of the roots, not itself inside a longer path (`../src/x`,
    // `/dev/x`, `src/devices/x` are not read as `src/…`, `devices/…`).
    // `{a,b}` stands for each of its words.
    let re = regex::Regex::new(&format!(
        r"(?:^|[^A-Za-z0-9_./\-])((?:{roots})/(?:[A-Za-z0-9_./*\-]|\{{[A-Za-z0-9_.,\-]*\}})*)"
    ))
    .unwrap();
    let mut cited: Vec<(&str, usize, String)> = Vec::new();
    for (file, text) in &repo.files {
        if file.ends_with(".md") {
            for (n, l) in text.lines().enumerate() {
                cited.push((file, n + 1, l.to_string()));
            }
        } else {
            for (n, l) in scan::blank(text).docs {
                cited.push((file, n, l));
            }
        }
    }
    let mut missing = |file: &str, line: usize, p: &str, what: &str| {
        out.push(Violation {
            file: file.to_string(),
            line,
            rule: Rule::DocPath,
            from: file.to_string(),
            to: p.to_string(),
            hop: String::new(),
            detail: format!("{what} {p}, which does not exist"),
        })
    };
    for (file, text) in repo.files.iter().filter(|(f, _)| f.ends_with(".md")) {
        for (line, p) in codemap(text) {
            if !repo.paths.contains(p.trim_end_matches('/')) {
                missing(file, line, &p, "the codemap lists");
            }
        }
    }
    for (file, line, text) in cited {
        for c in re.captures_iter(&text) {
            let p = c[1].trim_end_matches('.');
            let exists = |bare: &str| {
                if bare.contains('*') {
                    let glob = regex::escape(bare).replace(r"\*", "[^/]*");
                    let glob = regex::Regex::new(&format!("^{glob}$")).unwrap();
                    repo.paths.iter().any(|q| glob.is_match(q))
                } else {
                    repo.paths.contains(bare)
                }
            };
            if !braces(p.trim_end_matches('/')).iter().all(|q| exists(q)) {
                missing(file, line, p, "cites");
            }
        }
    }
}

/// The paths a `## Codemap` section's code block lists: a line at the left margin names a
/// path from the root; the file and directory names that start an indented line are in
/// the directory above them (`src/devices/` then `  board.rs hid.rs …`). Deeper lines
/// continue a description.
pub fn codemap(text: &str) -> Vec<(usize, String)> {
    let name = regex::Regex::new(r"^[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9]+|/)$").unwrap();
    let (mut in_map, mut in_block) = (false, false);
    let mut dirs: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    for (n, l) in text.lines().enumerate() {
        if l.starts_with("## ") {
            in_map = l.contains("Codemap");
        }
        if !in_map {
            continue;
        }
        if l.starts_with("```") {
            if in_block {
                break;
            }
            in_block = true;
            continue;
        }
        let indent = l.len() - l.trim_start().len();
        if !in_block || l.trim().is_empty() || indent > 8 {
            continue;
        }
        dirs.retain(|(i, _)| *i < indent);
        if indent == 0 {
            // At the margin: a path from the root, checked as any citation is.
            let first = l.split_whitespace().next().unwrap_or("");
            if first.ends_with('/') {
                dirs.push((indent, first.to_string()));
            }
            continue;
        }
        // Indented under a file, not a directory: nothing to resolve against.
        let Some((_, base)) = dirs.last().cloned() else {
            continue;
        };
        for word in l.split_whitespace().take_while(|w| name.is_match(w)) {
            let path = format!("{base}{word}");
            if word.ends_with('/') {
                dirs.push((indent, path.clone()));
            }
            out.push((n + 1, path));
        }
    }
    out
}

/// `a.{x,y}` → `a.x`, `a.y` (each `{…}` in turn).
fn braces(p: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (p.find('{'), p.find('}')) else {
        return vec![p.to_string()];
    };
    if close < open {
        return vec![p.to_string()];
    }
    p[open + 1..close]
        .split(',')
        .flat_map(|w| braces(&format!("{}{w}{}", &p[..open], &p[close + 1..])))
        .collect()
}
