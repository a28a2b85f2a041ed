//! A small Rust-source scanner for the architecture checks: no parser crate, no new
//! dependency. It blanks comments and literals (keeping every byte offset and line), splits
//! what is left into tokens and reads from them what one file names: its `use` trees, its
//! inline paths, its `mod` declarations (with `#[path]` and `#[cfg(test)]`) and its doc
//! comments. It knows nothing of other files; `modgraph.rs` resolves the names.
//!
//! It approximates name resolution, exactly enough for the forms this crate writes; the
//! cases in `cases.rs` pin each form it must read.

/// A source file with its comments and literals blanked, and its doc comments.
pub struct Blanked {
    /// The source with every comment and every literal's contents replaced by spaces
    /// (string-like literals keep a `"` at each end, char literals become `0`); newlines
    /// and byte offsets are kept, so lines and attribute text can be found in the original.
    pub code: String,
    /// `///`, `//!`, `/** */` and `/*! */` comments: (line, text without the marker).
    pub docs: Vec<(usize, String)>,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Blank comments and literals; collect doc comments.
pub fn blank(src: &str) -> Blanked {
    let b = src.as_bytes();
    let n = b.len();
    let mut out = b.to_vec();
    let mut docs = Vec::new();
    let at = |i: usize| if i < n { b[i] } else { 0 };
    // Spaces over [from, to), newlines kept.
    let fill = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(n)] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let (mut i, mut line) = (0, 1);
    while i < n {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c == b'/' && at(i + 1) == b'/' {
            let end = src[i..].find('\n').map_or(n, |k| i + k);
            let text = &src[i..end];
            if (text.starts_with("///") && !text.starts_with("////")) || text.starts_with("//!") {
                docs.push((line, text[3..].to_string()));
            }
            fill(&mut out, i, end);
            i = end;
        } else if c == b'/' && at(i + 1) == b'*' {
            let (start, first_line) = (i, line);
            let mut depth = 0;
            while i < n {
                if b[i] == b'/' && at(i + 1) == b'*' {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && at(i + 1) == b'/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(b[i] == b'\n');
                    i += 1;
                }
            }
            let text = &src[start..i];
            let doc = (text.starts_with("/**") && !text.starts_with("/***") && text != "/**/")
                || text.starts_with("/*!");
            if doc {
                let inner = text[3..].trim_end_matches("*/");
                for (k, l) in inner.lines().enumerate() {
                    docs.push((first_line + k, l.to_string()));
                }
            }
            fill(&mut out, start, i);
        } else if c == b'"' {
            let end = string_end(b, i + 1);
            line += b[i..end].iter().filter(|&&x| x == b'\n').count();
            fill(&mut out, i + 1, end - 1);
            i = end;
        } else if c == b'\'' {
            match char_end(src, i) {
                Some(end) => {
                    fill(&mut out, i, end);
                    out[i] = b'0';
                    i = end;
                }
                None => i += 1, // a lifetime or a label
            }
        } else if is_ident(c) && (i == 0 || !is_ident(b[i - 1])) {
            match prefixed_literal(src, i) {
                Some((end, is_char)) => {
                    line += b[i..end].iter().filter(|&&x| x == b'\n').count();
                    fill(&mut out, i, end);
                    out[i] = if is_char { b'0' } else { b'"' };
                    if !is_char {
                        out[end - 1] = b'"';
                    }
                    i = end;
                }
                None => {
                    while i < n && is_ident(b[i]) {
                        i += 1;
                    }
                }
            }
        } else {
            i += 1;
        }
    }
    Blanked {
        code: String::from_utf8(out).expect("blanking keeps UTF-8: it writes only ASCII"),
        docs,
    }
}

