//! The executor with real processes: timeouts kill the whole process group, output is
//! capped and redacted before anyone sees it, values never become code, and the gate and
//! batch limits hold.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sitrep_executor::{
    BindError, Decision, Expect, GateRequest, Level, Mode, Outcome, Permit, Placeholder, Policy,
    Redactor, RunConfig, RunSink, RunSpec, Stream, Trust, Values, Verdict, authorize, bind, gate,
    plan_id, run, run_batch, scan_placeholders,
};

/// Records everything a run reports, and how many runs were in flight at once.
#[derive(Default)]
struct Recorder {
    output: Mutex<Vec<u8>>,
    in_flight: Mutex<(usize, usize)>,
    finished: Mutex<Vec<String>>,
}

impl RunSink for Recorder {
    fn started(&self, _: &str, _: &str, _: u32) {
        let mut f = self.in_flight.lock().unwrap();
        f.0 += 1;
        f.1 = f.1.max(f.0);
    }
    fn output(&self, _: &str, _: Stream, bytes: &[u8]) {
        self.output.lock().unwrap().extend_from_slice(bytes);
    }
    fn finished(&self, step_id: &str, _: &Outcome) {
        self.in_flight.lock().unwrap().0 -= 1;
        self.finished.lock().unwrap().push(step_id.to_owned());
    }
}

fn values(pairs: &[(&str, &str)]) -> Values {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Values::new().with_source("runbook", Trust::Runbook, map)
}

/// Accepts every value: these tests are about running, not about checking values.
fn any(_: &str, _: &str, _: Trust) -> Result<(), String> {
    Ok(())
}

/// The gate's permit for `s` at `level`, confirmed by its plan id as a person would.
fn permit_at(s: &RunSpec, level: Level) -> Permit {
    let plan = plan_id(s, "test.md", level);
    let req = GateRequest {
        level,
        mode: Mode::Interactive,
        severity: None,
        actor: "alice",
        confirmed: Some(&plan),
        approvals: &[],
        person_values: false,
    };
    authorize(s.clone(), "test.md", &req, &Policy::default()).expect("confirmed plans run")
}

fn permit(s: &RunSpec) -> Permit {
    permit_at(s, Level::Read)
}

fn spec(id: &str, script: &str, vals: &Values) -> RunSpec {
    let placeholders = scan_placeholders(script);
    RunSpec {
        step_id: id.to_owned(),
        bound: bind(script, &placeholders, vals, &any).expect("bind"),
        interpreter: None,
        timeout: None,
        cwd: None,
        expect: None,
    }
}

fn cfg() -> RunConfig {
    RunConfig {
        default_timeout: Duration::from_secs(30),
        grace: Duration::from_millis(200),
        ..RunConfig::default()
    }
}

/// Alive means it exists and is not a zombie (this container's init may not reap).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            !matches!(state, Some("Z" | "X"))
        }
        Err(_) => false,
    }
}

/// The pids in `path` once it holds `n` of them (the script writes them one by one).
fn wait_for_pids(path: &std::path::Path, n: usize) -> Vec<i32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pids: Vec<i32> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.len() >= n {
            return pids;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} pids not written within 60 s: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True once none of `pids` runs any more, false if some still do after 30 s (killing is
/// asynchronous: the pipes close before the kernel marks an exiting process dead).
fn all_gone(pids: &[i32]) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|&p| alive(p)) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

