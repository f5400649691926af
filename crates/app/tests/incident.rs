//! The incident story on a real SQLite data dir: declare, run steps (real processes),
//! gates, redaction, checklist-gated resolve, post-mortem and an evidence pack that
//! verifies offline.

use sitrep_app::Principal;
use std::collections::BTreeMap;
use std::path::Path;

use sitrep_app::{App, AppError, Config, Mode, NewIncident, NullSink, RunRequest};
use sitrep_evidence::pack::{Limits, verify_pack};

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/backends.rs"]
mod support;
use fixtures::open_on;

async fn open(dir: &Path) -> App {
    open_on(dir, None).await
}

fn req(incident: &str, step: &str) -> RunRequest {
    RunRequest {
        incident: incident.to_owned(),
        runbook: "local-service.md".to_owned(),
        step: step.to_owned(),
        actor: Principal::asserted("ann"),
        set: BTreeMap::new(),
        confirmed: None,
        approval: None,
        mode: Mode::Interactive,
    }
}

fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn declare(app: &App) -> sitrep_app::store::Incident {
    app.declare(
        NewIncident {
            title: "local service down".into(),
            severity: Some("sev2".into()),
            service: Some("local-svc".into()),
            ..NewIncident::default()
        },
        &Principal::asserted("ann"),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_checklist_and_postmortem() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        let dir = tempfile::tempdir().unwrap();
        eprintln!("lifecycle story on {label}");
        lifecycle_story(dir.path(), url.as_deref()).await;
    }
    backends.done().await;
}

