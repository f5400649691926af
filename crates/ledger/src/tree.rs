//! The stored-hash layout of an RFC 6962 tree (after Go's sumdb `tlog`), appending,
//! tree hashes, and building inclusion and consistency proofs.
//!
//! Every complete subtree's hash is stored exactly once, in the order it becomes
//! complete: appending leaf `n` stores its leaf hash and then one hash per subtree
//! the leaf completes (one per trailing 1 bit of `n`). Appends therefore cost two
//! hashes amortised, and any root or proof is assembled from at most
//! O(log² n) stored hashes without re-hashing the tree.

use crate::error::Error;
use crate::hash::{Hash, empty_root, leaf_hash, node_hash};
use crate::store::{HashReader, LogStore};

/// The largest tree size the crate handles. It keeps every stored-hash index below
/// 2^63, so the layout arithmetic cannot overflow.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Index in the stored-hash sequence of the hash of the `n`-th complete subtree at
/// `level` (level 0 = leaf hashes; level `l` subtrees cover `2^l` leaves).
///
/// Defined for `level < 63` and `n < 2^(62 - level)`; other inputs give an
/// unspecified value (never a panic).
#[must_use]
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // Level L's n-th hash is stored right after level L-1's (2n+1)-th hash: move
    // down to level 0 (n -> 2n+1, L times), where hash n sits at
    // n + n/2 + n/4 + ... = 2n - popcount(n); then add back one per level.
    let level = u32::from(level) & 63;
    let n0 = n.wrapping_shl(level) | ((1u64 << level) - 1);
    n0.wrapping_mul(2)
        .wrapping_sub(u64::from(n0.count_ones()))
        .wrapping_add(u64::from(level))
}

/// Inverse of [`stored_hash_index`]: the `(level, n)` stored at `index`.
///
/// Defined for `index < 2^63`; other inputs give an unspecified value (never a panic).
#[must_use]
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // stored_hash_index(0, n) lies in [n, 2n], so the leaf whose append stored this
    // hash is in [index/2, index]; walk forward from index/2 (at most ~64 steps,
    // since each leaf n adds 1 + trailing_ones(n) hashes).
    let index = index & (u64::MAX >> 1);
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    loop {
        let next = index_n + 1 + u64::from(n.trailing_ones());
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    // The hash was stored with leaf n: it is (0, n), (1, n/2), (2, n/4), ...
    let level = (index - index_n) as u8;
    (level, n >> level)
}

/// Number of stored hashes for a tree of `size` leaves.
///
/// Defined for `size <= MAX_TREE_SIZE`.
#[must_use]
pub fn stored_hash_count(size: u64) -> u64 {
    match size.checked_sub(1) {
        None => 0,
        // The last leaf's hash, plus one per subtree that leaf completed.
        Some(last) => stored_hash_index(0, last) + 1 + u64::from(last.trailing_ones()),
    }
}

/// The stored hashes that appending leaf `index` with leaf hash `leaf` adds, in
/// storage order: the leaf hash, then the hash of each subtree the leaf completes.
///
/// `reader` must hold the stored hashes of the tree of size `index`.
pub fn stored_hashes<R: HashReader + ?Sized>(
    index: u64,
    leaf: Hash,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    if index >= MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size: index });
    }
    // Each trailing 1 bit of `index` completes a subtree whose left half is an
    // already stored subtree at that level.
    let m = index.trailing_ones() as u8;
    let indexes: Vec<u64> = (0..m)
        .rev()
        .map(|level| stored_hash_index(level, (index >> level) - 1))
        .collect();
    let old = read_exact(reader, &indexes)?;
    let mut out = Vec::with_capacity(usize::from(m) + 1);
    let mut h = leaf;
    out.push(h);
    for left in old.iter().rev() {
        h = node_hash(left, &h);
        out.push(h);
    }
    Ok(out)
}

/// Appends `entries` to the log in `store` and returns the index of the first one.
///
/// Computes every leaf and subtree hash the entries add and hands entries and hashes
/// to the store in one [`LogStore::append`] call, so a store can commit a whole
/// batch at once (group commit).
pub fn append<S: LogStore + ?Sized>(store: &mut S, entries: &[&[u8]]) -> Result<u64, Error> {
    let start = store.tree_size()?;
    let count = entries.len() as u64;
    let end = start.saturating_add(count);
    if end > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size: end });
    }
    let base = stored_hash_count(start);
    let mut pending: Vec<Hash> =
        Vec::with_capacity(usize::try_from(stored_hash_count(end) - base).unwrap_or(0));
    for (n, entry) in (start..end).zip(entries) {
        let mut h = leaf_hash(entry);
        pending.push(h);
        for level in 0..n.trailing_ones() as u8 {
            let index = stored_hash_index(level, (n >> level) - 1);
            // Siblings inside this batch are pending; older ones are in the store.
            let left = match index.checked_sub(base) {
                Some(i) => usize::try_from(i)
                    .ok()
                    .and_then(|i| pending.get(i))
                    .copied()
                    .ok_or(Error::Internal("pending stored hash missing"))?,
                None => read_exact(store, &[index])?[0],
            };
            h = node_hash(&left, &h);
            pending.push(h);
        }
    }
    store.append(entries, &pending)?;
    Ok(start)
}

