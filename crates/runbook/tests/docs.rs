//! The docs stay true: every diagnostic code has its own entry in docs/lint-rules.md,
//! and every code the fixtures produce is a documented one.

use std::collections::BTreeSet;

use sitrep_runbook::{IMPORT_RULES, RULES, lint, parse};

const DOC: &str = include_str!("../../../docs/lint-rules.md");

#[test]
fn every_code_is_documented() {
    for r in RULES.iter().chain(IMPORT_RULES) {
        let heading = format!("### `{}`", r.code);
        assert!(
            DOC.contains(&heading),
            "docs/lint-rules.md lacks `{heading}`"
        );
        let row = format!("| `{}` | {} |", r.code, r.severity);
        assert!(DOC.contains(&row), "docs/lint-rules.md table lacks `{row}`");
    }
}

#[test]
fn codes_are_unique_and_kebab_case() {
    let mut seen = BTreeSet::new();
    for r in RULES.iter().chain(IMPORT_RULES) {
        assert!(seen.insert(r.code), "duplicate code {}", r.code);
        assert!(
            r.code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{}",
            r.code
        );
    }
}

#[test]
fn fixtures_only_produce_documented_codes() {
    let known: BTreeSet<&str> = RULES.iter().chain(IMPORT_RULES).map(|r| r.code).collect();
    let texts = [
        include_str!("../../../tests/data/runbooks/05-attributes-json.md"),
        include_str!("../../../tests/data/runbooks/06-attributes-legacy.md"),
        include_str!("../../../tests/data/runbooks/15-not-shell.md"),
        include_str!("../../../tests/data/runbooks/17-empty-section.md"),
        include_str!("../../../tests/data/runbooks/23-param-types.md"),
        include_str!("../../../tests/data/runbooks/24-placeholder-reread.md"),
        include_str!("../../../tests/data/runbooks/26-database-prompts.md"),
        include_str!("../../../tests/data/runbooks/27-untagged-not-shell.md"),
        include_str!("../../../tests/data/runbooks/28-prose-placeholders.md"),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/seeds/owasaka-incident-playbook.txt"
        )),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/seeds/stella-evidence-locker-runbook.txt"
        )),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/seeds/quicprochat-incident-response.txt"
        )),
    ];
    for t in texts {
        let (rb, mut d) = parse(t);
        d.extend(lint(&rb, t));
        for x in d {
            assert!(known.contains(x.code), "undocumented code {}", x.code);
        }
    }
}
