//! Evidence packs: an incident's records, blobs, inclusion proofs and signed checkpoint in
//! one `.tar.gz`, and the offline verification that trusts nothing but a pinned key.
//!
//! Members, in this order (see `docs/evidence.md`; the verifier checks the signature
//! before it reads any record or blob):
//! - `manifest.json`: format, origin, tree size, root, records and blobs listed;
//! - `checkpoint`: the signed checkpoint (a C2SP signed note) every proof leads to;
//! - `keys/<index>.json`, `keys/<index>.tlog-proof`, `keys/<index>.consistency`: for each
//!   key rotation of the log, its record, its inclusion in the transition checkpoint the
//!   retiring key signed, and that checkpoint's consistency with the pack's, so a key
//!   pinned before a rotation still verifies a pack signed after it;
//! - `records/<index>.json`: the canonical record bytes exactly as logged;
//! - `proofs/<index>.tlog-proof`: a C2SP tlog-proof of that record;
//! - `blobs/<sha256 hex>`: the evidence bytes, last (absent when retention deleted them).
//!
//! A pack is one incident's records up to an `evidence.exported` record, its last,
//! which the incident chain (`prev` links, docs/ledger-format.md) ties to every record
//! before it: see [`verify_pack`].

mod complete;
mod read;
mod rotations;
pub mod text;
mod verify;

pub use verify::Export;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sitrep_ledger::{
    Checkpoint, Hash, LogStore, Note, Record, TlogProof, Verifier, leaf_hash, prove_inclusion,
};

use crate::blob::{BlobError, BlobStore};

pub use verify::{Failure, Limits, MAX_FAILURES, VerifyReport, verify_pack};

/// The `format` value of a pack's manifest: 2 since packs are complete (sealed by an
/// `evidence.exported` record); version 1 packs are refused.
pub const FORMAT: &str = "sitrep-evidence-pack/2";

/// The event type of the record an export seals: its payload names the incident's head
/// record (`head`, a leaf index, also its `prev` link) and how many records of the
/// incident come before it (`records`).
pub const EXPORTED: &str = "evidence.exported";

/// The record an export of `incident` seals, given the incident's last record
/// (`head`) and how many records it has (`count`). The store's writer sets its `prev`.
#[must_use]
pub fn export_record(incident: &str, head: u64, count: u64, time_ms: u64, actor: &str) -> Record {
    let mut r = Record::new(EXPORTED, time_ms, actor);
    r.incident = Some(incident.to_owned());
    r.payload.insert("head".into(), head.to_string());
    r.payload.insert("records".into(), count.to_string());
    r
}

/// Why a pack could not be written, or could not be read at all. (A pack that reads but
/// does not verify is not an error: it is a [`VerifyReport`] with failures.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// Reading or writing the archive failed.
    #[error("pack I/O: {0}")]
    Io(#[from] io::Error),
    /// The ledger could not be read or a proof not built.
    #[error("ledger: {0}")]
    Ledger(#[from] sitrep_ledger::Error),
    /// The ledger's storage failed.
    #[error("ledger storage: {0}")]
    Storage(#[from] sitrep_ledger::StorageError),
    /// A blob could not be read.
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
    /// The checkpoint given to the builder is not a signed checkpoint.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// An entry of the log is not a valid record, or an index is outside the checkpoint.
    #[error("record {index}: {message}")]
    Record {
        /// The entry's index.
        index: u64,
        /// What is wrong.
        message: String,
    },
    /// The archive exceeds a limit of [`Limits`]: refused before it exhausts memory.
    #[error("pack too large: {0}")]
    TooLarge(String),
}

/// The pack's table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The log's origin (the checkpoint's first line).
    pub origin: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root hash.
    pub root: Hash,
    /// The records, by log index.
    pub records: Vec<ManifestRecord>,
    /// The evidence blobs the records name.
    pub blobs: Vec<ManifestBlob>,
    /// The log's key rotations up to the checkpoint, oldest first (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_transitions: Vec<ManifestTransition>,
}

/// One key rotation in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestTransition {
    /// The index of its `ledger.key_rotated` record.
    pub index: u64,
    /// The retired verifier key.
    pub from: String,
    /// Its successor.
    pub to: String,
    /// The size of the transition checkpoint the retiring key signed.
    pub checkpoint_size: u64,
}

/// A key rotation to put in a pack: the record and the proofs that tie it to the pack's
/// checkpoint through the transition checkpoint the retiring key signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackTransition {
    /// The record's leaf index.
    pub index: u64,
    /// The record bytes.
    pub record: Vec<u8>,
    /// Its inclusion in the transition checkpoint (which the proof carries).
    pub inclusion: TlogProof,
    /// Consistency of the transition checkpoint's tree with the pack checkpoint's.
    pub consistency: Vec<Hash>,
}

