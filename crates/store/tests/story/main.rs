//! The store's story, told once and run on every backend: an incident is declared and
//! worked (alerts, runs, checklist, action items, jobs, leases, tokens), its timeline
//! is proven from the ledger, the store is reopened and finds everything, and a
//! tampered or shrunken ledger is refused at open. The chapters beyond the incident
//! itself live in files of their own (jobs, leases, access, evidence, tamper).

mod access;
#[path = "../common/mod.rs"]
mod common;
mod evidence;
mod jobs;
mod leases;
mod tamper;

use std::collections::BTreeMap;

use common::{Db, ORIGIN, event, on_each_backend, signer};
use sitrep_ledger::{
    Checkpoint, Hash, Record, leaf_hash, tree_hash_indexes, verify_consistency, verify_inclusion,
};
use sitrep_store::{
    ActionItem, Alert, ApiToken, ApprovalRow, Backend, Change, ChecklistItem, Incident,
    IncidentFilter, NewJob, RawPayload, SessionRow, StepRun, Store, StoreError, StoredCheckpoint,
    Write,
};

const T0: i64 = 1_700_000_000_000;

fn incident(id: &str, title: &str, group: Option<&str>) -> Incident {
    Incident {
        id: id.into(),
        number: 0,
        title: title.into(),
        severity: "sev2".into(),
        status: "triggered".into(),
        service: Some("checkout".into()),
        runbooks: vec!["checkout/latency.md".into()],
        roles: BTreeMap::from([("commander".to_string(), "alice".to_string())]),
        group_key: group.map(Into::into),
        created_ms: T0,
        acknowledged_ms: None,
        mitigated_ms: None,
        resolved_ms: None,
        last_update_ms: None,
        updated_ms: T0,
        version: 0,
    }
}

fn change(writes: Vec<Write>, events: Vec<Record>) -> Change {
    Change { writes, events }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story() {
    let ran = on_each_backend(|db| async move { tell(db).await }).await;
    eprintln!("story ran on {ran:?}");
    let mut want = vec![Backend::Sqlite];
    if common::postgres_url().is_some() {
        want.push(Backend::Postgres);
    }
    assert_eq!(ran, want, "the story ran on every configured backend");
}

async fn tell(db: Db) {
    let store = db.open().await;
    assert_eq!(store.backend(), db.backend);
    assert_eq!(store.tree_size().await.unwrap(), 0);
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    let (inc, other) = declare_and_update(&store).await;
    let (alert, run) = alerts_and_runs(&store, &inc).await;
    let action = checklist_and_actions(&store, &inc).await;
    listing_and_timeline(&store, &inc, &other).await;
    let (cp1, root) = proofs(&store).await;
    group_commit(&store, &other, &inc, &cp1, &root).await;

    jobs::jobs(&store, &inc.id).await;
    leases::leases(&store, &inc.id).await;
    access::tokens_and_payloads(&store).await;
    access::approvals_and_sessions(&store, &inc.id).await;
    evidence::holds_and_expiry(&store, &inc.id).await;
    evidence::contact_sends(&store).await;

    let report = store.verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries_checked, report.tree_size);
    assert_eq!(report.checkpoints_checked, 2);

    reopen(&db, store, &inc, (&run, &action, &alert)).await;
}

