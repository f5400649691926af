//! The real-world corpus report (issue 18): runbooks nobody here wrote, imported and
//! linted, with the numbers docs/risk.md quotes. Reads directories of Markdown.
//!
//! ```text
//! cargo run --release -p sitrep-runbook --example wild -- commands DIR...
//! cargo run --release -p sitrep-runbook --example wild -- report DIR... [--labels FILE]
//! ```
//!
//! `commands` lists every distinct one-line command (`file<TAB>command`), without risk, to
//! label by hand before the classifier is looked at. `report` prints files, crashes,
//! steps, the share of each risk level, reference blocks, lint codes and, with a labelled
//! TSV (`level<TAB>command<TAB>source`), the confusion matrix and every under-classified
//! command. `WILD_DUMP=WORD` also prints (to stderr) every `unknown` command whose first
//! word is WORD, with the rules that fired: where to grow the rule table next.

// A report over files on disk; the library itself does no I/O (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sitrep_risk::{Classifier, Level};
use sitrep_runbook::{lint, parse};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("usage: wild commands|report DIR... [--labels FILE]");
        std::process::exit(2);
    };
    let mut dirs = Vec::new();
    let mut labels = None;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        if a == "--labels" {
            labels = it.next().cloned();
        } else {
            dirs.push(PathBuf::from(a));
        }
    }
    let mut files = Vec::new();
    for d in &dirs {
        collect(d, &mut files);
    }
    files.sort();
    match mode.as_str() {
        "commands" => commands(&files),
        "report" => report(&files, labels.as_deref()),
        _ => {
            eprintln!("unknown mode {mode}");
            std::process::exit(2);
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("md") || x.eq_ignore_ascii_case("markdown"))
        {
            out.push(p);
        }
    }
}

fn read(p: &Path) -> Option<String> {
    std::fs::read(p)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn commands(files: &[PathBuf]) {
    let mut seen = BTreeSet::new();
    for f in files {
        let Some(text) = read(f) else { continue };
        let (rb, _) = parse(&text);
        for s in &rb.steps {
            for c in &s.commands {
                let t = c.text.trim();
                if !t.is_empty() && !t.contains('\n') && seen.insert(t.to_string()) {
                    println!("{}\t{t}", f.display());
                }
            }
        }
    }
}

#[derive(Default)]
struct Totals {
    files: usize,
    crashes: usize,
    steps: usize,
    levels: BTreeMap<&'static str, usize>,
    transcripts: usize,
    references: BTreeMap<String, usize>,
    codes: BTreeMap<&'static str, usize>,
    /// First word of each command not proven read, by count: where rules are missing.
    programs: BTreeMap<String, usize>,
}

fn report(files: &[PathBuf], labels: Option<&str>) {
    let mut t = Totals::default();
    for f in files {
        let Some(text) = read(f) else { continue };
        t.files += 1;
        let run = std::panic::catch_unwind(|| {
            let (rb, mut d) = parse(&text);
            d.extend(lint(&rb, &text));
            (rb, d)
        });
        let Ok((rb, diags)) = run else {
            t.crashes += 1;
            eprintln!("CRASH {}", f.display());
            continue;
        };
        for s in &rb.steps {
            t.steps += 1;
            *t.levels.entry(s.risk.level.as_str()).or_default() += 1;
            if s.commands.iter().any(|c| c.example_output.is_some()) {
                t.transcripts += 1;
            }
            for c in &s.risk.commands {
                if c.level == Level::Unknown {
                    let w = c.text.split_whitespace().next().unwrap_or("").to_string();
                    if std::env::var("WILD_DUMP").is_ok_and(|d| d == w) {
                        let why: Vec<String> = c
                            .reasons
                            .iter()
                            .map(|r| format!("{}={}", r.rule, r.level.as_str()))
                            .collect();
                        eprintln!("{}\t{}", c.text.replace('\n', " "), why.join(","));
                    }
                    *t.programs.entry(w).or_default() += 1;
                }
            }
        }
        for r in &rb.references {
            *t.references.entry(r.kind.clone()).or_default() += 1;
        }
        for d in &diags {
            *t.codes.entry(d.code).or_default() += 1;
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / t.steps.max(1) as f64;
    println!(
        "files: {}  crashes: {}  steps: {}",
        t.files, t.crashes, t.steps
    );
    for (l, n) in &t.levels {
        println!("  {l}: {n} ({:.1}%)", pct(*n));
    }
    println!("steps with example output (transcripts): {}", t.transcripts);
    println!("reference blocks: {:?}", t.references);
    println!("diagnostics by code:");
    for (c, n) in &t.codes {
        println!("  {c}: {n}");
    }
    let mut top: Vec<_> = t.programs.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("first words of unknown commands (top 40):");
    for (w, n) in top.iter().take(40) {
        println!("  {n} {w}");
    }
    if let Some(path) = labels {
        labelled(path);
    }
}

/// Confusion matrix of a hand-labelled TSV against the builtin classifier.
fn labelled(path: &str) {
    let Some(text) = read(Path::new(path)) else {
        eprintln!("cannot read {path}");
        return;
    };
    let c = Classifier::builtin();
    let levels = [
        Level::Read,
        Level::Write,
        Level::Unknown,
        Level::Destructive,
    ];
    let mut m = [[0usize; 4]; 4];
    let mut under = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.split('\t');
        let (Some(want), Some(cmd)) = (cols.next().and_then(Level::parse), cols.next()) else {
            continue;
        };
        let got = c.classify(cmd).level;
        let idx = |l: Level| levels.iter().position(|x| *x == l).unwrap_or(2);
        m[idx(want)][idx(got)] += 1;
        let unsafe_miss = (want != Level::Read && got == Level::Read)
            || (want == Level::Destructive && got < Level::Destructive);
        if unsafe_miss {
            under.push(format!(
                "{cmd}: labelled {}, classified {}",
                want.as_str(),
                got.as_str()
            ));
        }
    }
    println!("\nlabelled sample ({path}):");
    println!("| expected \\ classified | read | write | unknown | destructive |");
    println!("|---|---|---|---|---|");
    for (i, l) in levels.iter().enumerate() {
        let r = m[i];
        println!(
            "| {} | {} | {} | {} | {} |",
            l.as_str(),
            r[0],
            r[1],
            r[2],
            r[3]
        );
    }
    println!("under-classified ({}):", under.len());
    for u in under {
        println!("- {u}");
    }
}
