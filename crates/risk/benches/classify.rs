//! Benchmark: classifications per second over the corpus, and one synthetic 100-step runbook
//! (goal: under 5 ms for 100 steps on one core). Plain `Instant` loop; prints a table.
#![allow(clippy::disallowed_types)] // The clock is fine in a benchmark binary.

use std::hint::black_box;
use std::time::Instant;

use sitrep_risk::Classifier;

const CORPUS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/risk/corpus.tsv"
));

fn main() {
    let cmds: Vec<String> = CORPUS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split('\t').nth(1))
        .map(|c| c.replace("\\n", "\n"))
        .collect();
    let c = Classifier::builtin();
    for cmd in &cmds {
        black_box(c.classify(cmd));
    }
    let rounds = 20;
    let t = Instant::now();
    for _ in 0..rounds {
        for cmd in &cmds {
            black_box(c.classify(cmd));
        }
    }
    let corpus_s = t.elapsed().as_secs_f64();
    let per_sec = (rounds * cmds.len()) as f64 / corpus_s;

    // A runbook of 100 steps, each one corpus command classified separately (as the runbook
    // linter does), plus building the classifier once.
    let steps: Vec<&String> = cmds.iter().cycle().take(100).collect();
    let reps = 50;
    let t = Instant::now();
    for _ in 0..reps {
        let c = Classifier::builtin();
        for s in &steps {
            black_box(c.classify(s));
        }
    }
    let runbook_ms = t.elapsed().as_secs_f64() * 1000.0 / reps as f64;
    let t = Instant::now();
    for _ in 0..reps {
        black_box(Classifier::builtin());
    }
    let build_ms = t.elapsed().as_secs_f64() * 1000.0 / reps as f64;

    println!("| measure | value |");
    println!("|---|---|");
    println!("| corpus commands | {} |", cmds.len());
    println!("| classifications/s (corpus, one core) | {per_sec:.0} |");
    println!("| mean per command | {:.1} µs |", 1e6 / per_sec);
    println!("| Classifier::builtin() | {build_ms:.3} ms |");
    println!(
        "| 100-step runbook incl. builtin() | {runbook_ms:.2} ms (goal < 5 ms: {}) |",
        if runbook_ms < 5.0 { "met" } else { "NOT met" }
    );
}