/// The offset just past the closing `"` of a string whose contents start at `i`.
fn string_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// A char literal starting at the `'` at `i`: the offset past its closing `'`; `None` for a
/// lifetime or a loop label.
fn char_end(src: &str, i: usize) -> Option<usize> {
    let b = src.as_bytes();
    if b.get(i + 1) == Some(&b'\\') {
        let mut j = i + 3;
        while j < b.len() && b[j] != b'\'' && b[j] != b'\n' {
            j += 1;
        }
        return (b.get(j) == Some(&b'\'')).then_some(j + 1);
    }
    let ch = src.get(i + 1..)?.chars().next()?;
    let j = i + 1 + ch.len_utf8();
    (b.get(j) == Some(&b'\'') && ch != '\'').then_some(j + 1)
}

/// A literal with a letter prefix starting at `i` (`b"…"`, `c"…"`, `r#"…"#`, `br"…"`,
/// `b'…'`): the offset past its end, and whether it is a (byte) char.
fn prefixed_literal(src: &str, i: usize) -> Option<(usize, bool)> {
    let b = src.as_bytes();
    let mut j = i;
    if matches!(b[j], b'b' | b'c') {
        j += 1;
    }
    if b.get(j) == Some(&b'r') {
        let mut k = j + 1;
        while b.get(k) == Some(&b'#') {
            k += 1;
        }
        if b.get(k) != Some(&b'"') {
            return None; // an identifier, or a raw identifier `r#name`
        }
        let close = format!("\"{}", "#".repeat(k - j - 1));
        let end = src[k + 1..]
            .find(&close)
            .map_or(b.len(), |e| k + 1 + e + close.len());
        return Some((end, false));
    }
    if j == i {
        return None;
    }
    match b.get(j) {
        Some(b'"') => Some((string_end(b, j + 1), false)),
        Some(b'\'') if b[i] == b'b' => char_end(src, j).map(|e| (e, true)),
        _ => None,
    }
}

/// One token of blanked code.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// An identifier or keyword (`r#x` as `x`; `$crate` as one identifier).
    Ident(String),
    /// `::`, or any other single punctuation character.
    Punct(&'static str),
    /// A literal (blanked string, char or number).
    Lit,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    /// Byte offset in the file.
    pub at: usize,
}

const PUNCT: &str = "!#$%&()*+,-./:;<=>?@[]^{|}~";

pub fn tokens(code: &str) -> Vec<Token> {
    let b = code.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < b.len() {
        let c = b[i];
        let start = i;
        let tok = if c == b'\n' {
            line += 1;
            i += 1;
            continue;
        } else if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c == b'"' {
            i = code[i + 1..].find('"').map_or(b.len(), |k| i + k + 2);
            let t = Token {
                tok: Tok::Lit,
                line,
                at: start,
            };
            line += code[start..i].matches('\n').count();
            out.push(t);
            continue;
        } else if c.is_ascii_digit() {
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            Tok::Lit
        } else if is_ident(c) || (c == b'$' && code[i + 1..].starts_with("crate")) {
            i += 1;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            if &code[start..i] == "r" && b.get(i) == Some(&b'#') {
                i += 1;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                Tok::Ident(code[start + 2..i].to_string())
            } else {
                Tok::Ident(code[start..i].to_string())
            }
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            i += 2;
            Tok::Punct("::")
        } else {
            i += code[i..].chars().next().map_or(1, char::len_utf8);
            match PUNCT.find(c as char) {
                Some(k) => Tok::Punct(&PUNCT[k..k + 1]),
                None => continue, // stray non-ASCII outside identifiers
            }
        };
        out.push(Token {
            tok,
            line,
            at: start,
        });
    }
    out
}

/// A `mod name;` declaration: a module in a file of its own.
#[derive(Debug)]
pub struct ModDecl {
    /// The inline modules it sits in (`mod a { mod b; }` → `["a"]`).
    pub scope: Vec<String>,
    pub name: String,
    /// `#[path = "…"]`, as written.
    pub path_attr: Option<String>,
    /// Under `#[cfg(test)]` (here or on an enclosing inline module).
    pub test: bool,
}

/// One name a `use` brings in, or one glob.
#[derive(Debug)]
pub struct Use {
    pub scope: Vec<String>,
    pub line: usize,
    /// The full path, a leading `::` kept as a segment; `a::{self}` is `a`.
    pub segs: Vec<String>,
    /// The name it binds (`as` applied; `None` for a glob or `as _`).
    pub binds: Option<String>,
    pub glob: bool,
    pub test: bool,
}

