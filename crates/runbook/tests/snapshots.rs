//! Snapshot tests: the model and every diagnostic (import notes and lint findings) for
//! each fixture under tests/data/runbooks and for each scraped seed page.

// Tests read fixture files; the no-I/O rule (clippy.toml) is for the library itself.
#![allow(clippy::disallowed_methods)]

use serde::Serialize;
use sitrep_runbook::{Diagnostic, Runbook, RunbookSet, lint, parse};

#[derive(Serialize)]
struct Snapshot {
    runbook: Runbook,
    diagnostics: Vec<Diagnostic>,
}

fn snapshot(text: &str) -> Snapshot {
    let (mut runbook, mut diagnostics) = parse(text);
    // Lint sees the whole model (some rules read risk reasons).
    diagnostics.extend(lint(&runbook, text));
    // Risk reasons belong to sitrep-risk's own tests; keeping them here would make every
    // rule-table edit there churn these snapshots. Levels and spans stay.
    for step in &mut runbook.steps {
        for c in &mut step.risk.commands {
            c.reasons.clear();
        }
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.code));
    Snapshot {
        runbook,
        diagnostics,
    }
}

#[test]
fn fixtures() {
    insta::glob!("../../../tests/data/runbooks", "**/*.md", |path| {
        let text = std::fs::read_to_string(path).expect("fixture is readable UTF-8");
        insta::assert_yaml_snapshot!(snapshot(&text));
    });
}

macro_rules! seed {
    ($name:ident, $file:literal) => {
        #[test]
        fn $name() {
            let text = include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/seeds/",
                $file
            ));
            insta::assert_yaml_snapshot!(snapshot(text));
        }
    };
}

seed!(seed_owasaka, "owasaka-incident-playbook.txt");
seed!(seed_stella, "stella-evidence-locker-runbook.txt");
seed!(seed_quicprochat, "quicprochat-incident-response.txt");

#[test]
fn directory_links_and_alert_handlers() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/runbooks/13-linked/"
    );
    let sources = ["database.md", "network.md"].map(|f| {
        (
            f.to_string(),
            std::fs::read_to_string(format!("{dir}{f}")).expect("fixture is readable"),
        )
    });
    let set = RunbookSet::from_sources(sources);
    let found: Vec<(String, Vec<String>)> = set
        .entries
        .iter()
        .map(|e| {
            let d = e
                .diagnostics
                .iter()
                .filter(|d| matches!(d.code, "broken-link" | "duplicate-alert-handler"))
                .map(|d| format!("{}:{} {} {}", d.line, d.column, d.code, d.message))
                .collect();
            (e.path.clone(), d)
        })
        .collect();
    insta::assert_yaml_snapshot!(found);
    assert_eq!(
        set.handlers("OrdersDbDown"),
        vec!["database.md", "network.md"]
    );
}
