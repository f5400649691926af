//! Escalation sweeps turn policies into durable jobs: pages once per engine id,
//! status-update reminders counted from the last note, not from the declaration, and
//! an attached runbook's severity scale winning over the config's, and post-incident
//! follow-ups opened as action items with reminders when the incident resolves.

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
    let runbooks = dir.join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/runbooks/29-severity-prose.md"
        ),
        runbooks.join("payments.md"),
    )
    .unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/runbooks/31-post-incident-deadlines.md"
        ),
        runbooks.join("failover.md"),
    )
    .unwrap();
    let cfg = Config {
        data_dir: Some(dir.join("data")),
        escalation: Some(policy),
        runbooks: Some(runbooks),
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

#[tokio::test(flavor = "multi_thread")]
async fn the_runbook_scale_sets_cadence_and_escalation_reminders() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    // payments.md's SEV2: updates every 30 minutes (the config's SEV2 says the same),
    // escalate after 30 minutes; its SEV1: updates every 15, escalate after 15.
    let mut with = declare("runbook attached");
    with.severity = Some("SEV2".into());
    with.runbooks = vec!["payments.md".into()];
    let with = app
        .declare(with, &Principal::asserted("ann"))
        .await
        .unwrap();
    let mut without = declare("no runbook");
    without.severity = Some("SEV2".into());
    let without = app
        .declare(without, &Principal::asserted("ann"))
        .await
        .unwrap();

    let later = with.created_ms.max(without.created_ms) + 31 * 60 * 1000;
    app.sweep_escalations(later, None).await.unwrap();
    let jobs = |id: String| {
        let app = app.clone();
        async move { app.store().jobs_for(&id).await.unwrap() }
    };
    let due = |js: &[sitrep_app::store::Job], what: &str| {
        js.iter()
            .find(|j| j.kind == "reminder" && j.payload["what"] == what)
            .map(|j| j.due_ms)
    };
    let (w, wo) = (jobs(with.id.clone()).await, jobs(without.id.clone()).await);
    let thirty = 30 * 60 * 1000;
    assert_eq!(
        due(&w, "EscalateOverdue"),
        Some(with.created_ms + thirty),
        "{w:?}"
    );
    assert_eq!(
        due(&wo, "EscalateOverdue"),
        None,
        "the config has no escalation point"
    );
    assert_eq!(due(&w, "StatusUpdate"), Some(with.created_ms + thirty));
    // The runbook's SEV2 response time (15 minutes) is the acknowledgement target: the
    // config's is 15 minutes too, so raise the stakes with SEV1, whose runbook response
    // is immediate (0) where the config gives 5 minutes.
    let mut sev1 = declare("sev1 with runbook");
    sev1.runbooks = vec!["payments.md".into()];
    let sev1 = app
        .declare(sev1, &Principal::asserted("ann"))
        .await
        .unwrap();
    app.sweep_escalations(sev1.created_ms + 60 * 1000, None)
        .await
        .unwrap();
    let s = jobs(sev1.id.clone()).await;
    assert_eq!(
        due(&s, "AckOverdue"),
        Some(sev1.created_ms),
        "immediate: due at once"
    );
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resolving_opens_the_runbooks_follow_ups_as_owned_action_items_with_reminders() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let mut new = declare("failover");
    new.runbooks = vec!["failover.md".into()];
    let inc = app.declare(new, &Principal::asserted("ann")).await.unwrap();
    // Only the stand-down items gate resolving; the follow-ups do not.
    let gates: Vec<String> = app
        .view(&inc.id)
        .await
        .unwrap()
        .checklist
        .iter()
        .map(|c| c.text.clone())
        .collect();
    assert_eq!(
        gates,
        [
            "Replication lag is back under 1 second",
            "The old primary is fenced"
        ]
    );
    app.tick(&inc.id, "1", true, &Principal::asserted("carol"))
        .await
        .unwrap();
    app.tick(&inc.id, "2", true, &Principal::asserted("carol"))
        .await
        .unwrap();
    let resolved = app
        .resolve(&inc.id, &Principal::asserted("carol"), None)
        .await
        .unwrap();
    let at = resolved.resolved_ms.unwrap();

    let view = app.view(&inc.id).await.unwrap();
    let hour = 3_600_000;
    let got: Vec<(&str, Option<&str>, Option<i64>)> = view
        .actions
        .iter()
        .map(|a| {
            (
                a.title.as_str(),
                a.owner.as_deref(),
                a.due_ms.map(|d| (d - at) / hour),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Post the final status update", Some("carol"), Some(1)),
            ("File the incident ticket", Some("carol"), Some(1)),
            ("Write the timeline", Some("carol"), Some(24)),
            (
                "Rebuild the old primary as a replica",
                Some("carol"),
                Some(24)
            ),
            ("Hold the post-incident review", Some("carol"), Some(48)),
        ],
        "the ticked `Book the room` is not opened"
    );
    // One reminder per item, to the owner's contact, due with the item.
    let jobs = app.store().jobs_for(&inc.id).await.unwrap();
    for a in &view.actions {
        let key = format!("{}:action-due:{}:carol-hook", inc.id, a.id);
        let job = jobs
            .iter()
            .find(|j| j.dedupe_key == key)
            .unwrap_or_else(|| panic!("{key} in {jobs:?}"));
        assert_eq!(
            (job.kind.as_str(), Some(job.due_ms)),
            ("reminder", a.due_ms)
        );
        assert_eq!(job.payload["what"], sitrep_app::followups::ACTION_DUE);
        assert_eq!(
            sitrep_app::followups::action_of(&job.dedupe_key),
            Some(a.id.as_str())
        );
    }
    // Sealed: the post-mortem (rendered from the ledger) lists them, nothing drifts.
    let pm = app.postmortem(&inc.id).await.unwrap();
    assert!(
        pm.contains("| open | Hold the post-incident review | carol |"),
        "{pm}"
    );
    assert!(app.drift().await.unwrap().is_empty());
    // Reopening and resolving again opens nothing twice.
    app.reopen(
        &inc.id,
        &Principal::asserted("carol"),
        "replica fell behind",
    )
    .await
    .unwrap();
    app.resolve(&inc.id, &Principal::asserted("carol"), None)
        .await
        .unwrap();
    assert_eq!(app.view(&inc.id).await.unwrap().actions.len(), 5);
    app.close().await;
}
