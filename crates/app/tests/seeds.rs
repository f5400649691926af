//! Every system in the seed runbooks (`../shared/seeds/`, scraped pages, unchanged) is
//! served: each imports into the library, an incident declared on it gets its stand-down
//! checklist, every step plans (bound or naming what is missing, with its risk and the
//! gate's answer), and auto-triage runs its read steps, never anything else.

use sitrep_app::Principal;
use std::path::Path;
use std::time::Duration;

use sitrep_app::{App, Config, Mode, NewIncident, NullSink, RunRequest};
use sitrep_runbook::Role;

fn seeds() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_seed_imports_plans_and_triages() {
    let dir = tempfile::tempdir().unwrap();
    // The example config's site rules teach sitrep the seeds' own CLI (`stella`).
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seeds.toml");
    let mut cfg = Config::load(&example).unwrap();
    assert!(!cfg.risk.is_empty());
    cfg.data_dir = Some(dir.path().join("data"));
    cfg.runbooks = Some(seeds());
    cfg.executor.default_timeout = Duration::from_secs(5);
    let app = App::open(cfg).await.unwrap();
    let lib = app.library();
    let paths: Vec<String> = lib.entries().iter().map(|e| e.path.clone()).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(lib.unreadable.is_empty(), "{:?}", lib.unreadable);
    for path in &paths {
        let entry = lib.get(path).unwrap();
        assert!(!entry.runbook.steps.is_empty(), "{path} has steps");
        let inc = app
            .declare(
                NewIncident {
                    title: format!("drill: {path}"),
                    runbooks: vec![path.clone()],
                    ..NewIncident::default()
                },
                &Principal::asserted("drill"),
            )
            .await
            .unwrap();
        let gates = entry.runbook.resolution_gates().count();
        assert_eq!(
            app.view(&inc.id).await.unwrap().checklist.len(),
            gates,
            "{path}"
        );
        for step in &entry.runbook.steps {
            let req = RunRequest {
                incident: inc.id.clone(),
                runbook: path.clone(),
                step: step.id.clone(),
                actor: Principal::asserted("drill"),
                set: Default::default(),
                confirmed: None,
                approval: None,
                mode: Mode::Interactive,
            };
            // Every seed step plans: unbound, refused or judged, never an error.
            app.plan(&req)
                .await
                .unwrap_or_else(|e| panic!("{path} {}: {e}", step.id));
        }
        let results = app
            .run_sections(
                &inc.id,
                &[
                    Role::Symptoms,
                    Role::Diagnosis,
                    Role::Evidence,
                    Role::Verification,
                ],
                &Principal::asserted("auto-triage"),
                Mode::Automatic,
                std::sync::Arc::new(NullSink),
            )
            .await
            .unwrap();
        let runs = app.store().runs_for(&inc.id).await.unwrap();
        assert!(!runs.is_empty(), "{path}: auto-triage ran something");
        assert!(
            runs.iter().all(|r| r.risk == "read"),
            "{path}: only read steps run unattended"
        );
        assert_eq!(
            runs.len(),
            results.iter().filter(|r| r.is_ok()).count(),
            "{path}"
        );
    }
    let report = app.store().verify_ledger().await.unwrap();
    assert!(report.ok());
    app.close().await;
}
