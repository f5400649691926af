//! The durable file log on a real directory: it agrees with the in-memory log, survives
//! reopening, recovers every torn tail to a committed prefix, and refuses mid-file damage.

use sitrep_evidence::filelog::{FileLog, FileLogError};
use sitrep_ledger::{LogStore, MemoryStore, append, prove_inclusion, tree_hash};

fn entry(i: u64) -> Vec<u8> {
    format!(
        "{{\"event\":{i},\"pad\":\"{}\"}}",
        "x".repeat((i % 7) as usize)
    )
    .into_bytes()
}

/// Appends entries `0..n` in batches of `batch`, to both a file log and a memory log.
fn build(dir: &std::path::Path, n: u64, batch: u64) -> (FileLog, MemoryStore) {
    let (mut log, rec) = FileLog::open(dir).expect("open");
    assert!(rec.is_clean());
    let mut mem = MemoryStore::new();
    let mut i = 0;
    while i < n {
        let hi = (i + batch).min(n);
        let data: Vec<Vec<u8>> = (i..hi).map(entry).collect();
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        append(&mut log, &refs).expect("append file");
        append(&mut mem, &refs).expect("append memory");
        i = hi;
    }
    (log, mem)
}

#[test]
fn the_file_log_agrees_with_the_memory_log_and_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp");
    let (log, mem) = build(dir.path(), 300, 7);
    for size in [1, 2, 7, 64, 299, 300] {
        assert_eq!(
            tree_hash(size, &log).unwrap(),
            tree_hash(size, &mem).unwrap()
        );
        assert_eq!(
            prove_inclusion(size, size / 2, &log).unwrap(),
            prove_inclusion(size, size / 2, &mem).unwrap()
        );
    }
    drop(log);
    let (log, rec) = FileLog::open(dir.path()).expect("reopen");
    assert!(rec.is_clean(), "{rec:?}");
    assert_eq!(log.tree_size().unwrap(), 300);
    assert_eq!(
        log.read_entries(0, 300).unwrap(),
        mem.read_entries(0, 300).unwrap()
    );
    assert_eq!(tree_hash(300, &log).unwrap(), tree_hash(300, &mem).unwrap());
}

/// After any cut, the log reopens to a prefix whose root is the memory log's root at that
/// size: never wrong data, never an error.
fn assert_committed_prefix(dir: &std::path::Path, mem: &MemoryStore, at_least: u64) {
    let (log, _) = FileLog::open(dir).expect("recovering open");
    let size = log.tree_size().unwrap();
    assert!(
        size >= at_least,
        "lost committed entries: {size} < {at_least}"
    );
    assert_eq!(
        tree_hash(size, &log).unwrap(),
        tree_hash(size, mem).unwrap()
    );
    assert_eq!(
        log.read_entries(0, size).unwrap(),
        mem.read_entries(0, size).unwrap()
    );
}

#[test]
fn a_torn_tail_at_any_byte_recovers_to_a_committed_prefix() {
    let dir = tempfile::tempdir().expect("temp");
    let (log, mem) = build(dir.path(), 40, 5);
    drop(log);
    let entries = std::fs::read(dir.path().join("entries")).unwrap();
    let hashes = std::fs::read(dir.path().join("hashes")).unwrap();
    let last_two = entry(38).len() + entry(39).len() + 2 * 12;
    // A crash while writing the last batch's entries (35..40) happens before any of its
    // hashes are written: the hashes file still ends at entry 35.
    let before_last_batch = sitrep_ledger::stored_hash_count(35) as usize * 32;
    for cut in entries.len() - last_two..=entries.len() {
        let d = tempfile::tempdir().expect("temp");
        std::fs::write(d.path().join("entries"), &entries[..cut]).unwrap();
        std::fs::write(d.path().join("hashes"), &hashes[..before_last_batch]).unwrap();
        assert_committed_prefix(d.path(), &mem, 35);
    }
    for cut in hashes.len() - 64..=hashes.len() {
        let d = tempfile::tempdir().expect("temp");
        std::fs::write(d.path().join("entries"), &entries).unwrap();
        std::fs::write(d.path().join("hashes"), &hashes[..cut]).unwrap();
        assert_committed_prefix(d.path(), &mem, 35);
    }
}

#[test]
fn entries_whose_hashes_never_landed_are_dropped_and_reported() {
    let dir = tempfile::tempdir().expect("temp");
    let (log, mem) = build(dir.path(), 20, 4);
    drop(log);
    // A crash between the entries write and the hashes write of the last batch.
    let hashes = std::fs::read(dir.path().join("hashes")).unwrap();
    let keep = sitrep_ledger::stored_hash_count(16) as usize * 32;
    std::fs::write(dir.path().join("hashes"), &hashes[..keep]).unwrap();
    let (log, rec) = FileLog::open(dir.path()).expect("open");
    assert_eq!(rec.entries_dropped, 4);
    assert_eq!(log.tree_size().unwrap(), 16);
    assert_eq!(tree_hash(16, &log).unwrap(), tree_hash(16, &mem).unwrap());
}

#[test]
fn damage_before_the_tail_refuses_to_open() {
    let dir = tempfile::tempdir().expect("temp");
    let (log, _) = build(dir.path(), 30, 3);
    drop(log);
    let path = dir.path().join("entries");
    let clean = std::fs::read(&path).unwrap();
    for at in [5, clean.len() / 2, clean.len() - 40] {
        let mut bytes = clean.clone();
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        match FileLog::open(dir.path()) {
            Err(FileLogError::Corrupt { index, .. }) => {
                assert!(index < 29, "byte {at}: index {index}")
            }
            other => panic!("byte {at}: expected a refusal, got {other:?}"),
        }
    }
    std::fs::write(&path, &clean).unwrap();
    assert_eq!(
        FileLog::open(dir.path())
            .expect("clean again")
            .0
            .tree_size()
            .unwrap(),
        30
    );
}

#[test]
fn a_damaged_length_is_refused_not_taken_for_a_torn_write() {
    let dir = tempfile::tempdir().expect("temp");
    let (log, _) = build(dir.path(), 30, 3);
    drop(log);
    // The first record's length now points far past the end of the file. Read as a
    // tear, it would cut all 30 acknowledged entries; their hashes prove they were
    // written, so open must refuse and leave the files alone.
    let path = dir.path().join("entries");
    let clean = std::fs::read(&path).unwrap();
    let mut bytes = clean.clone();
    bytes[..4].copy_from_slice(&60_000u32.to_be_bytes());
    std::fs::write(&path, &bytes).unwrap();
    match FileLog::open(dir.path()) {
        Err(FileLogError::Corrupt { index, offset, .. }) => assert_eq!((index, offset), (0, 0)),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing may be cut");
    std::fs::write(&path, &clean).unwrap();
    assert_eq!(
        FileLog::open(dir.path())
            .expect("clean")
            .0
            .tree_size()
            .unwrap(),
        30
    );
}
