//! The store's story, evidence chapter: legal holds, retention marks and contact sends.

use super::*;

/// Legal holds and retention's bookkeeping, with their events in the same commit.
pub(super) async fn holds_and_expiry(store: &Store, incident_id: &str) {
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
pub(super) async fn contact_sends(store: &Store) {
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
