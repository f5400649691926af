//! Value markers: `VALUE_MARKER` in text a second parser reads (a `sh -c` string, ssh's remote
//! command, an awk/sed/SQL program, xargs input...) raises a `value-reread` reason at
//! `unknown`; as an ordinary argument it changes nothing.

use proptest::prelude::*;
use sitrep_risk::{Classifier, Level, ScriptRisk, VALUE_MARKER, VALUE_REREAD_RULE};

fn classify(script: &str) -> ScriptRisk {
    Classifier::builtin().classify(script)
}

fn rereads(r: &ScriptRisk) -> bool {
    r.commands
        .iter()
        .flat_map(|c| &c.reasons)
        .any(|x| x.rule == VALUE_REREAD_RULE && x.level == Level::Unknown)
}

/// Each script holds `@V`, replaced by the marker.
const REREAD: &[&str] = &[
    "sh -c 'kubectl logs @V'",
    "bash -c \"echo @V\"",
    "timeout 5 dash -c 'ls @V'",
    "eval \"kubectl logs @V\"",
    "su - app -c 'ls @V'",
    "ssh host kubectl logs @V",
    "ssh host 'cat /var/log/@V.log'",
    "ssh -o ProxyCommand=@V host uptime",
    "kubectl exec pod -- sh -c 'ls @V'",
    "docker exec ctr sh -c 'cat @V'",
    "watch kubectl logs @V",
    "trap 'echo @V' EXIT",
    "awk '/@V/ {print}' app.log",
    "awk -f /opt/@V.awk app.log",
    "sed -n '/@V/p' app.log",
    "sed -f @V.sed app.log",
    "perl -ne 'print if /@V/' app.log",
    "python3 -c 'print(\"@V\")'",
    "python3 /opt/@V.py",
    "node -e 'console.log(\"@V\")'",
    "psql -c \"SELECT * FROM t WHERE id = '@V'\"",
    "mysql -e 'SELECT @V'",
    "psql -v id=@V -c 'SELECT :id'",
    "psql -f /sql/@V.sql",
    "psql <<EOF\nSELECT '@V';\nEOF",
    "echo \"SELECT '@V'\" | psql",
    "sqlite3 app.db \"SELECT '@V'\"",
    "redis-cli EVAL \"return '@V'\" 0",
    "mongosh --eval 'db.x.find({a: \"@V\"})'",
    "kubectl logs @V | xargs kubectl delete pod",
    "echo @V | xargs kubectl logs",
    "find . -name x | xargs -I{} sh -c 'echo {} @V'",
    "source /etc/@V.sh",
    ". /etc/@V.sh",
    "bash /opt/@V.sh",
    "bash <<EOF\nls @V\nEOF",
    // A value that becomes a program's environment is read by that program.
    "GIT_PAGER=@V git log",
    "LC_ALL=@V sort app.log",
    "export KUBECONFIG=@V; kubectl get pods",
    "declare -x LESSOPEN=@V; less app.log",
    "env GIT_SSH_COMMAND=@V git fetch",
];

#[test]
fn a_marker_in_re_parsed_text_is_unknown_with_value_reread() {
    let mut failures = Vec::new();
    for t in REREAD {
        let script = t.replace("@V", VALUE_MARKER);
        let r = classify(&script);
        if r.level < Level::Unknown || !rereads(&r) {
            failures.push(format!("{script:?}: {} {:?}", r.level, r.commands));
        }
        // The same script with a plain value has no value-reread reason: the rule is about
        // the marker, not the shape of the command.
        let plain = classify(&t.replace("@V", "web-1"));
        if rereads(&plain) {
            failures.push(format!("{t:?} with a plain value reports value-reread"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Ordinary arguments: the marker is one argv word and nothing parses it again.
const ARGUMENT: &[&str] = &[
    "kubectl logs @V -n @V",
    "curl http://@V:8080/health",
    "kubectl exec pod -- ls @V",
    "grep @V /var/log/app.log",
    "jq '.[] | select(.id == \"@V\")' f.json",
    "xargs -I{} kubectl logs {} @V",
    "awk -v id=@V '$1 == id' app.log",
    "psql -h @V -c 'SELECT 1'",
    "find /var/log -name @V -exec ls -l {} +",
    "sh -c 'echo hi' @V",
    "systemctl status @V --no-pager",
    "kubectl delete pod @V",
    // A zone name or tz file is data; a plain assignment reaches no child's environment.
    "TZ=@V date",
    "NS=@V; kubectl get pods -n \"$NS\"",
];

#[test]
fn a_marker_as_an_argument_changes_nothing() {
    let mut failures = Vec::new();
    for t in ARGUMENT {
        let script = t.replace("@V", VALUE_MARKER);
        let marked = classify(&script);
        let plain = classify(&t.replace("@V", "web-1"));
        if marked.level != plain.level || rereads(&marked) {
            failures.push(format!("{script:?}: {} vs {}", marked.level, plain.level));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_marker_as_the_command_name_is_unknown() {
    for script in [
        format!("{VALUE_MARKER} --help"),
        format!("sudo {VALUE_MARKER}"),
        format!("kubectl get pods && {VALUE_MARKER} x"),
    ] {
        assert_eq!(classify(&script).level, Level::Unknown, "{script}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever text surrounds the marker inside a `sh -c` string, the string is re-read:
    /// no prefix or suffix hides the marker or makes the command `read`.
    #[test]
    fn marker_in_sh_c_is_never_read(before in "[^'\\x00]{0,40}", after in "[^'\\x00]{0,40}") {
        let script = format!("sh -c '{before}{VALUE_MARKER}{after}'");
        let r = classify(&script);
        prop_assert!(r.level >= Level::Unknown, "{script:?}: {}", r.level);
        prop_assert!(rereads(&r), "{script:?}");
    }
}