/// Declare an incident, refuse a second for its group, number the next, and settle
/// two updates racing on one version.
async fn declare_and_update(store: &Store) -> (Incident, Incident) {
    // Declare an incident: the row and its first timeline event commit together.
    let inc = incident(
        &sitrep_store::new_id(),
        "Checkout latency",
        Some("g-latency"),
    );
    let c = store
        .commit(change(
            vec![Write::InsertIncident(inc.clone())],
            vec![event("incident.declared", &inc.id, 1, "alice")],
        ))
        .await
        .unwrap();
    assert_eq!(c.indexes, vec![0]);
    assert_eq!(c.tree_size, 1);
    let stored = store.incident(&inc.id).await.unwrap().unwrap();
    assert_eq!((stored.number, stored.version), (1, 1));
    assert_eq!(stored.roles, inc.roles);
    assert_eq!(store.incident("1").await.unwrap(), Some(stored.clone()));
    assert_eq!(store.incident("999").await.unwrap(), None);
    assert_eq!(
        store
            .open_incident_for_group("g-latency")
            .await
            .unwrap()
            .map(|i| i.id),
        Some(inc.id.clone())
    );

    // A second open incident for the same group is refused, and nothing of that
    // change (its event) lands in the ledger.
    let dup = incident(&sitrep_store::new_id(), "Duplicate", Some("g-latency"));
    let err = store
        .commit(change(
            vec![Write::InsertIncident(dup.clone())],
            vec![event("incident.declared", &dup.id, 2, "bob")],
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { id, .. } if id == "g-latency"),
        "{err}"
    );
    assert_eq!(store.tree_size().await.unwrap(), 1);
    assert_eq!(store.incident(&dup.id).await.unwrap(), None);

    // An unrelated incident gets the next number.
    let other = incident(&sitrep_store::new_id(), "Disk full", None);
    store
        .commit(change(
            vec![Write::InsertIncident(other.clone())],
            vec![event("incident.declared", &other.id, 3, "bob")],
        ))
        .await
        .unwrap();
    assert_eq!(store.incident(&other.id).await.unwrap().unwrap().number, 2);

    // Optimistic concurrency: the update naming version 1 wins, a second one naming
    // version 1 conflicts and leaves no trace.
    let mut acked = stored.clone();
    acked.status = "acknowledged".into();
    acked.acknowledged_ms = Some(T0 + 60_000);
    store
        .commit(change(
            vec![Write::UpdateIncident {
                incident: acked.clone(),
                expected_version: 1,
            }],
            vec![event("incident.acknowledged", &inc.id, 4, "alice")],
        ))
        .await
        .unwrap();
    let mut stale = stored.clone();
    stale.title = "lost update".into();
    let err = store
        .commit(change(
            vec![Write::UpdateIncident {
                incident: stale,
                expected_version: 1,
            }],
            vec![event("incident.updated", &inc.id, 5, "bob")],
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                what: "incident",
                ..
            }
        ),
        "{err}"
    );
    let now = store.incident(&inc.id).await.unwrap().unwrap();
    assert_eq!((now.version, now.status.as_str()), (2, "acknowledged"));
    assert_eq!(now.title, "Checkout latency");
    assert_eq!(store.tree_size().await.unwrap(), 3);
    (inc, other)
}