/// The RFC 6962 Merkle tree hash (root) of the first `size` leaves.
///
/// The empty tree's root is SHA-256 of the empty string.
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    if size > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size });
    }
    let hashes = read_exact(reader, &tree_hash_indexes(size)?)?;
    Ok(fold_subtrees(&hashes))
}

/// The RFC 6962 inclusion proof (audit path) of leaf `index` in the tree of `size`
/// leaves, from the leaf's sibling up to a child of the root.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    size: u64,
    index: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    read_ranges(&inclusion_ranges(size, index)?, reader)
}

/// The RFC 6962 consistency proof between the trees of `old` and `new` leaves
/// (`0 < old <= new`; equal sizes give an empty proof).
pub fn prove_consistency<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    read_ranges(&consistency_ranges(old, new)?, reader)
}

/// The stored-hash indexes [`tree_hash`] reads for a tree of `size` leaves, in the
/// order it reads them (empty for the empty tree).
///
/// For a store whose reads are asynchronous (a database): fetch these first, then call
/// [`tree_hash`] over a reader that serves them from memory.
pub fn tree_hash_indexes(size: u64) -> Result<Vec<u64>, Error> {
    if size > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size });
    }
    let mut indexes = Vec::new();
    subtree_indexes(0, size, &mut indexes)?;
    Ok(indexes)
}

/// The stored-hash indexes [`prove_inclusion`]`(size, index, _)` reads, in order.
pub fn inclusion_proof_indexes(size: u64, index: u64) -> Result<Vec<u64>, Error> {
    ranges_indexes(&inclusion_ranges(size, index)?).map(|(indexes, _)| indexes)
}

/// The stored-hash indexes [`prove_consistency`]`(old, new, _)` reads, in order.
pub fn consistency_proof_indexes(old: u64, new: u64) -> Result<Vec<u64>, Error> {
    ranges_indexes(&consistency_ranges(old, new)?).map(|(indexes, _)| indexes)
}

/// The stored-hash indexes [`append`] reads from a store of `size` leaves when it
/// appends `count` entries, in the order it reads them.
///
/// They are the older left siblings of the subtrees the new leaves complete: at most
/// one per level, all below `stored_hash_count(size)`. Hashes the batch itself adds
/// are never read back from the store.
pub fn append_indexes(size: u64, count: u64) -> Result<Vec<u64>, Error> {
    let end = size.saturating_add(count);
    if end > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size: end });
    }
    let base = stored_hash_count(size);
    let mut out = Vec::new();
    for n in size..end {
        for level in 0..n.trailing_ones() as u8 {
            let index = stored_hash_index(level, (n >> level) - 1);
            if index < base {
                out.push(index);
            }
        }
    }
    Ok(out)
}

/// The node ranges whose hashes make up the inclusion proof of `index` in `size`,
/// from the leaf's sibling upwards.
fn inclusion_ranges(size: u64, index: u64) -> Result<Vec<(u64, u64)>, Error> {
    if size > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size });
    }
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    // Walk from the root to the leaf; every step's other half is one proof node.
    let mut siblings = Vec::new();
    let (mut lo, mut hi) = (0, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
        }
    }
    siblings.reverse();
    Ok(siblings)
}

/// The node ranges whose hashes make up the consistency proof from `old` to `new`.
fn consistency_ranges(old: u64, new: u64) -> Result<Vec<(u64, u64)>, Error> {
    if new > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size: new });
    }
    if old == 0 || old > new {
        return Err(Error::BadSizes { old, new });
    }
    // RFC 6962 section 2.1.2 SUBPROOF, unrolled: `lo == 0` plays the role of the
    // flag b (true while the old tree is still a left prefix of the range).
    let mut siblings = Vec::new();
    let (mut lo, mut hi) = (0, new);
    loop {
        if old == hi {
            if lo != 0 {
                siblings.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if old <= lo + k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
        }
    }
    siblings.reverse();
    Ok(siblings)
}

/// Largest power of two strictly below `n` (`n >= 2`): RFC 6962's split point `k`.
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Appends the stored-hash indexes of the complete subtrees that make up leaves
/// `lo..hi`, largest (leftmost) first.
pub(crate) fn subtree_indexes(mut lo: u64, hi: u64, out: &mut Vec<u64>) -> Result<(), Error> {
    while lo < hi {
        let level = 63 - (hi - lo).leading_zeros();
        let k = 1u64 << level;
        if lo & (k - 1) != 0 {
            // Only ranges that are nodes of the RFC 6962 tree decompose this way.
            return Err(Error::Internal("subtree range not aligned"));
        }
        out.push(stored_hash_index(level as u8, lo >> level));
        lo += k;
    }
    Ok(())
}

