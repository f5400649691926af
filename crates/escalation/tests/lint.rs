//! Lint on fixtures: a config with every problem reports each one (snapshot), the example
//! and the minimal config are clean.

// Tests read fixtures from disk; the crate itself never does.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;

use sitrep_escalation::{Config, FindingLevel, lint};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/escalation");
const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/escalation.md");

fn load(name: &str) -> Config {
    let text = std::fs::read_to_string(format!("{DATA}/{name}")).expect("fixture");
    Config::from_toml(&text).expect("fixture parses")
}

#[test]
fn every_problem_is_found() {
    let findings = lint(&load("lint-problems.toml"));
    let lines: Vec<String> = findings
        .iter()
        .map(|f| format!("{}[{}] {}: {}", f.level, f.code, f.path, f.message))
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn examples_are_clean() {
    for name in ["example.toml", "clean.toml"] {
        let findings = lint(&load(name));
        assert!(findings.is_empty(), "{name}: {findings:#?}");
    }
}

#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(DOC).expect("docs/escalation.md");
    let findings = lint(&load("lint-problems.toml"));
    let codes: BTreeSet<&str> = findings.iter().map(|f| f.code).collect();
    assert!(
        codes.len() >= 14,
        "the fixture exercises every code: {codes:?}"
    );
    for code in codes {
        assert!(
            doc.contains(&format!("`{code}`")),
            "{code} is not in docs/escalation.md"
        );
    }
    assert!(findings.iter().any(|f| f.level == FindingLevel::Warning));
}

#[test]
fn the_documented_example_loads_lints_clean_and_matches_the_fixture() {
    let doc = std::fs::read_to_string(DOC).expect("docs/escalation.md");
    let block = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```toml block in docs/escalation.md");
    let documented = Config::from_toml(block).expect("the documented example parses");
    assert!(lint(&documented).is_empty());
    let from: sitrep_escalation::Timestamp = "2026-11-23T10:00:00Z".parse().expect("ts");
    let hours = sitrep_escalation::SignedDuration::from_hours(3);
    let pages = |cfg: &Config| {
        sitrep_escalation::simulate(cfg, "checkout-api", "SEV1", from, hours).expect("simulate")
    };
    assert_eq!(pages(&documented), pages(&load("example.toml")));
}
