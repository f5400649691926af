//! Snapshots of every `--json` output of the incident, checklist, run, token and ledger
//! commands: the shapes scripts rely on. Values that differ per run (ids, times, hashes,
//! keys, paths) are replaced by their kind before comparing, so a snapshot changes only
//! when a field is added, removed, renamed or computed differently.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{stderr, stdout};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        let runbooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/app/runbooks");
        Command::new(env!("CARGO_BIN_EXE_sitrep"))
            .arg("--json")
            .args(args)
            .env("SITREP_DATA_DIR", self.dir.path().join("data"))
            .env("SITREP_RUNBOOKS", runbooks)
            .env("SITREP_ACTOR", "ann")
            .env_remove("SITREP_CONFIG")
            .env_remove("SITREP_DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("sitrep runs")
    }

    /// The command's JSON, normalised.
    fn json(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let v = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&o)));
        normalise(v, self.dir.path())
    }

    /// A failing command's JSON error (stderr), normalised, with its exit code.
    fn error(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        let v: Value = serde_json::from_slice(&o.stderr)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stderr(&o)));
        let mut v = normalise(v, self.dir.path());
        v["exit_code"] = o.status.code().into();
        v
    }
}

/// Replaces per-run values by what they are: `[ms]`, `[id]`, `[sha256]`, `[key]`.
fn normalise(v: Value, dir: &Path) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match kind_of(&k, &v) {
                        Some(kind) => Value::String(kind.to_owned()),
                        None => normalise(v, dir),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| normalise(v, dir)).collect()),
        Value::String(s) if is_uuid(&s) => Value::String("[id]".into()),
        Value::String(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Value::String("[hash]".into())
        }
        Value::String(s) => Value::String(s.replace(&dir.display().to_string(), "[dir]")),
        other => other,
    }
}

/// `01a24f06-e721-7483-8758-f398080729e2`
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn kind_of(key: &str, v: &Value) -> Option<&'static str> {
    let k = key;
    if v.is_null() || v.is_boolean() || k == "step_id" {
        return None;
    }
    // `cli:NAME` and `sitrep:NAME` are the same every run: shown as they are.
    if k == "actor_id" && v.as_str().is_some_and(|s| !is_uuid(s)) {
        return None;
    }
    if k.ends_with("_ms") || k.ends_with("_at") || k == "created" || k == "duration" {
        Some("[time]")
    } else if k == "id" || k.ends_with("_id") || k == "run" || k == "incident" && v.is_string() {
        Some("[id]")
    } else if k.contains("sha256") || k == "root" || k == "hash" || k == "plan" || k == "leaf" {
        Some("[hash]")
    } else if k.contains("key") || k == "secret" || k == "token" || k == "signed_note" {
        Some("[signed]")
    } else {
        None
    }
}

#[test]
fn every_json_output_keeps_its_shape() {
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    let declared = env.json(&[
        "incident",
        "declare",
        "db down",
        "--service",
        "local-svc",
        "-s",
        "2",
    ]);
    insta::assert_json_snapshot!("incident_declare", declared);
    insta::assert_json_snapshot!("incident_ack", env.json(&["incident", "ack", "1"]));
    env.json(&["incident", "assign", "1", "commander", "carol"]);
    env.json(&["incident", "note", "1", "checking the pool"]);
    insta::assert_json_snapshot!(
        "run_dry_run",
        env.json(&[
            "run",
            "1",
            "local-service.md",
            "greet",
            "--set",
            "instance=web-1",
            "--dry-run",
        ])
    );
    insta::assert_json_snapshot!(
        "run",
        env.json(&[
            "run",
            "1",
            "local-service.md",
            "greet",
            "--set",
            "instance=web-1",
            "--yes",
        ])
    );
    insta::assert_json_snapshot!("checklist_tick", env.json(&["checklist", "tick", "1", "1"]));
    insta::assert_json_snapshot!("checklist_show", env.json(&["checklist", "show", "1"]));
    insta::assert_json_snapshot!(
        "action_add",
        env.json(&["action", "add", "1", "Page on readiness", "--owner", "dave",])
    );
    insta::assert_json_snapshot!(
        "incident_resolve_refused",
        env.error(&["incident", "resolve", "1"])
    );
    insta::assert_json_snapshot!("incident_show", env.json(&["incident", "show", "1"]));
    insta::assert_json_snapshot!("incident_list", env.json(&["incident", "list", "--all"]));
    insta::assert_json_snapshot!(
        "incident_list_status_all_search",
        env.json(&["incident", "list", "--status", "all", "--search", "DB"])
    );
    insta::assert_json_snapshot!(
        "token_create",
        env.json(&["token", "create", "ci-bot", "--role", "responder",])
    );
    insta::assert_json_snapshot!("token_list", env.json(&["token", "list"]));
    insta::assert_json_snapshot!("ledger_status", env.json(&["ledger", "status"]));
    insta::assert_json_snapshot!("ledger_verify", env.json(&["ledger", "verify"]));
    insta::assert_json_snapshot!("incident_unknown", env.error(&["incident", "show", "9"]));
}
