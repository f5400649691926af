//! A value is data: one quoted word, checked before binding, never an option, and the
//! plan id changes with it. Real bash runs the bound scripts.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use sitrep_executor::{
    BindError, GateRequest, Level, Mode, NullSink, Policy, RunConfig, RunSpec, Trust, Values,
    authorize, bind, plan_id, run, scan_placeholders,
};

fn outside(pairs: &[(&str, &str)]) -> Values {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Values::new().with_source("alert label", Trust::Outside, map)
}

fn any(_: &str, _: &str, _: Trust) -> Result<(), String> {
    Ok(())
}

fn spec_of(script: &str, vals: &Values) -> Result<RunSpec, BindError> {
    Ok(RunSpec {
        step_id: "s".into(),
        bound: bind(script, &scan_placeholders(script), vals, &any)?,
        interpreter: None,
        timeout: None,
        cwd: None,
        expect: None,
    })
}

/// Runs `script` with `vals` as a read step and returns its standard output.
async fn stdout_of(script: &str, vals: &Values) -> String {
    let s = spec_of(script, vals).expect("bind");
    let req = GateRequest {
        level: Level::Read,
        mode: Mode::Interactive,
        severity: None,
        actor: "t",
        confirmed: None,
        approvals: &[],
        person_values: false,
    };
    let permit = authorize(s, "t.md", &req, &Policy::default()).expect("read");
    let out = run(&permit, &RunConfig::default(), Arc::new(NullSink))
        .await
        .expect("run");
    out.stdout.text
}

#[tokio::test]
async fn an_unquoted_variable_is_neither_split_nor_globbed() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::write(dir.path().join("a1"), "").unwrap();
    std::fs::write(dir.path().join("a2"), "").unwrap();
    let glob = format!("{}/a* two  words", dir.path().display());
    let out = stdout_of(
        "printf '[%s]\\n' $TARGET ${TARGET}",
        &outside(&[("TARGET", &glob)]),
    )
    .await;
    assert_eq!(out, format!("[{glob}]\n[{glob}]\n"));
}

#[test]
fn a_value_that_would_be_an_option_is_refused_unless_options_ended() {
    let vals = outside(&[("dir", "-delete"), ("rev", "--output=/tmp/x")]);
    for script in ["find <dir> -name x", "git log \"<rev>\"", "sort $rev"] {
        match spec_of(script, &vals) {
            Err(BindError::Refused(r)) => {
                assert!(r[0].rule.contains("option"), "{script}: {r:?}");
                assert_eq!(r[0].source, "alert label");
            }
            other => panic!("{script} bound: {other:?}"),
        }
    }
    // After `--`, or inside a longer word, a dash is just a character.
    for script in [
        "grep -r -- <dir> .",
        "kubectl get pods -l=<dir>",
        "echo x<dir>",
    ] {
        assert!(spec_of(script, &vals).is_ok(), "{script}");
    }
    // `--` in an earlier command does not end this one's options.
    assert!(spec_of("grep -- x f; find <dir>", &vals).is_err());
}

#[test]
fn every_outside_value_goes_through_the_check_and_every_refusal_is_named() {
    let vals = outside(&[("host", "x; touch /tmp/p"), ("ns", "prod")]).with_source(
        "runbook params",
        Trust::Runbook,
        BTreeMap::from([("dir".to_owned(), "/var/log/../../etc".to_owned())]),
    );
    let strict = |name: &str, value: &str, trust: Trust| {
        assert_ne!(trust, Trust::Runbook, "runbook defaults are not checked");
        if value.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(format!("{name}: not alphanumeric"))
        }
    };
    let script = "curl http://<host>/ -n $ns; ls <dir>";
    let err = bind(script, &scan_placeholders(script), &vals, &strict).expect_err("refused");
    assert_eq!(
        err,
        BindError::Refused(vec![sitrep_executor::Refusal {
            name: "host".into(),
            source: "alert label".into(),
            rule: "host: not alphanumeric".into(),
        }])
    );
    let nul = outside(&[("x", "a\0b")]);
    assert!(matches!(
        bind("echo <x>", &scan_placeholders("echo <x>"), &nul, &any),
        Err(BindError::Refused(_))
    ));
}

#[test]
fn the_marked_view_shows_where_values_land() {
    let vals = outside(&[("dir", "tmp"), ("HOST", "web1")]);
    let s = spec_of("sh -c 'ls <dir>'; ssh $HOST uptime", &vals).expect("bind");
    assert_eq!(
        s.bound.marked,
        "sh -c 'ls __sitrep_value__'; ssh __sitrep_value__ uptime"
    );
}

#[test]
fn the_plan_id_changes_with_any_value_or_setting() {
    let a = spec_of("kubectl logs <pod>", &outside(&[("pod", "api-1")])).unwrap();
    let b = spec_of("kubectl logs <pod>", &outside(&[("pod", "api-2")])).unwrap();
    let id = |s: &RunSpec| plan_id(s, "k8s.md", Level::Read);
    assert_ne!(id(&a), id(&b));
    assert_eq!(id(&a), id(&a.clone()));
    let mut slower = a.clone();
    slower.timeout = Some(std::time::Duration::from_secs(9));
    assert_ne!(id(&a), id(&slower));
    assert_ne!(id(&a), plan_id(&a, "k8s.md", Level::Write));
    assert!(id(&a).starts_with("sha256:") && id(&a).len() == 7 + 64);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the value, bash sees it as exactly one word, in every quoting context.
    #[test]
    fn any_value_is_exactly_one_word(value in "[^\\x00]{0,40}") {
        prop_assume!(!value.starts_with('-'));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let script = "printf '[%s]\\n' <v> \"<v>\" '<v>' $V \"$V\" ${V}";
        let vals = outside(&[("v", &value), ("V", &value)]);
        let out = rt.block_on(stdout_of(script, &vals));
        let want = format!("[{value}]\n").repeat(6);
        prop_assert_eq!(out, want);
    }
}

#[tokio::test]
async fn a_value_reaches_programs_only_as_its_word_never_as_their_environment() {
    // Were `$GIT_PAGER` exported under its own name, every git the step starts would
    // run the value as a program; the step's own words still see it.
    let out = stdout_of(
        "echo \"[$GIT_PAGER]\" [${GIT_PAGER%-x}]; env | grep -c '^GIT_PAGER=' || true",
        &outside(&[("GIT_PAGER", "touch-x")]),
    )
    .await;
    assert_eq!(out, "[touch-x] [touch]\n0\n");
}
