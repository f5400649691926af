//! Incident chains: every record of an incident names the incident's previous record
//! (leaf index and leaf hash), whatever the batching, after a reopen (the writer's memory
//! cold), and with two stores appending to one PostgreSQL database.

mod common;

use common::{Db, event, on_each_backend};
use sitrep_ledger::{Link, Record, leaf_hash};
use sitrep_store::{Backend, Change, Store};

const INCIDENTS: usize = 4;

/// Commits `rounds` changes per incident from one task per incident (so batches mix
/// incidents), each change holding one or two events of its incident.
async fn commit_rounds(stores: &[Store], rounds: u64) {
    let mut tasks = Vec::new();
    for i in 0..INCIDENTS {
        let store = stores[i % stores.len()].clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..rounds {
                let inc = format!("inc-{i}");
                let mut events = vec![event("note.added", &inc, n, "t")];
                if n % 3 == 0 {
                    events.push(event("step.run", &inc, n, "t"));
                }
                // Events of no incident never take part in a chain.
                events.push(Record::new("system.tick", n, "t"));
                let change = Change {
                    writes: vec![],
                    events,
                };
                store.commit(change).await.expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
}

/// Walks every incident's timeline: the first record has no link, each later one links
/// to the record before it by index and leaf hash. Returns the records checked.
async fn assert_chains(store: &Store) -> usize {
    let mut checked = 0;
    for i in 0..INCIDENTS {
        let timeline = store.timeline(&format!("inc-{i}"), None).await.unwrap();
        assert!(!timeline.is_empty());
        let mut prev: Option<Link> = None;
        for e in &timeline {
            assert_eq!(e.record.prev, prev, "inc-{i} record {}", e.index);
            let bytes = e.record.encode().unwrap();
            prev = Some(Link {
                index: e.index,
                hash: leaf_hash(&bytes),
            });
            checked += 1;
        }
    }
    let tick = store.events(0, 64).await.unwrap();
    assert!(
        tick.iter()
            .filter(|e| e.record.incident.is_none())
            .all(|e| e.record.prev.is_none())
    );
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_incident_record_links_to_the_previous_one() {
    on_each_backend(|db| async move { chains(db).await }).await;
}

async fn chains(db: Db) {
    let store = db.open().await;
    commit_rounds(std::slice::from_ref(&store), 30).await;
    assert_eq!(assert_chains(&store).await, INCIDENTS * 40);
    store.close().await;

    // Reopened, the writer knows no incident's last leaf: it reads them back.
    let store = db.open().await;
    commit_rounds(std::slice::from_ref(&store), 6).await;
    assert_eq!(assert_chains(&store).await, INCIDENTS * 48);

    if db.backend == Backend::Postgres {
        // Two replicas: each writer's memory goes stale when the other appends.
        let second = db.open().await;
        commit_rounds(&[store.clone(), second.clone()], 30).await;
        assert_eq!(assert_chains(&second).await, INCIDENTS * 88);
        second.close().await;
    }
    store.checkpoint_now().await.unwrap();
    let report = store.verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    store.close().await;
}
