//! The built-in redaction patterns: a data table (`patterns.tsv`) compiled once, the
//! checks a matched secret must pass, and applying the rows to a block of whole lines.

use std::sync::LazyLock;

use regex::bytes::{Captures, Regex, RegexSet};

/// The table, one row per line; see the header of the file for its columns.
pub(crate) const PATTERNS_TSV: &str = include_str!("patterns.tsv");

/// What a matched secret must also satisfy before it is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Nothing: the shape is specific enough.
    None,
    /// The secret looks random (see [`looks_random`]).
    Random,
    /// The secret is not a hex digest (a git SHA next to an access key id stays).
    NotHex,
    /// Group `n` names a credential and the secret looks random, unless the name says
    /// hash and the value is a SHA-1/SHA-256 hex digest.
    Credential,
}

/// One compiled row.
#[derive(Debug)]
pub(crate) struct Row {
    pub name: &'static str,
    pub kind: &'static str,
    /// `None` = the whole match is the secret.
    pub group: Option<&'static str>,
    pub check: Check,
    pub re: Regex,
}

/// Parses the table. A malformed row is an error naming its line, so the unit tests
/// catch it before a build ships without a pattern.
pub(crate) fn parse(tsv: &'static str) -> Result<Vec<Row>, String> {
    let mut rows: Vec<Row> = Vec::new();
    for (i, line) in tsv.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&'static str> = line.splitn(5, '\t').collect();
        let [name, kind, group, check, re] = f[..] else {
            return Err(format!(
                "patterns.tsv:{}: expected 5 tab-separated fields",
                i + 1
            ));
        };
        let check = match check {
            "-" => Check::None,
            "random" => Check::Random,
            "not-hex" => Check::NotHex,
            "credential" => Check::Credential,
            other => return Err(format!("patterns.tsv:{}: unknown check {other:?}", i + 1)),
        };
        // ASCII semantics: classes and `\b` on bytes, which keeps the fast DFA on lines
        // with non-ASCII text (a Unicode `\b` would fall back to the slow engine).
        let re = Regex::new(&format!("(?-u){re}"))
            .map_err(|e| format!("patterns.tsv:{}: {name}: {e}", i + 1))?;
        let group = (group != "0").then_some(group);
        if group.is_some_and(|g| !re.capture_names().any(|n| n == Some(g))) {
            return Err(format!(
                "patterns.tsv:{}: {name}: no group {group:?}",
                i + 1
            ));
        }
        if rows.iter().any(|r| r.name == name) {
            return Err(format!("patterns.tsv:{}: duplicate name {name}", i + 1));
        }
        rows.push(Row {
            name,
            kind,
            group,
            check,
            re,
        });
    }
    Ok(rows)
}

struct Compiled {
    rows: Vec<Row>,
    /// One pass over a block tells which rows can match at all.
    set: RegexSet,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    // The table is part of the binary and its unit tests parse it; an error here cannot
    // happen in a tested build, and redacting nothing would be worse than stopping.
    let rows = parse(PATTERNS_TSV).unwrap_or_else(|e| panic!("{e}"));
    let set = RegexSet::new(rows.iter().map(|r| r.re.as_str()))
        .unwrap_or_else(|e| panic!("patterns.tsv: {e}"));
    Compiled { rows, set }
});

/// The compiled rows, in order (for the tests that check each row alone).
#[cfg(test)]
pub(crate) fn rows() -> &'static [Row] {
    &COMPILED.rows
}

/// Applies every row that matches somewhere in `block`, in table order.
pub(crate) fn apply_all(block: &[u8]) -> Vec<u8> {
    let hits = COMPILED.set.matches(block);
    let mut cur = block.to_vec();
    for (i, row) in COMPILED.rows.iter().enumerate() {
        // The set saw the original block; an earlier row only ever replaces secrets, so
        // a row the set ruled out still cannot match.
        if hits.matched(i) {
            if let Some(next) = apply(row, &cur) {
                cur = next;
            }
        }
    }
    cur
}

/// Replaces this row's secrets in `hay`; `None` when nothing was replaced.
pub(crate) fn apply(row: &Row, hay: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut last = 0;
    for c in row.re.captures_iter(hay) {
        let Some(secret) = row.group.map_or(c.get(0), |g| c.name(g)) else {
            continue;
        };
        if secret.start() < last || !passes(row.check, &c, secret.as_bytes()) {
            continue;
        }
        out.extend_from_slice(hay.get(last..secret.start()).unwrap_or_default());
        out.extend_from_slice(format!("[REDACTED:{}]", row.kind).as_bytes());
        last = secret.end();
    }
    if last == 0 {
        return None;
    }
    out.extend_from_slice(hay.get(last..).unwrap_or_default());
    Some(out)
}

fn passes(check: Check, c: &Captures<'_>, secret: &[u8]) -> bool {
    match check {
        Check::None => true,
        Check::Random => looks_random(secret),
        Check::NotHex => !secret.iter().all(u8::is_ascii_hexdigit),
        Check::Credential => {
            let name = c.name("n").map_or(&[][..], |m| m.as_bytes());
            looks_random(secret) && !is_named_digest(name, secret)
        }
    }
}

/// A SHA-1 or SHA-256 hex digest under a name that says so (`sha256`, `digest`, `hash`,
/// `commit`, `checksum`): sitrep prints those (ledger, evidence) and they are not secret.
fn is_named_digest(name: &[u8], value: &[u8]) -> bool {
    let name = name.to_ascii_lowercase();
    let hashy = [
        "sha1", "sha256", "sha-256", "digest", "hash", "commit", "checksum",
    ]
    .iter()
    .any(|w| name.windows(w.len()).any(|x| x == w.as_bytes()));
    hashy && matches!(value.len(), 40 | 64) && value.iter().all(u8::is_ascii_hexdigit)
}

/// Whether a value looks like a generated secret rather than a word, a name or a path:
/// at least 20 bytes, not a path, and either hex with letters and digits, or upper and
/// lower case and digits, or two of those classes with a high Shannon entropy. Prose and
/// names rarely mix classes that evenly; random base64 and hex nearly always do.
pub(crate) fn looks_random(v: &[u8]) -> bool {
    if v.len() < 20 || v.starts_with(b"/") || v.starts_with(b"./") || v.starts_with(b"~/") {
        return false;
    }
    let upper = v.iter().any(u8::is_ascii_uppercase);
    let lower = v.iter().any(u8::is_ascii_lowercase);
    let digit = v.iter().any(u8::is_ascii_digit);
    let hex = v.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-');
    let h = entropy(v);
    match (upper, lower, digit) {
        _ if hex && digit && (upper || lower) => h >= 3.0,
        (true, true, true) => h >= 3.5,
        (true, true, false) | (true, false, true) | (false, true, true) => h >= 4.0,
        _ => false,
    }
}

/// Shannon entropy in bits per byte.
fn entropy(v: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in v {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    #[allow(clippy::cast_precision_loss)] // lengths are far below 2^52
    let n = v.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
