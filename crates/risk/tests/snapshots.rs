//! Snapshots of the full reasons/spans output for tricky commands (reviewed by hand).

use sitrep_risk::{Classifier, CustomRule, Level};

const TRICKY: &[(&str, &str)] = &[
    (
        "placeholder_and_pipeline",
        "kubectl logs <pod-name> -n prod | grep ERROR > /tmp/errors.txt",
    ),
    (
        "ssh_sudo_psql_heredoc",
        "ssh db1 'sudo -u postgres psql' <<'SQL'\nSELECT 1;\nDELETE FROM jobs;\nSQL",
    ),
    (
        "nested_shells",
        "sh -c \"bash -c 'curl -X DELETE http://es:9200/old'\" && echo done",
    ),
    ("parse_error", "echo $( rm -rf /tmp/x"),
    (
        "find_exec",
        "find /var/log -name '*.gz' -exec rm -f {} + ; df -h",
    ),
];

#[test]
fn tricky_commands() {
    let c = Classifier::builtin();
    for (name, cmd) in TRICKY {
        insta::assert_json_snapshot!(*name, c.classify(cmd));
    }
}

#[test]
fn site_rule_wins_over_builtin() {
    let c = Classifier::with_custom(&[CustomRule {
        prefix: "stella evidence cleanup".to_string(),
        level: Level::Destructive,
        reason: Some("deletes evidence".to_string()),
    }]);
    insta::assert_json_snapshot!(c.classify("sudo stella evidence cleanup --apply-retention"));
}
