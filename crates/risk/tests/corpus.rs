//! The labelled corpora, split in two. Tuning: tests/data/risk/corpus.tsv (the rules were written
//! for these commands) and the Stella seed's commands (tests/data/risk/stella.tsv, judged with the
//! site rules of examples/seeds.toml). Evaluation: tests/data/risk/eval.tsv (commands the rules
//! were never tuned on) and tests/data/risk/wild.tsv (300 commands drawn at random from the
//! real-world corpus of issue 18, labelled before the classifier saw them). Each split's confusion matrix (rows = label, columns = classified) must
//! equal the one docs/risk.md documents, cell for cell, and the safety rule (no destructive below
//! destructive, no write/unknown/destructive classified read) holds on every split except for the
//! misses docs/risk.md lists by name.

use sitrep_risk::{Classifier, CustomRule, Level};

const CORPUS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/corpus.tsv"
));
const EVAL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/eval.tsv"
));
const WILD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/wild.tsv"
));
const STELLA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/stella.tsv"
));
const STELLA_RULES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/stella-rules.txt"
));
const SEEDS_TOML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/seeds.toml"
));
const DOCS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/risk.md"));
const STELLA_SEED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/seeds/stella-evidence-locker-runbook.txt"
));
const LEVELS: [Level; 4] = [
    Level::Read,
    Level::Write,
    Level::Unknown,
    Level::Destructive,
];

/// One labelled command.
struct Row {
    want: Level,
    cmd: String,
    source: String,
}

/// A split: its name in docs/risk.md's markers, its rows and the rules it is judged with.
struct Split {
    name: &'static str,
    rows: Vec<Row>,
    classifier: Classifier,
}

fn splits() -> Vec<Split> {
    vec![
        Split {
            name: "tuning",
            rows: labelled(CORPUS),
            classifier: Classifier::builtin(),
        },
        Split {
            name: "stella",
            rows: labelled(STELLA),
            classifier: Classifier::with_custom(&seeds_toml_rules()),
        },
        Split {
            name: "evaluation",
            rows: labelled(EVAL),
            classifier: Classifier::builtin(),
        },
        Split {
            name: "wild",
            rows: labelled(WILD),
            classifier: Classifier::builtin(),
        },
    ]
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
}

/// `label<TAB>command<TAB>source` rows. A row that does not have that shape fails the test.
fn labelled(text: &str) -> Vec<Row> {
    rows(text)
        .map(|f| {
            assert!(f.len() == 3, "bad row {f:?}");
            let want = Level::parse(f[0].trim()).unwrap_or_else(|| panic!("bad label in {f:?}"));
            Row {
                want,
                cmd: unescape(f[1]),
                source: f[2].to_string(),
            }
        })
        .collect()
}

/// The `[[risk]]` tables of examples/seeds.toml (`match`, `level`, optional `reason`; anything
/// else in such a table fails the test, so the file cannot drift away from this reader).
fn seeds_toml_rules() -> Vec<CustomRule> {
    let mut rules: Vec<CustomRule> = Vec::new();
    let mut in_risk = false;
    for line in SEEDS_TOML.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            in_risk = line == "[[risk]]";
            if in_risk {
                rules.push(CustomRule {
                    prefix: String::new(),
                    level: Level::Unknown,
                    reason: None,
                });
            }
            continue;
        }
        if !in_risk {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("seeds.toml: {line}"));
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or_else(|| panic!("seeds.toml: not a plain string: {line}"));
        assert!(!value.contains('\\'), "seeds.toml: escapes: {line}");
        let rule = rules.last_mut().expect("inside [[risk]]");
        match key.trim() {
            "match" => rule.prefix = value.to_string(),
            "level" => {
                rule.level =
                    Level::parse(value).unwrap_or_else(|| panic!("seeds.toml: level {line}"))
            }
            "reason" => rule.reason = Some(value.to_string()),
            other => panic!("seeds.toml: unexpected key {other} in [[risk]]"),
        }
    }
    for r in &rules {
        assert!(!r.prefix.is_empty(), "seeds.toml: a [[risk]] without match");
    }
    assert!(
        rules.len() >= 10,
        "seeds.toml has {} risk rules",
        rules.len()
    );
    rules
}

