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
    let mut indexes = Vec::new();
    subtree_indexes(0, size, &mut indexes)?;
    let hashes = read_exact(reader, &indexes)?;
    Ok(fold_subtrees(&hashes))
}

/// The RFC 6962 inclusion proof (audit path) of leaf `index` in the tree of `size`
/// leaves, from the leaf's sibling up to a child of the root.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    size: u64,
    index: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
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
    read_ranges(&siblings, reader)
}

/// The RFC 6962 consistency proof between the trees of `old` and `new` leaves
/// (`0 < old <= new`; equal sizes give an empty proof).
pub fn prove_consistency<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, Error> {
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
    read_ranges(&siblings, reader)
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

/// Reads the hashes of several ranges with a single storage call.
fn read_ranges<R: HashReader + ?Sized>(
    ranges: &[(u64, u64)],
    reader: &R,
) -> Result<Vec<Hash>, Error> {
    let mut indexes = Vec::with_capacity(ranges.len() * 2);
    let mut counts = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let before = indexes.len();
        subtree_indexes(lo, hi, &mut indexes)?;
        counts.push(indexes.len() - before);
    }
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
