//! Table-driven checks of single commands against their expected level (tests/data/risk/cases.tsv).

use sitrep_risk::{Classifier, Level};

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/cases.tsv"
));

#[test]
fn every_case_gets_its_level() {
    let c = Classifier::builtin();
    let mut failures = Vec::new();
    for line in CASES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let Some((want, cmd)) = line.split_once('\t') else {
            failures.push(format!("malformed line: {line}"));
            continue;
        };
        let want = Level::parse(want.trim()).unwrap_or(Level::Destructive);
        let cmd = unescape(cmd);
        let got = c.classify(&cmd).level;
        if got != want {
            failures.push(format!("{cmd:?}: want {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Fixture escapes: `\n` newline, `\t` tab, `\\` backslash; other backslashes stay.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('t')) => {
                out.push('\t');
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}