fn stella_rules_txt() -> Vec<CustomRule> {
    STELLA_RULES
        .lines()
        .filter_map(|l| {
            let body = l.split('#').next()?.trim();
            let (lvl, prefix) = body.split_once(char::is_whitespace)?;
            Some(CustomRule {
                prefix: prefix.trim().to_string(),
                level: Level::parse(lvl).unwrap_or_else(|| panic!("stella-rules.txt: {l}")),
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

/// The lines after `<!-- MARKER -->` in docs/risk.md up to the first blank line.
fn documented(marker: &str) -> String {
    let tag = format!("<!-- {marker} -->");
    let mut lines = DOCS.lines().skip_while(|l| l.trim() != tag);
    if lines.next().is_none() {
        return format!("(docs/risk.md has no {tag})");
    }
    let mut out = String::new();
    for l in lines.take_while(|l| !l.trim().is_empty()) {
        out.push_str(l);
        out.push('\n');
    }
    out
}

fn is_safety_miss(want: Level, got: Level) -> bool {
    (want == Level::Destructive && got < Level::Destructive)
        || (want > Level::Read && got == Level::Read)
}

#[test]
fn splits_are_large_and_disjoint() {
    let s = splits();
    let n = |name: &str| {
        s.iter()
            .find(|x| x.name == name)
            .map_or(0, |x| x.rows.len())
    };
    assert!(n("tuning") >= 600, "tuning split has {}", n("tuning"));
    assert!(
        n("evaluation") >= 150,
        "evaluation split has {}",
        n("evaluation")
    );
    assert_eq!(n("stella"), 50);
    // The evaluation split measures commands the rules were not written for: no command of it
    // may also be a tuning command (corpus.tsv, cases.tsv).
    let cases = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/risk/cases.tsv"
    ));
    let tuning: std::collections::HashSet<String> = labelled(CORPUS)
        .into_iter()
        .map(|r| r.cmd)
        .chain(rows(cases).filter_map(|f| f.get(1).map(|c| unescape(c))))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for r in labelled(EVAL) {
        assert!(
            !tuning.contains(&r.cmd),
            "eval.tsv repeats a tuning command: {}",
            r.cmd
        );
        assert!(seen.insert(r.cmd.clone()), "eval.tsv repeats {}", r.cmd);
    }
}

/// Every split: prints its matrix and misses, asserts the matrix docs/risk.md documents and that
/// the only safety misses are the ones docs/risk.md names.
#[test]
fn matrices_and_safety_misses_are_the_documented_ones() {
    let mut report = String::new();
    let mut failures = Vec::new();
    for split in splits() {
        let mut pairs = Vec::new();
        let mut misses = String::new();
        let mut other = Vec::new();
        for r in &split.rows {
            let got = split.classifier.classify(&r.cmd).level;
            pairs.push((r.want, got));
            if is_safety_miss(r.want, got) {
                misses.push_str(&format!(
                    "- `{}`: labelled {}, classified {got}\n",
                    r.cmd.replace('\n', "\\n"),
                    r.want
                ));
            } else if got != r.want {
                other.push(format!(
                    "{:?} ({}): labelled {}, classified {got}",
                    r.cmd, r.source, r.want
                ));
            }
        }
        let m = matrix(&pairs);
        report.push_str(&format!(
            "{} split, {} commands:\n<!-- matrix {} -->\n{m}\n<!-- misses {} -->\n{}\n",
            split.name,
            pairs.len(),
            split.name,
            split.name,
            if misses.is_empty() { "none\n" } else { &misses }
        ));
        for o in &other {
            report.push_str(&format!("  off-diagonal, not a safety miss: {o}\n"));
        }
        report.push('\n');
        if documented(&format!("matrix {}", split.name)) != m {
            failures.push(format!(
                "the {} matrix differs from docs/risk.md",
                split.name
            ));
        }
        let want_misses = if misses.is_empty() {
            "none\n".to_string()
        } else {
            misses
        };
        if documented(&format!("misses {}", split.name)) != want_misses {
            failures.push(format!(
                "the {} safety misses differ from docs/risk.md",
                split.name
            ));
        }
    }
    println!("{report}");
    assert!(
        failures.is_empty(),
        "{}\n(update docs/risk.md from the report above, and say why in the commit)",
        failures.join("\n")
    );
}

/// stella-rules.txt (the example rule file of `sitrep risk --rules`) gives every Stella command
/// exactly its label.
#[test]
fn stella_rules_txt_agrees_with_every_label() {
    let c = Classifier::with_custom(&stella_rules_txt());
    let mut failures = Vec::new();
    for r in labelled(STELLA) {
        let got = c.classify(&r.cmd).level;
        if got != r.want {
            failures.push(format!(
                "{:?}: labelled {}, classified {got}",
                r.cmd, r.want
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_stella_seed_command_line_is_labelled() {
    let listed: Vec<String> = labelled(STELLA).into_iter().map(|r| r.cmd).collect();
    for line in STELLA_SEED
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("stella "))
    {
        assert!(
            listed.iter().any(|c| c == line),
            "seed command missing from stella.tsv: {line}"
        );
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
