//! The native SQLite re-hash on a real file the store wrote, in chunks of 7 entries so
//! every case crosses chunk boundaries: a clean ledger, rows out of storage order (the
//! walk by key takes over), a missing row, an edited record and a short stored hash.

use sitrep_ledger::{Record, Signer};
use sqlx::AnyPool;

use super::*;
use crate::{Change, SQLITE_FILE, Store, StoreOptions, sqlite_url};

const SIZE: u64 = 40;
const CHUNK: u64 = 7;

/// A ledger of `SIZE` entries in `dir`; returns the file, its root and a pool on it.
async fn ledger(dir: &Path) -> (PathBuf, Hash, AnyPool) {
    let signer = Signer::from_seed("t", &[1; 32]).expect("signer");
    let store = Store::open(StoreOptions::new(sqlite_url(dir), signer, "t/log"))
        .await
        .expect("open");
    for i in 0..SIZE {
        let mut change = Change::default();
        change
            .events
            .push(Record::new("note.added", 1_000 + i, "alice"));
        store.commit(change).await.expect("commit");
    }
    let root = store.root(SIZE).await.expect("root");
    let pool = store.pool().clone();
    (dir.join(SQLITE_FILE), root, pool)
}

async fn rehash(file: &Path) -> Result<(Hash, Option<String>), StoreError> {
    rehash_in_chunks(file.to_path_buf(), SIZE, CHUNK, |_| {}).await
}

async fn run(pool: &AnyPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.expect(sql);
}

#[tokio::test]
async fn a_clean_ledger_gives_its_root_and_counts_progress() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (file, root, _pool) = ledger(tmp.path()).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let progress = move |n| log.lock().expect("progress").push(n);
    let got = rehash_in_chunks(file, SIZE, CHUNK, progress).await;
    assert_eq!(got.expect("rehash"), (root, None));
    let want: Vec<u64> = (1..=SIZE.div_ceil(CHUNK))
        .map(|c| (c * CHUNK).min(SIZE))
        .collect();
    assert_eq!(*seen.lock().expect("progress"), want);
}

/// A row given a new rowid (as one deleted and inserted again would get): storage
/// order is no longer index order, and the walk by key must take over from where it was.
#[tokio::test]
async fn rows_out_of_storage_order_still_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (file, root, pool) = ledger(tmp.path()).await;
    for (table, key) in [
        ("ledger_entries", "leaf_index"),
        ("ledger_hashes", "hash_index"),
    ] {
        let sql = format!(
            "UPDATE {table} SET rowid = (SELECT MAX(rowid) + 1 FROM {table}) WHERE {key} = 12"
        );
        run(&pool, &sql).await;
    }
    let last: i64 = sqlx::query_scalar("SELECT leaf_index FROM ledger_entries ORDER BY rowid DESC")
        .fetch_one(&pool)
        .await
        .expect("last");
    assert_eq!(last, 12, "the row did not move");
    assert_eq!(rehash(&file).await.expect("rehash"), (root, None));
}

#[tokio::test]
async fn a_missing_stored_hash_is_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (file, _root, pool) = ledger(tmp.path()).await;
    run(&pool, "DELETE FROM ledger_hashes WHERE hash_index = 30").await;
    let err = rehash(&file).await.expect_err("a gap passed");
    assert!(
        matches!(&err, StoreError::LedgerDiverged { detail, .. }
            if detail == "stored hash 30 is missing (the next stored one is 31)"),
        "{err}"
    );
}

#[tokio::test]
async fn an_edited_record_in_a_later_chunk_is_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (file, root, pool) = ledger(tmp.path()).await;
    let sql = "UPDATE ledger_entries SET record = CAST(replace(CAST(record AS TEXT), \
               'alice', 'mallo') AS BLOB) WHERE leaf_index = 23";
    run(&pool, sql).await;
    let (got, first_bad) = rehash(&file).await.expect("rehash");
    assert_ne!(got, root);
    let detail = first_bad.expect("the edit was not found");
    assert!(
        detail.starts_with("entry 23: its stored leaf hash"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_short_stored_hash_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (file, _root, pool) = ledger(tmp.path()).await;
    run(
        &pool,
        "UPDATE ledger_hashes SET hash = x'00' WHERE hash_index = 17",
    )
    .await;
    let err = rehash(&file).await.expect_err("a short hash passed");
    assert!(
        matches!(&err, StoreError::LedgerDiverged { detail, .. }
            if detail == "stored hash 17 is 1 bytes long, not 32"),
        "{err}"
    );
}

#[test]
fn only_files_on_disk_are_read_natively() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert_eq!(sqlite_file(&sqlite_url(tmp.path())), None, "no file yet");
    std::fs::write(tmp.path().join(SQLITE_FILE), b"").expect("touch");
    let file = sqlite_file(&sqlite_url(tmp.path())).expect("a file");
    assert_eq!(file, tmp.path().join(SQLITE_FILE));
    assert_eq!(sqlite_file("sqlite::memory:"), None);
    assert_eq!(sqlite_file("sqlite://x.db?mode=memory"), None);
}
