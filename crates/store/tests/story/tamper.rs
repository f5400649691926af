//! The store's story, last chapter: a tampered or shrunken ledger is refused at open.

use super::*;

/// Damage the ledger behind the store's back and watch `open` refuse.
pub(super) async fn tamper(db: &Db, store: Store) {
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