// Tokio's clock is paused, so the step's timeout cannot fire however slowly the machine
// starts the processes: the clock stands still while the test waits for the pid file in
// a blocking task, and only then moves past the timeout.
#[tokio::test(start_paused = true)]
async fn a_timeout_kills_the_whole_process_group_grandchildren_too() {
    let dir = tempfile::tempdir().expect("temp");
    let pids = dir.path().join("pids");
    let script = r#"
sleep 1000 & echo $! >> "$PIDS"
( sleep 1000 & echo $! >> "$PIDS"; wait ) &
echo $$ >> "$PIDS"
sleep 1000
"#;
    let mut s = spec("slow", script, &values(&[("PIDS", pids.to_str().unwrap())]));
    let timeout = Duration::from_secs(60);
    s.timeout = Some(timeout);
    let step =
        tokio::spawn(async move { run(&permit(&s), &cfg(), Arc::new(Recorder::default())).await });
    let path = pids.clone();
    let recorded = tokio::task::spawn_blocking(move || wait_for_pids(&path, 3))
        .await
        .expect("pids read");
    assert!(
        recorded.iter().all(|&p| alive(p)),
        "the step still runs before its timeout: {recorded:?}"
    );
    tokio::time::advance(timeout).await;
    let out = step.await.expect("joined").expect("run");
    assert!(out.timed_out, "{out:?}");
    assert_eq!(out.exit_code, None);
    let pids = recorded.clone();
    let gone = tokio::task::spawn_blocking(move || all_gone(&pids))
        .await
        .expect("joined");
    assert!(gone, "still running after the timeout: {recorded:?}");
}

#[tokio::test]
async fn huge_output_is_capped_keeping_head_and_tail() {
    let s = spec(
        "flood",
        // Not `yes | head`: under pipefail its SIGPIPE would fail the step.
        "echo FIRST-LINE; seq 1 6000000; echo LAST-LINE",
        &Values::new(),
    );
    let config = RunConfig {
        capture_cap: 64 << 10,
        ..cfg()
    };
    let out = run(&permit(&s), &config, Arc::new(sitrep_executor::NullSink))
        .await
        .expect("run");
    assert_eq!(out.exit_code, Some(0));
    let numbers: u64 = (1..=6_000_000u64)
        .map(|i| i.to_string().len() as u64 + 1)
        .sum();
    let total = numbers + "FIRST-LINE\n".len() as u64 + "LAST-LINE\n".len() as u64;
    assert_eq!(out.stdout.total_bytes, total);
    assert!(
        out.stdout.cut_bytes >= total - (64 << 10),
        "{}",
        out.stdout.cut_bytes
    );
    assert!(
        out.stdout.text.len() < (64 << 10) + 200,
        "{}",
        out.stdout.text.len()
    );
    assert!(out.stdout.text.starts_with("FIRST-LINE"));
    assert!(out.stdout.text.trim_end().ends_with("LAST-LINE"));
}

#[tokio::test]
async fn secrets_are_redacted_in_the_sink_and_the_outcome() {
    let script = r#"echo "Authorization: Bearer abcdefghijklmnopqrstuvwx"
echo "db=postgres://app:hunter2hunter2@db:5432/app"
echo "key AKIAIOSFODNN7EXAMPLE"
echo "the token is $TOKEN" >&2"#;
    let vals = values(&[("TOKEN", "s3cr3t-v4lue-no-pattern")]);
    let placeholders: Vec<Placeholder> = scan_placeholders(script)
        .into_iter()
        .map(|p| if p.name == "TOKEN" { p.secret() } else { p })
        .collect();
    let s = RunSpec {
        step_id: "leaky".into(),
        bound: bind(script, &placeholders, &vals, &any).expect("bind"),
        interpreter: None,
        timeout: None,
        cwd: None,
        expect: None,
    };
    let sink = Arc::new(Recorder::default());
    let out = run(&permit(&s), &cfg(), sink.clone()).await.expect("run");
    let streamed = String::from_utf8_lossy(&sink.output.lock().unwrap()).into_owned();
    for text in [&streamed, &out.stdout.text, &out.stderr.text] {
        for secret in [
            "abcdefghijklmnopqrstuvwx",
            "hunter2hunter2",
            "AKIAIOSFODNN7EXAMPLE",
            "s3cr3t-v4lue-no-pattern",
        ] {
            assert!(!text.contains(secret), "{secret} leaked into {text:?}");
        }
    }
    assert!(streamed.contains("[REDACTED"), "{streamed}");
    assert!(
        out.stderr.text.contains("the token is [REDACTED"),
        "{:?}",
        out.stderr.text
    );
}

