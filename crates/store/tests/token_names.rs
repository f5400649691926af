//! Token names are unique ignoring case (migration 0009), on SQLite and PostgreSQL: a
//! second token cannot take a name in other case, not even a revoked token's, and a
//! database that already held such duplicates is migrated by renaming the later ones.

mod common;

use common::{Db, on_each_backend};
use sitrep_store::{ApiToken, StoreError};

const T0: i64 = 1_700_000_000_000;

fn token(id: &str, name: &str, created_ms: i64) -> ApiToken {
    ApiToken {
        id: id.into(),
        name: name.into(),
        role: "responder".into(),
        // One secret per id: the secret's own unique key must not be what refuses.
        secret_sha256: format!("{id:0>64}"),
        created_ms,
        revoked_ms: None,
    }
}

fn is_name_conflict(r: &Result<(), StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict { what: "token name", id }) if id == "ALICE")
}

async fn names_are_unique_ignoring_case(db: Db) {
    let store = db.open().await;
    store.put_token(&token("t1", "alice", T0)).await.unwrap();
    let again = store.put_token(&token("t2", "ALICE", T0 + 1)).await;
    assert!(is_name_conflict(&again), "{again:?}");
    assert!(store.revoke_token("t1", T0 + 2).await.unwrap());
    // A revoked token keeps its name: it is still the actor of its past events.
    let after_revoke = store.put_token(&token("t3", "ALICE", T0 + 3)).await;
    assert!(is_name_conflict(&after_revoke), "{after_revoke:?}");
    store.put_token(&token("t4", "bob", T0 + 4)).await.unwrap();
    let names: Vec<String> = store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    store.close().await;
}

async fn duplicates_from_before_are_renamed(db: Db) {
    let store = db.open().await;
    store.close().await;
    // Put the database back where 0008 left it: no index, so duplicates go in.
    let raw = db.raw().await;
    for sql in [
        "DROP INDEX api_tokens_name_lower",
        "DELETE FROM _sqlx_migrations WHERE version = 9",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
    }
    for (id, name, at) in [
        ("b2", "Ops", T0 + 1),
        ("a1", "ops", T0),
        ("c3", "OPS", T0 + 1),
    ] {
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_ms) \
             VALUES ($1, $2, 'viewer', $3, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(format!("{id:0>64}"))
        .bind(at)
        .execute(&raw)
        .await
        .unwrap();
    }
    raw.close().await;
    let store = db.open().await;
    let mut names: Vec<(String, String)> = store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    names.sort();
    // The oldest keeps its name; the later ones (ties broken by id) get their id.
    assert_eq!(
        names,
        [
            ("a1".to_owned(), "ops".to_owned()),
            ("b2".to_owned(), "Ops~b2".to_owned()),
            ("c3".to_owned(), "OPS~c3".to_owned()),
        ]
    );
    let again = store.put_token(&token("d4", "oPs", T0 + 5)).await;
    assert!(matches!(
        again,
        Err(StoreError::Conflict {
            what: "token name",
            ..
        })
    ));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_names_are_unique_ignoring_case() {
    let ran = on_each_backend(names_are_unique_ignoring_case).await;
    eprintln!("ran on {ran:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_from_older_versions_are_renamed() {
    let ran = on_each_backend(duplicates_from_before_are_renamed).await;
    eprintln!("ran on {ran:?}");
}