/// Combines the complete subtrees of a range (left to right) into the range's hash.
fn fold_subtrees(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(&last) = iter.next() else {
        return empty_root();
    };
    iter.fold(last, |right, left| node_hash(left, &right))
}

/// The stored-hash indexes of several ranges, and how many belong to each range.
fn ranges_indexes(ranges: &[(u64, u64)]) -> Result<(Vec<u64>, Vec<usize>), Error> {
    let mut indexes = Vec::with_capacity(ranges.len() * 2);
    let mut counts = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let before = indexes.len();
        subtree_indexes(lo, hi, &mut indexes)?;
        counts.push(indexes.len() - before);
    }
    Ok((indexes, counts))
}

/// Reads the hashes of several ranges with a single storage call.
fn read_ranges<R: HashReader + ?Sized>(
    ranges: &[(u64, u64)],
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    let (indexes, counts) = ranges_indexes(ranges)?;
    let hashes = read_exact(reader, &indexes)?;
    let mut rest = hashes.as_slice();
    let mut out = Vec::with_capacity(ranges.len());
    for count in counts {
        let (group, tail) = rest
            .split_at_checked(count)
            .ok_or(Error::Internal("short hash group"))?;
        out.push(fold_subtrees(group));
        rest = tail;
    }
    Ok(out)
}

/// `read_hashes`, checking that the store returned one hash per index.
pub(crate) fn read_exact<R: HashReader + ?Sized>(
    reader: &R,
    indexes: &[u64],
) -> Result<Vec<Hash>, Error> {
    let hashes = reader.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::ShortRead {
            want: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    //! The `*_indexes` functions promise to list exactly what the readers read; these
    //! tests record every read of the real functions and compare.

    use std::cell::RefCell;

    use super::*;
    use crate::store::{LogStore, MemoryStore, StorageError};

    /// A store that records the indexes of every hash read.
    struct Recording {
        inner: MemoryStore,
        reads: RefCell<Vec<u64>>,
    }

    impl HashReader for Recording {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
            self.reads.borrow_mut().extend_from_slice(indexes);
            self.inner.read_hashes(indexes)
        }
    }

    impl LogStore for Recording {
        fn tree_size(&self) -> Result<u64, StorageError> {
            self.inner.tree_size()
        }
        fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
            self.inner.read_entries(start, end)
        }
        fn append(&mut self, entries: &[&[u8]], hashes: &[Hash]) -> Result<(), StorageError> {
            self.inner.append(entries, hashes)
        }
    }

    fn store(size: u64) -> Recording {
        let mut inner = MemoryStore::new();
        let entries: Vec<Vec<u8>> = (0..size).map(|i| i.to_be_bytes().to_vec()).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        append(&mut inner, &refs).expect("append");
        Recording {
            inner,
            reads: RefCell::new(Vec::new()),
        }
    }

    fn take(s: &Recording) -> Vec<u64> {
        std::mem::take(&mut *s.reads.borrow_mut())
    }

    #[test]
    fn index_lists_equal_what_the_readers_read() {
        let s = store(70);
        for size in 0..=70u64 {
            tree_hash(size, &s).expect("tree_hash");
            assert_eq!(
                take(&s),
                tree_hash_indexes(size).expect("indexes"),
                "size {size}"
            );
            for index in 0..size {
                prove_inclusion(size, index, &s).expect("inclusion");
                assert_eq!(
                    take(&s),
                    inclusion_proof_indexes(size, index).expect("indexes"),
                    "inclusion {index} in {size}"
                );
            }
            for old in 1..=size {
                prove_consistency(old, size, &s).expect("consistency");
                assert_eq!(
                    take(&s),
                    consistency_proof_indexes(old, size).expect("indexes"),
                    "consistency {old} -> {size}"
                );
            }
        }
    }

    #[test]
    fn append_indexes_equal_what_append_reads() {
        for size in 0..40u64 {
            for count in 0..40u64 {
                let mut s = store(size);
                let entries: Vec<Vec<u8>> = (0..count).map(|i| vec![i as u8; 3]).collect();
                let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
                append(&mut s, &refs).expect("append");
                assert_eq!(
                    take(&s),
                    append_indexes(size, count).expect("indexes"),
                    "append {count} at {size}"
                );
            }
        }
    }

    #[test]
    fn index_lists_reject_what_the_readers_reject() {
        assert!(inclusion_proof_indexes(3, 3).is_err());
        assert!(consistency_proof_indexes(0, 3).is_err());
        assert!(consistency_proof_indexes(4, 3).is_err());
        assert!(tree_hash_indexes(MAX_TREE_SIZE + 1).is_err());
        assert!(append_indexes(MAX_TREE_SIZE, 1).is_err());
    }
}
