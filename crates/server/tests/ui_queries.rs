//! Query steps and threshold checks from the incident page, over real HTTP with browser
//! sessions (cookie and CSRF token), as the page's htmx forms post them. A responder
//! runs a read SQL step on real PostgreSQL (asked for its value first) and gets the
//! escaped result table; a viewer is refused; a writing SQL step is refused in the dialog
//! with a sealed `step.refused`. "Check thresholds" runs against Debian's Prometheus
//! (`/usr/bin/prometheus`, started by the executor tests' helper, scraping a target this
//! test serves) and says each row's status and what the stand-down item needs; a range
//! PromQL step run from the page answers the inline SVG chart.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sitrep_app::datasources::{DatasourceConfig, DatasourceKind, DatasourcesConfig};

mod common;

#[path = "../../executor/tests/support/mod.rs"]
mod prom;

use common::Server;

/// The query-step runbook shared with the app's query tests (`tests/data/query`).
const RUNBOOK: &str = include_str!("../../../tests/data/query/checkout.md");

fn source(kind: DatasourceKind, url: String) -> DatasourceConfig {
    DatasourceConfig {
        kind,
        url: Some(url),
        url_env: None,
        token_env: None,
        token_file: None,
        timeout: None,
        max_rows: None,
        max_bytes: None,
    }
}

/// A server whose runbook directory holds `checkout.md`, with these datasources.
async fn start(sources: Vec<(&str, DatasourceConfig)>) -> (Server, tempfile::TempDir) {
    let runbooks = tempfile::tempdir().unwrap();
    std::fs::write(runbooks.path().join("checkout.md"), RUNBOOK).unwrap();
    let dir = runbooks.path().to_owned();
    let sources: BTreeMap<String, DatasourceConfig> = sources
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let server = common::start_with(move |c| {
        c.runbooks = Some(dir);
        c.datasources = DatasourcesConfig(sources);
    })
    .await;
    (server, runbooks)
}

