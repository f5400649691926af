//! The store's story, jobs chapter: a durable queue with dedupe keys, claims, retries
//! and cancellation.

use super::*;

pub(super) async fn jobs(store: &Store, incident_id: &str) {
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
