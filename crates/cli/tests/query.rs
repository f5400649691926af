//! `sitrep query` and `sitrep thresholds` on a real data dir, against real PostgreSQL
//! (127.0.0.1:5432, or `SITREP_TEST_DATABASE_URL`) and Debian's Prometheus: what an
//! on-call engineer types to run a runbook's query step or check its thresholds.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::stderr;

#[path = "../../executor/tests/support/mod.rs"]
mod prom;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A data dir, the fixture runbook, and a config naming the two datasources.
    fn new(prom_url: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let runbooks = dir.path().join("runbooks");
        std::fs::create_dir_all(&runbooks).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/cli/queries.md");
        std::fs::copy(fixture, runbooks.join("checkout.md")).unwrap();
        let pg = std::env::var("SITREP_TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
        let config = format!(
            "[datasources.orders-db]\nkind = \"postgres\"\nurl = \"{pg}\"\n\n\
             [datasources.prom]\nkind = \"prometheus\"\nurl = \"{prom_url}\"\n"
        );
        std::fs::write(dir.path().join("sitrep.toml"), config).unwrap();
        Env { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sitrep"))
            .args(args)
            .env("SITREP_CONFIG", self.dir.path().join("sitrep.toml"))
            .env("SITREP_DATA_DIR", self.dir.path().join("data"))
            .env("SITREP_RUNBOOKS", self.dir.path().join("runbooks"))
            .env("SITREP_ACTOR", "ann")
            .env_remove("SITREP_DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("sitrep runs")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let o = self.run(&a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn declare(&self) {
        let inc = self.json(&[
            "incident",
            "declare",
            "queue backs up",
            "--service",
            "checkout",
        ]);
        assert_eq!(inc["number"], 1);
    }
}

#[test]
fn a_sql_query_step_runs_with_its_value_bound_and_a_write_is_refused() {
    let env = Env::new("http://127.0.0.1:9");
    env.declare();
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
    let env = Env::new(&prometheus.url);
    env.declare();
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