/// One record in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestRecord {
    /// Its index in the log.
    pub index: u64,
    /// Its RFC 6962 leaf hash.
    pub leaf_hash: Hash,
}

/// One blob in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestBlob {
    /// SHA-256 of its bytes.
    pub sha256: Hash,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// False when retention deleted the blob before export: its record still proves what
    /// it hashed to.
    pub present: bool,
}

/// The manifest's one valid encoding: pretty JSON, fields in declaration order.
fn manifest_json(manifest: &Manifest) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec_pretty(manifest)
}

/// [`manifest_json`] into a writer.
fn write_manifest(out: impl Write, manifest: &Manifest) -> serde_json::Result<()> {
    serde_json::to_writer_pretty(out, manifest)
}

fn record_path(index: u64) -> String {
    format!("records/{index}.json")
}

fn proof_path(index: u64) -> String {
    format!("proofs/{index}.tlog-proof")
}

fn blob_path(sha256: &Hash) -> String {
    format!("blobs/{}", sha256.to_hex())
}

fn key_paths(index: u64) -> [String; 3] {
    [
        format!("keys/{index}.json"),
        format!("keys/{index}.tlog-proof"),
        format!("keys/{index}.consistency"),
    ]
}

/// Checks a rotation against the pack's checkpoint (`size`, `root`, not yet trusted):
/// the record is in the transition checkpoint's tree, `from` signed that checkpoint, and
/// the pack's tree extends it. Returns the manifest entry.
fn check_transition(
    t: &PackTransition,
    origin: &str,
    size: u64,
    root: &Hash,
) -> Result<(ManifestTransition, Verifier), String> {
    let record = Record::decode(&t.record).map_err(|e| format!("record: {e}"))?;
    let (from, to) = record.rotation_keys().map_err(|e| format!("record: {e}"))?;
    if t.inclusion.index != t.index {
        return Err(format!("proof is for index {}", t.inclusion.index));
    }
    // Both keys sign the transition: the retiring one vouches for its successor, and the
    // successor shows it was there (a signature C2SP would otherwise ignore as unknown).
    let transition = Checkpoint::open(&t.inclusion.checkpoint, std::slice::from_ref(&from))
        .map_err(|e| {
            format!("the transition checkpoint is not signed by the retiring key {from}: {e}")
        })?;
    Checkpoint::open(&t.inclusion.checkpoint, std::slice::from_ref(&to))
        .map_err(|e| format!("the transition checkpoint is not signed by the new key {to}: {e}"))?;
    if transition.origin != origin {
        return Err(format!(
            "the transition checkpoint is of log {:?}",
            transition.origin
        ));
    }
    sitrep_ledger::verify_inclusion(
        &leaf_hash(&t.record),
        t.index,
        transition.size,
        &t.inclusion.proof,
        &transition.root,
    )
    .map_err(|e| format!("the record is not in the transition checkpoint: {e}"))?;
    sitrep_ledger::verify_consistency(
        transition.size,
        size,
        &t.consistency,
        &transition.root,
        root,
    )
    .map_err(|e| format!("the pack's checkpoint does not extend the transition checkpoint: {e}"))?;
    Ok((
        ManifestTransition {
            index: t.index,
            from: from.to_string(),
            to: to.to_string(),
            checkpoint_size: transition.size,
        },
        to,
    ))
}

/// What [`write_pack`] put in the pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackSummary {
    /// Records written.
    pub records: usize,
    /// Blobs written.
    pub blobs: usize,
    /// Blobs named by records but deleted by retention.
    pub blobs_missing: usize,
}

/// One log entry to put in a pack, with its inclusion proof to the pack's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackEntry {
    /// Leaf index.
    pub index: u64,
    /// The entry bytes (a canonical record).
    pub entry: Vec<u8>,
    /// Inclusion proof of the leaf in the checkpoint's tree.
    pub proof: Vec<Hash>,
}

/// Writes an evidence pack of the log entries at `indexes` to `out` as `.tar.gz`.
///
/// `signed_checkpoint` is a signed checkpoint of `log` (every index must be below its
/// size); each record gets an inclusion proof to it. Evidence blobs the records name are
/// copied from `blobs`, verified on the way.
pub fn write_pack<S: LogStore + ?Sized>(
    out: impl Write,
    log: &S,
    signed_checkpoint: &str,
    indexes: &[u64],
    blobs: &BlobStore,
) -> Result<PackSummary, PackError> {
    let size = checkpoint_of(signed_checkpoint)?.size;
    let indexes: BTreeSet<u64> = indexes.iter().copied().collect();
    let mut entries = Vec::with_capacity(indexes.len());
    for &index in &indexes {
        if index >= size {
            return Err(PackError::Record {
                index,
                message: format!("outside the checkpoint (tree size {size})"),
            });
        }
        let entry = log
            .read_entries(index, index + 1)?
            .into_iter()
            .next()
            .ok_or_else(|| PackError::Record {
                index,
                message: "missing from the log".into(),
            })?;
        let proof = prove_inclusion(size, index, log)?;
        entries.push(PackEntry {
            index,
            entry,
            proof,
        });
    }
    write_pack_entries(out, signed_checkpoint, entries, Vec::new(), blobs)
}

