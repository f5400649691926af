//! `sitrep runbook rules DIR`: the rule file Debian's `promtool` accepts, its `--json`
//! form, and rule mistakes that exit 1 naming file and line with nothing written.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{stderr, stdout};

/// `sitrep [--json] runbook rules DIR ARGS...` from the repository root, so paths in
/// messages are stable.
fn rules(json: bool, dir: &str, args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut c = Command::new(env!("CARGO_BIN_EXE_sitrep"));
    if json {
        c.arg("--json");
    }
    c.args(["runbook", "rules", dir])
        .args(args)
        .current_dir(root)
        .env_remove("SITREP_BASE_URL")
        .output()
        .expect("sitrep runs")
}

/// Debian's `promtool` (package `prometheus`; `.ci/test` installs it).
fn promtool() -> String {
    std::env::var("SITREP_TEST_PROMTOOL").unwrap_or_else(|_| "/usr/bin/promtool".into())
}

#[test]
fn promtool_accepts_the_rule_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sitrep-rules.yml");
    let o = rules(
        false,
        "tests/data/rules/runbooks",
        &["--base-url", "https://sitrep.example", "--out"],
    );
    // `--out` without a value is a usage error, not an empty write.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = rules(
        false,
        "tests/data/rules/runbooks",
        &[
            "--base-url",
            "https://sitrep.example",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "with --out the YAML goes to the file only");
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(yaml.contains("runbook_url: https://sitrep.example/runbooks/checkout/queue.md"));
    let check = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (apt install prometheus)", promtool()));
    assert!(
        check.status.success(),
        "promtool refused the file:\n{}{}\n{yaml}",
        stdout(&check),
        stderr(&check)
    );
    assert!(
        stdout(&check).contains("SUCCESS: 6 rules found"),
        "{}",
        stdout(&check)
    );
}

#[test]
fn stdout_is_the_same_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.yml");
    let args = ["--base-url", "http://127.0.0.1:8080/"];
    let printed = rules(false, "tests/data/rules/runbooks", &args);
    assert!(printed.status.success(), "{}", stderr(&printed));
    let mut with_out = args.to_vec();
    with_out.extend(["--out", file.to_str().unwrap()]);
    assert!(
        rules(false, "tests/data/rules/runbooks", &with_out)
            .status
            .success()
    );
    assert_eq!(stdout(&printed), std::fs::read_to_string(&file).unwrap());
}

#[test]
fn json_form() {
    let o = rules(
        true,
        "tests/data/rules/runbooks",
        &["--base-url", "http://sitrep"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    insta::assert_json_snapshot!(v);
}

#[test]
fn mistakes_exit_1_with_file_and_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.yml");
    let o = rules(
        false,
        "tests/data/rules/bad",
        &["--out", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("tests/data/rules/bad/b-rules.md:19: error: `for: 10 minutes`"),
        "{err}"
    );
    assert!(err.contains("no rule file written"), "{err}");
    assert!(
        !file.exists(),
        "a rule file with alerts missing must not be written"
    );

    let o = rules(true, "tests/data/rules/bad", &[]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    insta::assert_json_snapshot!(v);
}

#[test]
fn not_a_directory_or_a_bad_base_url_is_exit_2() {
    let o = rules(false, "tests/data/rules/none-here", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a directory"), "{}", stderr(&o));
    let o = rules(
        false,
        "tests/data/rules/runbooks",
        &["--base-url", "sitrep:8080"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("base URL `sitrep:8080`"),
        "{}",
        stderr(&o)
    );
}
