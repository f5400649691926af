//! The startup ledger check re-hashes the whole signed ledger: an in-place edit of an
//! entry a checkpoint already covers refuses `open` (or, above the background
//! threshold, blocks signing once found), on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{Db, event, on_each_backend};
use sitrep_store::{Change, LedgerVerification, Store, StoreError};
use sqlx::AnyPool;

/// Entries in the signed prefix; the edited one is early in it.
const SIGNED: u64 = 40;
const VICTIM: i64 = 3;

/// `SIGNED` entries under a checkpoint plus an unsigned tail of 5; returns the
/// checkpoint's size.
async fn fill(db: &Db) -> u64 {
    let store = db.open().await;
    for i in 0..SIGNED + 5 {
        if i == SIGNED {
            assert_eq!(store.checkpoint_now().await.unwrap().size, SIGNED);
        }
        let change = Change {
            events: vec![event("note.added", "inc-1", 1_000 + i, "alice")],
            ..Change::default()
        };
        store.commit(change).await.unwrap();
    }
    // Dropped without close, as a crash would: the tail stays unsigned.
    drop(store);
    SIGNED
}

/// Rewrites entry `VICTIM`'s bytes (actor alice becomes mallo), leaving its hashes.
async fn edit_entry(raw: &AnyPool) {
    let record: Vec<u8> =
        sqlx::query_scalar("SELECT record FROM ledger_entries WHERE leaf_index = $1")
            .bind(VICTIM)
            .fetch_one(raw)
            .await
            .unwrap();
    let forged = String::from_utf8(record.clone())
        .unwrap()
        .replace("\"alice\"", "\"mallo\"")
        .into_bytes();
    assert_ne!(forged, record);
    sqlx::query("UPDATE ledger_entries SET record = $1 WHERE leaf_index = $2")
        .bind(forged)
        .bind(VICTIM)
        .execute(raw)
        .await
        .unwrap();
}

fn background(db: &Db) -> sitrep_store::StoreOptions {
    let mut opts = db.options();
    opts.verify_in_background_above = 1;
    opts
}

/// Waits (bounded) for the background re-hash to leave `Verifying`.
async fn settled(store: &Store) -> LedgerVerification {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let state = store.ledger_verification();
        if !matches!(state, LedgerVerification::Verifying { .. }) {
            return state;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {state:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn an_edited_signed_entry_refuses_open() {
    on_each_backend(|db| async move {
        let size = fill(&db).await;
        edit_entry(&db.raw().await).await;
        let err = Store::open(db.options()).await.unwrap_err();
        let StoreError::LedgerDiverged {
            size: at, detail, ..
        } = &err
        else {
            panic!("expected LedgerDiverged, got {err}");
        };
        assert_eq!(*at, size, "{err}");
        assert!(detail.starts_with(&format!("entry {VICTIM}:")), "{err}");
        assert!(err.to_string().contains("sitrep ledger verify"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn an_edited_interior_hash_refuses_open() {
    on_each_backend(|db| async move {
        fill(&db).await;
        // Stored hash 2 is the node over entries 0 and 1: no signed root is read from
        // it directly (the root of 40 is made of the level-5 and level-3 subtrees).
        sqlx::query("UPDATE ledger_hashes SET hash = $1 WHERE hash_index = 2")
            .bind(vec![0u8; 32])
            .execute(&db.raw().await)
            .await
            .unwrap();
        let err = Store::open(db.options()).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::LedgerDiverged { detail, .. }
                if detail.starts_with("stored hash 2 (added with entry 1)")),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_clean_ledger_opens_and_signs() {
    on_each_backend(|db| async move {
        fill(&db).await;
        let store = db.open().await;
        assert_eq!(store.ledger_verification(), LedgerVerification::Verified);
        assert_eq!(store.checkpoint_now().await.unwrap().size, SIGNED + 5);
        store.close().await;
    })
    .await;
}

// The default current-thread runtime polls the spawned re-hash only when this test
// awaits something pending, so the state right after `open` is known, not raced.
#[tokio::test]
async fn above_the_threshold_the_ledger_is_verified_in_the_background() {
    on_each_backend(|db| async move {
        fill(&db).await;
        let store = Store::open(background(&db)).await.unwrap();
        let state = store.ledger_verification();
        assert!(
            matches!(state, LedgerVerification::Verifying { size: SIGNED, .. }),
            "{state:?}"
        );
        let err = store.checkpoint_now().await.unwrap_err();
        assert!(
            matches!(err, StoreError::LedgerUnverified { size: SIGNED, .. }),
            "{err}"
        );
        assert_eq!(settled(&store).await, LedgerVerification::Verified);
        assert_eq!(store.checkpoint_now().await.unwrap().size, SIGNED + 5);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_edit_found_in_the_background_blocks_signing() {
    on_each_backend(|db| async move {
        fill(&db).await;
        edit_entry(&db.raw().await).await;
        // Opens: only the signed roots and the unsigned tail are checked up front.
        let store = Store::open(background(&db)).await.unwrap();
        let LedgerVerification::Failed { refusal } = settled(&store).await else {
            panic!("the edit was not found");
        };
        assert!(refusal.contains(&format!("entry {VICTIM}:")), "{refusal}");
        // Events still commit, but nothing is signed over them.
        let change = Change {
            events: vec![event("note.added", "inc-1", 9_000, "bob")],
            ..Change::default()
        };
        store.commit(change).await.unwrap();
        let err = store.checkpoint_now().await.unwrap_err();
        assert!(
            matches!(&err, StoreError::LedgerDiverged { detail, .. }
                if detail.starts_with(&format!("entry {VICTIM}:"))),
            "{err}"
        );
        store.close().await;
        assert_eq!(
            latest_size(&db).await,
            SIGNED,
            "a checkpoint was sealed on top"
        );
    })
    .await;
}

/// The latest checkpoint's size, read behind the store's back.
async fn latest_size(db: &Db) -> u64 {
    let size: i64 = sqlx::query_scalar("SELECT MAX(size) FROM checkpoints")
        .fetch_one(&db.raw().await)
        .await
        .unwrap();
    u64::try_from(size).unwrap()
}