fn checkpoint_of(signed_checkpoint: &str) -> Result<Checkpoint, PackError> {
    let note = Note::parse(signed_checkpoint).map_err(|e| PackError::Checkpoint(e.to_string()))?;
    Checkpoint::parse(&note.text).map_err(|e| PackError::Checkpoint(e.to_string()))
}

/// Writes a pack of entries whose proofs the caller already has (a database-backed log
/// reads them asynchronously). Each proof is checked against the checkpoint before it is
/// written, so a pack that verifies is the only kind this writes.
pub fn write_pack_entries(
    out: impl Write,
    signed_checkpoint: &str,
    mut entries: Vec<PackEntry>,
    mut transitions: Vec<PackTransition>,
    blobs: &BlobStore,
) -> Result<PackSummary, PackError> {
    let checkpoint = checkpoint_of(signed_checkpoint)?;
    transitions.sort_by_key(|t| t.index);
    let mut key_transitions = Vec::with_capacity(transitions.len());
    let mut key_files = Vec::with_capacity(transitions.len() * 3);
    for t in &transitions {
        let (entry, _) = check_transition(t, &checkpoint.origin, checkpoint.size, &checkpoint.root)
            .map_err(|message| PackError::Record {
                index: t.index,
                message: format!("key rotation: {message}"),
            })?;
        key_transitions.push(entry);
        let [record, proof, consistency] = key_paths(t.index);
        key_files.push((record, t.record.clone()));
        key_files.push((proof, t.inclusion.to_text().into_bytes()));
        let lines: String = t.consistency.iter().map(|h| h.to_base64() + "\n").collect();
        key_files.push((consistency, lines.into_bytes()));
    }
    entries.sort_by_key(|e| e.index);
    entries.dedup_by_key(|e| e.index);

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut blob_files: Vec<Hash> = Vec::new();
    let mut records = Vec::new();
    let mut manifest_blobs: BTreeMap<Hash, ManifestBlob> = BTreeMap::new();
    for PackEntry {
        index,
        entry,
        proof,
    } in entries
    {
        if index >= checkpoint.size {
            return Err(PackError::Record {
                index,
                message: format!("outside the checkpoint (tree size {})", checkpoint.size),
            });
        }
        let record = Record::decode(&entry).map_err(|e| PackError::Record {
            index,
            message: e.to_string(),
        })?;
        sitrep_ledger::verify_inclusion(
            &leaf_hash(&entry),
            index,
            checkpoint.size,
            &proof,
            &checkpoint.root,
        )
        .map_err(|e| PackError::Record {
            index,
            message: format!("inclusion proof does not verify: {e}"),
        })?;
        let proof = TlogProof {
            extra: None,
            index,
            proof,
            checkpoint: signed_checkpoint.to_owned(),
        };
        if let Some(ev) = &record.evidence {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                manifest_blobs.entry(ev.sha256)
            {
                let present = blobs.contains(&ev.sha256);
                if present {
                    blob_files.push(ev.sha256);
                }
                slot.insert(ManifestBlob {
                    sha256: ev.sha256,
                    size: ev.size,
                    media_type: ev.media_type.clone(),
                    present,
                });
            }
        }
        records.push(ManifestRecord {
            index,
            leaf_hash: leaf_hash(&entry),
        });
        files.push((record_path(index), entry));
        files.push((proof_path(index), proof.to_text().into_bytes()));
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        origin: checkpoint.origin.clone(),
        tree_size: checkpoint.size,
        root: checkpoint.root,
        records,
        blobs: manifest_blobs.into_values().collect(),
        key_transitions,
    };
    let summary = PackSummary {
        records: manifest.records.len(),
        blobs: manifest.blobs.iter().filter(|b| b.present).count(),
        blobs_missing: manifest.blobs.iter().filter(|b| !b.present).count(),
    };
    let manifest_json = manifest_json(&manifest).map_err(io::Error::other)?;

    let mut tar = tar::Builder::new(GzEncoder::new(out, Compression::default()));
    let mut add = |path: &str, bytes: &[u8]| -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes)
    };
    add("manifest.json", &manifest_json)?;
    add("checkpoint", signed_checkpoint.as_bytes())?;
    for (path, bytes) in key_files.iter().chain(&files) {
        add(path, bytes)?;
    }
    // Blobs last, read one at a time (verified on the way).
    for sha256 in &blob_files {
        add(&blob_path(sha256), &blobs.get(sha256)?)?;
    }
    tar.into_inner()?.finish()?.flush()?;
    Ok(summary)
}
