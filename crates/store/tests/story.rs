//! The store's story, told once and run on every backend: an incident is declared and
//! worked (alerts, runs, checklist, action items, jobs, leases, tokens), its timeline
//! is proven from the ledger, the store is reopened and finds everything, and a
//! tampered or shrunken ledger is refused at open.

mod common;

use std::collections::BTreeMap;

use common::{Db, ORIGIN, event, on_each_backend, signer};
use sitrep_ledger::{
    Checkpoint, Record, leaf_hash, tree_hash_indexes, verify_consistency, verify_inclusion,
};
use sitrep_store::{
    ActionItem, Alert, ApiToken, ApprovalRow, Backend, Change, ChecklistItem, Incident,
    IncidentFilter, NewJob, RawPayload, SessionRow, StepRun, Store, StoreError, Write,
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
    verify_consistency(cp1.size, cp2.size, &proof, &root, &root2).unwrap();

    jobs(&store, &inc.id).await;
    leases(&store, &inc.id).await;
    tokens_and_payloads(&store).await;
    approvals_and_sessions(&store, &inc.id).await;
    holds_and_expiry(&store, &inc.id).await;
    contact_sends(&store).await;

    let report = store.verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries_checked, report.tree_size);
    assert_eq!(report.checkpoints_checked, 2);

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
    assert_eq!(store.runs_for(&inc.id).await.unwrap(), vec![run]);
    assert_eq!(store.action_items(&inc.id).await.unwrap(), vec![action]);
    assert_eq!(store.alert(&alert.fingerprint).await.unwrap(), Some(alert));
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
    tamper(&db, db.open().await).await;
}

async fn jobs(store: &Store, incident_id: &str) {
    let page = |key: &str, kind: &str, due: i64| NewJob {
        kind: kind.into(),
        dedupe_key: key.into(),
        incident_id: Some(incident_id.into()),
        payload: serde_json::json!({"target": "alice", "key": key}),
        due_ms: due,
    };
    // Enqueueing the same key twice is one job.
    store
        .commit(change(
            vec![
                Write::EnqueueJob(page("page:1", "page", T0)),
                Write::EnqueueJob(page("page:1", "page", T0)),
                Write::EnqueueJob(page("remind:1", "remind", T0 + 10_000)),
            ],
            vec![event("page.scheduled", incident_id, 20, "sitrep")],
        ))
        .await
        .unwrap();
    store
        .commit(change(
            vec![Write::EnqueueJob(page("page:1", "page", T0))],
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(store.jobs_for(incident_id).await.unwrap().len(), 2);
    assert_eq!(store.pending_jobs().await.unwrap(), 2);

    // w1 claims the due page; nobody else gets it while the lock holds.
    let claimed = store
        .claim_jobs("w1", &["page"], T0 + 1, 10, 1_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let job = &claimed[0];
    assert_eq!(
        (
            job.dedupe_key.as_str(),
            job.state.as_str(),
            job.attempts,
            job.locked_by.as_deref()
        ),
        ("page:1", "running", 1, Some("w1"))
    );
    assert_eq!(job.payload["target"], "alice");
    assert!(
        store
            .claim_jobs("w2", &["page"], T0 + 10, 10, 1_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.complete_job(&job.id, "w2").await,
        Err(StoreError::Conflict { .. })
    ));

    // w1 dies; after its lock expires w2 reclaims the job (at least once).
    let again = store
        .claim_jobs("w2", &["page"], T0 + 2_000, 10, 1_000)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id.as_str(), again[0].attempts),
        (job.id.as_str(), 2)
    );
    assert!(matches!(
        store.complete_job(&job.id, "w1").await,
        Err(StoreError::Conflict { .. })
    ));

    // Retry later; not claimable before it is due again.
    store
        .retry_job(&job.id, "w2", T0 + 5_000, "webhook timed out")
        .await
        .unwrap();
    assert!(
        store
            .claim_jobs("w1", &[], T0 + 3_000, 10, 1_000)
            .await
            .unwrap()
            .is_empty()
    );
    let third = store
        .claim_jobs("w1", &["page"], T0 + 5_000, 10, 1_000)
        .await
        .unwrap();
    assert_eq!(third[0].last_error.as_deref(), Some("webhook timed out"));
    store.complete_job(&job.id, "w1").await.unwrap();

    // Acknowledgement cancels the pending reminders.
    store
        .commit(change(
            vec![Write::CancelJobs {
                incident_id: incident_id.into(),
                kind: "remind".into(),
            }],
            vec![],
        ))
        .await
        .unwrap();
    assert!(
        store
            .claim_jobs("w1", &[], T0 + 60_000, 10, 1_000)
            .await
            .unwrap()
            .is_empty()
    );
    let states: BTreeMap<String, String> = store
        .jobs_for(incident_id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.dedupe_key, j.state))
        .collect();
    assert_eq!(states["page:1"], "done");
    assert_eq!(states["remind:1"], "cancelled");
    assert_eq!(store.pending_jobs().await.unwrap(), 0);

    // A job that keeps failing is failed for good.
    store
        .commit(change(
            vec![Write::EnqueueJob(page("page:2", "page", T0))],
            vec![],
        ))
        .await
        .unwrap();
    let j = store
        .claim_jobs("w1", &["page"], T0 + 70_000, 1, 1_000)
        .await
        .unwrap();
    store.fail_job(&j[0].id, "w1", "gave up").await.unwrap();
    let failed = store.job_by_key("page:2").await.unwrap().unwrap();
    assert_eq!(
        (failed.state.as_str(), failed.last_error.as_deref()),
        ("failed", Some("gave up"))
    );
}

