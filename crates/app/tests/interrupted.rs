//! Runs a crash left `running` become `interrupted` once past their deadline (timeout +
//! kill grace + margin), each with exactly one `step.interrupted` event sealed with the
//! row change: when the app opens and when the sweep runs, never for a run still within
//! its deadline, and once per run when two replicas sweep together. On SQLite, and on
//! PostgreSQL when `SITREP_TEST_DATABASE_URL` is set.

use sitrep_app::Principal;
use std::collections::BTreeMap;
use std::path::Path;

use sitrep_app::store::{Change, StepRun, Write};
use sitrep_app::{App, Config, NewIncident, now_ms};

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/backends.rs"]
mod support;
use fixtures::fixtures;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// A replica with its own data dir over the shared database (`url`, else a SQLite file
/// in `root/shared`), signing with the shared key.
async fn replica(root: &Path, name: &str, url: Option<&str>) -> App {
    let shared = root.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let mut cfg = Config {
        data_dir: Some(root.join(name)),
        database_url: Some(
            url.map_or_else(|| sitrep_app::store::sqlite_url(&shared), str::to_owned),
        ),
        runbooks: Some(fixtures()),
        ..Config::default()
    };
    cfg.keys.ledger = Some(shared.join("ledger.key"));
    cfg.keys.ack = Some(shared.join("ack.key"));
    App::open(cfg).await.expect("open replica")
}

async fn declare(app: &App) -> String {
    app.declare(
        NewIncident {
            title: "local service down".into(),
            runbooks: vec!["local-service.md".into()],
            ..NewIncident::default()
        },
        &Principal::asserted("ann"),
    )
    .await
    .unwrap()
    .id
}

/// The row a crashed process leaves: committed `running` at the start of a run, exactly
/// as `run_step` writes it before spawning the step, and never replaced.
async fn crashed(app: &App, incident: &str, runbook: &str, step: &str, started_ms: i64) -> String {
    let id = sitrep_app::store::new_id();
    let row = StepRun {
        id: id.clone(),
        incident_id: incident.to_owned(),
        runbook: runbook.to_owned(),
        step_id: step.to_owned(),
        command: format!("run {step}"),
        bound: BTreeMap::new(),
        risk: "read".into(),
        actor: "ann".into(),
        approver: None,
        status: "running".into(),
        started_ms,
        ended_ms: None,
        exit_code: None,
        verdict: None,
        stdout_sha256: None,
        stderr_sha256: None,
    };
    app.store()
        .commit(Change {
            writes: vec![Write::PutRun(row)],
            events: Vec::new(),
        })
        .await
        .unwrap();
    id
}

/// The run ids named by the incident's `step.interrupted` events, in ledger order.
async fn interrupted_events(app: &App, incident: &str) -> Vec<String> {
    app.timeline(incident, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.event_type == "step.interrupted")
        .map(|e| e.record.payload["run"].clone())
        .collect()
}

async fn status(app: &App, run: &str) -> String {
    app.store().run(run).await.unwrap().unwrap().status
}

#[tokio::test(flavor = "multi_thread")]
async fn crashed_runs_are_interrupted_at_open_and_live_ones_are_not() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("backend: {label}");
        let dir = tempfile::tempdir().unwrap();
        at_open_and_by_sweep(dir.path(), url.as_deref()).await;
    }
    backends.done().await;
}

async fn at_open_and_by_sweep(root: &Path, url: Option<&str>) {
    let app = replica(root, "a", url).await;
    let inc = declare(&app).await;
    let now = now_ms();
    let rb = "local-service.md";
    // `slow` times out after 1 s: 10 minutes on, its process is certainly gone.
    let slow_old = crashed(&app, &inc, rb, "slow", now - 10 * MINUTE).await;
    // `greet` has the default 5 m timeout: at 3 minutes it may still be running.
    let greet = crashed(&app, &inc, rb, "greet", now - 3 * MINUTE).await;
    let slow_new = crashed(&app, &inc, rb, "slow", now).await;
    // A step the library no longer has gets a day before it is called interrupted.
    let gone_recent = crashed(&app, &inc, "removed.md", "gone", now - 2 * HOUR).await;
    let gone_old = crashed(&app, &inc, "removed.md", "gone", now - 25 * HOUR).await;
    app.close().await;

    let app = replica(root, "a", url).await;
    assert_eq!(status(&app, &slow_old).await, "interrupted");
    assert_eq!(status(&app, &gone_old).await, "interrupted");
    for live in [&greet, &slow_new, &gone_recent] {
        assert_eq!(status(&app, live).await, "running");
    }
    let ended = app.store().run(&slow_old).await.unwrap().unwrap();
    assert!(ended.ended_ms.is_some_and(|t| t >= now));
    // Oldest first: the run of the removed step started earlier.
    assert_eq!(
        interrupted_events(&app, &inc).await,
        [gone_old.clone(), slow_old.clone()]
    );

    let ev = app.timeline(&inc, None).await.unwrap();
    let ev = ev
        .iter()
        .find(|e| e.record.event_type == "step.interrupted" && e.record.payload["run"] == slow_old)
        .unwrap();
    let p = &ev.record.payload;
    assert_eq!(p["runbook"], rb);
    assert_eq!(p["step"], "slow");
    assert_eq!(p["command"], "run slow");
    assert_eq!(p["started_ms"], (now - 10 * MINUTE).to_string());
    assert!(p["reason"].contains("timeout (1s)"), "{}", p["reason"]);

    // Sweeping again changes nothing: each run has its one event.
    assert!(app.interrupt_overdue_runs().await.unwrap().is_empty());
    assert_eq!(interrupted_events(&app, &inc).await.len(), 2);

    let md = app.postmortem(&inc).await.unwrap();
    assert!(md.contains("| interrupted | – |"), "{md}");
    assert!(
        md.contains("`slow` interrupted: no result within its timeout"),
        "{md}"
    );
    let report = app.store().verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_sweeping_at_once_interrupt_each_run_once() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("backend: {label}");
        let dir = tempfile::tempdir().unwrap();
        race(dir.path(), url.as_deref()).await;
    }
    backends.done().await;
}

async fn race(root: &Path, url: Option<&str>) {
    let a = replica(root, "a", url).await;
    let b = replica(root, "b", url).await;
    let inc = declare(&a).await;
    let now = now_ms();
    let mut runs = Vec::new();
    for i in 0..20 {
        runs.push(crashed(&a, &inc, "local-service.md", "slow", now - 10 * MINUTE - i).await);
    }
    // Two replicas (two stores, two writers) and two sweeps inside one of them.
    let (x, y, z) = tokio::join!(
        a.interrupt_overdue_runs(),
        b.interrupt_overdue_runs(),
        b.interrupt_overdue_runs()
    );
    let mut swept: Vec<String> = [x.unwrap(), y.unwrap(), z.unwrap()]
        .into_iter()
        .flatten()
        .map(|r| r.run.id)
        .collect();
    swept.sort();
    let mut events = interrupted_events(&a, &inc).await;
    events.sort();
    runs.sort();
    assert_eq!(
        swept, runs,
        "every run reported interrupted by exactly one sweep"
    );
    assert_eq!(
        events, runs,
        "every run has exactly one step.interrupted event"
    );
    for r in &runs {
        assert_eq!(status(&b, r).await, "interrupted");
    }
    let report = b.store().verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    a.close().await;
    b.close().await;
}
