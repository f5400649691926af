//! `sitrep runbook show|list|lint` run as a user would: the real binary on the fixtures,
//! the seeds and the examples, checking output, formats and exit codes.

mod common;

use common::{sitrep, stdout};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/runbooks");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/runbooks");
const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/seeds");

#[test]
fn show_prints_prose_severities_escalation_lists_and_deadlines() {
    let mut all = String::new();
    for f in [
        "29-severity-prose.md",
        "30-escalation-list.md",
        "31-post-incident-deadlines.md",
    ] {
        let o = sitrep(&["runbook", "show", &format!("{DATA}/{f}")]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = stdout(&o);
        // From the typed lists and the checklist on; the first line is the absolute path.
        let from = out
            .find("\nLists")
            .or_else(|| out.find("\nChecklist"))
            .unwrap_or(0);
        all.push_str(&format!("== {f}{}", &out[from..]));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn show_prints_sections_steps_tables_and_checklists() {
    let o = sitrep(&[
        "runbook",
        "show",
        &format!("{SEEDS}/quicprochat-incident-response.txt"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    let out = out.split_once('\n').map_or("", |(_, rest)| rest); // first line is the absolute path
    insta::assert_snapshot!(out);
}

#[test]
fn show_json_is_the_whole_model() {
    let o = sitrep(&[
        "--json",
        "runbook",
        "show",
        &format!("{DATA}/11-alert-rule-single.md"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["runbook"]["alert_rules"][0]["name"], "NodeDiskAlmostFull");
    assert_eq!(v["runbook"]["alert_rules"][0]["action"], "#free-up-space");
    assert_eq!(v["runbook"]["steps"][0]["id"], "free-up-space/1");
    assert!(v["diagnostics"].is_array());
}

#[test]
fn list_prints_one_line_per_runbook() {
    let o = sitrep(&["runbook", "list", EXAMPLES]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("PATH"));
    assert!(out.contains("checkout-api") && out.contains("CheckoutHighErrorRate"));

    let o = sitrep(&["--json", "runbook", "list", EXAMPLES]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let rows = v.as_array().expect("an array of runbooks");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .any(|r| r["service"] == "orders-db" && r["steps"] == 3)
    );
}

#[test]
fn a_directory_of_scraped_pages_lists_and_lints() {
    // The seeds are .txt pages saved from the web: the same walk as the server's library.
    let o = sitrep(&["--json", "runbook", "list", SEEDS]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let rows = v.as_array().expect("an array of runbooks");
    assert_eq!(rows.len(), 3, "{v}");
    let o = sitrep(&["runbook", "lint", SEEDS]);
    assert!(stdout(&o).contains("3 files checked"), "{}", stdout(&o));
}

#[test]
fn examples_lint_clean() {
    let o = sitrep(&["runbook", "lint", EXAMPLES]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("3 files checked: 0 errors, 0 warnings"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn lint_errors_exit_1_in_every_format() {
    let file = format!("{DATA}/16-duplicate-names.md");
    let human = sitrep(&["runbook", "lint", &file]);
    assert_eq!(human.status.code(), Some(1));
    assert!(
        stdout(&human).contains("error[duplicate-step-name]"),
        "{}",
        stdout(&human)
    );

    let gh = sitrep(&["runbook", "lint", "--format", "github", &file]);
    assert_eq!(gh.status.code(), Some(1));
    let line = stdout(&gh)
        .lines()
        .find(|l| l.contains("duplicate-step-name"))
        .map(str::to_string)
        .expect("an annotation");
    assert!(line.starts_with("::error file="), "{line}");
    assert!(
        line.contains(",line=11,col=9,title=duplicate-step-name::"),
        "{line}"
    );

    let json = sitrep(&["--json", "runbook", "lint", &file]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(v["errors"], 1);
    let codes: Vec<&str> = v["files"][0]["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(codes.contains(&"duplicate-step-name"));
}

#[test]
fn lint_resolves_links_across_a_directory() {
    let o = sitrep(&["runbook", "lint", &format!("{DATA}/13-linked")]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("no runbook") && out.contains("storage.md"),
        "{out}"
    );
    assert!(out.contains("#no-such-heading"), "{out}");
    assert!(out.contains("duplicate-alert-handler"), "{out}");
    assert!(
        !out.contains("network.md#diagnosis`"),
        "a good link was reported: {out}"
    );
}

#[test]
fn unreadable_input_is_exit_2_naming_the_path() {
    let o = sitrep(&["runbook", "show", "/nonexistent/runbook.md"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/runbook.md"));

    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("latin1.md");
    std::fs::write(&bad, b"# Caf\xe9\n").expect("write");
    let o = sitrep(&["runbook", "lint", bad.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("latin1.md") && err.contains("UTF-8"), "{err}");
}

/// A runbook directory with a symbolic link and a hard link to files outside it and an
/// oversized file (issue 21, point 8): lint and list read none of them and say why; the
/// CLI caps an explicit file's size as the server does.
#[test]
fn links_and_oversized_files_are_skipped_and_said_so() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("runbooks");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("good.md"), "# Good\n\nFine.\n").expect("write");
    let secret = tmp.path().join("secret.md");
    std::fs::write(&secret, "# TOP SECRET TITLE\n").expect("write");
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd.md")).expect("symlink");
    std::fs::hard_link(&secret, dir.join("hard.md")).expect("hard link");
    let big = dir.join("big.md");
    std::fs::write(&big, "x".repeat((4 << 20) + 1)).expect("write");
    let d = dir.to_str().expect("utf-8 path");

    let o = sitrep(&["runbook", "lint", d]);
    let out = stdout(&o);
    assert!(out.contains("passwd.md: skipped: a symbolic link"), "{out}");
    assert!(out.contains("hard.md: skipped: has 2 hard links"), "{out}");
    assert!(out.contains("big.md: skipped: 4194305 bytes"), "{out}");
    assert!(out.contains("1 file checked"), "{out}");
    let json = stdout(&sitrep(&["--json", "runbook", "lint", d]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["skipped"].as_array().map(Vec::len), Some(3), "{v}");

    let o = sitrep(&["runbook", "list", d]);
    let out = stdout(&o);
    assert!(out.contains("good.md") && !out.contains("hard.md"), "{out}");
    assert!(
        !out.contains("passwd.md") && !out.contains("big.md"),
        "{out}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("hard.md: skipped"));

    let o = sitrep(&["runbook", "show", big.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("more than the limit"), "{err}");
}
