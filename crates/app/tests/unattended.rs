//! Only read runs alone, and only what was confirmed runs: a write a wrong site rule
//! calls read fails under the sandbox and is sealed as failed; the data dir's key stays
//! unreadable; a value that changes between confirmation and run is never the one that
//! runs unconfirmed. On SQLite, and on PostgreSQL when `SITREP_TEST_DATABASE_URL` is set.

use sitrep_app::Principal;
use std::path::Path;
use std::sync::Arc;

use sitrep_app::{App, AppError, Config, Mode, NewIncident, NullSink, RunRequest};
use sitrep_runbook::Role;

#[path = "support/backends.rs"]
mod support;

/// A runbook whose site rule wrongly calls `touch` read, with its paths as defaults.
fn runbook(canary: &Path, key: &Path, out: &Path) -> String {
    format!(
        r#"---
service: slipped
params:
  canary: {{ type: path, roots: ["/"], default: "{canary}" }}
  key: {{ type: path, roots: ["/"], default: "{key}" }}
  out: {{ type: path, roots: ["/"], default: "{out}" }}
  n: {{ type: int }}
risk:
  - match: touch
    level: read
    reason: wrong on purpose, so a write slips past the classifier
---
# Slipped

## Diagnosis

```bash {{"name":"write-slipped"}}
touch <canary>
```

```bash {{"name":"read-key"}}
cat <key>
```

```bash {{"name":"read-outside"}}
cat /etc/hostname
```

## Resolution

```bash {{"name":"mark"}}
mkdir -p <out> && echo ok > <out>/<n>-<severity>
```

```bash {{"name":"with-token"}}
echo <api_token> | wc -c
```
"#,
        canary = canary.display(),
        key = key.display(),
        out = out.display(),
    )
}

async fn open(dir: &Path, url: Option<&str>) -> App {
    let runbooks = dir.join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    let data = dir.join("data");
    std::fs::write(
        runbooks.join("slipped.md"),
        runbook(
            &dir.join("canary"),
            &data.join("ledger.key"),
            &dir.join("out"),
        ),
    )
    .unwrap();
    let cfg = Config {
        data_dir: Some(data),
        database_url: url.map(str::to_owned),
        runbooks: Some(runbooks),
        ..Config::default()
    };
    App::open(cfg).await.expect("open app")
}

async fn incident(app: &App) -> String {
    app.declare(
        NewIncident {
            title: "slipped".into(),
            runbooks: vec!["slipped.md".into()],
            ..NewIncident::default()
        },
        &Principal::asserted("ann"),
    )
    .await
    .unwrap()
    .id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_that_slipped_past_the_classifier_fails_under_the_sandbox() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        let dir = tempfile::tempdir().unwrap();
        let app = open(dir.path(), url.as_deref()).await;
        assert!(app.sandbox_support().is_ready(), "this kernel has Landlock");
        let id = incident(&app).await;
        let results = app
            .run_sections(
                &id,
                &[Role::Diagnosis],
                &Principal::asserted("auto-triage"),
                Mode::Automatic,
                Arc::new(NullSink),
            )
            .await
            .unwrap();
        assert_eq!(results.len(), 3, "{label}: all three are read to the gate");
        let runs = app.store().runs_for(&id).await.unwrap();
        let status = |step: &str| {
            let r = runs.iter().find(|r| r.step_id == step).unwrap();
            (r.status.clone(), r.risk.clone())
        };
        assert_eq!(status("write-slipped"), ("failed".into(), "read".into()));
        assert!(
            !dir.path().join("canary").exists(),
            "{label}: the write happened"
        );
        assert_eq!(status("read-key").0, "failed", "{label}");
        assert_eq!(status("read-outside").0, "succeeded", "{label}");
        // What the failed runs said is evidence, and none of it is the key.
        let key = std::fs::read(dir.path().join("data/ledger.key")).unwrap();
        for r in &runs {
            for sha in [&r.stdout_sha256, &r.stderr_sha256].into_iter().flatten() {
                let h = sitrep_ledger::Hash::from_hex(sha).unwrap();
                let bytes = app.blobs().get(&h).unwrap();
                assert!(
                    !bytes.windows(key.len().min(16)).any(|w| key.starts_with(w)),
                    "{label}: key bytes in the output of {}",
                    r.step_id
                );
            }
        }
        let err = stderr_of(&app, &runs, "write-slipped");
        assert!(err.contains("Permission denied"), "{label}: {err}");
        assert!(app.store().verify_ledger().await.unwrap().ok());
        app.close().await;
    }
    backends.done().await;
}

