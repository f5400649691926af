//! Many committers at once: every acknowledged event gets its own index, the indexes
//! are contiguous, and the ledger verifies. On PostgreSQL two `Store`s (two
//! "replicas") share one database. Concurrent job claimers never claim a job twice.

mod common;

use std::collections::BTreeSet;

use common::{Db, event, on_each_backend};
use sitrep_store::{Backend, Change, NewJob, Store, Write};

const TASKS: u64 = 8;
const PER_TASK: u64 = 500;

/// `tasks` tasks committing `per_task` one-event changes each, spread over `stores`.
async fn hammer(stores: &[Store], tasks: u64, per_task: u64) -> Vec<u64> {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = stores[(t as usize) % stores.len()].clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(per_task as usize);
            for i in 0..per_task {
                let change = Change {
                    writes: vec![],
                    events: vec![event("note.added", &format!("inc-{t}"), i, "load")],
                };
                got.extend(store.commit(change).await.expect("commit").indexes);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task"));
    }
    all.sort_unstable();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_get_distinct_contiguous_indexes() {
    let ran = on_each_backend(|db| async move { commits(db).await }).await;
    eprintln!("ran on {ran:?}");
}

async fn commits(db: Db) {
    let store = db.open().await;
    let indexes = hammer(std::slice::from_ref(&store), TASKS, PER_TASK).await;
    assert_eq!(indexes, (0..TASKS * PER_TASK).collect::<Vec<_>>());
    // Each task's events are in its incident's timeline, in its commit order.
    for t in 0..TASKS {
        let timeline = store.timeline(&format!("inc-{t}"), None).await.unwrap();
        let times: Vec<u64> = timeline.iter().map(|e| e.record.time_ms).collect();
        assert_eq!(times, (0..PER_TASK).collect::<Vec<_>>());
    }
    store.checkpoint_now().await.unwrap();
    let report = store.verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries_checked, TASKS * PER_TASK);

    if db.backend == Backend::Postgres {
        // Two replicas on one database: their writers serialise on the ledger head.
        let second = db.open().await;
        let before = store.tree_size().await.unwrap();
        let indexes = hammer(&[store.clone(), second.clone()], 6, 100).await;
        assert_eq!(indexes, (before..before + 600).collect::<Vec<_>>());
        store.checkpoint_now().await.unwrap();
        second.checkpoint_now().await.unwrap();
        let report = second.verify_ledger().await.unwrap();
        assert!(report.ok(), "{report:?}");
        second.close().await;
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_share_a_job() {
    on_each_backend(|db| async move { claims(db).await }).await;
}

async fn claims(db: Db) {
    const JOBS: usize = 120;
    let store = db.open().await;
    let writes = (0..JOBS)
        .map(|i| {
            Write::EnqueueJob(NewJob {
                kind: "page".into(),
                dedupe_key: format!("job-{i}"),
                incident_id: None,
                payload: serde_json::json!(i),
                due_ms: 0,
            })
        })
        .collect();
    store
        .commit(Change {
            writes,
            events: vec![],
        })
        .await
        .unwrap();
    let mut handles = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_jobs(&worker, &["page"], 1, 7, 60_000)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                for j in got {
                    store.complete_job(&j.id, &worker).await.unwrap();
                    mine.push(j.id);
                }
            }
        }));
    }
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for h in handles {
        for id in h.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "a job was claimed twice");
        }
    }
    assert_eq!((total, seen.len()), (JOBS, JOBS));
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_never_exceed_the_rate_limit() {
    on_each_backend(|db| async move { sends(db).await }).await;
}

/// Replicas racing to page one contact: the window lets exactly `burst` messages through,
/// however the sends interleave (on PostgreSQL, over two `Store`s).
async fn sends(db: Db) {
    const BURST: u32 = 3;
    let mut stores = vec![db.open().await];
    if db.backend == Backend::Postgres {
        for _ in 0..3 {
            stores.push(db.open().await);
        }
    }
    for round in 0..20 {
        let contact = format!("oncall-{round}");
        let mut handles = Vec::new();
        for t in 0..16usize {
            let store = stores[t % stores.len()].clone();
            let contact = contact.clone();
            handles.push(tokio::spawn(async move {
                store
                    .take_send(&contact, BURST, 60_000, 1_000 + t as i64)
                    .await
                    .unwrap()
            }));
        }
        let mut sent = 0;
        for h in handles {
            sent += u32::from(h.await.unwrap().is_none());
        }
        assert_eq!(sent, BURST, "{contact}: sends let through");
    }
    for store in stores {
        store.close().await;
    }
}
