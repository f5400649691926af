//! Two-person control: a run the policy holds back asks for an approval that is stored
//! (it survives a restart), granted by someone else, matched to exactly that run, used
//! once, and sealed in the ledger; secret values never reach the database.

#[path = "support/secrets.rs"]
mod secrets;

use sitrep_app::Principal;
use std::collections::BTreeMap;
use std::path::Path;

use sitrep_app::config::ApprovalRule;
use sitrep_app::{App, AppError, Config, Mode, NewIncident, NullSink, RunRequest};

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/backends.rs"]
mod support;
use fixtures::fixtures;

async fn open(dir: &Path, url: Option<&str>) -> App {
    let mut cfg = Config {
        data_dir: Some(dir.join("data")),
        runbooks: Some(fixtures()),
        database_url: url.map(str::to_owned),
        ..Config::default()
    };
    cfg.policy.approvals = vec![ApprovalRule {
        level: "destructive".into(),
        severities: Vec::new(),
    }];
    App::open(cfg).await.expect("open app")
}

fn wipe(incident: &str, marker: &Path, actor: &str) -> RunRequest {
    let mut set = BTreeMap::new();
    set.insert("marker".to_owned(), marker.display().to_string());
    set.insert("API_TOKEN".to_owned(), "hunter2-very-secret".to_owned());
    RunRequest {
        incident: incident.to_owned(),
        runbook: "local-service.md".to_owned(),
        step: "wipe".to_owned(),
        actor: Principal::asserted(actor),
        set,
        confirmed: None,
        approval: None,
        mode: Mode::Interactive,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_is_durable_granted_by_another_and_used_once() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("approvals on {label}");
        approval_story(url.as_deref()).await;
    }
    backends.done().await;
}

async fn approval_story(url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("to-wipe");
    std::fs::write(&marker, "x").unwrap();
    let app = open(dir.path(), url).await;
    let inc = app
        .declare(
            NewIncident {
                title: "approve me".into(),
                runbooks: vec!["local-service.md".into()],
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap();
    let id = inc.id.clone();

    let mut req = wipe(&id, &marker, "ann");
    req.confirmed = Some(app.plan(&req).await.unwrap().id);
    let err = app
        .run_step(&req, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    let AppError::NeedsApproval {
        approval: Some(pending),
        ..
    } = err
    else {
        panic!("expected an approval request, got {err}");
    };
    assert_eq!(pending.requested_by, "ann");
    assert_eq!(pending.step, "wipe");
    assert_eq!(pending.set["API_TOKEN"], "[secret]");
    assert!(pending.approvers.is_empty());
    // Asking again finds the same request instead of piling up new ones.
    let again = app
        .run_step(&req, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    assert!(
        matches!(&again, AppError::NeedsApproval { approval: Some(a), .. } if a.id == pending.id),
        "{again}"
    );
    assert!(marker.exists(), "nothing ran");
    app.close().await;

    // A restart keeps the request.
    let app = open(dir.path(), url).await;
    let open_now = app.approvals(&id).await.unwrap();
    assert_eq!(open_now.len(), 1);
    assert_eq!(open_now[0].id, pending.id);

    // Not granted yet: presenting it does not run anything.
    req.approval = Some(pending.id.clone());
    let err = app
        .run_step(&req, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nobody has approved"), "{err}");

    // The requester cannot approve; someone else can, once.
    let err = app
        .approve(&id, &pending.id, &Principal::asserted("ann"))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::SelfApproval), "{err}");
    let granted = app
        .approve(&id, &pending.id, &Principal::asserted("cleo"))
        .await
        .unwrap();
    assert_eq!(granted.approvers, ["cleo"]);
    assert!(granted.is_granted());
    let twice = app
        .approve(&id, &pending.id, &Principal::asserted("cleo"))
        .await
        .unwrap();
    assert_eq!(twice.approvers, ["cleo"]);

    // It is for exactly that run: other values or another requester do not match.
    let mut other = req.clone();
    other
        .set
        .insert("marker".to_owned(), "/tmp/somewhere-else".to_owned());
    other.confirmed = Some(
        app.plan(&wipe(&id, Path::new("/tmp/somewhere-else"), "ann"))
            .await
            .unwrap()
            .id,
    );
    let err = app
        .run_step(&other, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another run"), "{err}");
    let mut thief = req.clone();
    thief.actor = Principal::asserted("mallory");
    let err = app
        .run_step(&thief, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another run"), "{err}");
    // Without naming it, someone else's identical run gets a request of its own.
    thief.approval = None;
    let err = app
        .run_step(&thief, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::NeedsApproval { approval: Some(a), .. } if a.id != pending.id),
        "{err}"
    );
    assert!(marker.exists());

    // The real run, the held run simply run again (the granted approval for exactly
    // this run applies without its id): approver recorded, the approval used up.
    let mut plain = req.clone();
    plain.approval = None;
    let report = app
        .run_step(&plain, std::sync::Arc::new(NullSink))
        .await
        .unwrap();
    assert_eq!(report.run.approver.as_deref(), Some("cleo"));
    assert_eq!(report.run.status, "succeeded");
    assert!(!marker.exists());
    let err = app
        .run_step(&req, std::sync::Arc::new(NullSink))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no open approval"), "{err}");
    let left: Vec<String> = app
        .approvals(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.requested_by)
        .collect();
    assert_eq!(
        left,
        ["mallory"],
        "only the other requester's is still open"
    );
    let err = app
        .approve(&id, &pending.id, &Principal::asserted("dora"))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }), "{err}");

    // On the record, in order, with the right people.
    let size = app.store().tree_size().await.unwrap();
    let events = app.store().events(0, size).await.unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.record.event_type.as_str(), e.record.actor.as_str()))
        .filter(|(k, _)| k.starts_with("approval.") || *k == "step.run")
        .collect();
    assert_eq!(
        kinds,
        [
            ("approval.requested", "ann"),
            ("approval.granted", "cleo"),
            ("approval.requested", "mallory"),
            ("step.run", "ann"),
        ]
    );
    let run = events
        .iter()
        .find(|e| e.record.event_type == "step.run")
        .unwrap();
    assert_eq!(run.record.payload["approver"], "cleo");
    let pm = app.postmortem(&id).await.unwrap();
    assert!(pm.contains("`wipe` approved (asked by ann)"), "{pm}");
    assert!(pm.contains("ann (approved by cleo)"), "{pm}");
    app.close().await;

    // The secret value reached the process, never the database.
    secrets::assert_no_file_holds(&dir.path().join("data"), "hunter2-very-secret");
}
