//! The real-world corpus (tests/data/risk/corpus.tsv and the Stella seed's commands): no
//! destructive command below destructive, no write/unknown command read; prints the confusion
//! matrix (rows = expected, columns = classified) that docs/risk.md quotes.

use sitrep_risk::{Classifier, CustomRule, Level};

const CORPUS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/corpus.tsv"
));
const STELLA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/stella.tsv"
));
const STELLA_RULES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/stella-rules.txt"
));
const SEEDS: [(&str, &str); 3] = [
    (
        "owasaka",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/seeds/owasaka-incident-playbook.txt"
        )),
    ),
    (
        "quicprochat",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/seeds/quicprochat-incident-response.txt"
        )),
    ),
    (
        "stella",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/seeds/stella-evidence-locker-runbook.txt"
        )),
    ),
];
const LEVELS: [Level; 4] = [
    Level::Read,
    Level::Write,
    Level::Unknown,
    Level::Destructive,
];

/// (expected, command, source) rows of the main corpus.
fn corpus() -> Vec<(Level, String, String)> {
    rows(CORPUS)
        .map(|f| {
            (
                level(f.first()),
                unescape(f.get(1).copied().unwrap_or("")),
                f.get(2).copied().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
}

fn level(s: Option<&&str>) -> Level {
    // An unreadable label must fail the test, not pass it: `Read` is the strictest expectation
    // for the "never classified lower" checks, so a typo is reported as a mismatch.
    s.and_then(|s| Level::parse(s.trim()))
        .unwrap_or(Level::Read)
}

fn site_rules() -> Vec<CustomRule> {
    STELLA_RULES
        .lines()
        .filter_map(|l| {
            let body = l.split('#').next()?.trim();
            let (lvl, prefix) = body.split_once(char::is_whitespace)?;
            Some(CustomRule {
                prefix: prefix.trim().to_string(),
                level: Level::parse(lvl)?,
                reason: None,
            })
        })
        .collect()
}

fn matrix(pairs: &[(Level, Level)]) -> String {
    let mut out = String::from(
        "| expected \\ classified | read | write | unknown | destructive |\n|---|---|---|---|---|\n",
    );
    for want in LEVELS {
        out.push_str(&format!("| {want} |"));
        for got in LEVELS {
            let n = pairs
                .iter()
                .filter(|(w, g)| *w == want && *g == got)
                .count();
            out.push_str(&format!(" {n} |"));
        }
        out.push('\n');
    }
    out
}

#[test]
fn corpus_is_large_and_labels_parse() {
    let labelled = rows(CORPUS).chain(rows(STELLA)).count();
    assert!(labelled >= 400, "corpus has {labelled} commands");
    for f in rows(CORPUS) {
        assert!(
            f.len() == 3 && Level::parse(f[0]).is_some(),
            "bad corpus row {f:?}"
        );
    }
    for f in rows(STELLA) {
        assert!(
            f.len() == 4 && Level::parse(f[0]).is_some() && Level::parse(f[1]).is_some(),
            "bad stella row {f:?}"
        );
    }
}

#[test]
fn builtin_never_classifies_below_the_truth_where_it_matters() {
    let c = Classifier::builtin();
    let mut pairs = Vec::new();
    let mut failures = Vec::new();
    let mut below = Vec::new();
    let stella = rows(STELLA).map(|f| {
        (
            level(f.first()),
            f.get(2).copied().unwrap_or("").to_string(),
            "stella seed".to_string(),
        )
    });
    for (want, cmd, source) in corpus().into_iter().chain(stella) {
        let got = c.classify(&cmd).level;
        pairs.push((want, got));
        let bad = (want == Level::Destructive && got < Level::Destructive)
            || (want > Level::Read && got == Level::Read);
        if bad {
            failures.push(format!(
                "{cmd:?} ({source}): expected {want}, classified {got}"
            ));
        } else if got < want {
            below.push(format!("{cmd:?}: expected {want}, classified {got}"));
        }
    }
    println!(
        "builtin rules, {} commands:\n{}",
        pairs.len(),
        matrix(&pairs)
    );
    for b in &below {
        println!("below (allowed): {b}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn stella_site_rules_classify_the_stella_seed() {
    let c = Classifier::with_custom(&site_rules());
    let mut pairs = Vec::new();
    let mut failures = Vec::new();
    for f in rows(STELLA) {
        let want = level(f.get(1));
        let cmd = f.get(2).copied().unwrap_or("");
        let got = c.classify(cmd).level;
        pairs.push((want, got));
        if got != want {
            failures.push(format!("{cmd:?}: expected {want}, classified {got}"));
        }
    }
    println!(
        "stella site rules, {} commands:\n{}",
        pairs.len(),
        matrix(&pairs)
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_stella_seed_command_line_is_in_the_corpus() {
    let listed: Vec<&str> = rows(STELLA).filter_map(|f| f.get(2).copied()).collect();
    for (name, seed) in SEEDS {
        if name != "stella" {
            continue;
        }
        for line in seed
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("stella "))
        {
            assert!(
                listed.contains(&line),
                "seed command missing from stella.tsv: {line}"
            );
        }
    }
}

/// Fixture escapes: `\n` newline, `\\` backslash; other backslashes stay.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                out.push('\n');
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
