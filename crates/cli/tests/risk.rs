//! `sitrep risk` run as a user would: the real binary, human and JSON output, site rules.

mod common;

use common::{sitrep, stdout};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/risk");

#[test]
fn human_output_names_level_command_and_reason() {
    let o = sitrep(&["risk", "kubectl get pods && sudo rm -rf /var/lib/app"]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.starts_with("[DESTRUCTIVE]"), "{s}");
    assert!(s.contains("[READ]"), "{s}");
    assert!(s.contains("kubectl get pods"), "{s}");
    assert!(s.contains("wrapper:sudo"), "{s}");
}

#[test]
fn json_is_the_script_risk() {
    let o = sitrep(&["--json", "risk", "psql -c 'SELECT 1; DROP TABLE t'"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["level"], "destructive");
    assert_eq!(v["commands"][0]["span"]["start"], 0);
    let rules: Vec<&str> = v["commands"][0]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert_eq!(rules, ["sql select", "sql drop"]);
}

#[test]
fn site_rules_file_changes_the_verdict() {
    let cmd = "stella evidence verify --bundle x";
    let plain = sitrep(&["--json", "risk", cmd]);
    let v: serde_json::Value = serde_json::from_slice(&plain.stdout).expect("json");
    assert_eq!(v["level"], "unknown");
    let rules = format!("{DATA}/stella-rules.txt");
    let with = sitrep(&["--json", "risk", "--rules", &rules, cmd]);
    let v: serde_json::Value = serde_json::from_slice(&with.stdout).expect("json");
    assert_eq!(v["level"], "read");
}

#[test]
fn missing_rules_file_is_an_input_error() {
    let o = sitrep(&["risk", "--rules", "/nonexistent/rules.txt", "ls"]);
    assert_eq!(o.status.code(), Some(2));
}
