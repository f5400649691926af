//! The store's story, access chapter: API tokens and raw alert payloads, approvals and
//! browser sessions.

use super::*;

pub(super) async fn tokens_and_payloads(store: &Store) {
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
pub(super) async fn approvals_and_sessions(store: &Store, incident_id: &str) {
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