#[test]
fn unbound_placeholders_refuse_before_anything_runs() {
    let script = "kubectl -n <namespace> logs <pod-name> --since=$SINCE";
    let err = bind(
        script,
        &scan_placeholders(script),
        &values(&[("namespace", "prod")]),
        &any,
    )
    .expect_err("unbound");
    assert_eq!(
        err,
        BindError::Unbound(vec!["SINCE".into(), "pod-name".into()])
    );
    // The shell and loader variables can never be parameters.
    let err = bind(
        "echo $LD_PRELOAD",
        &scan_placeholders("echo $LD_PRELOAD"),
        &values(&[("LD_PRELOAD", "/x.so")]),
        &any,
    )
    .expect_err("reserved");
    assert!(matches!(err, BindError::Reserved(_)), "{err:?}");
}

#[tokio::test]
async fn a_value_with_shell_metacharacters_stays_one_literal_argument() {
    let dir = tempfile::tempdir().expect("temp");
    let marker = dir.path().join("pwned");
    let evil = format!(
        "x; touch {} $(touch {}) `touch {}`",
        marker.display(),
        marker.display(),
        marker.display()
    );
    let s = spec(
        "quote",
        "printf '[%s]\\n' <pod-name>",
        &values(&[("pod-name", &evil)]),
    );
    assert!(
        s.bound.display.contains("'x; touch"),
        "display shows the quoted value: {}",
        s.bound.display
    );
    let out = run(&permit(&s), &cfg(), Arc::new(sitrep_executor::NullSink))
        .await
        .expect("run");
    assert_eq!(out.stdout.text, format!("[{evil}]\n"));
    assert!(!marker.exists(), "the value ran as code");
}

#[tokio::test]
async fn exit_codes_signals_and_expectations_are_reported() {
    let out = run(
        &permit(&spec("three", "exit 3", &Values::new())),
        &cfg(),
        Arc::new(sitrep_executor::NullSink),
    )
    .await
    .expect("run");
    assert_eq!(
        (out.exit_code, out.signal, out.timed_out),
        (Some(3), None, false)
    );

    let out = run(
        &permit(&spec("term", "kill -TERM $$", &Values::new())),
        &cfg(),
        Arc::new(sitrep_executor::NullSink),
    )
    .await
    .expect("run");
    assert_eq!((out.exit_code, out.signal), (None, Some(15)));

    let mut s = spec("healthy", "echo status=ok", &Values::new());
    s.expect = Some(
        Expect::from_json(&serde_json::json!({"exit": 0, "contains": "status=ok"}))
            .expect("expect"),
    );
    let out = run(&permit(&s), &cfg(), Arc::new(sitrep_executor::NullSink))
        .await
        .expect("run");
    assert!(matches!(out.verdict, Verdict::Pass(_)), "{:?}", out.verdict);
    s.expect = Some(Expect::from_json(&serde_json::json!("status=degraded")).expect("expect"));
    let out = run(&permit(&s), &cfg(), Arc::new(sitrep_executor::NullSink))
        .await
        .expect("run");
    assert!(matches!(out.verdict, Verdict::Fail(_)), "{:?}", out.verdict);
}

#[tokio::test]
async fn a_batch_runs_read_steps_only_within_its_concurrency_bound() {
    let steps: Vec<Permit> = (0..6)
        .map(|i| {
            permit(&spec(
                &format!("s{i}"),
                "sleep 0.2; echo done",
                &Values::new(),
            ))
        })
        .collect();
    let sink = Arc::new(Recorder::default());
    let results = run_batch(steps, 2, cfg(), sink.clone())
        .await
        .expect("batch");
    assert_eq!(results.len(), 6);
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|o| o.exit_code == Some(0)))
    );
    assert_eq!(sink.finished.lock().unwrap().len(), 6);
    let max = sink.in_flight.lock().unwrap().1;
    assert!(
        (1..=2).contains(&max),
        "{max} ran at once with a limit of 2"
    );

    let mixed = vec![
        permit(&spec("ok", "true", &Values::new())),
        permit_at(&spec("restart", "true", &Values::new()), Level::Write),
    ];
    assert!(
        run_batch(mixed, 2, cfg(), sink).await.is_err(),
        "a write step in a batch must refuse"
    );
}

