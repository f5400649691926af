//! Ledger key rotation: a log signed by one key moves to another and stays verifiable
//! from its first entry; the retired key can neither open the store nor sign after the
//! rotation; a checkpoint a retired key forged after it is found.

mod common;

use common::{Db, ORIGIN, event, on_each_backend, signer};
use sitrep_ledger::{Checkpoint, KEY_ROTATED, Signer, open_note};
use sitrep_store::{Change, Store, StoreError, StoreOptions};

fn key(seed: u8) -> Signer {
    Signer::from_seed("sitrep-test", &[seed; 32]).expect("signer")
}

async fn open_with(db: &Db, signer: Signer) -> Result<Store, StoreError> {
    let mut o = StoreOptions::new(db.url.clone(), signer, ORIGIN);
    o.checkpoint_every = std::time::Duration::from_secs(3600);
    Store::open(o).await
}

async fn notes(store: &Store, n: u64, t0: u64) {
    for i in 0..n {
        let change = Change {
            writes: vec![],
            events: vec![event("note.added", "inc-1", t0 + i, "ana")],
        };
        store.commit(change).await.expect("commit");
    }
}

/// Which of `keys` signed a stored note, by position.
fn signed_by(note: &str, keys: &[&Signer]) -> Vec<usize> {
    keys.iter()
        .enumerate()
        .filter(|(_, k)| open_note(note, &[k.verifier()]).is_ok())
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test]
async fn a_log_rotates_its_key_and_stays_verifiable() {
    on_each_backend(|db| async move { rotate(db).await }).await;
}

async fn rotate(db: Db) {
    let (k0, k1, k2) = (signer(), key(8), key(9));
    let store = db.open().await;
    notes(&store, 5, 1_000).await;
    store.checkpoint_now().await.unwrap();
    notes(&store, 2, 2_000).await;

    // The first half: the record, after a checkpoint of everything before it by k0.
    let index = store
        .record_key_rotation(&k1.verifier(), "root", "cli:root", 3_000)
        .await
        .unwrap();
    assert_eq!(index, 7);
    let sealed = store.events(7, 8).await.unwrap();
    assert_eq!(sealed[0].record.event_type, KEY_ROTATED);
    assert_eq!(
        sealed[0].record.payload.get("to"),
        Some(&k1.verifier().to_string())
    );
    let before = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(
        before.size, 7,
        "the old key signed everything before the rotation"
    );
    // The old store signs nothing more, and a second rotation from it is refused.
    notes(&store, 1, 3_500).await;
    let e = store.checkpoint_now().await.unwrap_err();
    assert!(matches!(e, StoreError::RetiredKey { .. }), "{e}");
    let e = store
        .record_key_rotation(&k2.verifier(), "root", "cli:root", 3_600)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::RetiredKey { .. }), "{e}");
    store.close().await;

    // The retired key cannot open the store again, even before the transition.
    let e = open_with(&db, k0.clone()).await.unwrap_err();
    assert!(matches!(e, StoreError::RetiredKey { .. }), "{e}");
    assert!(e.to_string().contains(&k1.verifier().to_string()), "{e}");

    // The second half: the new key opens the log and signs the transition with the old.
    let store = open_with(&db, k1.clone()).await.unwrap();
    let wrong = store.cosign_transition(&k2).await.unwrap_err();
    assert!(matches!(wrong, StoreError::KeyRotation(_)), "{wrong}");
    let transition = store.cosign_transition(&k0).await.unwrap();
    assert_eq!(transition.size, 9);
    assert_eq!(signed_by(&transition.signed_note, &[&k0, &k1, &k2]), [0, 1]);
    // Repeating it (a restart after a crash) changes nothing.
    assert_eq!(store.cosign_transition(&k0).await.unwrap(), transition);
    notes(&store, 3, 4_000).await;
    let after = store.checkpoint_now().await.unwrap();
    assert_eq!(signed_by(&after.signed_note, &[&k0, &k1, &k2]), [1]);

    let history = store.key_history().await.unwrap();
    let keys: Vec<(&str, Option<u64>, bool)> = history
        .iter()
        .map(|k| (k.verifier_key.as_str(), k.since_index, k.current))
        .collect();
    let (v0, v1) = (k0.verifier().to_string(), k1.verifier().to_string());
    assert_eq!(
        keys,
        [(v0.as_str(), None, false), (v1.as_str(), Some(7), true)]
    );
    assert_eq!(history[1].rotated_by.as_deref(), Some("root"));
    let report = store.verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    // At 5 and 7 by the old key, the transition at 9, and 12 by the new key.
    assert_eq!(report.checkpoints_checked, 4);

    // A second rotation: the history grows, the whole log still verifies.
    store
        .record_key_rotation(&k2.verifier(), "root", "cli:root", 5_000)
        .await
        .unwrap();
    store.close().await;
    let store = open_with(&db, k2.clone()).await.unwrap();
    store.cosign_transition(&k1).await.unwrap();
    let report = store.verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(store.key_history().await.unwrap().len(), 3);
    store.close().await;

    // A key the log never named is not trusted, whatever its name.
    let e = open_with(&db, key(10)).await.unwrap_err();
    assert!(matches!(e, StoreError::BadCheckpoint { .. }), "{e}");
}

