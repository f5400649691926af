//! Console transcripts (issue 18): prompts are stripped, the output under a command is its
//! example output and not a command, and risk is judged on the commands only.

use sitrep_risk::Level;
use sitrep_runbook::parse;

const MINIMAL: &str = "# R\n\n## Diagnosis\n\n```console\n$ kubectl get pods -n web\nNAME    READY   STATUS\napi-1   1/1     Running\n```\n\n```\n$ oc get nodes\nNAME STATUS\nn1 Ready\n```\n";

#[test]
fn the_issue_minimal_case_gives_two_read_steps_with_output() {
    let (rb, _) = parse(MINIMAL);
    assert_eq!(rb.steps.len(), 2);
    let (a, b) = (&rb.steps[0], &rb.steps[1]);
    assert_eq!(
        a.script, "kubectl get pods -n web",
        "the shell gets the command only"
    );
    assert_eq!(b.script, "oc get nodes");
    assert_eq!(a.risk.level, Level::Read);
    assert_eq!(b.risk.level, Level::Read);
    assert_eq!(
        a.commands[0].example_output.as_deref(),
        Some("NAME    READY   STATUS\napi-1   1/1     Running")
    );
    assert_eq!(a.expect_hint(), Some("NAME    READY   STATUS"));
    assert_eq!(b.expect_hint(), Some("NAME STATUS"));
}

#[test]
fn output_that_looks_destructive_is_not_judged() {
    let text = "```console\n$ cat cleanup.sh\nrm -rf /var/tmp/x\n```\n";
    let (rb, _) = parse(text);
    assert_eq!(rb.steps[0].risk.level, Level::Read);
    assert_eq!(rb.steps[0].commands.len(), 1);
}

#[test]
fn a_destructive_command_in_a_transcript_stays_destructive() {
    for text in [
        "```\n$ kubectl delete pod api-1\npod \"api-1\" deleted\n```\n",
        "```console\n# rm -rf /var/lib/app\n```\n",
        "```bash\nroot@db-1:~# systemctl stop postgresql\n```\n",
        "```console\n$ oc adm drain n1 \\\n>   --ignore-daemonsets\nnode/n1 drained\n```\n",
    ] {
        let (rb, _) = parse(text);
        assert_eq!(rb.steps.len(), 1, "{text}");
        assert_eq!(rb.steps[0].risk.level, Level::Destructive, "{text}");
    }
}

#[test]
fn database_prompts_are_queries_not_shell_steps() {
    let text = "```\napp=# DELETE FROM sessions;\nDELETE 12\n```\n";
    let (rb, diags) = parse(text);
    assert!(rb.steps.is_empty(), "SQL must never reach `sh -c`");
    assert_eq!(rb.references.len(), 1);
    assert_eq!(rb.references[0].kind, "sql");
    assert!(rb.references[0].query);
    assert_eq!(rb.references[0].text, "DELETE FROM sessions;");
    assert!(diags.iter().any(|d| d.code == "reference-block"));
}

#[test]
fn a_shell_block_without_prompts_is_unchanged() {
    let text = "```bash\n# list\nls -la\necho $HOME\n```\n";
    let (rb, _) = parse(text);
    assert_eq!(rb.steps[0].script, "# list\nls -la\necho $HOME\n");
    assert!(
        rb.steps[0]
            .commands
            .iter()
            .all(|c| c.example_output.is_none())
    );
}
