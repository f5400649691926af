//! The error of tree operations: appending, roots, proofs and tiles.

use crate::store::StorageError;

/// Why a tree operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The storage backend returned a different number of hashes than asked for.
    #[error("storage returned {got} hashes for {want} indexes")]
    ShortRead {
        /// Hashes asked for.
        want: usize,
        /// Hashes returned.
        got: usize,
    },
    /// A leaf index at or beyond the tree size.
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Consistency proofs need `0 < old <= new`.
    #[error("no consistency proof from tree size {old} to {new}: need 0 < old <= new")]
    BadSizes {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
    /// A tree size above [`crate::MAX_TREE_SIZE`].
    #[error("tree size {size} exceeds the supported maximum")]
    TreeTooLarge {
        /// The size asked for.
        size: u64,
    },
    /// An entry longer than an entry bundle can hold (65,535 bytes).
    #[error("entry {index} is {len} bytes, longer than an entry bundle allows (65535)")]
    EntryTooLong {
        /// The entry's index.
        index: u64,
        /// Its length in bytes.
        len: usize,
    },
    /// A tile that does not exist in a tree of the given size.
    #[error("tile {path} is not part of a tree of size {size}")]
    TileOutOfRange {
        /// The tile's path.
        path: String,
        /// The tree size.
        size: u64,
    },
    /// A broken internal invariant (a bug in this crate, reported instead of panicking).
    #[error("internal error in the ledger: {0}")]
    Internal(&'static str),
}
