//! Placeholders in text a second parser reads again: the step's risk is raised to at
//! least `unknown` with a `value-reread` reason on the right command, and lint points at
//! the placeholder. Values passed as plain arguments change nothing.

use sitrep_risk::{Level, VALUE_REREAD_RULE};
use sitrep_runbook::{lint, parse};

fn runbook(script: &str) -> String {
    format!(
        "---\nparams:\n  HOST: {{type: hostname}}\n  UNIT: {{pattern: '[a-z.-]+'}}\n---\n\n# T\n\n## Resolution\n\n```bash\n{script}\n```\n"
    )
}

#[test]
fn ssh_remote_command_is_reread_and_lint_points_at_the_value() {
    let text = runbook("uptime\nssh \"$HOST\" \"journalctl -u $UNIT\"");
    let (rb, _) = parse(&text);
    let step = &rb.steps[0];
    assert!(step.risk.level >= Level::Unknown, "{:?}", step.risk);
    assert_eq!(step.risk.commands.len(), 2);
    let ssh = &step.risk.commands[1];
    assert!(ssh.text.starts_with("ssh"));
    let reread = ssh
        .reasons
        .iter()
        .find(|r| r.rule == VALUE_REREAD_RULE)
        .expect("a value-reread reason on the ssh command");
    assert!(reread.level >= Level::Unknown);
    assert!(
        !reread.matched.contains(sitrep_risk::VALUE_MARKER),
        "matched text shows the placeholder as written: {}",
        reread.matched
    );
    assert_eq!(
        text.get(ssh.span.clone()),
        Some("ssh \"$HOST\" \"journalctl -u $UNIT\"")
    );
    // `uptime` is untouched.
    assert_eq!(step.risk.commands[0].level, Level::Read);
    let d: Vec<_> = lint(&rb, &text)
        .into_iter()
        .filter(|d| d.code == "placeholder-reread")
        .collect();
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(text.get(d[0].span.clone()), Some("$UNIT"));
    assert_eq!(d[0].line, 13);
}

#[test]
fn values_as_arguments_stay_read() {
    let text = runbook("journalctl -u \"$UNIT\" --no-pager\nping -c 1 \"$HOST\"");
    let (rb, _) = parse(&text);
    assert_eq!(
        rb.steps[0].risk.level,
        Level::Read,
        "{:?}",
        rb.steps[0].risk
    );
    assert!(
        lint(&rb, &text)
            .iter()
            .all(|d| d.code != "placeholder-reread")
    );
}

#[test]
fn shell_string_eval_and_sql_are_reread() {
    for script in [
        "sh -c \"tail -n 5 /var/log/$UNIT.log\"",
        "eval \"systemctl status $UNIT\"",
        "psql -h db <<SQL\nSELECT 1 WHERE name = '$UNIT';\nSQL",
    ] {
        let text = runbook(script);
        let (rb, _) = parse(&text);
        let risk = &rb.steps[0].risk;
        assert!(risk.level >= Level::Unknown, "{script}: {risk:?}");
        assert!(
            risk.commands
                .iter()
                .flat_map(|c| &c.reasons)
                .any(|r| r.rule == VALUE_REREAD_RULE),
            "{script}: {risk:?}"
        );
    }
}
