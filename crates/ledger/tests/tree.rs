//! The stored-hash tree against RFC 6962 known answers and against a naive recursive
//! MTH / PATH / PROOF written here from the RFC's definitions.

use proptest::prelude::*;
use sitrep_ledger::{
    Error, Hash, LogStore, MemoryStore, append, empty_root, leaf_hash, node_hash,
    prove_consistency, prove_inclusion, split_stored_hash_index, stored_hash_count,
    stored_hash_index, stored_hashes, tree_hash, verify_consistency, verify_inclusion,
};

/// The RFC 6962 test leaves.
const LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// Roots of the first 1..=8 test leaves (RFC 6962 test data, as published with
/// Certificate Transparency's reference implementations).
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn store_of(leaves: &[Vec<u8>]) -> MemoryStore {
    let mut store = MemoryStore::new();
    let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
    append(&mut store, &refs).expect("append");
    store
}

// ---- naive RFC 6962 section 2.1 definitions ----

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Vec<u8>]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => leaf_hash(&d[0]),
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

// ---- known answers ----

#[test]
fn rfc6962_test_leaves_give_the_known_roots() {
    let leaves: Vec<Vec<u8>> = LEAVES.iter().map(|l| l.to_vec()).collect();
    let store = store_of(&leaves);
    for (i, want) in ROOTS.iter().enumerate() {
        let size = i as u64 + 1;
        assert_eq!(
            tree_hash(size, &store).unwrap().to_hex(),
            *want,
            "size {size}"
        );
        assert_eq!(mth(&leaves[..=i]).to_hex(), *want, "naive, size {size}");
    }
    assert_eq!(
        tree_hash(0, &store).unwrap().to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn stored_hash_layout_matches_go_tlog() {
    // From Go's tlog: level 0 hashes of leaves 0..4 and the subtrees they complete.
    let want = [
        (0, 0, 0),
        (0, 1, 1),
        (1, 0, 2),
        (0, 2, 3),
        (0, 3, 4),
        (1, 1, 5),
        (2, 0, 6),
        (0, 4, 7),
    ];
    for (level, n, index) in want {
        assert_eq!(stored_hash_index(level, n), index, "({level}, {n})");
        assert_eq!(split_stored_hash_index(index), (level, n), "split {index}");
    }
    for index in 0..5000 {
        let (level, n) = split_stored_hash_index(index);
        assert_eq!(stored_hash_index(level, n), index);
    }
    assert_eq!(stored_hash_count(0), 0);
    assert_eq!(stored_hash_count(1), 1);
    assert_eq!(stored_hash_count(2), 3);
    assert_eq!(stored_hash_count(4), 7);
    assert_eq!(stored_hash_count(5), 8);
}

#[test]
fn store_and_reader_errors_are_reported_not_panics() {
    let leaves: Vec<Vec<u8>> = LEAVES.iter().map(|l| l.to_vec()).collect();
    let store = store_of(&leaves);
    assert!(matches!(
        prove_inclusion(8, 8, &store),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        prove_inclusion(0, 0, &store),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        prove_consistency(0, 8, &store),
        Err(Error::BadSizes { .. })
    ));
    assert!(matches!(
        prove_consistency(5, 4, &store),
        Err(Error::BadSizes { .. })
    ));
    // Asking for a tree larger than the store holds reaches the store and fails there.
    assert!(matches!(tree_hash(9, &store), Err(Error::Storage(_))));
    assert!(matches!(
        prove_inclusion(u64::MAX, 3, &store),
        Err(Error::TreeTooLarge { .. })
    ));
    assert_eq!(prove_consistency(8, 8, &store).unwrap(), Vec::<Hash>::new());
}

#[test]
fn memory_store_rejects_hashes_that_do_not_fit_the_layout() {
    let mut store = MemoryStore::new();
    assert!(store.append(&[b"a"], &[]).is_err());
    assert_eq!(store.tree_size().unwrap(), 0);
    assert_eq!(store.hash_count(), 0);
}

#[test]
fn stored_hashes_match_what_append_stores() {
    let mut store = MemoryStore::new();
    for i in 0u64..100 {
        let entry = i.to_be_bytes();
        let want = stored_hashes(i, leaf_hash(&entry), &store).unwrap();
        let before = store.hash_count();
        append(&mut store, &[&entry]).unwrap();
        let indexes: Vec<u64> = (before..store.hash_count()).collect();
        assert_eq!(
            sitrep_ledger::HashReader::read_hashes(&store, &indexes).unwrap(),
            want
        );
    }
}

// ---- properties against the naive definitions ----

fn leaves_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 1..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn roots_and_proofs_match_the_naive_definitions(
        leaves in leaves_strategy(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        chunk in 1usize..40,
    ) {
        // Append in chunks so batches that straddle subtrees are exercised.
        let mut store = MemoryStore::new();
        for c in leaves.chunks(chunk) {
            let refs: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            append(&mut store, &refs).unwrap();
        }
        let n = leaves.len();
        let size = n as u64;
        prop_assert_eq!(store.hash_count(), stored_hash_count(size));
        let root = tree_hash(size, &store).unwrap();
        prop_assert_eq!(root, mth(&leaves));

        let index = a.index(n);
        let proof = prove_inclusion(size, index as u64, &store).unwrap();
        prop_assert_eq!(&proof, &path(index, &leaves));
        let leaf = leaf_hash(&leaves[index]);
        prop_assert!(verify_inclusion(&leaf, index as u64, size, &proof, &root).is_ok());

        let old = b.index(n) + 1;
        let old_root = tree_hash(old as u64, &store).unwrap();
        prop_assert_eq!(old_root, mth(&leaves[..old]));
        let cproof = prove_consistency(old as u64, size, &store).unwrap();
        prop_assert_eq!(&cproof, &subproof(old, &leaves, true));
        prop_assert!(verify_consistency(old as u64, size, &cproof, &old_root, &root).is_ok());
    }

    #[test]
    fn tampered_proofs_are_rejected(
        leaves in leaves_strategy(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let store = store_of(&leaves);
        let n = leaves.len();
        let size = n as u64;
        let root = tree_hash(size, &store).unwrap();
        let index = a.index(n);
        let leaf = leaf_hash(&leaves[index]);
        let mut proof = prove_inclusion(size, index as u64, &store).unwrap();
        if !proof.is_empty() {
            let i = flip.index(proof.len());
            proof[i].0[flip.index(32)] ^= 1 << bit;
            prop_assert!(verify_inclusion(&leaf, index as u64, size, &proof, &root).is_err());
            proof.pop();
            prop_assert!(verify_inclusion(&leaf, index as u64, size, &proof, &root).is_err());
        }
        let proof = prove_inclusion(size, index as u64, &store).unwrap();
        // Wrong index, wrong size, extra hash: all rejected.
        if n > 1 {
            let other = (index + 1) % n;
            if leaves[other] != leaves[index] {
                prop_assert!(verify_inclusion(&leaf, other as u64, size, &proof, &root).is_err());
            }
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index as u64, size, &longer, &root).is_err());

        let old = b.index(n) + 1;
        let old_root = tree_hash(old as u64, &store).unwrap();
        let mut cproof = prove_consistency(old as u64, size, &store).unwrap();
        if !cproof.is_empty() {
            let i = flip.index(cproof.len());
            cproof[i].0[flip.index(32)] ^= 1 << bit;
            prop_assert!(verify_consistency(old as u64, size, &cproof, &old_root, &root).is_err());
        }
        if old < n {
            let mut bad_root = old_root;
            bad_root.0[0] ^= 1;
            let cproof = prove_consistency(old as u64, size, &store).unwrap();
            prop_assert!(verify_consistency(old as u64, size, &cproof, &bad_root, &root).is_err());
            if old_root != root {
                prop_assert!(verify_consistency(old as u64, size, &cproof, &root, &old_root).is_err());
            }
        }
    }
}

proptest! {
    #[test]
    fn layout_functions_are_inverse_over_the_whole_range(index in 0u64..(1 << 62)) {
        let (level, n) = split_stored_hash_index(index);
        prop_assert_eq!(stored_hash_index(level, n), index);
    }

    #[test]
    fn each_leaf_adds_one_hash_per_completed_subtree(n in 0u64..(1 << 61)) {
        prop_assert_eq!(
            stored_hash_count(n + 1) - stored_hash_count(n),
            1 + u64::from(n.trailing_ones())
        );
        prop_assert_eq!(stored_hash_index(0, n), stored_hash_count(n));
    }
}

/// A backend whose reads fail, standing in for a broken disk or database.
struct FailingReads(MemoryStore);

#[derive(Debug, thiserror::Error)]
#[error("disk on fire")]
struct DiskOnFire;

impl sitrep_ledger::HashReader for FailingReads {
    fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, sitrep_ledger::StorageError> {
        Err(sitrep_ledger::StorageError::new(DiskOnFire))
    }
}

impl LogStore for FailingReads {
    fn tree_size(&self) -> Result<u64, sitrep_ledger::StorageError> {
        self.0.tree_size()
    }
    fn read_entries(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Vec<u8>>, sitrep_ledger::StorageError> {
        self.0.read_entries(start, end)
    }
    fn append(
        &mut self,
        entries: &[&[u8]],
        hashes: &[Hash],
    ) -> Result<(), sitrep_ledger::StorageError> {
        self.0.append(entries, hashes)
    }
}

#[test]
fn the_store_is_object_safe_and_backend_errors_reach_the_caller() {
    let mut inner = MemoryStore::new();
    let dyn_store: &mut dyn LogStore = &mut inner;
    assert_eq!(append(dyn_store, &[b"a".as_slice()]).unwrap(), 0);
    assert_eq!(append(dyn_store, &[b"b".as_slice(), b"c"]).unwrap(), 1);
    assert_eq!(
        tree_hash(3, dyn_store).unwrap(),
        mth(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
    );

    // Appending leaf 3 needs stored hashes from before the batch: the read fails, the
    // error keeps its backend cause, and nothing is appended.
    let mut failing = FailingReads(inner);
    let err = append(&mut failing, &[b"d".as_slice()]).unwrap_err();
    assert!(matches!(err, Error::Storage(_)));
    assert_eq!(err.to_string(), "disk on fire");
    let Error::Storage(storage) = err else {
        unreachable!()
    };
    assert!(storage.into_inner().downcast::<DiskOnFire>().is_ok());
    assert_eq!(failing.tree_size().unwrap(), 3);
}
