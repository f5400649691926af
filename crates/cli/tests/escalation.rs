//! `sitrep escalation simulate|lint|init` run as a user would: the real binary on the
//! escalation fixtures, checking the table, the JSON, findings and exit codes.

mod common;

use common::{sitrep, stderr, stdout};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/escalation");

fn fixture(name: &str) -> String {
    format!("{DATA}/{name}")
}

const SIMULATE: [&str; 10] = [
    "escalation",
    "simulate",
    "--service",
    "checkout-api",
    "--severity",
    "SEV1",
    "--from",
    "2026-11-23T10:00:00Z",
    "--hours",
    "2",
];

#[test]
fn simulate_prints_who_is_paged_when() {
    let config = fixture("example.toml");
    let mut args = SIMULATE.to_vec();
    args.extend(["--config", &config]);
    let o = sitrep(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!(stdout(&o));
}

#[test]
fn simulate_json_lists_every_page_with_its_id() {
    let config = fixture("example.toml");
    let mut args = vec!["--json"];
    args.extend(SIMULATE);
    args.extend(["--config", &config]);
    let o = sitrep(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["policy"], "standard");
    let pages = v["pages"].as_array().expect("pages");
    assert_eq!(pages.len(), 12, "3 cycles of 4 pages");
    assert_eq!(pages[0]["person"], "bob");
    assert_eq!(pages[0]["contact"]["kind"], "email");
    assert_eq!(
        pages[0]["id"],
        "simulated:standard:c0:l0:rotation:primary:bob-email"
    );
    assert_eq!(pages[11]["due_at"], "2026-11-23T11:55:00Z");
    assert_eq!(pages[11]["cycle"], 2);
}

#[test]
fn simulate_with_a_short_window_says_so() {
    let o = sitrep(&[
        "escalation",
        "simulate",
        "--config",
        &fixture("example.toml"),
        "--service",
        "reporting",
        "--severity",
        "SEV3",
        "--from",
        "2026-11-23T10:00:00+01:00",
        "--hours",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("nobody is paged in this window"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn lint_reports_findings_and_fails_on_errors() {
    let config = fixture("lint-problems.toml");
    let o = sitrep(&["escalation", "lint", "--config", &config]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("error[no-contact] people[1]: `ghost` has no contact method"),
        "{out}"
    );
    assert!(out.contains("error[empty-rotation] rotations[0]"), "{out}");
    assert!(
        out.contains("error[unreachable-level] policies[0].levels[2]"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("16 errors, 4 warnings"), "{out}");
    assert!(stderr(&o).contains("16 escalation lint errors found"));

    let o = sitrep(&["--json", "escalation", "lint", "--config", &config]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["errors"], 16);
    assert_eq!(v["warnings"], 4);
    let findings = v["findings"].as_array().expect("findings");
    assert!(findings.iter().any(|f| f["code"] == "unknown-rotation"
        && f["level"] == "error"
        && f["path"] == "policies[0].levels[4].targets[0]"));
}

#[test]
fn clean_configs_lint_clean() {
    for name in ["example.toml", "clean.toml"] {
        let o = sitrep(&["escalation", "lint", "--config", &fixture(name)]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stdout(&o));
        assert!(
            stdout(&o).ends_with(": 0 errors, 0 warnings\n"),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn bad_input_exits_2_naming_the_file_and_line() {
    let config = fixture("invalid/bad-duration.toml");
    let o = sitrep(&["escalation", "lint", "--config", &config]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("bad-duration.toml: line 5, column 9"), "{err}");
    assert!(err.contains("policies[0].levels[0].delay"), "{err}");

    let o = sitrep(&["escalation", "lint", "--config", &fixture("missing.toml")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));

    let example = fixture("example.toml");
    let mut args = SIMULATE.to_vec();
    args.extend(["--config", &example]);
    let sev = args
        .iter()
        .position(|a| *a == "SEV1")
        .expect("severity arg");
    args[sev] = "SEV9";
    let o = sitrep(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown severity `SEV9`"),
        "{}",
        stderr(&o)
    );

    let from = args
        .iter()
        .position(|a| a.starts_with("2026"))
        .expect("from arg");
    args[sev] = "SEV1";
    args[from] = "yesterday";
    let o = sitrep(&["--json"].into_iter().chain(args).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).expect("JSON error");
    assert_eq!(v["error"]["kind"], "input");
}

#[test]
fn init_drafts_a_policy_from_a_runbooks_escalation_list() {
    let runbook = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/runbooks/30-escalation-list.md"
    );
    let o = sitrep(&[
        "escalation",
        "init",
        "--from-runbook",
        runbook,
        "--policy",
        "queue",
        "--service",
        "queue-workers",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let draft = stdout(&o);
    insta::assert_snapshot!(draft);
    // The draft is a config the other commands read: lint names the contacts to add.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("escalation.toml");
    std::fs::write(&path, &draft).expect("write draft");
    let path = path.to_str().expect("utf-8 path");
    let o = sitrep(&["escalation", "lint", "--config", path]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("`team-lead` has no contact method"),
        "{}",
        stdout(&o)
    );

    // A runbook without an escalation path is bad input.
    let none = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/runbooks/01-front-matter.md"
    );
    let o = sitrep(&["escalation", "init", "--from-runbook", none]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no escalation path found"),
        "{}",
        stderr(&o)
    );
}