fn stderr_of(app: &App, runs: &[sitrep_app::store::StepRun], step: &str) -> String {
    let r = runs.iter().find(|r| r.step_id == step).unwrap();
    let h = sitrep_ledger::Hash::from_hex(r.stderr_sha256.as_deref().unwrap()).unwrap();
    String::from_utf8(app.blobs().get(&h).unwrap()).unwrap()
}

fn mark(id: &str, n: usize) -> RunRequest {
    RunRequest {
        incident: id.to_owned(),
        runbook: "slipped.md".into(),
        step: "mark".into(),
        actor: Principal::asserted("ann"),
        set: [("n".to_owned(), n.to_string())].into(),
        confirmed: None,
        approval: None,
        mode: Mode::Interactive,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_changed_after_confirmation_never_runs_unconfirmed() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        let dir = tempfile::tempdir().unwrap();
        let app = open(dir.path(), url.as_deref()).await;
        let id = incident(&app).await;
        // Confirmed at SEV4 (the default); someone raises the severity before the run.
        let mut req = mark(&id, 0);
        let plan = app.plan(&req).await.unwrap();
        assert!(plan.display.contains("0-SEV4"), "{}", plan.display);
        req.confirmed = Some(plan.id.clone());
        app.set_severity(&id, "SEV1", &Principal::asserted("bob"))
            .await
            .unwrap();
        let err = app.run_step(&req, Arc::new(NullSink)).await.unwrap_err();
        assert!(
            matches!(&err, AppError::NeedsConfirmation { plan: p, .. } if *p != plan.id),
            "{label}: {err}"
        );
        assert!(!dir.path().join("out").exists(), "{label}: something ran");

        // The race itself: the severity flips while confirmed runs go. Each run that
        // goes through ran exactly the values of the plan it confirmed.
        let flipper = {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move {
                for i in 0..40 {
                    let to = if i % 2 == 0 { "SEV2" } else { "SEV1" };
                    let _ = app.set_severity(&id, to, &Principal::asserted("bob")).await;
                    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
                }
            })
        };
        let mut ran = 0;
        for n in 1..=20 {
            let mut req = mark(&id, n);
            let plan = app.plan(&req).await.unwrap();
            let sev = &plan
                .bindings
                .iter()
                .find(|b| b.name == "severity")
                .unwrap()
                .value;
            req.confirmed = Some(plan.id.clone());
            match app.run_step(&req, Arc::new(NullSink)).await {
                Ok(rep) => {
                    ran += 1;
                    assert_eq!(&rep.run.bound["severity"], sev, "{label}");
                    assert!(dir.path().join(format!("out/{n}-{sev}")).exists());
                }
                Err(AppError::NeedsConfirmation { .. }) => {}
                Err(e) => panic!("{label}: {e}"),
            }
        }
        flipper.await.unwrap();
        // Every file is one a confirmed plan named: nothing else ran.
        let files = std::fs::read_dir(dir.path().join("out")).map_or(0, Iterator::count);
        assert_eq!(files, ran, "{label}");
        assert!(app.store().verify_ledger().await.unwrap().ok());
        app.close().await;
    }
    backends.done().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_too_short_to_redact_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), None).await;
    let id = incident(&app).await;
    let mut req = mark(&id, 1);
    req.step = "with-token".into();
    req.set = [("api_token".to_owned(), "ab".to_owned())].into();
    let err = app.run_step(&req, Arc::new(NullSink)).await.unwrap_err();
    let AppError::ValueRefused { refusals } = err else {
        panic!("{err}")
    };
    assert_eq!(refusals[0].name, "api_token");
    assert!(refusals[0].rule.contains("shorter than 4"), "{refusals:?}");
    // A long enough one binds (and the person then confirms it).
    req.set = [("api_token".to_owned(), "abcd-1234".to_owned())].into();
    assert!(matches!(
        app.run_step(&req, Arc::new(NullSink)).await.unwrap_err(),
        AppError::NeedsConfirmation { .. }
    ));
    app.close().await;
}
