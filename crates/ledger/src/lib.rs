//! sitrep's tamper-evident ledger: an RFC 6962 Merkle log with C2SP checkpoints,
//! signed notes, tlog-proof files, tlog-tiles and canonical event records.
//!
//! The crate is pure: storage is the [`LogStore`] trait ([`MemoryStore`] ships here;
//! durable stores live in I/O crates), time is passed in as numbers and randomness as
//! an RNG argument. Nothing here reads a disk, a clock or the environment.
//!
//! - Tree: [`append`], [`tree_hash`], [`prove_inclusion`], [`prove_consistency`] over a
//!   [`LogStore`] in the stored-hash layout ([`stored_hash_index`]).
//! - Verification, storage-free, as RFC 9162 specifies: [`verify_inclusion`],
//!   [`verify_consistency`].
//! - Entries: [`Record`], canonical and versioned.
//! - Signing: [`Signer`] / [`Verifier`] keys, [`sign_note`] / [`open_note`],
//!   [`Checkpoint`], [`TlogProof`].
//! - Static serving: [`tiles`], [`new_tiles`], [`read_tile`]; [`TileHashes`] for clients.
//!
//! Formats are documented in `docs/ledger-format.md`.
//!
//! ```
//! use sitrep_ledger::{MemoryStore, append, leaf_hash, prove_inclusion, tree_hash, verify_inclusion};
//!
//! let mut store = MemoryStore::new();
//! append(&mut store, &[b"first".as_slice(), b"second", b"third"])?;
//! let root = tree_hash(3, &store)?;
//! let proof = prove_inclusion(3, 1, &store)?;
//! verify_inclusion(&leaf_hash(b"second"), 1, 3, &proof, &root)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod checkpoint;
mod error;
mod hash;
mod note;
mod record;
mod store;
mod tile;
mod tlog_proof;
mod tree;
mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, FormatError};
pub use error::Error;
pub use hash::{Hash, HashParseError, empty_root, leaf_hash, node_hash};
pub use note::{
    MAX_SIGNATURES, Note, NoteError, NoteSignature, OpenedNote, Signer, Verifier, open_note,
    sign_note,
};
pub use record::{
    Evidence, KEY_ROTATED, Link, MAX_ACTOR_ID_LEN, MAX_RECORD_LEN, RECORD_VERSION,
    RECORD_VERSION_UNLINKED, Record, RecordError,
};
pub use store::{HashReader, LogStore, MemoryStore, StorageError};
pub use tile::{TILE_WIDTH, Tile, TileHashes, TileKind, new_tiles, read_tile, tiles};
pub use tlog_proof::{TlogProof, TlogProofError};
pub use tree::{
    MAX_TREE_SIZE, append, append_indexes, consistency_proof_indexes, inclusion_proof_indexes,
    prove_consistency, prove_inclusion, split_stored_hash_index, stored_hash_count,
    stored_hash_index, stored_hashes, tree_hash, tree_hash_indexes,
};
pub use verify::{VerifyError, verify_consistency, verify_inclusion};
