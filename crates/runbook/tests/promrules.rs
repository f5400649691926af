//! The Prometheus rule file made from a directory of runbooks (`prometheus_rules`):
//! the exact YAML for the fixtures under tests/data/rules, and each mistake in a rule
//! block reported with its file and line instead of being exported.

// Tests read fixture files; the no-I/O rule (clippy.toml) is for the library itself.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use sitrep_runbook::{RulesError, RunbookSet, prometheus_rules};

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/rules")
        .join(name)
}

/// Every `.md` under `dir` as `(relative path, text)`, sorted, as sitrep's library names
/// them.
fn sources(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn rule_file_for_the_fixtures() {
    let out = prometheus_rules(sources(&fixtures("runbooks")), "https://sitrep.example/").unwrap();
    assert_eq!(out.problems, vec![], "the fixtures are all exportable");
    let groups: Vec<_> = out.file.groups.iter().map(|g| g.name.as_str()).collect();
    // One group per runbook with rules, in path order; notes.md has none.
    assert_eq!(
        groups,
        ["checkout/queue.md", "db/replication.md", "ingestion.md"]
    );
    insta::assert_snapshot!(out.file.to_yaml());
}

#[test]
fn every_rule_links_to_its_runbook_page() {
    let out = prometheus_rules(sources(&fixtures("runbooks")), "http://127.0.0.1:8080").unwrap();
    for g in &out.file.groups {
        for r in &g.rules {
            assert_eq!(
                r.annotations["runbook_url"],
                format!("http://127.0.0.1:8080/runbooks/{}", g.name),
                "{}",
                r.alert
            );
        }
    }
    // The in-file anchor means nothing to Alertmanager; the wiki link is replaced.
    let ingestion = &out.file.groups[2].rules;
    assert!(!ingestion[0].annotations.contains_key("runbook"));
    assert_eq!(ingestion.len(), 3, "the recording rule is not an alert");
}

#[test]
fn mistakes_are_reported_with_file_and_line_and_left_out() {
    let out = prometheus_rules(sources(&fixtures("bad")), "http://sitrep").unwrap();
    let lines: Vec<String> = out.problems.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(lines.join("\n"));
    let exported: Vec<_> = out
        .file
        .groups
        .iter()
        .flat_map(|g| g.rules.iter().map(|r| r.alert.as_str()))
        .collect();
    assert_eq!(exported, ["QueueFine"]);
}

/// `sitrep runbook lint` reports what `sitrep runbook rules` refuses, at the same
/// `path:line`: a rule Prometheus would refuse is `alert-rule-refused`, one another
/// runbook handles first `duplicate-alert-handler`, a block that is not YAML or a rule
/// without `expr` `alert-rule-yaml` (parse's note, at the block).
#[test]
fn lint_reports_every_refused_rule_where_rules_does() {
    let sources = sources(&fixtures("bad"));
    let out = prometheus_rules(sources.clone(), "http://sitrep").unwrap();
    let set = RunbookSet::from_sources(sources);
    for p in &out.problems {
        let entry = set.get(&p.path).unwrap();
        let found = entry.diagnostics.iter().find(|d| match d.code {
            "alert-rule-refused" => d.line == p.line && d.message.starts_with(&p.message),
            "duplicate-alert-handler" => {
                d.line == p.line && d.message.contains(&format!("`{}`", p.alert))
            }
            "alert-rule-yaml" => d.message == p.message,
            _ => false,
        });
        assert!(found.is_some(), "lint misses {p}: {:#?}", entry.diagnostics);
    }
    let refused = set
        .entries
        .iter()
        .flat_map(|e| &e.diagnostics)
        .filter(|d| d.code == "alert-rule-refused")
        .count();
    assert_eq!(
        refused, 4,
        "one per refused rule with an `expr`, nothing else"
    );
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    let err = prometheus_rules(sources(&fixtures("runbooks")), "sitrep.example").unwrap_err();
    assert!(matches!(err, RulesError::BaseUrl(_)), "{err}");
}