#[tokio::test]
async fn a_retired_key_cannot_sign_after_the_rotation() {
    on_each_backend(|db| async move { forged(db).await }).await;
}

/// Someone holding the retired (perhaps stolen) key and write access to the database
/// swaps a checkpoint signed by the new key for one the old key alone signed: deep in the
/// log `verify` finds it; among the latest, the store refuses to open.
async fn forged(db: Db) {
    let (k0, k1) = (signer(), key(8));
    let store = db.open().await;
    notes(&store, 4, 1_000).await;
    store
        .record_key_rotation(&k1.verifier(), "root", "cli:root", 2_000)
        .await
        .unwrap();
    store.close().await;
    let store = open_with(&db, k1.clone()).await.unwrap();
    assert_eq!(store.cosign_transition(&k0).await.unwrap().size, 5);
    let mut sizes = Vec::new();
    for t in [3_000, 3_001, 3_002] {
        notes(&store, 1, t).await;
        sizes.push(store.checkpoint_now().await.unwrap().size);
    }
    let roots = [store.root(6).await.unwrap(), store.root(7).await.unwrap()];
    assert_eq!(sizes, [6, 7, 8]);
    store.close().await;

    let raw = db.raw().await;
    let forge = |size: u64, root| {
        let forged = Checkpoint::new(ORIGIN, size, root).sign(&[&k0]).unwrap();
        let raw = raw.clone();
        async move {
            let swapped = sqlx::query("UPDATE checkpoints SET signed_note = $1 WHERE size = $2")
                .bind(forged.as_str())
                .bind(size as i64)
                .execute(&raw)
                .await
                .unwrap();
            assert_eq!(swapped.rows_affected(), 1);
        }
    };
    forge(6, roots[0]).await;
    let store = open_with(&db, k1.clone()).await.unwrap();
    let report = store.verify_ledger().await.unwrap();
    let d = report.first_divergence.expect("the forgery is found");
    assert_eq!((d.kind, d.index), ("checkpoint", 6), "{}", d.detail);
    assert!(d.detail.contains("retired key"), "{}", d.detail);
    store.close().await;

    // The startup check reads the latest two checkpoints.
    forge(7, roots[1]).await;
    raw.close().await;
    let e = open_with(&db, k1.clone()).await.unwrap_err();
    assert!(matches!(e, StoreError::BadCheckpoint { .. }), "{e}");
    assert!(e.to_string().contains("retired key"), "{e}");
}

#[tokio::test]
async fn a_rotation_names_a_distinct_key_of_the_same_name() {
    on_each_backend(|db| async move { refused(db).await }).await;
}

async fn refused(db: Db) {
    let store = db.open().await;
    for (next, why) in [
        (signer().verifier(), "used by this log before"),
        (
            Signer::from_seed("other-name", &[8; 32])
                .unwrap()
                .verifier(),
            "named",
        ),
    ] {
        let e = store
            .record_key_rotation(&next, "root", "cli:root", 1_000)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::KeyRotation(m) if m.contains(why)),
            "{e}"
        );
    }
    // Nothing was recorded: the store still signs.
    assert_eq!(store.tree_size().await.unwrap(), 0);
    assert!(store.key_history().await.unwrap()[0].current);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotations_at_once_leave_one_chain() {
    on_each_backend(|db| async move { racing(db).await }).await;
}

/// Two operators rotate the same log at the same moment, to different keys: exactly one
/// rotation is recorded, and the log opens with the winner's key.
async fn racing(db: Db) {
    let (k0, k1, k2) = (signer(), key(8), key(9));
    let (a, b) = (db.open().await, db.open().await);
    notes(&a, 3, 1_000).await;
    let (v1, v2) = (k1.verifier(), k2.verifier());
    let (ra, rb) = tokio::join!(
        a.record_key_rotation(&v1, "ann", "cli:ann", 2_000),
        b.record_key_rotation(&v2, "bob", "cli:bob", 2_000),
    );
    a.close().await;
    b.close().await;
    let winner = match (&ra, &rb) {
        (Ok(_), Err(e)) => {
            assert!(
                matches!(
                    e,
                    StoreError::KeyRotation(_) | StoreError::RetiredKey { .. }
                ),
                "{e}"
            );
            &k1
        }
        (Err(e), Ok(_)) => {
            assert!(
                matches!(
                    e,
                    StoreError::KeyRotation(_) | StoreError::RetiredKey { .. }
                ),
                "{e}"
            );
            &k2
        }
        _ => panic!("both or neither rotation went through: {ra:?} {rb:?}"),
    };
    let store = open_with(&db, winner.clone()).await.unwrap();
    store.cosign_transition(&k0).await.unwrap();
    assert_eq!(store.key_history().await.unwrap().len(), 2);
    assert!(store.verify_ledger().await.unwrap().ok());
    store.close().await;
}
