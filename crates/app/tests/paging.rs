//! Escalation sweeps turn policies into durable jobs: pages once per engine id, and
//! status-update reminders counted from the last note, not from the declaration.

use sitrep_app::Principal;
use std::path::Path;

use sitrep_app::{App, Config, NewIncident};

async fn open(dir: &Path) -> App {
    let policy = dir.join("escalation.toml");
    std::fs::write(
        &policy,
        r#"
[[people]]
id = "carol"
name = "Carol"
contacts = [{ id = "carol-hook", webhook = "http://127.0.0.1:9/hook" }]

[[policies]]
id = "p"
[[policies.levels]]
targets = ["person:carol"]

[[services]]
id = "local-svc"
policy = "p"
"#,
    )
    .unwrap();
    let cfg = Config {
        data_dir: Some(dir.join("data")),
        escalation: Some(policy),
        ..Config::default()
    };
    App::open(cfg).await.unwrap()
}

fn declare(title: &str) -> NewIncident {
    NewIncident {
        title: title.into(),
        severity: Some("SEV1".into()),
        service: Some("local-svc".into()),
        commander: Some("carol".into()),
        ..NewIncident::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_once_and_reminds_from_the_last_update() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let quiet = app
        .declare(declare("nobody posts updates"), &Principal::asserted("ann"))
        .await
        .unwrap();
    let chatty = app
        .declare(declare("updates posted"), &Principal::asserted("ann"))
        .await
        .unwrap();
    let note = app
        .note(
            &chatty.id,
            "status: rolling back",
            &Principal::asserted("carol"),
        )
        .await
        .unwrap();
    let noted = app.incident(&chatty.id).await.unwrap();
    assert_eq!(
        noted.last_update_ms,
        Some(i64::try_from(note.record.time_ms).unwrap())
    );

    // Sixteen minutes on: SEV1 wants an update every 15.
    let later = noted.last_update_ms.unwrap() + 16 * 60 * 1000;
    let first = app.sweep_escalations(later, None).await.unwrap();
    assert_eq!(first.incidents, 2);
    assert!(first.enqueued > 0);
    // Sweeping again (a restart, another replica) enqueues nothing new.
    let again = app.sweep_escalations(later, None).await.unwrap();
    let jobs = |id: String| {
        let app = app.clone();
        async move { app.store().jobs_for(&id).await.unwrap() }
    };
    let (q, c) = (jobs(quiet.id.clone()).await, jobs(chatty.id.clone()).await);
    assert_eq!(again.enqueued, 0, "{q:?} {c:?}");
    assert_eq!(
        q.iter().filter(|j| j.kind == "page").count(),
        1,
        "one page per contact: {q:?}"
    );

    let update_due = |js: &[sitrep_app::store::Job]| {
        js.iter()
            .find(|j| j.kind == "reminder" && j.payload["what"] == "StatusUpdate")
            .map(|j| j.due_ms)
    };
    let fifteen = 15 * 60 * 1000;
    assert_eq!(
        update_due(&q),
        Some(quiet.created_ms + fifteen),
        "from the declaration"
    );
    assert_eq!(
        update_due(&c),
        Some(noted.last_update_ms.unwrap() + fifteen),
        "from the note"
    );

    // Acknowledging cancels the pending page in the same transaction.
    app.acknowledge(&quiet.id, &Principal::asserted("carol"))
        .await
        .unwrap();
    let q = jobs(quiet.id.clone()).await;
    assert!(
        q.iter()
            .filter(|j| j.kind == "page")
            .all(|j| j.state == "cancelled"),
        "{q:?}"
    );
    app.close().await;
}