async fn lifecycle_story(dir: &Path, url: Option<&str>) {
    let app = open_on(dir, url).await;
    let inc = declare(&app).await;
    assert_eq!(inc.number, 1);
    assert_eq!(inc.severity, "SEV2");
    assert_eq!(
        inc.runbooks,
        ["local-service.md"],
        "service runbooks attach"
    );
    let view = app.view("1").await.unwrap();
    assert_eq!(
        view.checklist.len(),
        2,
        "stand-down items become the checklist"
    );

    // Invalid transitions are clear errors.
    let e = app
        .reopen("1", &Principal::asserted("ann"), "why not")
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot reopen an incident that is triggered"),
        "{e}"
    );
    app.acknowledge("1", &Principal::asserted("bob"))
        .await
        .unwrap();
    let e = app
        .acknowledge("1", &Principal::asserted("bob"))
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Transition(_)), "{e}");

    app.assign("1", "commander", "carol", &Principal::asserted("bob"))
        .await
        .unwrap();
    app.set_severity("1", "1", &Principal::asserted("carol"))
        .await
        .unwrap();
    app.note(
        "1",
        "customers see 502s; password=hunter2",
        &Principal::asserted("carol"),
    )
    .await
    .unwrap();
    app.mitigate("1", &Principal::asserted("carol"))
        .await
        .unwrap();

    // Resolution waits for the checklist.
    let e = app
        .resolve("1", &Principal::asserted("carol"), None)
        .await
        .unwrap_err();
    match &e {
        AppError::ChecklistOpen { open } => assert_eq!(open.len(), 2),
        other => panic!("expected ChecklistOpen, got {other}"),
    }
    app.tick("1", "1", true, &Principal::asserted("carol"))
        .await
        .unwrap();
    app.tick("1", "status page", true, &Principal::asserted("carol"))
        .await
        .unwrap();
    app.add_action(
        "1",
        "Alert on readiness, not liveness",
        Some("dave"),
        None,
        &Principal::asserted("carol"),
    )
    .await
    .unwrap();
    let done = app
        .resolve("1", &Principal::asserted("carol"), None)
        .await
        .unwrap();
    assert_eq!(done.status, "resolved");
    assert!(done.resolved_ms.is_some());

    let timeline = app.timeline("1", None).await.unwrap();
    let types: Vec<&str> = timeline
        .iter()
        .map(|e| e.record.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "incident.declared",
            "incident.acknowledged",
            "incident.role-assigned",
            "incident.severity-changed",
            "incident.note",
            "incident.mitigated",
            "checklist.ticked",
            "checklist.ticked",
            "action.added",
            "incident.resolved",
        ]
    );
    assert!(timeline.windows(2).all(|w| w[0].index < w[1].index));
    let note = &timeline[4].record.payload["text"];
    assert!(!note.contains("hunter2"), "notes are redacted: {note}");

    let md = app.postmortem("1").await.unwrap();
    for want in [
        "# Post-mortem: local service down (incident #1)",
        "| Severity | SEV1 |",
        "| Commander | carol |",
        "| Time to acknowledge |",
        "## Root cause",
        "## Timeline (UTC)",
        "**incident.severity-changed** by carol: SEV2 → SEV1",
        "- [x] Status page updated — carol at",
        "| open | Alert on readiness, not liveness | dave | – |",
        "## Lessons learned",
    ] {
        assert!(md.contains(want), "post-mortem lacks {want:?}:\n{md}");
    }

    // Reopen needs a reason and clears the resolution.
    let e = app
        .reopen("1", &Principal::asserted("carol"), " ")
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Invalid { .. }));
    let re = app
        .reopen("1", &Principal::asserted("carol"), "errors are back")
        .await
        .unwrap();
    assert_eq!(re.status, "triggered");
    assert_eq!(re.resolved_ms, None);
    // Force needs a reason, and records it with the items still open.
    app.tick("1", "1", false, &Principal::asserted("carol"))
        .await
        .unwrap();
    let e = app
        .resolve("1", &Principal::asserted("carol"), Some(""))
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Invalid { .. }));
    app.resolve(
        "1",
        &Principal::asserted("carol"),
        Some("false alarm, verified by hand"),
    )
    .await
    .unwrap();
    let last = app.timeline("1", None).await.unwrap().pop().unwrap();
    assert_eq!(last.record.payload["forced"], "true");
    assert_eq!(
        last.record.payload["open_items"],
        "Error rate back under 1% for 15 minutes"
    );
    app.close().await;

    // Everything is there after a restart, and the ledger verifies.
    let app = open_on(dir, url).await;
    assert_eq!(app.view("1").await.unwrap().incident.status, "resolved");
    let report = app.store().verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let e = app
        .declare(
            NewIncident {
                title: " ".into(),
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "title: must not be empty");
    let e = app
        .declare(
            NewIncident {
                title: "x".into(),
                severity: Some("critical".into()),
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("severity: unknown severity \"critical\""),
        "{e}"
    );
    let e = app
        .declare(
            NewIncident {
                title: "x".into(),
                runbooks: vec!["nope.md".into()],
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "runbook nope.md not found");
    let e = app
        .acknowledge("42", &Principal::asserted("ann"))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "incident 42 not found");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn steps_are_found_by_id_or_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let id = declare(&app).await.id;
    // A number is the step's 1-based position in the runbook; an id wins over it.
    assert_eq!(app.plan(&req(&id, "5")).await.unwrap().step_id, "mark");
    assert_eq!(app.plan(&req(&id, "greet")).await.unwrap().step_id, "greet");
    for missing in ["0", "7", "nope"] {
        let e = app.plan(&req(&id, missing)).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("step {missing} in local-service.md not found")
        );
    }
    let mut other = req(&id, "1");
    other.runbook = "nope.md".into();
    let e = app.plan(&other).await.unwrap_err();
    assert_eq!(e.to_string(), "runbook nope.md not found");
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn steps_run_gated_recorded_and_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let inc = declare(&app).await;
    let id = inc.id.clone();

    // Unbound placeholders refuse and name what is missing.
    let e = app
        .run_step(&req(&id, "greet"), std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "unbound placeholder(s): instance");

    // Bound from --set and the runbook's params; the value stays one argument. A
    // value a person typed makes even a read step theirs to confirm.
    let mut r = req(&id, "greet");
    r.set = set(&[("instance", "web-1; rm -rf /")]);
    let e = app
        .run_step(&r, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    let AppError::NeedsConfirmation { plan, .. } = e else {
        panic!("{e}")
    };
    r.confirmed = Some(plan);
    let rep = app
        .run_step(&r, std::sync::Arc::new(NullSink))
        .await
        .unwrap();
    assert_eq!(rep.run.status, "succeeded");
    assert_eq!(
        rep.outcome.stdout.text,
        "checking web-1; rm -rf / with hello\n"
    );
    assert_eq!(rep.run.bound["GREETING"], "hello");

    // Secrets never reach the blobs or the database.
    let rep = app
        .run_step(&req(&id, "leaky"), std::sync::Arc::new(NullSink))
        .await
        .unwrap();
    let sha = sitrep_ledger::Hash::from_hex(rep.run.stdout_sha256.as_deref().unwrap()).unwrap();
    let blob = String::from_utf8(app.blobs().get(&sha).unwrap()).unwrap();
    assert!(
        !blob.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
        "{blob}"
    );
    assert!(!blob.contains("hunter2secret"), "{blob}");

    // The timeout kills the step.
    let rep = app
        .run_step(&req(&id, "slow"), std::sync::Arc::new(NullSink))
        .await
        .unwrap();
    assert_eq!(rep.run.status, "timed-out");

    // Huge output is capped, and says so.
    let rep = app
        .run_step(&req(&id, "chatty"), std::sync::Arc::new(NullSink))
        .await
        .unwrap();
    assert!(rep.outcome.stdout.total_bytes > 1_000_000);
    assert!(rep.outcome.stdout.cut_bytes > 0);

    // A write step needs the exact command confirmed; then it runs.
    let marker = dir.path().join("marker");
    let mut w = req(&id, "mark");
    w.set = set(&[("marker", marker.to_str().unwrap())]);
    let plan = app.plan(&w).await.unwrap();
    assert_eq!(plan.risk, sitrep_executor::Level::Write, "{plan:?}");
    let e = app
        .run_step(&w, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    let AppError::NeedsConfirmation {
        plan: confirmed, ..
    } = e
    else {
        panic!("{e}")
    };
    assert!(!marker.exists());
    assert_eq!(confirmed, plan.id, "the refusal names the plan to confirm");
    w.confirmed = Some("touch something-else".into());
    assert!(matches!(
        app.run_step(&w, std::sync::Arc::new(NullSink))
            .await
            .unwrap_err(),
        AppError::NeedsConfirmation { .. }
    ));
    w.confirmed = Some(confirmed);
    let rep = app
        .run_step(&w, std::sync::Arc::new(NullSink))
        .await
        .unwrap();
    assert_eq!(rep.run.status, "succeeded");
    assert!(marker.exists());

    // Automatic runs never run anything but read steps.
    let mut auto = req(&id, "wipe");
    auto.set = set(&[("marker", marker.to_str().unwrap())]);
    auto.mode = Mode::Automatic;
    let e = app
        .run_step(&auto, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Denied { .. }), "{e}");
    assert!(marker.exists());
    app.close().await;

    // Nothing secret anywhere in the database files.
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            let hay = String::from_utf8_lossy(&bytes);
            assert!(
                !hay.contains("hunter2secret"),
                "{} holds a secret",
                p.display()
            );
            assert!(
                !hay.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
                "{} holds a token",
                p.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn section_runs_and_evidence_pack_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let inc = declare(&app).await;
    let results = app
        .run_sections(
            &inc.id,
            &[sitrep_runbook::Role::Diagnosis],
            &Principal::asserted("auto-triage"),
            Mode::Automatic,
            std::sync::Arc::new(NullSink),
        )
        .await
        .unwrap();
    // greet needs <instance> (skipped as unbound); leaky, slow and chatty run.
    assert_eq!(results.len(), 4);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    let timeline = app.timeline(&inc.id, None).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.record.event_type == "step.skipped"
                && e.record.payload["reason"].contains("instance"))
    );
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.record.event_type == "step.run")
            .count(),
        3
    );

    let mut pack = Vec::new();
    let summary = app
        .export_evidence_as(&inc.id, &Principal::asserted("auditor"), &mut pack)
        .await
        .unwrap();
    // Every event, and the evidence.exported event the export sealed.
    assert_eq!(summary.records, timeline.len() + 1);
    let distinct: std::collections::BTreeSet<_> = timeline
        .iter()
        .filter_map(|e| e.record.evidence.as_ref().map(|ev| ev.sha256))
        .collect();
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.record.evidence.is_some())
            .count(),
        6,
        "stdout and stderr of three runs"
    );
    assert_eq!(summary.blobs, distinct.len(), "each distinct output once");
    let report = verify_pack(&pack[..], &[app.verifier().clone()], Limits::default()).unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.records_verified, timeline.len() + 1);
    let export = report.export.expect("sealed");
    assert_eq!(export.records, timeline.len() as u64);
    assert_eq!(export.actor, "auditor");
    assert_eq!(report.incident.as_deref(), Some(inc.id.as_str()));

    // A pack checked against another key fails.
    let other = sitrep_ledger::Signer::generate("someone-else", &mut rand::rngs::OsRng).unwrap();
    let report = verify_pack(&pack[..], &[other.verifier()], Limits::default()).unwrap();
    assert!(!report.ok());
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_keeps_the_origin_it_was_created_with() {
    // The demo creates its data dir with its own origin; the CLI opening the same data
    // dir with a default config must use that log, not refuse it as foreign.
    let dir = tempfile::tempdir().unwrap();
    let first = Config {
        data_dir: Some(dir.path().join("data")),
        origin: "sitrep.example/ledger".into(),
        ..Config::default()
    };
    let app = App::open(first).await.unwrap();
    app.declare(
        NewIncident {
            title: "x".into(),
            ..NewIncident::default()
        },
        &Principal::asserted("ann"),
    )
    .await
    .unwrap();
    app.close().await;
    let app = open(dir.path()).await;
    assert_eq!(app.verifier().name(), "sitrep.example/ledger");
    assert_eq!(
        app.ledger_status()
            .await
            .unwrap()
            .checkpoint
            .unwrap()
            .signed_note
            .lines()
            .next(),
        Some("sitrep.example/ledger")
    );
    app.close().await;
}
