//! Raw payloads' upkeep on SQLite and PostgreSQL: sizes and outcomes are stored, the
//! cap's eviction takes the oldest rejected payloads before any accepted one, and
//! deletion by age goes by outcome and leaves the ledger alone.

mod common;

use common::{Db, on_each_backend};
use sitrep_store::{Change, RawPayload, RawPayloadStats};

const T0: i64 = 1_700_000_000_000;

fn payload(n: i64, size: usize, rejected: bool) -> RawPayload {
    RawPayload {
        id: format!("p{n:04}"),
        source: "generic".into(),
        received_ms: T0 + n,
        body: vec![b'x'; size],
        rejected,
    }
}

#[tokio::test]
async fn eviction_takes_rejected_first_then_the_oldest_accepted() {
    on_each_backend(|db: Db| async move {
        let store = db.open().await;
        // Accepted 0..4 (100 bytes each), rejected 10..12 (50 bytes each), newer.
        for n in 0..4 {
            store
                .put_raw_payload(&payload(n, 100, false))
                .await
                .unwrap();
        }
        for n in 10..12 {
            store.put_raw_payload(&payload(n, 50, true)).await.unwrap();
        }
        let stats = store.raw_payload_stats().await.unwrap();
        assert_eq!(
            stats,
            RawPayloadStats {
                accepted: 4,
                rejected: 2,
                bytes: 500
            }
        );
        assert!(store.raw_payload("p0010").await.unwrap().unwrap().rejected);

        // Rejected only: both rejected go, and no more is found.
        assert_eq!(store.evict_raw_payloads(400, true).await.unwrap(), 100);
        assert_eq!(store.raw_payload_stats().await.unwrap().rejected, 0);
        assert!(store.raw_payload("p0000").await.unwrap().is_some());

        store.put_raw_payload(&payload(20, 50, true)).await.unwrap();
        // 120 bytes wanted: the rejected one (50), then the oldest accepted (100).
        assert_eq!(store.evict_raw_payloads(120, false).await.unwrap(), 150);
        assert!(store.raw_payload("p0020").await.unwrap().is_none());
        assert!(store.raw_payload("p0000").await.unwrap().is_none());
        assert!(store.raw_payload("p0001").await.unwrap().is_some());
        assert_eq!(store.raw_payload_stats().await.unwrap().bytes, 300);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn deletion_by_age_goes_by_outcome_and_keeps_the_ledger() {
    on_each_backend(|db: Db| async move {
        let store = db.open().await;
        let committed = store
            .commit(Change {
                writes: Vec::new(),
                events: vec![sitrep_ledger::Record::new(
                    "note.added",
                    1_700_000_000_000,
                    "test",
                )],
            })
            .await
            .unwrap();
        for n in 0..5 {
            store.put_raw_payload(&payload(n, 10, false)).await.unwrap();
            store
                .put_raw_payload(&payload(100 + n, 10, true))
                .await
                .unwrap();
        }
        // Rejected before T0+103 go, two per call; accepted ones of that age stay.
        assert_eq!(
            store
                .delete_raw_payloads_before(true, T0 + 103, 2)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .delete_raw_payloads_before(true, T0 + 103, 2)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .delete_raw_payloads_before(true, T0 + 103, 2)
                .await
                .unwrap(),
            0
        );
        let stats = store.raw_payload_stats().await.unwrap();
        assert_eq!((stats.accepted, stats.rejected), (5, 2));
        assert_eq!(
            store
                .delete_raw_payloads_before(false, T0 + 2, 100)
                .await
                .unwrap(),
            2
        );
        assert!(store.raw_payload("p0002").await.unwrap().is_some());
        assert!(store.raw_payload("p0103").await.unwrap().is_some());
        assert_eq!(store.tree_size().await.unwrap(), committed.tree_size);
        store.close().await;
    })
    .await;
}
