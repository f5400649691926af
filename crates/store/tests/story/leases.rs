//! The store's story, leases chapter: one holder at a time, renewed, fenced by epoch,
//! released.

use super::*;

pub(super) async fn leases(store: &Store, incident_id: &str) {
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
