//! The storage trait behind a log, and `MemoryStore`, the in-memory implementation.
//!
//! A store holds two append-only sequences: the entries (leaf data) and the stored
//! hashes in the layout of [`crate::stored_hash_index`]. The crate computes every hash;
//! a store only keeps bytes, so a durable file store or a database store needs no
//! Merkle logic of its own.

use crate::hash::Hash;
use crate::tree::stored_hash_count;

/// A failure inside a storage backend (disk, database, ...), carried as its source.
///
/// Display and `source()` are those of the backend error, so a caller printing the
/// error chain sees the real cause.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StorageError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl StorageError {
    /// Wraps a backend error (or a message: `StorageError::new("disk full")`).
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        StorageError(source.into())
    }

    /// The backend error, for downcasting.
    #[must_use]
    pub fn into_inner(self) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self.0
    }
}

/// Reads stored hashes by their index in the stored-hash layout.
pub trait HashReader {
    /// Returns the hashes at `indexes`, in the same order. Every index must be below
    /// the number of stored hashes; a missing index is an error, never a default hash.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError>;
}

/// Append-only storage for a log's entries and stored hashes.
///
/// Implementations keep entries and hashes exactly as given; [`crate::append`] computes
/// the hashes. Object safe: `&mut dyn LogStore` works.
pub trait LogStore: HashReader {
    /// Number of entries (leaves) stored.
    fn tree_size(&self) -> Result<u64, StorageError>;

    /// Entries `start..end` (end exclusive), in order.
    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError>;

    /// Appends `entries` (the first gets index `tree_size()`) together with the stored
    /// hashes they add (the first gets index `stored_hash_count(tree_size())`).
    ///
    /// Must be all or nothing: after an error the store holds what it held before.
    fn append(&mut self, entries: &[&[u8]], hashes: &[Hash]) -> Result<(), StorageError>;
}

/// An in-memory [`LogStore`]: for tests, benchmarks and building logs to export.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    hashes: Vec<Hash>,
    /// All entries back to back; `ends[i]` is the end offset of entry `i`.
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored hashes (equals `stored_hash_count(tree_size)`).
    #[must_use]
    pub fn hash_count(&self) -> u64 {
        self.hashes.len() as u64
    }

    /// Reserves room for `entries` more entries of about `entry_len` bytes each.
    pub fn reserve(&mut self, entries: usize, entry_len: usize) {
        self.ends.reserve(entries);
        self.data.reserve(entries.saturating_mul(entry_len));
        self.hashes.reserve(entries.saturating_mul(2));
    }

    fn entry(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = match index.checked_sub(1) {
            Some(prev) => *self.ends.get(prev)?,
            None => 0,
        };
        self.data.get(start..end)
    }
}

impl HashReader for MemoryStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or_else(|| {
                        StorageError::new(format!(
                            "stored hash {i} does not exist (store holds {})",
                            self.hashes.len()
                        ))
                    })
            })
            .collect()
    }
}

impl LogStore for MemoryStore {
    fn tree_size(&self) -> Result<u64, StorageError> {
        Ok(self.ends.len() as u64)
    }

    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let size = self.ends.len() as u64;
        if start > end || end > size {
            return Err(StorageError::new(format!(
                "entries {start}..{end} out of range (store holds {size})"
            )));
        }
        (start..end)
            .map(|i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.entry(i))
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| StorageError::new(format!("entry {i} missing")))
            })
            .collect()
    }

    fn append(&mut self, entries: &[&[u8]], hashes: &[Hash]) -> Result<(), StorageError> {
        let new_size = self.ends.len() as u64 + entries.len() as u64;
        let want = stored_hash_count(new_size);
        if self.hashes.len() as u64 + hashes.len() as u64 != want {
            return Err(StorageError::new(format!(
                "append of {} entries brings {} hashes, layout needs {}",
                entries.len(),
                hashes.len(),
                want.saturating_sub(self.hashes.len() as u64)
            )));
        }
        for e in entries {
            self.data.extend_from_slice(e);
            self.ends.push(self.data.len());
        }
        self.hashes.extend_from_slice(hashes);
        Ok(())
    }
}