fn pg_url() -> String {
    std::env::var("SITREP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn last<'a>(timeline: &'a [Value], kind: &str) -> Option<&'a Value> {
    timeline.iter().rev().find(|e| e["record"]["type"] == kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_runs_a_query_step_from_the_page_on_postgresql() {
    let (s, _runbooks) = start(vec![(
        "orders-db",
        source(DatasourceKind::Postgres, pg_url()),
    )])
    .await;
    let id = s
        .declare(json!({"title": "orders stuck", "service": "checkout"}))
        .await;
    let page_path = "/incidents/1";
    let query = "/incidents/1/query";
    let (rita, rita_csrf) = s.login(&s.responder).await;
    let (vera, vera_csrf) = s.login(&s.viewer).await;

    // Each query step has its control for a responder; a viewer is told why not.
    let page = s.page(&rita, page_path).await;
    assert!(
        page.contains(r#"data-query="tables">Run query</button>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"data-query="wipe">Run query</button>"#),
        "{page}"
    );
    assert!(page.contains("sql on orders-db"), "{page}");
    assert!(!page.contains("id=\"query-note\""), "{page}");
    let page = s.page(&vera, page_path).await;
    assert!(!page.contains("data-query="), "{page}");
    assert!(
        page.contains("Running a query or checking the thresholds needs the responder role."),
        "{page}"
    );
    let tables = [
        ("runbook", "checkout.md"),
        ("query", "tables"),
        ("set.queue", "pg_class"),
    ];
    let (st, body) = s.htmx(&vera, Some(&vera_csrf), query, &tables).await;
    assert_eq!(st, 403, "a viewer cannot run a query: {body}");
    assert!(body.contains("responder"), "{body}");
    // Without the session's CSRF token the post never reaches the handler.
    let (st, _) = s.htmx(&rita, None, query, &tables).await;
    assert_eq!(st, 403);
    let types = common::types(&s.timeline(&id).await);
    assert!(
        !types.iter().any(|t| t == "step.run"),
        "nothing ran: {types:?}"
    );

    // No value for <queue> anywhere: the dialog asks for it, and nothing runs yet.
    let (st, body) = s
        .htmx(
            &rita,
            Some(&rita_csrf),
            query,
            &[("runbook", "checkout.md"), ("query", "tables")],
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(
        body.contains(r#"name="set.queue" required data-missing="queue""#),
        "{body}"
    );
    assert!(
        body.contains(r#"id="confirm-query">Run query</button>"#),
        "{body}"
    );

    let (st, body) = s.htmx(&rita, Some(&rita_csrf), query, &tables).await;
    if st == 503 {
        prom::skip(&format!("PostgreSQL at {}: {body}", pg_url()));
        return;
    }
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("sql on orders-db"), "{body}");
    assert!(
        body.contains(r#"<table class="query-result" id="query-table">"#),
        "{body}"
    );
    assert!(body.contains("<th>relname</th>"), "{body}");
    assert!(body.contains("<td>pg_class</td>"), "{body}");
    let timeline = s.timeline(&id).await;
    let run = last(&timeline, "step.run").expect("the run is sealed");
    assert_eq!(run["record"]["payload"]["kind"], "query");
    assert_eq!(run["record"]["payload"]["status"], "succeeded");
    assert!(last(&timeline, "evidence.captured").is_some());

    // The runs table (a live region) lists it, green, with no failed check.
    let page = s.page(&rita, page_path).await;
    let row = page
        .split("<tr class=\"run-ok\"")
        .nth(1)
        .expect("a succeeded run row");
    assert!(
        row.starts_with(&format!(
            " id=\"run-{}\"><td>tables</td>",
            run["record"]["payload"]["run"].as_str().unwrap()
        )),
        "{row}"
    );
    assert!(
        row.contains("<span class=\"check \">succeeded</span>"),
        "{row}"
    );

    // A writing statement is refused in the dialog, and the refusal is sealed.
    let (st, body) = s
        .htmx(
            &rita,
            Some(&rita_csrf),
            query,
            &[("runbook", "checkout.md"), ("query", "wipe")],
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains(r#"id="query-refused""#), "{body}");
    assert!(body.contains("Nothing ran."), "{body}");
    assert!(
        body.contains("a query step runs only when it reads; this one is"),
        "{body}"
    );
    let timeline = s.timeline(&id).await;
    let refused = last(&timeline, "step.refused").expect("the refusal is sealed");
    assert_eq!(refused["record"]["payload"]["kind"], "query");
    assert_eq!(refused["record"]["payload"]["step"], "wipe");
    let runs = timeline
        .iter()
        .filter(|e| e["record"]["type"] == "step.run")
        .count();
    assert_eq!(runs, 1, "the write never ran");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_are_checked_from_the_page_against_prometheus() {
    let Some(prometheus) =
        prom::Prometheus::start("sitrep_queue_depth{queue=\"orders\"} 42\n").await
    else {
        prom::skip("/usr/bin/prometheus is not installed");
        return;
    };
    prometheus.wait_for("sitrep_queue_depth == 42").await;
    let (s, _runbooks) = start(vec![(
        "prom",
        source(DatasourceKind::Prometheus, prometheus.url.clone()),
    )])
    .await;
    let id = s
        .declare(json!({"title": "orders back up", "service": "checkout"}))
        .await;
    let (rita, rita_csrf) = s.login(&s.responder).await;
    let (vera, vera_csrf) = s.login(&s.viewer).await;
    let page = s.page(&rita, "/incidents/1").await;
    assert!(
        page.contains(r#"id="check-thresholds">Check thresholds</button>"#),
        "{page}"
    );
    assert!(
        !s.page(&vera, "/incidents/1")
            .await
            .contains("check-thresholds")
    );
    let path = "/incidents/1/thresholds";
    let (st, _) = s.htmx(&vera, Some(&vera_csrf), path, &[]).await;
    assert_eq!(st, 403, "a viewer cannot check");

    let (st, body) = s.htmx(&rita, Some(&rita_csrf), path, &[]).await;
    assert_eq!(st, 200, "{body}");
    let row = |metric: &str| {
        body.split(&format!("data-threshold=\"{metric}\""))
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap_or_else(|| panic!("no row {metric}: {body}"))
            .to_owned()
    };
    let depth = row("Queue depth");
    assert!(
        depth.contains(r#"<span class="badge th-warning">warning</span>"#),
        "{depth}"
    );
    assert!(depth.contains("<td>42</td>"), "{depth}");
    assert!(
        depth.contains("normal &#60; 10 · warning 10-50 · critical &#62; 50"),
        "{depth}"
    );
    let up = row("Target up");
    assert!(
        up.contains(r#"<span class="badge th-normal">normal</span>"#),
        "{up}"
    );
    assert!(
        body.contains(
            "“All thresholds normal” needs every threshold normal; not yet: Queue depth is warning."
        ),
        "{body}"
    );
    let timeline = s.timeline(&id).await;
    let checked = last(&timeline, "thresholds.checked").expect("sealed");
    assert_eq!(checked["record"]["payload"]["all_normal"], "false");
    assert!(
        include_str!("../assets/sitrep.js").contains("\"thresholds.checked\""),
        "the open page refreshes on a check"
    );

    // The queue drains: the next check finds every row normal and says the item can go.
    *prometheus.metrics.lock().unwrap() = "sitrep_queue_depth{queue=\"orders\"} 3\n".into();
    prometheus.wait_for("sitrep_queue_depth == 3").await;
    let (st, body) = s.htmx(&rita, Some(&rita_csrf), path, &[]).await;
    assert_eq!(st, 200, "{body}");
    assert!(
        body.contains("<span class=\"run-ok\">all normal</span>"),
        "{body}"
    );
    assert!(
        body.contains("every threshold is normal now, so it can be ticked"),
        "{body}"
    );
    let page = s.page(&rita, "/incidents/1").await;
    assert!(
        page.contains("checked 2 threshold(s): all normal"),
        "the timeline says it"
    );

    // A range query step's result is the inline chart, run from the same page.
    assert!(page.contains("range 2m, step 5s"), "{page}");
    let range = [("runbook", "checkout.md"), ("query", "depth-range")];
    let (st, body) = s
        .htmx(&rita, Some(&rita_csrf), "/incidents/1/query", &range)
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("promql on prom"), "{body}");
    assert!(
        body.contains(r#"<svg class="query-chart" id="query-chart""#),
        "{body}"
    );
    assert!(body.contains("<polyline"), "{body}");
    s.stop().await;
}