const PLAN: &str = "sha256:plan-of-systemctl-restart-nginx";

fn req<'a>(
    level: Level,
    mode: Mode,
    confirmed: Option<&'a str>,
    approvals: &'a [String],
) -> GateRequest<'a> {
    GateRequest {
        level,
        mode,
        severity: Some("SEV1"),
        actor: "alice",
        confirmed,
        approvals,
        person_values: false,
    }
}

#[test]
fn the_gate_runs_reads_confirms_writes_and_wants_a_second_person_where_policy_says() {
    let none = Policy::default();
    let decide = |r: &GateRequest<'_>, p: &Policy| gate(r, PLAN, p);
    assert_eq!(
        decide(&req(Level::Read, Mode::Automatic, None, &[]), &none),
        Decision::Allow
    );
    for level in [Level::Write, Level::Unknown, Level::Destructive] {
        assert!(matches!(
            decide(&req(level, Mode::Automatic, Some(PLAN), &[]), &none),
            Decision::Deny { .. }
        ));
    }
    assert!(matches!(
        decide(&req(Level::Write, Mode::Interactive, None, &[]), &none),
        Decision::NeedsConfirmation { .. }
    ));
    // A confirmation names the plan id; any other id is no confirmation.
    assert!(matches!(
        decide(
            &req(Level::Write, Mode::Interactive, Some("sha256:other"), &[]),
            &none
        ),
        Decision::NeedsConfirmation { .. }
    ));
    assert_eq!(
        decide(
            &req(Level::Write, Mode::Interactive, Some(PLAN), &[]),
            &none
        ),
        Decision::Allow
    );
    // Values a person typed make even a read step theirs to confirm, and never
    // unattended.
    let mut typed = req(Level::Read, Mode::Interactive, None, &[]);
    typed.person_values = true;
    assert!(matches!(
        decide(&typed, &none),
        Decision::NeedsConfirmation { .. }
    ));
    typed.confirmed = Some(PLAN);
    assert_eq!(decide(&typed, &none), Decision::Allow);
    typed.mode = Mode::Automatic;
    assert!(matches!(decide(&typed, &none), Decision::Deny { .. }));

    let two_person = Policy {
        approvals: vec![(Level::Destructive, vec!["SEV1".into()])],
    };
    let (me, other) = (vec!["alice".to_string()], vec!["bob".to_string()]);
    assert!(matches!(
        decide(
            &req(Level::Destructive, Mode::Interactive, Some(PLAN), &me),
            &two_person
        ),
        Decision::NeedsApproval { .. }
    ));
    assert_eq!(
        decide(
            &req(Level::Destructive, Mode::Interactive, Some(PLAN), &other),
            &two_person
        ),
        Decision::Allow
    );
}

#[test]
fn only_the_gate_makes_a_permit_and_only_for_the_plan_it_saw() {
    let s = spec("restart", "systemctl restart nginx", &Values::new());
    let plan = plan_id(&s, "test.md", Level::Write);
    let confirmed = req(Level::Write, Mode::Interactive, Some(&plan), &[]);
    let p = authorize(s.clone(), "test.md", &confirmed, &Policy::default()).expect("allowed");
    assert_eq!(p.plan(), plan);
    // The same confirmation does not cover another step's plan, or another runbook's.
    let other = spec("restart", "systemctl restart postgres", &Values::new());
    assert!(authorize(other, "test.md", &confirmed, &Policy::default()).is_err());
    assert!(authorize(s.clone(), "other.md", &confirmed, &Policy::default()).is_err());
    let unattended = req(Level::Write, Mode::Automatic, Some(&plan), &[]);
    assert!(matches!(
        authorize(s, "test.md", &unattended, &Policy::default()),
        Err(Decision::Deny { .. })
    ));
}

#[test]
fn redaction_fixtures() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/executor/redact"
    );
    let redactor = Redactor::new(&[]);
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "in") {
            let input = std::fs::read_to_string(&path).expect("read in");
            let want = std::fs::read_to_string(path.with_extension("out")).expect("read out");
            assert_eq!(redactor.redact_text(&input), want, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} fixtures");
}