/// Alerts upserted by fingerprint; a step run written at its start and its end.
async fn alerts_and_runs(store: &Store, inc: &Incident) -> (Alert, StepRun) {
    // Alerts are upserted by fingerprint.
    let mut alert = Alert {
        fingerprint: "a1b2c3d4e5f60718".into(),
        source: "alertmanager".into(),
        status: "firing".into(),
        labels: BTreeMap::from([("alertname".to_string(), "HighLatency".to_string())]),
        annotations: BTreeMap::new(),
        starts_ms: T0,
        ends_ms: None,
        incident_id: Some(inc.id.clone()),
        updated_ms: T0,
    };
    store
        .commit(change(vec![Write::UpsertAlert(alert.clone())], vec![]))
        .await
        .unwrap();
    alert.status = "resolved".into();
    alert.ends_ms = Some(T0 + 600_000);
    store
        .commit(change(
            vec![Write::UpsertAlert(alert.clone())],
            vec![event("alert.resolved", &inc.id, 6, "alertmanager")],
        ))
        .await
        .unwrap();
    assert_eq!(
        store.alert(&alert.fingerprint).await.unwrap(),
        Some(alert.clone())
    );
    assert_eq!(
        store.alerts_for(&inc.id).await.unwrap(),
        vec![alert.clone()]
    );
    assert_eq!(store.alert("ffffffffffffffff").await.unwrap(), None);

    // A delivery's alerts are read in one query per 256 fingerprints: 300 stored and one
    // unknown fingerprint come back as exactly the 300; the groups' open incidents too.
    let many: Vec<Alert> = (0..300)
        .map(|n| Alert {
            fingerprint: format!("{n:016x}"),
            incident_id: None,
            ..alert.clone()
        })
        .collect();
    store
        .commit(change(
            many.iter().cloned().map(Write::UpsertAlert).collect(),
            vec![],
        ))
        .await
        .unwrap();
    let mut asked: Vec<String> = many.iter().map(|a| a.fingerprint.clone()).collect();
    asked.push("eeeeeeeeeeeeeeee".into());
    let mut found = store.alerts_by_fingerprint(&asked).await.unwrap();
    found.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    assert_eq!(found, many);
    assert!(store.alerts_by_fingerprint(&[]).await.unwrap().is_empty());
    // Runs of upserts are multi-row statements: a fingerprint twice in one change is
    // applied in order (the later row wins), and an unknown incident fails the change.
    let (mut first, mut again) = (many[0].clone(), many[0].clone());
    first.status = "resolved".into();
    again.status = "firing".into();
    again.updated_ms = T0 + 1;
    store
        .commit(change(
            vec![
                Write::UpsertAlert(many[1].clone()),
                Write::UpsertAlert(first),
                Write::UpsertAlert(again.clone()),
            ],
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(store.alert(&again.fingerprint).await.unwrap(), Some(again));
    let orphans: Vec<Write> = many[..3]
        .iter()
        .map(|a| {
            Write::UpsertAlert(Alert {
                incident_id: Some("no-such-incident".into()),
                ..a.clone()
            })
        })
        .collect();
    let err = store.commit(change(orphans, vec![])).await.unwrap_err();
    assert!(matches!(&err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(
        store.alert(&many[2].fingerprint).await.unwrap(),
        Some(many[2].clone())
    );
    let open = store
        .open_incidents_for_groups(&["g-none".into(), "g-latency".into()])
        .await
        .unwrap();
    assert_eq!(
        open.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        [inc.id.as_str()]
    );

    // A step run is written when it starts and replaced when it ends.
    let mut run = StepRun {
        id: sitrep_store::new_id(),
        incident_id: inc.id.clone(),
        runbook: "checkout/latency.md".into(),
        step_id: "liveness".into(),
        command: "curl -fsS \"${SITREP_P_HOST}\"/healthz".into(),
        bound: BTreeMap::from([("HOST".to_string(), "checkout.internal".to_string())]),
        risk: "read".into(),
        actor: "sitrep".into(),
        approver: None,
        status: "running".into(),
        started_ms: T0 + 1_000,
        ended_ms: None,
        exit_code: None,
        verdict: None,
        stdout_sha256: None,
        stderr_sha256: None,
    };
    store
        .commit(change(vec![Write::PutRun(run.clone())], vec![]))
        .await
        .unwrap();
    run.status = "succeeded".into();
    run.ended_ms = Some(T0 + 1_500);
    run.exit_code = Some(0);
    run.stdout_sha256 = Some("ab".repeat(32));
    store
        .commit(change(
            vec![Write::PutRun(run.clone())],
            vec![event("step.run", &inc.id, 7, "sitrep")],
        ))
        .await
        .unwrap();
    assert_eq!(store.run(&run.id).await.unwrap(), Some(run.clone()));
    assert_eq!(store.runs_for(&inc.id).await.unwrap(), vec![run.clone()]);

    // A run for an incident that does not exist is refused by the foreign key.
    let mut orphan = run.clone();
    orphan.id = sitrep_store::new_id();
    orphan.incident_id = "no-such-incident".into();
    let err = store
        .commit(change(vec![Write::PutRun(orphan)], vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "incident",
                ..
            }
        ),
        "{err}"
    );
    (alert, run)
}

/// Checklist items keep their order; action items.
async fn checklist_and_actions(store: &Store, inc: &Incident) -> ActionItem {
    // Checklist items keep the order they were added in, also after updates.
    let item = |id: &str, text: &str, required: bool| ChecklistItem {
        incident_id: inc.id.clone(),
        source: "checkout/latency.md".into(),
        item_id: id.into(),
        text: text.into(),
        required,
        checked: false,
        checked_by: None,
        checked_ms: None,
    };
    let items = [
        item("b", "Error rate back to normal", true),
        item("a", "Status page updated", true),
        item("c", "Post-mortem scheduled", false),
    ];
    store
        .commit(change(
            items.iter().cloned().map(Write::PutChecklistItem).collect(),
            vec![],
        ))
        .await
        .unwrap();
    let mut ticked = items[1].clone();
    ticked.checked = true;
    ticked.checked_by = Some("alice".into());
    ticked.checked_ms = Some(T0 + 5_000);
    store
        .commit(change(
            vec![Write::PutChecklistItem(ticked.clone())],
            vec![event("checklist.checked", &inc.id, 8, "alice")],
        ))
        .await
        .unwrap();
    let list = store.checklist(&inc.id).await.unwrap();
    assert_eq!(list, vec![items[0].clone(), ticked, items[2].clone()]);

    // Action items.
    let action = ActionItem {
        id: sitrep_store::new_id(),
        incident_id: inc.id.clone(),
        title: "Add latency SLO alert".into(),
        owner: Some("bob".into()),
        due_ms: Some(T0 + 86_400_000),
        status: "open".into(),
        created_ms: T0 + 9_000,
        updated_ms: T0 + 9_000,
    };
    store
        .commit(change(vec![Write::PutActionItem(action.clone())], vec![]))
        .await
        .unwrap();
    assert_eq!(
        store.action_items(&inc.id).await.unwrap(),
        vec![action.clone()]
    );
    action
}

/// Listing with filters, and the timeline read from the ledger.
async fn listing_and_timeline(store: &Store, inc: &Incident, other: &Incident) {
    // Listing with filters, newest first.
    let all = store.incidents(&IncidentFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let acked_only = store
        .incidents(&IncidentFilter {
            statuses: vec!["acknowledged".into()],
            severity: Some("sev2".into()),
            service: Some("checkout".into()),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        acked_only.iter().map(|i| &i.id).collect::<Vec<_>>(),
        vec![&inc.id]
    );

    // The timeline is the ledger: this incident's events, in ledger order.
    let timeline = store.timeline(&inc.id, None).await.unwrap();
    let types: Vec<&str> = timeline
        .iter()
        .map(|e| e.record.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        vec![
            "incident.declared",
            "incident.acknowledged",
            "alert.resolved",
            "step.run",
            "checklist.checked"
        ]
    );
    assert!(timeline.windows(2).all(|w| w[0].index < w[1].index));
    let tail = store
        .timeline(&inc.id, Some(timeline[2].index))
        .await
        .unwrap();
    assert_eq!(tail, timeline[3..].to_vec());
    assert_eq!(store.timeline(&other.id, None).await.unwrap().len(), 1);
}

/// Every event is provably in the tree; a signed checkpoint and the root it signs.
async fn proofs(store: &Store) -> (StoredCheckpoint, Hash) {
    // Every event is provably in the tree.
    let size = store.tree_size().await.unwrap();
    let root = store.root(size).await.unwrap();
    let events = store.events(0, size).await.unwrap();
    assert_eq!(events.len() as u64, size);
    for e in &events {
        let proof = store.inclusion_proof(e.index, size).await.unwrap();
        verify_inclusion(
            &leaf_hash(&e.record.encode().unwrap()),
            e.index,
            size,
            &proof,
            &root,
        )
        .unwrap();
    }
    assert!(matches!(
        store.root(size + 1).await,
        Err(StoreError::SizeOutOfRange { .. })
    ));

    // A signed checkpoint; unchanged tree, same checkpoint.
    let cp1 = store.checkpoint_now().await.unwrap();
    assert_eq!(cp1.size, size);
    let opened = Checkpoint::open(&cp1.signed_note, &[signer().verifier()]).unwrap();
    assert_eq!(
        (opened.origin.as_str(), opened.size, opened.root),
        (ORIGIN, size, root)
    );
    assert_eq!(store.checkpoint_now().await.unwrap(), cp1);
    (cp1, root)
}

/// Many committers at once, one stale, and a consistency proof from `cp1`.
async fn group_commit(
    store: &Store,
    other: &Incident,
    inc: &Incident,
    cp1: &StoredCheckpoint,
    root: &Hash,
) {
    let size = cp1.size;
    // Group commit: many committers at once, one of them stale. Only that one fails.
    let current = store.incident(&inc.id).await.unwrap().unwrap();
    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let store = store.clone();
        let mut write = vec![];
        if i == 17 {
            let mut s = current.clone();
            s.title = "stale".into();
            write.push(Write::UpdateIncident {
                incident: s,
                expected_version: 1,
            });
        }
        let ev = event("note.added", &other.id, 100 + i, "carol");
        tasks.push(tokio::spawn(async move {
            store.commit(change(write, vec![ev])).await
        }));
    }
    let mut indexes = Vec::new();
    let mut failures = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(c) => indexes.extend(c.indexes),
            Err(StoreError::Conflict { .. }) => failures += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(failures, 1);
    indexes.sort_unstable();
    assert_eq!(indexes, (size..size + 39).collect::<Vec<_>>());

    // Consistency between the first checkpoint and a new one.
    let cp2 = store.checkpoint_now().await.unwrap();
    assert_eq!(cp2.size, size + 39);
    let root2 = store.root(cp2.size).await.unwrap();
    let proof = store.consistency_proof(cp1.size, cp2.size).await.unwrap();
    verify_consistency(cp1.size, cp2.size, &proof, root, &root2).unwrap();
}

/// Close, reopen and find everything; the background task signs what comes after.
async fn reopen(
    db: &Db,
    store: Store,
    inc: &Incident,
    (run, action, alert): (&StepRun, &ActionItem, &Alert),
) {
    // Close: the final checkpoint covers everything, later commits are refused.
    let size = store.tree_size().await.unwrap();
    let timeline = store.timeline(&inc.id, None).await.unwrap();
    store.close().await;
    assert!(matches!(
        store.commit(Change::default()).await,
        Err(StoreError::Closed)
    ));

    // Reopen and find everything (with the background checkpoint task running often).
    let mut opts = db.options();
    opts.checkpoint_every = std::time::Duration::from_millis(50);
    let store = Store::open(opts).await.unwrap();
    assert_eq!(store.tree_size().await.unwrap(), size);
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().size, size);
    assert_eq!(store.timeline(&inc.id, None).await.unwrap(), timeline);
    assert_eq!(store.incident(&inc.id).await.unwrap().unwrap().version, 2);
    assert_eq!(store.checklist(&inc.id).await.unwrap().len(), 3);
    assert_eq!(store.runs_for(&inc.id).await.unwrap(), vec![run.clone()]);
    assert_eq!(
        store.action_items(&inc.id).await.unwrap(),
        vec![action.clone()]
    );
    assert_eq!(
        store.alert(&alert.fingerprint).await.unwrap(),
        Some(alert.clone())
    );
    assert_eq!(store.tokens().await.unwrap().len(), 2);
    let more = store
        .commit(change(
            vec![],
            vec![event("note.added", &inc.id, 999, "alice")],
        ))
        .await
        .unwrap();
    assert_eq!(more.indexes, vec![size]);
    // The background task signs the grown tree by itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.latest_checkpoint().await.unwrap().unwrap().size != size + 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "no background checkpoint"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(store.checkpoint_error(), None);

    store.close().await;
    // Without the background task, so the tail below stays unsigned.
    tamper::tamper(db, db.open().await).await;
}
