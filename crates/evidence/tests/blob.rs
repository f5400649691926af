//! The blob store on a real directory: content addressing, verified reads, corruption,
//! retention and legal hold.

use sitrep_evidence::{BlobError, BlobStore};
use sitrep_ledger::Hash;

fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = BlobStore::open(dir.path().join("blobs")).expect("open");
    (dir, store)
}

fn blob_file(dir: &tempfile::TempDir, sha: &Hash) -> std::path::PathBuf {
    let hex = sha.to_hex();
    dir.path().join("blobs/sha256").join(&hex[..2]).join(hex)
}

#[test]
fn blobs_are_named_by_their_sha256_and_read_back_whole() {
    let (_dir, store) = store();
    let bytes = b"journalctl output\n".repeat(1000);
    let stored = store.put(&bytes).expect("put");
    assert_eq!(stored.sha256, Hash::digest(&bytes));
    assert_eq!(stored.size, bytes.len() as u64);
    assert_eq!(store.get(&stored.sha256).expect("get"), bytes);
    // Storing the same bytes again is a no-op with the same name.
    assert_eq!(store.put(&bytes).expect("put again"), stored);
}

#[test]
fn a_stream_is_stored_without_knowing_its_size() {
    let (_dir, store) = store();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let stored = store.put_reader(std::io::Cursor::new(&data)).expect("put");
    assert_eq!(stored.sha256, Hash::digest(&data));
    let mut out = Vec::new();
    assert_eq!(
        store.copy_to(&stored.sha256, &mut out).expect("copy"),
        data.len() as u64
    );
    assert_eq!(out, data);
}

#[test]
fn a_damaged_blob_is_reported_corrupt_never_returned() {
    let (dir, store) = store();
    let stored = store.put(b"evidence").expect("put");
    let path = blob_file(&dir, &stored.sha256);
    // Replace the file with a valid gzip of other bytes: only the hash check can tell.
    let other = tempfile::tempdir().expect("temp");
    let other_store = BlobStore::open(other.path()).expect("open");
    let forged = other_store.put(b"forged!!").expect("put");
    let forged_path = other
        .path()
        .join("sha256")
        .join(&forged.sha256.to_hex()[..2])
        .join(forged.sha256.to_hex());
    std::fs::copy(forged_path, &path).expect("copy");
    match store.get(&stored.sha256) {
        Err(BlobError::Corrupt { expected, .. }) => assert_eq!(expected, stored.sha256),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Garbage that is not gzip at all is corruption too.
    std::fs::write(&path, b"garbage").expect("write");
    assert!(matches!(
        store.get(&stored.sha256),
        Err(BlobError::Corrupt { .. })
    ));
}

#[test]
fn retention_deletes_unless_under_legal_hold() {
    let (_dir, store) = store();
    let a = store.put(b"held").expect("put").sha256;
    let b = store.put(b"not held").expect("put").sha256;
    store.hold(&a).expect("hold");
    assert!(store.is_held(&a));
    assert!(matches!(store.delete(&a), Err(BlobError::LegalHold(h)) if h == a));
    assert!(store.contains(&a));
    store.delete(&b).expect("delete");
    assert!(!store.contains(&b));
    assert!(matches!(store.get(&b), Err(BlobError::NotFound(_))));
    assert!(matches!(store.delete(&b), Err(BlobError::NotFound(_))));
    store.release(&a).expect("release");
    store.delete(&a).expect("delete after release");
    assert!(matches!(store.hold(&a), Err(BlobError::NotFound(_))));
}
