//! One test per row of the lint table: each rule's check finds its example, and reports
//! only its own code; rules without a check are the directory-level and import ones.

use super::{Ctx, IMPORT_RULES, RULES};
use crate::diag::LineIndex;

/// A runbook each rule must flag.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "unknown-attribute",
        "# A\n\n```bash {\"name\":\"a\",\"colour\":\"red\"}\nuptime\n```\n",
    ),
    (
        "bad-attribute-value",
        "# A\n\n```bash {\"name\":\"a\",\"timeout\":\"soon\"}\nuptime\n```\n",
    ),
    (
        "not-shell",
        "# A\n\n```bash\nsum(rate(http_requests_total[5m])) by (job)\n```\n",
    ),
    (
        "duplicate-step-name",
        "# A\n\n```bash {\"name\":\"a\"}\nuptime\n```\n\n```bash {\"name\":\"a\"}\ndf -h\n```\n",
    ),
    (
        "broken-link",
        "# A\n\nSee [there](#nowhere).\n\n```bash\nuptime\n```\n",
    ),
    (
        "unbound-placeholder",
        "# A\n\n```bash\nkubectl get pod <pod-name>\n```\n",
    ),
    (
        "prose-placeholder",
        "# A\n\n```bash\nNODE='<value of instance label from alert>'\nping -c1 \"$NODE\"\n```\n",
    ),
    (
        "placeholder-reread",
        "# A\n\n```bash\nssh host \"cat /var/log/<file>\"\n```\n",
    ),
    (
        "query-in-shell",
        "# A\n\n```bash\ncurl -s 'http://prom:9090/api/v1/query?query=up'\n```\n",
    ),
    ("no-steps", "# A\n\nNothing to run.\n"),
    (
        "empty-section",
        "# A\n\n## Nothing here\n\n## Diagnosis\n\n```bash\nuptime\n```\n",
    ),
    (
        "stand-down-without-checklist",
        "# A\n\n```bash\nuptime\n```\n\n## Stand-down checklist\n\nWhen it is quiet.\n",
    ),
    (
        "non-read-step-in-diagnosis",
        "# A\n\n## Diagnosis\n\n```bash\nsystemctl restart nginx\n```\n",
    ),
    (
        "alert-rule-refused",
        "# A\n\n```yaml\nalert: SlowForWords\nexpr: up == 0\nfor: 10 minutes\n```\n\n```bash\nuptime\n```\n",
    ),
    (
        "severity-duration",
        "# A\n\n## Severity levels\n\n### SEV4 - Low\n- **Response Time**: next business day\n\n## Diagnosis\n\n```bash\nuptime\n```\n",
    ),
];

#[test]
fn every_check_finds_its_example_and_reports_only_its_own_code() {
    for rule in RULES {
        let Some(check) = rule.check else {
            assert_eq!(
                rule.code, "duplicate-alert-handler",
                "only directory rules lack a check"
            );
            continue;
        };
        let (_, text) = EXAMPLES
            .iter()
            .find(|(c, _)| *c == rule.code)
            .unwrap_or_else(|| panic!("rule `{}` has no example in EXAMPLES", rule.code));
        let (rb, _) = crate::parse(text);
        let ctx = Ctx {
            rb: &rb,
            text,
            idx: LineIndex::new(text),
        };
        let found = check(&ctx);
        assert!(
            !found.is_empty(),
            "`{}` finds nothing in its example",
            rule.code
        );
        for d in &found {
            assert_eq!(d.code, rule.code, "{d:?}");
            assert!(
                d.severity <= rule.severity,
                "{d:?} above the rule's severity"
            );
        }
    }
    for rule in IMPORT_RULES {
        assert!(rule.check.is_none(), "`{}` is reported by parse", rule.code);
    }
}

#[test]
fn clean_runbooks_pass_every_check() {
    let text = "# A\n\n## Diagnosis\n\n```bash\nuptime\n```\n\n## Stand-down checklist\n\n- [ ] Quiet for 10 minutes\n";
    let (rb, _) = crate::parse(text);
    assert_eq!(crate::lint(&rb, text), []);
}

#[test]
fn a_severity_time_finding_points_at_its_row() {
    let text = include_str!("../../../tests/data/runbooks/53-severity-duration-rows.md");
    let (rb, _) = crate::parse(text);
    let found: Vec<(usize, String)> = crate::lint(&rb, text)
        .into_iter()
        .filter(|d| d.code == "severity-duration")
        .map(|d| (d.line, text[d.span].lines().next().unwrap_or("").to_owned()))
        .collect();
    // Each finding is on the row with the unreadable time, never on the list's first.
    assert_eq!(
        found,
        [
            (
                9,
                "| SEV3 | One shard is slow | when someone is free | After 1 day |".to_owned()
            ),
            (10, "| SEV4 | Cosmetic | next business day | |".to_owned()),
            (17, "### P2 - Normal".to_owned()),
        ]
    );
}
