//! Snapshots of every `--json` output of the incident, checklist, run, token and ledger
//! commands: the shapes scripts rely on. Values that differ per run (ids, times, hashes,
//! keys, paths) are replaced by their kind before comparing, so a snapshot changes only
//! when a field is added, removed, renamed or computed differently.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{Env, stderr};

/// The command's JSON (`sitrep --json args`, which must succeed), normalised.
fn json(env: &Env, args: &[&str]) -> Value {
    normalise(env.json(args), env.dir.path())
}

/// A failing command's JSON error (stderr), normalised, with its exit code.
fn error(env: &Env, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = env.run(&a);
    let v: Value = serde_json::from_slice(&o.stderr)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stderr(&o)));
    let mut v = normalise(v, env.dir.path());
    v["exit_code"] = o.status.code().into();
    v
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
    let env = Env::new();
    let declared = json(
        &env,
        &[
            "incident",
            "declare",
            "db down",
            "--service",
            "local-svc",
            "-s",
            "2",
        ],
    );
    insta::assert_json_snapshot!("incident_declare", declared);
    insta::assert_json_snapshot!("incident_ack", json(&env, &["incident", "ack", "1"]));
    json(&env, &["incident", "assign", "1", "commander", "carol"]);
    json(&env, &["incident", "note", "1", "checking the pool"]);
    insta::assert_json_snapshot!(
        "run_dry_run",
        json(
            &env,
            &[
                "run",
                "1",
                "local-service.md",
                "greet",
                "--set",
                "instance=web-1",
                "--dry-run",
            ]
        )
    );
    insta::assert_json_snapshot!(
        "run",
        json(
            &env,
            &[
                "run",
                "1",
                "local-service.md",
                "greet",
                "--set",
                "instance=web-1",
                "--yes",
            ]
        )
    );
    insta::assert_json_snapshot!(
        "checklist_tick",
        json(&env, &["checklist", "tick", "1", "1"])
    );
    insta::assert_json_snapshot!("checklist_show", json(&env, &["checklist", "show", "1"]));
    insta::assert_json_snapshot!(
        "action_add",
        json(
            &env,
            &["action", "add", "1", "Page on readiness", "--owner", "dave",]
        )
    );
    insta::assert_json_snapshot!(
        "incident_resolve_refused",
        error(&env, &["incident", "resolve", "1"])
    );
    insta::assert_json_snapshot!("incident_show", json(&env, &["incident", "show", "1"]));
    insta::assert_json_snapshot!("incident_list", json(&env, &["incident", "list", "--all"]));
    insta::assert_json_snapshot!(
        "incident_list_status_all_search",
        json(
            &env,
            &["incident", "list", "--status", "all", "--search", "DB"]
        )
    );
    insta::assert_json_snapshot!(
        "token_create",
        json(&env, &["token", "create", "ci-bot", "--role", "responder",])
    );
    insta::assert_json_snapshot!("token_list", json(&env, &["token", "list"]));
    insta::assert_json_snapshot!("ledger_status", json(&env, &["ledger", "status"]));
    insta::assert_json_snapshot!("ledger_verify", json(&env, &["ledger", "verify"]));
    insta::assert_json_snapshot!("incident_unknown", error(&env, &["incident", "show", "9"]));
}