/// A path outside a `use`: `a::b::c` in code, or a call of a single name `f(`.
#[derive(Debug)]
pub struct PathRef {
    pub scope: Vec<String>,
    pub line: usize,
    pub segs: Vec<String>,
    /// Followed by `(`: a call (or a tuple-struct constructor).
    pub call: bool,
    pub test: bool,
}

/// What one file declares and names.
#[derive(Debug, Default)]
pub struct Scan {
    pub mods: Vec<ModDecl>,
    /// Inline modules (`mod a { … }`), as paths inside the file.
    pub inline: Vec<Vec<String>>,
    pub uses: Vec<Use>,
    pub paths: Vec<PathRef>,
    /// `#![cfg(test)]` at the top: the whole file is test code.
    pub test_file: bool,
}

fn is(t: Option<&Token>, p: &str) -> bool {
    match t.map(|t| &t.tok) {
        Some(Tok::Punct(x)) => *x == p,
        Some(Tok::Ident(x)) => x == p,
        _ => false,
    }
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(x)) => Some(x),
        _ => None,
    }
}

/// The index past the bracket that closes the one at `i` (`(`, `[` or `{`).
fn close(toks: &[Token], i: usize) -> usize {
    let mut depth = 0;
    for (k, t) in toks.iter().enumerate().skip(i) {
        match t.tok {
            Tok::Punct("(" | "[" | "{") => depth += 1,
            Tok::Punct(")" | "]" | "}") => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// An open brace: an inline module (named), or a `#[cfg(test)]` item's body (unnamed).
struct Open {
    name: Option<String>,
    depth: usize,
    test: bool,
}

/// Scan one file.
pub fn scan(src: &str) -> Scan {
    let blanked = blank(src);
    let toks = tokens(&blanked.code);
    let mut s = Scan::default();
    let (mut i, mut depth) = (0, 0);
    let mut open: Vec<Open> = Vec::new();
    let mut attrs: Vec<String> = Vec::new();
    // A `#[cfg(test)]` item whose body has not opened yet.
    let mut test_item = false;
    let cfg_test = regex::Regex::new(r"cfg\s*\(\s*test\s*\)").unwrap();
    let path_attr = regex::Regex::new(r#"^#\s*\[\s*path\s*=\s*"([^"]*)"\s*\]$"#).unwrap();
    while i < toks.len() {
        let scope: Vec<String> = open.iter().filter_map(|o| o.name.clone()).collect();
        let in_test = open.iter().any(|o| o.test);
        let t = &toks[i];
        let prev = i.checked_sub(1).map(|k| &toks[k]);
        match &t.tok {
            Tok::Punct("#") if is(toks.get(i + 1), "[") || is(toks.get(i + 1), "!") => {
                let inner = is(toks.get(i + 1), "!");
                let end = close(&toks, i + 1 + usize::from(inner));
                let last = toks.get(end - 1).map_or(src.len(), |t| t.at + 1);
                let text = &src[t.at..last];
                if cfg_test.is_match(text) {
                    if inner && depth == 0 {
                        s.test_file = true;
                    } else {
                        test_item = true;
                    }
                }
                attrs.push(text.to_string());
                i = end;
                continue;
            }
            Tok::Ident(k) if k == "pub" => {
                i += 1;
                if is(toks.get(i), "(") {
                    i = close(&toks, i);
                }
                continue;
            }
            Tok::Ident(k) if k == "use" && !is(toks.get(i + 1), "<") && !is(prev, "::") => {
                let mut found = Vec::new();
                i = use_tree(&toks, i + 1, Vec::new(), &mut found);
                for (segs, binds, glob) in found {
                    s.uses.push(Use {
                        scope: scope.clone(),
                        line: t.line,
                        segs,
                        binds,
                        glob,
                        test: in_test || test_item,
                    });
                }
                test_item = false;
                attrs.clear();
                continue;
            }
            Tok::Ident(k) if k == "mod" => {
                if let Some(name) = ident(toks.get(i + 1)) {
                    let test = in_test || test_item;
                    if is(toks.get(i + 2), ";") {
                        let path_attr = attrs
                            .iter()
                            .find_map(|a| path_attr.captures(a).map(|c| c[1].to_string()));
                        s.mods.push(ModDecl {
                            scope: scope.clone(),
                            name: name.to_string(),
                            path_attr,
                            test,
                        });
                        i += 3;
                    } else if is(toks.get(i + 2), "{") {
                        let mut inline = scope.clone();
                        inline.push(name.to_string());
                        s.inline.push(inline);
                        open.push(Open {
                            name: Some(name.to_string()),
                            depth,
                            test,
                        });
                        depth += 1;
                        i += 3;
                    } else {
                        i += 1;
                    }
                    test_item = false;
                    attrs.clear();
                    continue;
                }
            }
            Tok::Punct("{") => {
                open.push(Open {
                    name: None,
                    depth,
                    test: test_item,
                });
                depth += 1;
                test_item = false;
            }
            Tok::Punct("}") => {
                depth = depth.saturating_sub(1);
                if open.last().is_some_and(|o| o.depth == depth) {
                    open.pop();
                }
            }
            Tok::Punct(";") => test_item = false,
            _ => {}
        }
        attrs.clear();
        // A path: `a::b…` not itself the tail of a longer path or a field/method, a
        // global `::a::b…`, or a single name called `f(`.
        let after_path = is(prev, "::") || is(prev, ".");
        let global = is(Some(t), "::")
            && !matches!(
                prev.map(|p| &p.tok),
                Some(Tok::Ident(_)) | Some(Tok::Punct(">"))
            )
            && ident(toks.get(i + 1)).is_some();
        if global || (ident(Some(t)).is_some() && !after_path) {
            let mut segs = Vec::new();
            let mut j = i;
            if global {
                segs.push("::".to_string());
                j += 1;
            }
            segs.push(ident(toks.get(j)).unwrap_or_default().to_string());
            j += 1;
            while is(toks.get(j), "::") {
                match ident(toks.get(j + 1)) {
                    Some(x) => segs.push(x.to_string()),
                    None => break,
                }
                j += 2;
            }
            let call = is(toks.get(j), "(");
            if segs.len() > 1 || call {
                s.paths.push(PathRef {
                    scope,
                    line: t.line,
                    segs,
                    call,
                    test: in_test || test_item,
                });
            }
            i = j;
            continue;
        }
        i += 1;
    }
    s
}

/// Read one use tree starting at `i`; push (path, bound name, glob) for each leaf. Returns
/// the index past the tree (and its `;`, at the top).
fn use_tree(
    toks: &[Token],
    mut i: usize,
    mut segs: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>, bool)>,
) -> usize {
    let top = segs.is_empty();
    if is(toks.get(i), "::") {
        if top {
            segs.push("::".to_string());
        }
        i += 1;
    }
    loop {
        if let Some(x) = ident(toks.get(i)) {
            segs.push(x.to_string());
            i += 1;
            if is(toks.get(i), "::") {
                i += 1;
                continue;
            }
            let mut binds = segs.last().cloned();
            if segs.last().is_some_and(|l| l == "self") {
                segs.pop();
                binds = segs.last().cloned();
            }
            if is(toks.get(i), "as") {
                binds = ident(toks.get(i + 1))
                    .filter(|n| *n != "_")
                    .map(str::to_string);
                i += 2;
            }
            out.push((segs, binds, false));
        } else if is(toks.get(i), "{") {
            i += 1;
            while i < toks.len() && !is(toks.get(i), "}") {
                i = use_tree(toks, i, segs.clone(), out);
                if is(toks.get(i), ",") {
                    i += 1;
                }
            }
            i += 1;
        } else if is(toks.get(i), "*") {
            out.push((segs, None, true));
            i += 1;
        }
        break;
    }
    if top && is(toks.get(i), ";") {
        i += 1;
    }
    i
}