async fn leases(store: &Store, incident_id: &str) {
    let a = store
        .acquire_lease("sequencer", "a", T0, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.holder.as_str(), a.epoch), ("a", 1));
    assert_eq!(
        store
            .acquire_lease("sequencer", "b", T0 + 10, 1_000)
            .await
            .unwrap(),
        None
    );
    let renewed = store
        .acquire_lease("sequencer", "a", T0 + 500, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((renewed.epoch, renewed.expires_ms), (1, T0 + 1_500));

    // a stalls past its lease; b takes over with a new epoch.
    let b = store
        .acquire_lease("sequencer", "b", T0 + 2_000, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.epoch, 2);

    // a's fenced write is refused whole: neither its write nor its event lands.
    let before = store.tree_size().await.unwrap();
    let fenced = |holder: &str, epoch: i64, key: &str| {
        change(
            vec![
                Write::Fence {
                    lease: "sequencer".into(),
                    holder: holder.into(),
                    epoch,
                },
                Write::EnqueueJob(NewJob {
                    kind: "page".into(),
                    dedupe_key: key.into(),
                    incident_id: Some(incident_id.into()),
                    payload: serde_json::Value::Null,
                    due_ms: T0,
                }),
            ],
            vec![event("page.scheduled", incident_id, 30, holder)],
        )
    };
    let err = store.commit(fenced("a", 1, "fenced:a")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Fenced { lease } if lease == "sequencer"),
        "{err}"
    );
    assert_eq!(store.tree_size().await.unwrap(), before);
    assert_eq!(store.job_by_key("fenced:a").await.unwrap(), None);
    store.commit(fenced("b", 2, "fenced:b")).await.unwrap();
    assert!(store.job_by_key("fenced:b").await.unwrap().is_some());

    assert!(matches!(
        store.release_lease("sequencer", "a", 1).await,
        Err(StoreError::Fenced { .. })
    ));
    store.release_lease("sequencer", "b", 2).await.unwrap();
    // Released, not forgotten: the next holder's epoch still grows.
    let next = store
        .acquire_lease("sequencer", "a", T0 + 2_100, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.epoch, 3);
    assert_eq!(store.lease("sequencer").await.unwrap(), Some(next));
}

