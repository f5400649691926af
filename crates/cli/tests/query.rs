//! `sitrep query` and `sitrep thresholds` on a real data dir, against real PostgreSQL
//! (127.0.0.1:5432, or `SITREP_TEST_DATABASE_URL`) and Debian's Prometheus: what an
//! on-call engineer types to run a runbook's query step or check its thresholds.

mod common;

use std::path::Path;

use common::{Env, stderr};

#[path = "../../executor/tests/support/mod.rs"]
mod prom;

/// A data dir, the fixture runbook, and a config naming the two datasources.
fn with_datasources(prom_url: &str) -> Env {
    let pg = std::env::var("SITREP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let env = Env::configured(|_| {
        format!(
            "[datasources.orders-db]\nkind = \"postgres\"\nurl = \"{pg}\"\n\n\
         [datasources.prom]\nkind = \"prometheus\"\nurl = \"{prom_url}\"\n"
        )
    });
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/cli/queries.md");
    std::fs::copy(fixture, env.runbooks().join("checkout.md")).unwrap();
    env
}

fn declare(env: &Env) {
    let inc = env.json(&[
        "incident",
        "declare",
        "queue backs up",
        "--service",
        "checkout",
    ]);
    assert_eq!(inc["number"], 1);
}

#[test]
fn a_sql_query_step_runs_with_its_value_bound_and_a_write_is_refused() {
    let env = with_datasources("http://127.0.0.1:9");
    declare(&env);
    let r = env.json(&[
        "query",
        "1",
        "checkout.md",
        "tables",
        "--set",
        "queue=pg_class",
    ]);
    assert_eq!(r["language"], "sql");
    assert_eq!(r["datasource"], "orders-db");
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(r["result"]["rows"], serde_json::json!([["pg_class"]]));
    insta::assert_json_snapshot!("query_json", normalise(r));

    // A value is data: a quote in it cannot end the string and add a statement.
    let hostile = env.json(&[
        "query",
        "1",
        "checkout.md",
        "tables",
        "--set",
        "queue=x' OR '1'='1",
    ]);
    assert!(hostile["result"].get("rows").is_none(), "{hostile}");

    // The human form names the step, the language and the datasource.
    let o = env.run(&[
        "query",
        "1",
        "checkout.md",
        "tables",
        "--set",
        "queue=pg_class",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("tables (sql on orders-db): succeeded"),
        "{text}"
    );
    assert!(text.contains("pg_class"), "{text}");

    // A write never runs: refused before connecting, exit 1, and the refusal is sealed.
    let o = env.run(&["query", "1", "checkout.md", "wipe"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let shown = env.json(&["incident", "show", "1"]);
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["record"]["type"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "step.run").count(),
        3,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"step.refused"), "{kinds:?}");
}

#[test]
fn thresholds_are_checked_against_debians_prometheus() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(prometheus) = rt.block_on(prom::Prometheus::start(
        "sitrep_cli_queue_depth{queue=\"orders\"} 42\n",
    )) else {
        prom::skip("/usr/bin/prometheus is not installed");
        return;
    };
    rt.block_on(prometheus.wait_for("sitrep_cli_queue_depth == 42"));
    let env = with_datasources(&prometheus.url);
    declare(&env);
    let checks = env.json(&["thresholds", "1"]);
    assert_eq!(checks[0]["metric"], "Queue depth", "{checks}");
    assert_eq!(checks[0]["status"], "warning", "{checks}");
    assert_eq!(checks[0]["value"], "42");
    insta::assert_json_snapshot!("thresholds_json", normalise(checks));
    let o = env.run(&["thresholds", "1"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("warning  Queue depth (checkout.md): 42"),
        "{text}"
    );
}

/// Per-run values replaced by their kind: `[time]`, `[id]`, `[hash]`.
fn normalise(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let kind = if v.is_null() || k == "step_id" || k == "actor_id" {
                        None
                    } else if k.ends_with("_ms") {
                        Some("[time]")
                    } else if k == "id" || k.ends_with("_id") {
                        Some("[id]")
                    } else if k.contains("sha256") {
                        Some("[hash]")
                    } else {
                        None
                    };
                    let v = kind.map_or_else(|| normalise(v), |k| Value::String(k.into()));
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        other => other,
    }
}
