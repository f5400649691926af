//! Evidence storage and proof on disk: a content-addressed blob store, a durable
//! append-only file implementation of the ledger's storage trait, and evidence packs
//! that anyone can verify offline against a pinned verifier key.
//!
//! - [`BlobStore`]: SHA-256-addressed, compressed, atomically written, read back verified,
//!   deletable by retention unless under legal hold.
//! - [`filelog::FileLog`]: the durable [`sitrep_ledger::LogStore`]: group commit, torn-tail
//!   recovery.
//! - [`remote::RemoteBlobs`]: the same blobs in S3-compatible object storage, shared by
//!   every replica; downloads are verified against their names.
//! - [`pack`]: write an evidence pack ([`pack::PackBuilder`]) and verify one
//!   ([`pack::verify_pack`]).
//!
//! Formats are documented in `docs/evidence.md`.

mod blob;
pub mod filelog;
pub mod pack;
pub mod remote;

pub use blob::{BlobError, BlobStore, StoredBlob};