async fn tokens_and_payloads(store: &Store) {
    let token = |id: &str, secret: &str| ApiToken {
        id: id.into(),
        name: format!("ci-{id}"),
        role: "responder".into(),
        secret_sha256: secret.into(),
        created_ms: T0,
        revoked_ms: None,
    };
    let t1 = token("t1", &"1".repeat(64));
    store.put_token(&t1).await.unwrap();
    store
        .put_token(&token("t2", &"2".repeat(64)))
        .await
        .unwrap();
    assert_eq!(
        store.token_by_secret_sha256(&"1".repeat(64)).await.unwrap(),
        Some(t1.clone())
    );
    assert!(matches!(
        store.put_token(&token("t3", &"1".repeat(64))).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.tokens().await.unwrap().len(), 2);
    assert!(store.revoke_token("t1", T0 + 1).await.unwrap());
    assert!(!store.revoke_token("t1", T0 + 2).await.unwrap());
    assert!(!store.revoke_token("nope", T0 + 2).await.unwrap());
    assert_eq!(
        store.token_by_secret_sha256(&"1".repeat(64)).await.unwrap(),
        None
    );
    let listed = store.tokens().await.unwrap();
    assert_eq!(listed[0].revoked_ms, Some(T0 + 1));

    let p = RawPayload {
        id: sitrep_store::new_id(),
        source: "alertmanager".into(),
        received_ms: T0,
        body: b"{\"version\":\"4\",\"alerts\":[]}\x00\xff".to_vec(),
        rejected: false,
    };
    store.put_raw_payload(&p).await.unwrap();
    store.put_raw_payload(&p).await.unwrap();
    assert_eq!(store.raw_payload(&p.id).await.unwrap(), Some(p));
}

/// Approvals: inserted with their event, updated only at the version read, used once
/// (a second use fails the whole change, its event included). Sessions: bounded,
/// expiring, deleted.
async fn approvals_and_sessions(store: &Store, incident_id: &str) {
    let now = T0 + 10_000;
    let row = |id: &str, expires_ms: i64| ApprovalRow {
        id: id.into(),
        incident_id: incident_id.into(),
        body: format!("{{\"id\":\"{id}\"}}"),
        requested_ms: now,
        expires_ms,
        used_run: None,
        version: 1,
    };
    let size = store.tree_size().await.unwrap();
    store
        .commit(change(
            vec![
                Write::InsertApproval(row("a1", now + 60_000)),
                Write::InsertApproval(row("a-old", now - 1)),
            ],
            vec![event("approval.requested", incident_id, 1, "ann")],
        ))
        .await
        .unwrap();
    assert!(matches!(
        store
            .commit(change(vec![Write::InsertApproval(row("a1", now))], vec![]))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let open = store.open_approvals(incident_id, now).await.unwrap();
    assert_eq!(
        open.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a1"],
        "expired ones are not open"
    );
    let grant = |v: i64| Write::UpdateApproval {
        id: "a1".into(),
        body: "{\"granted\":true}".into(),
        expected_version: v,
    };
    store.commit(change(vec![grant(1)], vec![])).await.unwrap();
    assert!(matches!(
        store.commit(change(vec![grant(1)], vec![])).await,
        Err(StoreError::Conflict { .. })
    ));
    let a1 = store.approval("a1").await.unwrap().unwrap();
    assert_eq!((a1.version, a1.body.as_str()), (2, "{\"granted\":true}"));
    let use_it = |run: &str| Write::UseApproval {
        id: "a1".into(),
        run: run.into(),
    };
    store
        .commit(change(vec![use_it("r1")], vec![]))
        .await
        .unwrap();
    let before = store.tree_size().await.unwrap();
    assert!(matches!(
        store
            .commit(change(
                vec![use_it("r2")],
                vec![event("step.run", incident_id, 2, "bob")]
            ))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.tree_size().await.unwrap(),
        before,
        "nothing of it landed"
    );
    assert_eq!(before, size + 1);
    assert_eq!(
        store
            .approval("a1")
            .await
            .unwrap()
            .unwrap()
            .used_run
            .as_deref(),
        Some("r1")
    );
    assert!(matches!(
        store.commit(change(vec![grant(3)], vec![])).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(
        store
            .open_approvals(incident_id, now)
            .await
            .unwrap()
            .is_empty()
    );

    let session = |n: i64, expires_ms: i64| SessionRow {
        id_sha256: format!("{n:064}"),
        name: format!("user{n}"),
        role: "responder".into(),
        token_sha256: "1".repeat(64),
        csrf: format!("csrf{n}"),
        created_ms: now + n,
        expires_ms,
    };
    store
        .put_session(&session(1, now - 1), 2, now)
        .await
        .unwrap();
    store
        .put_session(&session(2, now + 100), 2, now)
        .await
        .unwrap();
    store
        .put_session(&session(3, now + 100), 2, now)
        .await
        .unwrap();
    assert_eq!(
        store.session(&format!("{:064}", 1), now).await.unwrap(),
        None
    );
    assert_eq!(
        store.session(&format!("{:064}", 3), now).await.unwrap(),
        Some(session(3, now + 100))
    );
    assert_eq!(store.live_sessions(now).await.unwrap(), 2);
    // A fourth beyond the cap of two ends the oldest live one.
    store
        .put_session(&session(4, now + 100), 2, now)
        .await
        .unwrap();
    assert_eq!(
        store.session(&format!("{:064}", 2), now).await.unwrap(),
        None
    );
    assert_eq!(store.live_sessions(now).await.unwrap(), 2);
    assert!(store.delete_session(&format!("{:064}", 3)).await.unwrap());
    assert!(!store.delete_session(&format!("{:064}", 3)).await.unwrap());
    assert_eq!(store.sweep_sessions(now + 100).await.unwrap(), 1);
    assert_eq!(store.live_sessions(now).await.unwrap(), 0);
}

/// Legal holds and retention's bookkeeping, with their events in the same commit.
async fn holds_and_expiry(store: &Store, incident_id: &str) {
    use sitrep_store::EvidenceHold;
    let hold = EvidenceHold {
        incident_id: incident_id.into(),
        reason: "case 114".into(),
        held_by: "lena".into(),
        held_ms: T0,
    };
    store
        .commit(change(
            vec![Write::PutHold(hold.clone())],
            vec![event("evidence.held", incident_id, 3, "lena")],
        ))
        .await
        .unwrap();
    assert!(matches!(
        store
            .commit(change(vec![Write::PutHold(hold.clone())], vec![]))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.hold(incident_id).await.unwrap(), Some(hold));
    // Resolved or not, a held incident is never due.
    assert!(
        store
            .retention_due(i64::MAX, 10)
            .await
            .unwrap()
            .iter()
            .all(|i| i.id != incident_id)
    );
    let release = || Write::DeleteHold {
        incident_id: incident_id.into(),
    };
    store.commit(change(vec![release()], vec![])).await.unwrap();
    assert!(matches!(
        store.commit(change(vec![release()], vec![])).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.hold(incident_id).await.unwrap(), None);
    // The run written earlier captured this blob.
    assert_eq!(
        store.incidents_using_blob(&"ab".repeat(32)).await.unwrap(),
        vec![incident_id.to_owned()]
    );
    assert!(
        store
            .incidents_using_blob(&"cd".repeat(32))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.evidence_expired(incident_id).await.unwrap());
    let expire = || Write::MarkExpired {
        incident_id: incident_id.into(),
        expired_ms: T0 + 5,
        blobs_deleted: 2,
    };
    store.commit(change(vec![expire()], vec![])).await.unwrap();
    assert!(matches!(
        store.commit(change(vec![expire()], vec![])).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(store.evidence_expired(incident_id).await.unwrap());
    assert_eq!(
        store.expired_since(T0).await.unwrap(),
        vec![(incident_id.to_owned(), T0 + 5)]
    );
    assert!(store.expired_since(T0 + 5).await.unwrap().is_empty());
    assert!(
        store
            .retention_due(i64::MAX, 10)
            .await
            .unwrap()
            .iter()
            .all(|i| i.id != incident_id)
    );
}

/// The per-contact send window behind `[notify] rate_limit`: `burst` sends per window,
/// then the time the oldest leaves it; contacts do not share a window.
async fn contact_sends(store: &Store) {
    let t = T0 + 50_000;
    for (contact, at, expected) in [
        ("carol-sms", t, None),
        ("carol-sms", t + 10, None),
        ("carol-sms", t + 20, Some(t + 1_000)),
        ("dave-mail", t + 20, None),
        // Refused sends are not counted; once the first leaves the window one more goes.
        ("carol-sms", t + 1_000, None),
        ("carol-sms", t + 1_001, Some(t + 1_010)),
    ] {
        let got = store.take_send(contact, 2, 1_000, at).await.unwrap();
        assert_eq!(got, expected, "{contact} at {at}");
    }
}

/// Damage the ledger behind the store's back and watch `open` refuse.
async fn tamper(db: &Db, store: Store) {
    // Leave a tail of unsigned entries: drop the store without close (as a crash
    // would), so no final checkpoint covers them.
    let checkpointed = store.checkpoint_now().await.unwrap().size;
    let mut tail = Vec::new();
    for i in 0..5 {
        let c = store
            .commit(change(
                vec![],
                vec![event("note.added", "tail", 2000 + i, "dan")],
            ))
            .await
            .unwrap();
        tail.extend(c.indexes);
    }
    drop(store);
    let raw = db.raw().await;

    let flip = |b: &mut Vec<u8>| b[0] ^= 1;
    let get_hash = |index: u64| {
        let raw = raw.clone();
        async move {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT hash FROM ledger_hashes WHERE hash_index = $1")
                .bind(index as i64)
                .fetch_one(&raw)
                .await
                .unwrap()
        }
    };
    let set_hash = |index: u64, h: Vec<u8>| {
        let raw = raw.clone();
        async move {
            sqlx::query("UPDATE ledger_hashes SET hash = $1 WHERE hash_index = $2")
                .bind(h)
                .bind(index as i64)
                .execute(&raw)
                .await
                .unwrap();
        }
    };

    // 1. A stored hash the signed root is made of.
    let peak = tree_hash_indexes(checkpointed).unwrap()[0];
    let original = get_hash(peak).await;
    let mut bad = original.clone();
    flip(&mut bad);
    set_hash(peak, bad).await;
    let err = sitrep_store::Store::open(db.options()).await.unwrap_err();
    match &err {
        StoreError::LedgerDiverged {
            size,
            expected_root,
            actual_root,
            ..
        } => {
            assert_eq!(*size, checkpointed);
            assert_ne!(expected_root, actual_root);
            let msg = err.to_string();
            assert!(msg.contains("sitrep ledger verify"), "{msg}");
            assert!(msg.contains(expected_root.as_str()) && msg.contains(actual_root.as_str()));
        }
        other => panic!("expected LedgerDiverged, got {other}"),
    }
    set_hash(peak, original).await;

    // 2. An entry after the latest checkpoint: its bytes no longer match its leaf hash.
    let victim = tail[2] as i64;
    let record: Vec<u8> =
        sqlx::query_scalar("SELECT record FROM ledger_entries WHERE leaf_index = $1")
            .bind(victim)
            .fetch_one(&raw)
            .await
            .unwrap();
    let forged = String::from_utf8(record.clone())
        .unwrap()
        .replace("\"dan\"", "\"eve\"")
        .into_bytes();
    assert_ne!(forged, record);
    let set_record = |bytes: Vec<u8>| {
        let raw = raw.clone();
        async move {
            sqlx::query("UPDATE ledger_entries SET record = $1 WHERE leaf_index = $2")
                .bind(bytes)
                .bind(victim)
                .execute(&raw)
                .await
                .unwrap();
        }
    };
    set_record(forged).await;
    let err = sitrep_store::Store::open(db.options()).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::LedgerDiverged { detail, .. } if detail.contains(&format!("entry {victim}"))),
        "{err}"
    );
    set_record(record).await;

    // 3. An entry the checkpoint covers, altered while the store runs: a full
    //    verification names the entry (`open` refuses it too: tests/startup.rs).
    let store = db.open().await;
    let early: Vec<u8> =
        sqlx::query_scalar("SELECT record FROM ledger_entries WHERE leaf_index = 1")
            .fetch_one(&raw)
            .await
            .unwrap();
    let forged = String::from_utf8(early.clone())
        .unwrap()
        .replace("\"bob\"", "\"mal\"")
        .into_bytes();
    sqlx::query("UPDATE ledger_entries SET record = $1 WHERE leaf_index = 1")
        .bind(forged)
        .execute(&raw)
        .await
        .unwrap();
    let report = store.verify_ledger().await.unwrap();
    let d = report.first_divergence.expect("divergence reported");
    assert_eq!(d.kind, "stored-hash", "{d:?}");
    assert!(d.detail.contains("entry 1"), "{d:?}");
    sqlx::query("UPDATE ledger_entries SET record = $1 WHERE leaf_index = 1")
        .bind(early)
        .execute(&raw)
        .await
        .unwrap();
    // ...and an index column moved to hide an event from an incident's timeline.
    sqlx::query("UPDATE ledger_entries SET incident_id = 'elsewhere' WHERE leaf_index = 0")
        .execute(&raw)
        .await
        .unwrap();
    let d = store
        .verify_ledger()
        .await
        .unwrap()
        .first_divergence
        .unwrap();
    assert_eq!((d.kind, d.index), ("entry", 0), "{d:?}");
    sqlx::query("UPDATE ledger_entries SET incident_id = $1 WHERE leaf_index = 0")
        .bind(
            store.events(0, 1).await.unwrap()[0]
                .record
                .incident
                .clone()
                .unwrap(),
        )
        .execute(&raw)
        .await
        .unwrap();
    assert!(store.verify_ledger().await.unwrap().ok());
    let signed = store.checkpoint_now().await.unwrap().size;
    store.close().await;

    // 4. Rows deleted to shrink the tree below what was signed.
    let keep = signed - 3;
    let keep_hashes = sitrep_ledger::stored_hash_count(keep) as i64;
    sqlx::query("DELETE FROM ledger_entries WHERE leaf_index >= $1")
        .bind(keep as i64)
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("DELETE FROM ledger_hashes WHERE hash_index >= $1")
        .bind(keep_hashes)
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE ledger_head SET size = $1")
        .bind(keep as i64)
        .execute(&raw)
        .await
        .unwrap();
    let err = sitrep_store::Store::open(db.options()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::LedgerRegressed { checkpoint_size, tree_size }
            if checkpoint_size == signed && tree_size == keep),
        "{err}"
    );
    // Deleting the entries but leaving the head is a regression too.
    sqlx::query("UPDATE ledger_head SET size = $1")
        .bind(signed as i64)
        .execute(&raw)
        .await
        .unwrap();
    let err = sitrep_store::Store::open(db.options()).await.unwrap_err();
    assert!(matches!(err, StoreError::LedgerRegressed { .. }), "{err}");
    raw.close().await;
}
