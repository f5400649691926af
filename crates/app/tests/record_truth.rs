//! The ledger is the truth: an edit of the mutable tables changes neither the post-mortem
//! nor goes unnoticed, on SQLite and PostgreSQL.

use sitrep_app::Principal;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sitrep_app::{App, AppError, Mode, NewIncident, NullSink, RunRequest};

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/backends.rs"]
mod support;
use fixtures::open_on;

/// The database the app wrote to, for editing rows behind its back.
async fn raw_pool(dir: &Path, database_url: Option<&str>) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = database_url.map_or_else(
        || format!("sqlite://{}", dir.join("data/sitrep.db").display()),
        str::to_owned,
    );
    sqlx::AnyPool::connect(&url).await.expect("connect")
}

#[tokio::test]
async fn edited_tables_are_reported_and_the_postmortem_keeps_the_record() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("record-truth story on {label}");
        let dir = tempfile::tempdir().unwrap();
        story(dir.path(), url.as_deref()).await;
    }
    backends.done().await;
}

async fn story(dir: &Path, url: Option<&str>) {
    let app = open_on(dir, url).await;
    let inc = app
        .declare(
            NewIncident {
                title: "checkout down".into(),
                severity: Some("sev2".into()),
                service: Some("local-svc".into()),
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap();
    app.acknowledge("1", &Principal::asserted("bob"))
        .await
        .unwrap();
    app.assign("1", "commander", "carol", &Principal::asserted("bob"))
        .await
        .unwrap();
    app.set_severity("1", "1", &Principal::asserted("carol"))
        .await
        .unwrap();
    let run = run_greet(&app, &inc.id).await;
    app.tick("1", "1", true, &Principal::asserted("carol"))
        .await
        .unwrap();
    app.add_action(
        "1",
        "Page on readiness",
        Some("dave"),
        None,
        &Principal::asserted("carol"),
    )
    .await
    .unwrap();
    app.mitigate("1", &Principal::asserted("carol"))
        .await
        .unwrap();

    // Untouched, the tables say what the records say, and so does the replay.
    assert_eq!(
        app.drift().await.unwrap(),
        vec![],
        "no drift after a real story"
    );
    let replayed = app.replay("1").await.unwrap();
    assert_eq!(replayed.title, "checkout down");
    assert_eq!(replayed.severity, inc_severity(&app).await);
    assert_eq!(replayed.roles["commander"], "carol");
    assert_eq!(replayed.runs.len(), 1);

    // Someone with database access rewrites history in the tables only.
    let pool = raw_pool(dir, url).await;
    for sql in [
        "UPDATE incidents SET title = 'all fine', status = 'resolved'",
        "UPDATE step_runs SET command = 'echo harmless'",
        "UPDATE checklist_items SET checked = 1, checked_by = 'mallory'",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    pool.close().await;

    let drift = app.drift().await.unwrap();
    let fields: Vec<&str> = drift.iter().map(|d| d.field.as_str()).collect();
    let run_command = format!("run {} command", &run[..8]);
    for want in ["title", "status", run_command.as_str()] {
        assert!(fields.contains(&want), "{want} missing from {fields:?}");
    }
    assert!(
        fields.iter().any(|f| f.starts_with("checklist item")),
        "the forged tick is reported: {fields:?}"
    );
    let title = drift.iter().find(|d| d.field == "title").unwrap();
    assert_eq!(
        (title.recorded.as_str(), title.table.as_str()),
        ("checkout down", "all fine")
    );

    // The post-mortem is written from the records: the real title, the real command,
    // the status the records reached, and no tick by mallory.
    let md = app.postmortem("1").await.unwrap();
    assert!(
        md.starts_with("# Post-mortem: checkout down (incident #1)"),
        "{md}"
    );
    assert!(md.contains("echo \"checking"), "the recorded command: {md}");
    assert!(!md.contains("echo harmless"), "{md}");
    assert!(md.contains("| Status | mitigated |"), "{md}");
    assert!(!md.contains("mallory"), "{md}");
    assert!(md.contains("| open | Page on readiness | dave |"), "{md}");
    app.close().await;
}

async fn inc_severity(app: &App) -> String {
    app.incident("1").await.unwrap().severity
}

/// Runs the fixture's `greet` step (a person's value: confirmed), returning the run id.
async fn run_greet(app: &App, incident: &str) -> String {
    let mut req = RunRequest {
        incident: incident.to_owned(),
        runbook: "local-service.md".to_owned(),
        step: "greet".to_owned(),
        actor: Principal::asserted("ann"),
        set: BTreeMap::from([("instance".to_owned(), "web-1".to_owned())]),
        confirmed: None,
        approval: None,
        mode: Mode::Interactive,
    };
    let e = app.run_step(&req, Arc::new(NullSink)).await.unwrap_err();
    let AppError::NeedsConfirmation { plan, .. } = e else {
        panic!("{e}")
    };
    req.confirmed = Some(plan);
    app.run_step(&req, Arc::new(NullSink)).await.unwrap().run.id
}
