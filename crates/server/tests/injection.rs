//! The injection story over HTTP: someone holding only a receiver token sends alerts
//! whose labels carry `;`, `$(...)`, backticks, newlines, leading dashes, `..` paths,
//! NUL and very long values into a runbook that puts a placeholder in every shell
//! position. Nothing they send runs as code or as an option, nothing is read or
//! written outside what the runbook declares, and every refusal is on the timeline.

mod common;

use std::path::Path;

use common::{Server, start_with, types};
use serde_json::{Value, json};

/// Diagnosis steps, one per shell position: `(name, script)`.
const STEPS: &[(&str, &str)] = &[
    ("plain", "echo <v>"),
    ("unquoted-var", "printf '[%s]\\n' $V"),
    ("double-quoted", "echo \"value: <v>\""),
    ("single-quoted", "echo 'value: <v>'"),
    ("option-find", "find <v> -maxdepth 0"),
    ("option-sort", "sort <v> < /dev/null"),
    ("path-cat", "cat <v>"),
    ("in-url", "echo http://<v>:9/health"),
    ("sh-c", "sh -c 'echo <v>'"),
    ("bash-c-double", "bash -c \"echo $V\""),
    ("eval", "eval \"echo <v>\""),
    ("xargs-input", "echo <v> | xargs echo"),
    ("command-name", "<v> --version"),
];

/// Steps where a value lands in re-parsed text or names the command: never unattended.
const NEED_A_PERSON: &[&str] = &[
    "sh-c",
    "bash-c-double",
    "eval",
    "xargs-input",
    "command-name",
];

fn runbook(cases: usize) -> String {
    let alerts: Vec<String> = (0..cases).map(|i| format!("Inject{i}")).collect();
    let mut text = format!(
        "---\nservice: inject\nalerts: [{}]\n---\n# Injection\n\n## Diagnosis\n",
        alerts.join(", ")
    );
    for (name, script) in STEPS {
        text.push_str(&format!(
            "\n```bash {{\"name\":\"{name}\"}}\n{script}\n```\n"
        ));
    }
    text
}

/// The hostile values, with `{canary}` standing for the canary directory.
fn hostile(canary: &Path, key: &Path) -> Vec<String> {
    let c = canary.display();
    vec![
        format!("x; touch {c}/semicolon"),
        format!("$(touch {c}/subst)"),
        format!("`touch {c}/backtick`"),
        format!("x\ntouch {c}/newline"),
        "-delete".to_owned(),
        format!("-o{c}/sorted"),
        format!("--output={c}/opt"),
        "../../../../etc/passwd".to_owned(),
        key.display().to_string(),
        format!("{c}/keep"),
        "a b * ?".to_owned(),
        "x".repeat(5000),
        "a\u{0}b".to_owned(),
    ]
}

async fn send(s: &Server, i: usize, value: &str) -> (u16, Value) {
    let body = json!({
        "groupKey": format!("inject-{i}"),
        "alerts": [{"labels": {"alertname": format!("Inject{i}"), "v": value}}],
    });
    s.alert("generic", &body.to_string()).await
}

/// Waits until every step of the incident has its outcome on the timeline.
async fn settled(s: &Server, id: &str) -> Vec<Value> {
    s.until(60, || async {
        let tl = s.timeline(id).await;
        let done = STEPS.iter().all(|(name, _)| {
            tl.iter().any(|e| {
                let kind = e["record"]["type"].as_str().unwrap_or("");
                kind.starts_with("step.") && e["record"]["payload"]["step"] == *name
            })
        });
        done.then_some(tl)
    })
    .await
}

fn events_of<'a>(tl: &'a [Value], step: &str) -> Vec<&'a Value> {
    tl.iter()
        .filter(|e| e["record"]["payload"]["step"] == step)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_values_never_become_code_options_or_reads() {
    let work = tempfile::tempdir().unwrap();
    let canary = work.path().join("canary");
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("keep"), "must survive").unwrap();
    let runbooks = work.path().join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    let cases = hostile(&canary, Path::new("/key")).len() + 1;
    std::fs::write(runbooks.join("inject.md"), runbook(cases)).unwrap();
    let rb = runbooks.clone();
    let s = start_with(move |c| c.runbooks = Some(rb)).await;
    let key = s.dir.path().join("data/ledger.key");
    let values = hostile(&canary, &key);

    for (i, value) in values.iter().enumerate() {
        let (st, v) = send(&s, i, value).await;
        if st != 202 {
            // Refused at the door (the receiver's own checks): nothing was stored.
            assert_eq!(st, 400, "case {i}: {v}");
            continue;
        }
        let id = v["opened"][0].as_str().unwrap().to_owned();
        let tl = settled(&s, &id).await;
        for (name, _) in STEPS {
            let ev = events_of(&tl, name);
            let kinds: Vec<&str> = ev
                .iter()
                .filter_map(|e| e["record"]["type"].as_str())
                .collect();
            assert!(
                !kinds.contains(&"step.run"),
                "case {i} ({value:?}): {name} ran: {kinds:?}"
            );
            if NEED_A_PERSON.contains(name) {
                assert_eq!(kinds, ["step.skipped"], "case {i}: {name}");
                continue;
            }
            let refused = ev
                .iter()
                .find(|e| e["record"]["type"] == "step.refused")
                .unwrap_or_else(|| panic!("case {i} ({value:?}): {name}: {kinds:?}"));
            let p = &refused["record"]["payload"];
            assert_eq!(p["source"], "alert label", "case {i}: {p}");
            assert!(
                p["placeholder"] == "v" || p["placeholder"] == "V",
                "case {i}: {p}"
            );
            assert!(!p["rule"].as_str().unwrap().is_empty());
        }
    }

    // A benign value runs every read step in a plain position, as one word.
    let benign = values.len();
    let (st, v) = send(&s, benign, "web-1").await;
    assert_eq!(st, 202, "{v}");
    let id = v["opened"][0].as_str().unwrap().to_owned();
    let tl = settled(&s, &id).await;
    for (name, _) in STEPS {
        let kinds = types(
            &events_of(&tl, name)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>(),
        );
        let want = if NEED_A_PERSON.contains(name) {
            "step.skipped"
        } else {
            "step.run"
        };
        assert!(kinds.iter().any(|k| k == want), "{name}: {kinds:?}");
    }

    // Nothing appeared in the canary directory, and nothing there was deleted.
    let left: Vec<_> = std::fs::read_dir(&canary)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["keep"], "the canary directory changed");
    assert_eq!(
        std::fs::read_to_string(canary.join("keep")).unwrap(),
        "must survive"
    );
    s.stop().await;
}
