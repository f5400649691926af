//! Query steps inside an incident, on real components: Debian's Prometheus scraping a
//! target the test serves, and PostgreSQL. A result is JSON evidence sealed with its run;
//! a write is refused before it runs; a hostile value is data.

use std::collections::BTreeMap;
use std::path::Path;

use sitrep_app::datasources::{DatasourceConfig, DatasourcesConfig};
use sitrep_app::{App, AppError, Config, Mode, NewIncident, Principal, QueryRequest};
use sitrep_executor::query::DatasourceKind;

#[path = "../../executor/tests/support/mod.rs"]
mod prom;

/// The query-step runbook shared with the server's UI test (`tests/data/query`).
const RUNBOOK: &str = include_str!("../../../tests/data/query/checkout.md");

fn pg_url() -> String {
    std::env::var("SITREP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn datasource(kind: DatasourceKind, url: &str) -> DatasourceConfig {
    DatasourceConfig {
        kind,
        url: Some(url.to_owned()),
        url_env: None,
        token_env: None,
        token_file: None,
        timeout: None,
        max_rows: None,
        max_bytes: None,
    }
}

async fn open(dir: &Path, prom_url: &str) -> App {
    let runbooks = dir.join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    std::fs::write(runbooks.join("checkout.md"), RUNBOOK).unwrap();
    let mut sources = BTreeMap::new();
    sources.insert(
        "prom".to_owned(),
        datasource(DatasourceKind::Prometheus, prom_url),
    );
    sources.insert(
        "orders-db".to_owned(),
        datasource(DatasourceKind::Postgres, &pg_url()),
    );
    App::open(Config {
        data_dir: Some(dir.join("data")),
        runbooks: Some(runbooks),
        datasources: DatasourcesConfig(sources),
        ..Config::default()
    })
    .await
    .expect("open app")
}

fn req(incident: &str, query: &str, set: &[(&str, &str)]) -> QueryRequest {
    QueryRequest {
        incident: incident.to_owned(),
        runbook: "checkout.md".to_owned(),
        query: query.to_owned(),
        actor: Principal::asserted("ann"),
        set: set
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        mode: Mode::Interactive,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_steps_run_and_their_results_are_sealed_evidence() {
    let Some(prometheus) =
        prom::Prometheus::start("sitrep_queue_depth{queue=\"orders\"} 42\n").await
    else {
        prom::skip("/usr/bin/prometheus is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), &prometheus.url).await;
    let inc = app
        .declare(
            NewIncident {
                title: "checkout queue backs up".into(),
                service: Some("checkout".into()),
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap();
    let id = inc.id.clone();

    // Unbound: names what is missing, runs nothing.
    let e = app.run_query(&req(&id, "depth", &[])).await.unwrap_err();
    assert!(
        matches!(e, AppError::Unbound { ref names } if names == &["queue"]),
        "{e}"
    );

    // An instant query: the table, the run row, the JSON evidence and the sealed events.
    let rep = app
        .run_query(&req(&id, "depth", &[("queue", "orders")]))
        .await
        .unwrap();
    assert_eq!(rep.datasource, "prom");
    assert_eq!(rep.run.status, "succeeded");
    let value = rep
        .result
        .columns
        .iter()
        .position(|c| c == "value")
        .unwrap();
    assert_eq!(rep.result.rows[0][value], "42");
    let sha = sitrep_ledger::Hash::from_hex(rep.run.stdout_sha256.as_deref().unwrap()).unwrap();
    let kept: serde_json::Value = serde_json::from_slice(&app.blobs().get(&sha).unwrap()).unwrap();
    assert_eq!(kept["language"], "promql");
    assert_eq!(kept["query"], "sitrep_queue_depth{queue=\"orders\"}\n");
    assert_eq!(kept["result"]["rows"][0][value], "42");
    let timeline = app.timeline(&id, None).await.unwrap();
    let run_event = timeline
        .iter()
        .find(|e| {
            e.record.event_type == "step.run"
                && e.record.payload.get("kind").map(String::as_str) == Some("query")
        })
        .expect("a sealed query run");
    assert_eq!(run_event.record.payload["datasource"], "prom");
    assert_eq!(run_event.record.payload["result_sha256"], sha.to_string());
    let captured = timeline
        .iter()
        .find(|e| e.record.event_type == "evidence.captured")
        .and_then(|e| e.record.evidence.clone())
        .expect("evidence sealed");
    assert_eq!(captured.sha256, sha);
    assert_eq!(captured.media_type, "application/json");

    // A range query gives a series.
    let rep = app.run_query(&req(&id, "depth-range", &[])).await.unwrap();
    assert_eq!(rep.result.kind, "series");
    assert!(!rep.result.series[0].points.is_empty());

    // SQL: a hostile value is one bound parameter.
    let rep = app
        .run_query(&req(&id, "tables", &[("queue", "pg_class")]))
        .await;
    match rep {
        Ok(rep) => {
            assert_eq!(rep.result.rows, [[serde_json::json!("pg_class")]]);
            let rep = app
                .run_query(&req(&id, "tables", &[("queue", "x' OR '1'='1")]))
                .await
                .unwrap();
            assert!(rep.result.rows.is_empty());
        }
        Err(AppError::Query(e)) => prom::skip(&format!("PostgreSQL: {e}")),
        Err(e) => panic!("{e}"),
    }

    // A write never runs: refused before any connection, and the refusal is sealed.
    let e = app.run_query(&req(&id, "wipe", &[])).await.unwrap_err();
    assert!(
        matches!(e, AppError::Denied { ref reason } if reason.contains("destructive")),
        "{e}"
    );
    let timeline = app.timeline(&id, None).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.record.event_type == "step.refused"
                && e.record.payload.get("step").map(String::as_str) == Some("wipe"))
    );
    let runs = app.view(&id).await.unwrap().runs;
    assert!(runs.iter().all(|r| r.step_id != "wipe"));

    // Auto-triage runs the read query steps of the diagnosis sections like read command
    // steps; one whose value does not bind is skipped and says why.
    let before = app.view(&id).await.unwrap().runs.len();
    app.run_sections(
        &id,
        &[sitrep_runbook::Role::Diagnosis],
        &Principal::sitrep("auto-triage"),
        Mode::Automatic,
        std::sync::Arc::new(sitrep_app::NullSink),
    )
    .await
    .unwrap();
    let runs = app.view(&id).await.unwrap().runs;
    let new: Vec<&str> = runs[..]
        .iter()
        .filter(|r| r.actor == "auto-triage")
        .map(|r| r.step_id.as_str())
        .collect();
    assert_eq!(new, ["depth-range"], "{before} runs before");
    let timeline = app.timeline(&id, None).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.record.event_type == "step.skipped"
                && e.record.payload.get("step").map(String::as_str) == Some("depth")
                && e.record.payload["reason"] == "unbound: queue")
    );
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_steps_are_found_by_id_or_by_number() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing is queried: finding the step and binding it come first.
    let app = open(dir.path(), "http://127.0.0.1:9").await;
    let inc = app
        .declare(
            NewIncident {
                title: "checkout queue backs up".into(),
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap();
    // The first query step, `depth`, needs `<queue>`: unbound says it was found.
    for wanted in ["1", "depth"] {
        let e = app.run_query(&req(&inc.id, wanted, &[])).await.unwrap_err();
        assert!(
            matches!(e, AppError::Unbound { ref names } if names == &["queue"]),
            "{wanted}: {e}"
        );
    }
    for missing in ["0", "5", "nope"] {
        let e = app
            .run_query(&req(&inc.id, missing, &[]))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("query step {missing} in checkout.md not found")
        );
    }
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_are_checked_against_prometheus_and_gate_stand_down() {
    let Some(prometheus) =
        prom::Prometheus::start("sitrep_queue_depth{queue=\"orders\"} 42\n").await
    else {
        prom::skip("/usr/bin/prometheus is not installed");
        return;
    };
    prometheus.wait_for("sitrep_queue_depth == 42").await;
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), &prometheus.url).await;
    let inc = app
        .declare(
            NewIncident {
                title: "checkout queue backs up".into(),
                service: Some("checkout".into()),
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap();
    let id = inc.id.clone();

    let checks = app
        .check_thresholds(&id, &Principal::asserted("ann"))
        .await
        .unwrap();
    let status: Vec<(&str, &str)> = checks
        .iter()
        .map(|c| (c.metric.as_str(), c.status.as_str()))
        .collect();
    assert_eq!(
        status,
        [("Queue depth", "warning"), ("Target up", "normal")]
    );
    assert_eq!(checks[0].value.as_deref(), Some("42"));

    // The stand-down gate refuses while a threshold is not normal, and says which.
    let e = app
        .tick(
            &id,
            "All thresholds normal",
            true,
            &Principal::asserted("ann"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, AppError::Denied { ref reason } if reason.contains("Queue depth is warning")),
        "{e}"
    );
    let e = app
        .resolve(&id, &Principal::asserted("ann"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::ChecklistOpen { .. }), "{e}");

    // The queue drains: the next check finds everything normal and the item ticks.
    *prometheus.metrics.lock().unwrap() = "sitrep_queue_depth{queue=\"orders\"} 3\n".into();
    prometheus.wait_for("sitrep_queue_depth == 3").await;
    app.tick(
        &id,
        "All thresholds normal",
        true,
        &Principal::asserted("ann"),
    )
    .await
    .unwrap();
    let timeline = app.timeline(&id, None).await.unwrap();
    let checked: Vec<_> = timeline
        .iter()
        .filter(|e| e.record.event_type == "thresholds.checked")
        .map(|e| e.record.payload["all_normal"].clone())
        .collect();
    assert_eq!(checked, ["false", "false", "true"], "each check is sealed");
    app.close().await;
}
