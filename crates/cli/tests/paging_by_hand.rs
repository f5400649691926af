//! `sitrep incident escalate` and `sitrep incident page` on a real data dir: paging by
//! hand from the command line, as the incident page and the API do, with the `--json`
//! shapes scripts read, the exit codes, and the sealed events.

mod common;

use std::path::Path;

use common::{Env, stderr, stdout};
use serde_json::Value;

/// On call at once, the boss after 30 minutes, for `local-svc`
/// (`tests/data/escalation/local-svc.toml`). Webhooks to a port nobody listens on: the
/// CLI only queues pages, `sitrep serve` delivers them.
fn escalation() -> String {
    include_str!("../../../tests/data/escalation/local-svc.toml")
        .replace("HOOK", "http://127.0.0.1:9")
}

fn with_paging() -> Env {
    let env = Env::configured(|dir: &Path| {
        let file = dir.join("escalation.toml");
        std::fs::write(&file, escalation()).unwrap();
        format!("escalation = {:?}\n", file.display().to_string())
    });
    let inc = env.json(&[
        "incident",
        "declare",
        "checkout down",
        "--service",
        "local-svc",
    ]);
    assert_eq!(inc["number"], 1);
    env
}

/// A failing `--json` command: its error object and exit code.
fn error(env: &Env, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = env.run(&a);
    let mut v: Value = serde_json::from_slice(&o.stderr)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stderr(&o)));
    v["exit_code"] = o.status.code().into();
    v
}

#[test]
fn escalate_pages_the_next_level_until_none_is_left() {
    let env = with_paging();
    // Level 1 (the on-call, at once) is the sweep's; escalating pages level 2 now.
    insta::assert_json_snapshot!(
        "incident_escalate",
        env.json(&["incident", "escalate", "1"])
    );
    insta::assert_json_snapshot!(
        "incident_escalate_none_left",
        error(&env, &["incident", "escalate", "1"])
    );
    // Without --json: what happened, and what to do next.
    let o = env.run(&["incident", "escalate", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no escalation level left after level 2"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("sitrep incident page"),
        "{}",
        stderr(&o)
    );
    let show = env.json(&["incident", "show", "1"]);
    let escalated: Vec<&Value> = show["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["record"]["type"] == "page.escalated")
        .collect();
    assert_eq!(escalated.len(), 1, "refusals seal nothing");
    assert_eq!(escalated[0]["record"]["actor"], "ann");
    assert_eq!(escalated[0]["record"]["payload"]["level"], "2");
    assert_eq!(escalated[0]["record"]["payload"]["to"], "boss");
}

#[test]
fn page_reaches_one_person_and_names_bad_input() {
    let env = with_paging();
    insta::assert_json_snapshot!(
        "incident_page",
        env.json(&["incident", "page", "1", "boss"])
    );
    let o = env.run(&["incident", "page", "1", "oncall"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "paged: oncall (1 page queued; a running `sitrep serve` delivers them)\n"
    );
    // Whom to page, and which incident, are the caller's to get right: exit 2.
    let e = error(&env, &["incident", "page", "1", "carol"]);
    assert_eq!(e["exit_code"], 2, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`carol` is not a person in the escalation config"),
        "{e}"
    );
    let e = error(&env, &["incident", "page", "1", "nobody"]);
    assert_eq!(e["exit_code"], 2, "{e}");
    let e = error(&env, &["incident", "escalate", "9"]);
    assert_eq!(e["exit_code"], 2, "{e}");
    assert_eq!(e["error"]["message"], "incident 9 not found");
    let show = env.json(&["incident", "show", "1"]);
    let requested = show["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["record"]["type"] == "page.requested")
        .count();
    assert_eq!(requested, 2);
}

#[test]
fn without_an_escalation_config_paging_is_refused() {
    let env = Env::new();
    env.json(&["incident", "declare", "x", "--service", "local-svc"]);
    let e = error(&env, &["incident", "escalate", "1"]);
    assert_eq!(e["exit_code"], 1, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("paging is not configured"),
        "{e}"
    );
}
