//! Evidence packs: an incident's records, blobs, inclusion proofs and signed checkpoint in
//! one `.tar.gz`, and the offline verification that trusts nothing but a pinned key.
//!
//! Layout (see `docs/evidence.md`):
//! - `manifest.json`: format, origin, tree size, root, records and blobs listed;
//! - `checkpoint`: the signed checkpoint (a C2SP signed note) every proof leads to;
//! - `records/<index>.json`: the canonical record bytes exactly as logged;
//! - `proofs/<index>.tlog-proof`: a C2SP tlog-proof of that record;
//! - `blobs/<sha256 hex>`: the evidence bytes (absent when retention deleted them);
//! - `keys/<index>.json`, `keys/<index>.tlog-proof`, `keys/<index>.consistency`: for each
//!   key rotation of the log, its record, its inclusion in the transition checkpoint the
//!   retiring key signed, and that checkpoint's consistency with the pack's, so a key
//!   pinned before a rotation still verifies a pack signed after it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sitrep_ledger::{
    Checkpoint, Hash, LogStore, Note, Record, TlogProof, Verifier, leaf_hash, prove_inclusion,
};

use crate::blob::{BlobError, BlobStore};

/// The `format` value of a pack's manifest.
pub const FORMAT: &str = "sitrep-evidence-pack/1";

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
                let present = match blobs.get(&ev.sha256) {
                    Ok(bytes) => {
                        files.push((blob_path(&ev.sha256), bytes));
                        true
                    }
                    Err(BlobError::NotFound(_)) => false,
                    Err(e) => return Err(e.into()),
                };
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
    tar.into_inner()?.finish()?.flush()?;
    Ok(summary)
}

/// Bounds on what [`verify_pack`] reads, so a hostile pack cannot exhaust memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most files in the archive.
    pub max_files: usize,
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Largest total of all files, in bytes.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_files: 1_000_000,
            max_file_bytes: 1 << 30,
            max_total_bytes: 4 << 30,
        }
    }
}

/// One thing that did not verify, naming the part of the pack it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What it is about: `checkpoint`, `manifest`, `record 12`, `blob ab12...`, `file x`.
    pub subject: String,
    /// What is wrong.
    pub message: String,
}

/// The outcome of verifying a pack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The verified checkpoint's origin, when it verified.
    pub origin: Option<String>,
    /// The verified checkpoint's tree size, when it verified.
    pub tree_size: Option<u64>,
    /// Records whose bytes, leaf hash and inclusion proof all verified.
    pub records_verified: usize,
    /// Blobs present and hashing to what their records say.
    pub blobs_verified: usize,
    /// Blobs the records name that retention deleted before export (not a failure: the
    /// record still proves what the blob hashed to).
    pub blobs_deleted: Vec<Hash>,
    /// Verifier keys trusted because a key you pinned signed their rotation in.
    pub keys_followed: Vec<String>,
    /// Everything that failed; the pack verifies only when this is empty.
    pub failures: Vec<Failure>,
}

impl VerifyReport {
    /// Whether the whole pack verified.
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.origin.is_some()
    }

    fn fail(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        self.failures.push(Failure {
            subject: subject.into(),
            message: message.into(),
        });
    }
}

/// Reads the archive's files into memory within `limits`.
fn read_files(
    reader: impl Read,
    limits: Limits,
    report: &mut VerifyReport,
) -> Result<BTreeMap<String, Vec<u8>>, PackError> {
    let mut archive = tar::Archive::new(GzDecoder::new(reader));
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if !entry.header().entry_type().is_file() {
            report.fail(format!("file {path}"), "not a regular file");
            continue;
        }
        if files.len() >= limits.max_files {
            return Err(PackError::TooLarge(format!(
                "more than {} files",
                limits.max_files
            )));
        }
        let size = entry.size();
        if size > limits.max_file_bytes {
            return Err(PackError::TooLarge(format!(
                "{path} is {size} bytes (limit {})",
                limits.max_file_bytes
            )));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(PackError::TooLarge(format!(
                "files total more than {} bytes",
                limits.max_total_bytes
            )));
        }
        // `size` is bounded above, so this allocation is too.
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry.by_ref().take(size).read_to_end(&mut bytes)?;
        if files.insert(path.clone(), bytes).is_some() {
            report.fail(format!("file {path}"), "appears twice in the archive");
        }
    }
    Ok(files)
}

/// Follows the pack's key rotations in order: a rotation whose retiring key is trusted
/// (pinned, or learned from an earlier rotation) must have proofs that tie it to the
/// pack's checkpoint, and adds its successor to `trusted`.
fn follow_rotations(
    manifest: &Manifest,
    files: &mut BTreeMap<String, Vec<u8>>,
    claimed: &Checkpoint,
    trusted: &mut Vec<Verifier>,
    report: &mut VerifyReport,
) {
    let mut last = None;
    for m in &manifest.key_transitions {
        let subject = format!("key rotation {}", m.index);
        if last.is_some_and(|l| l >= m.index) {
            report.fail(&subject, "not after the previous rotation");
        }
        last = Some(m.index);
        let [record, proof, consistency] = key_paths(m.index).map(|p| files.remove(&p));
        let (Some(record), Some(proof), Some(consistency)) = (record, proof, consistency) else {
            report.fail(&subject, "its record, proof or consistency file is missing");
            continue;
        };
        // Only a rotation from a key you trust, to one you do not yet, can add trust;
        // the others are nothing to you (the pack's checkpoint fails if trust never
        // reaches its signer).
        let known = |key: &str| trusted.iter().any(|k| k.to_string() == key);
        if known(&m.to) || !known(&m.from) {
            continue;
        }
        let parsed = std::str::from_utf8(&proof)
            .map_err(|_| "proof is not UTF-8".to_owned())
            .and_then(|t| TlogProof::parse(t).map_err(|e| format!("proof is malformed: {e}")));
        let hashes: Result<Vec<Hash>, String> = std::str::from_utf8(&consistency)
            .map_err(|_| "consistency proof is not UTF-8".to_owned())
            .and_then(|t| {
                t.lines()
                    .map(|l| Hash::from_base64(l).map_err(|e| format!("consistency proof: {e}")))
                    .collect()
            });
        let checked = parsed.and_then(|inclusion| {
            let t = PackTransition {
                index: m.index,
                record,
                inclusion,
                consistency: hashes?,
            };
            check_transition(&t, &claimed.origin, claimed.size, &claimed.root)
        });
        match checked {
            Ok((entry, to)) if entry == *m => {
                report.keys_followed.push(to.to_string());
                trusted.push(to);
            }
            Ok(_) => report.fail(&subject, "the manifest differs from the rotation's record"),
            Err(e) => report.fail(&subject, e),
        }
    }
}

/// Verifies a pack fully offline.
///
/// `trusted` are the verifier keys the user pinned; keys inside the pack are never
/// used. Every record must hash to its manifest leaf, carry a valid inclusion proof to
/// the checkpoint, and the checkpoint must be signed by a trusted key; every present
/// blob must hash to what its record says; nothing may be in the pack that is not
/// accounted for. An `Err` means the archive could not be read at all.
pub fn verify_pack(
    reader: impl Read,
    trusted: &[Verifier],
    limits: Limits,
) -> Result<VerifyReport, PackError> {
    let mut report = VerifyReport::default();
    let mut files = read_files(reader, limits, &mut report)?;

    let Some(signed) = files.remove("checkpoint") else {
        report.fail("checkpoint", "missing from the pack");
        return Ok(report);
    };
    let signed = match String::from_utf8(signed) {
        Ok(s) => s,
        Err(_) => {
            report.fail("checkpoint", "not UTF-8");
            return Ok(report);
        }
    };
    let Some(manifest_bytes) = files.remove("manifest.json") else {
        report.fail("manifest", "missing from the pack");
        return Ok(report);
    };
    let manifest: Manifest = match serde_json::from_slice(&manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            report.fail("manifest", format!("not a valid manifest: {e}"));
            return Ok(report);
        }
    };
    // Key rotations first: each one a trusted key signed adds its successor.
    let mut trusted = trusted.to_vec();
    if !manifest.key_transitions.is_empty() {
        match checkpoint_of(&signed) {
            Ok(claimed) => {
                follow_rotations(&manifest, &mut files, &claimed, &mut trusted, &mut report);
            }
            Err(e) => report.fail("checkpoint", e.to_string()),
        }
    }
    let checkpoint = match Checkpoint::open(&signed, &trusted) {
        Ok(c) => c,
        Err(e) => {
            report.fail("checkpoint", e.to_string());
            return Ok(report);
        }
    };
    // One encoding only, as for records: any byte changed, even whitespace, is tampering.
    if manifest_json(&manifest).ok().as_deref() != Some(manifest_bytes.as_slice()) {
        report.fail("manifest", "not in its canonical encoding (altered?)");
    }
    if manifest.format != FORMAT {
        report.fail(
            "manifest",
            format!("format {:?}, expected {FORMAT:?}", manifest.format),
        );
    }
    if manifest.origin != checkpoint.origin
        || manifest.tree_size != checkpoint.size
        || manifest.root != checkpoint.root
    {
        report.fail(
            "manifest",
            "origin, tree size or root differ from the signed checkpoint",
        );
    }

    let blobs: BTreeMap<Hash, &ManifestBlob> =
        manifest.blobs.iter().map(|b| (b.sha256, b)).collect();
    if blobs.len() != manifest.blobs.len() {
        report.fail("manifest", "a blob is listed twice");
    }
    let mut referenced = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for entry in &manifest.records {
        let subject = format!("record {}", entry.index);
        if !seen.insert(entry.index) {
            report.fail(&subject, "listed twice in the manifest");
            continue;
        }
        let Some(bytes) = files.remove(&record_path(entry.index)) else {
            report.fail(&subject, "record file missing");
            continue;
        };
        let leaf = leaf_hash(&bytes);
        if leaf != entry.leaf_hash {
            report.fail(
                &subject,
                "record bytes do not match the manifest's leaf hash",
            );
            continue;
        }
        let record = match Record::decode(&bytes) {
            Ok(r) => r,
            Err(e) => {
                report.fail(&subject, format!("not a canonical record: {e}"));
                continue;
            }
        };
        let proof_text = files.remove(&proof_path(entry.index));
        let proof = match proof_text.as_deref().map(std::str::from_utf8) {
            None => {
                report.fail(&subject, "proof file missing");
                continue;
            }
            Some(Err(_)) => {
                report.fail(&subject, "proof is not UTF-8");
                continue;
            }
            Some(Ok(text)) => match TlogProof::parse(text) {
                Ok(p) => p,
                Err(e) => {
                    report.fail(&subject, format!("proof is malformed: {e}"));
                    continue;
                }
            },
        };
        if proof.index != entry.index {
            report.fail(&subject, format!("proof is for index {}", proof.index));
            continue;
        }
        if proof.checkpoint != signed {
            report.fail(
                &subject,
                "proof leads to a different checkpoint than the pack's",
            );
            continue;
        }
        // The proof carries the pack's checkpoint (checked just above), whose signature
        // was verified once at the start; only the inclusion path is left to check.
        if let Err(e) = sitrep_ledger::verify_inclusion(
            &leaf,
            proof.index,
            checkpoint.size,
            &proof.proof,
            &checkpoint.root,
        ) {
            report.fail(&subject, format!("inclusion proof does not verify: {e}"));
            continue;
        }
        if let Some(ev) = &record.evidence {
            referenced.insert(ev.sha256);
            match blobs.get(&ev.sha256) {
                None => report.fail(&subject, "its evidence blob is not in the manifest"),
                Some(b) if b.size != ev.size || b.media_type != ev.media_type => report.fail(
                    &subject,
                    "manifest size or media type differ from the record",
                ),
                Some(_) => {}
            }
        }
        report.records_verified += 1;
    }

    for blob in &manifest.blobs {
        let subject = format!("blob {}", blob.sha256.to_hex());
        if !referenced.contains(&blob.sha256) {
            report.fail(&subject, "listed but no verified record names it");
        }
        match files.remove(&blob_path(&blob.sha256)) {
            None if blob.present => report.fail(&subject, "blob file missing"),
            None => report.blobs_deleted.push(blob.sha256),
            Some(_) if !blob.present => {
                report.fail(&subject, "present in the pack but listed as deleted")
            }
            Some(bytes) => {
                if Hash::digest(&bytes) != blob.sha256 || bytes.len() as u64 != blob.size {
                    report.fail(&subject, "content does not hash to its name and size");
                } else {
                    report.blobs_verified += 1;
                }
            }
        }
    }

    for path in files.keys() {
        report.fail(format!("file {path}"), "not accounted for by the manifest");
    }
    report.origin = Some(checkpoint.origin);
    report.tree_size = Some(checkpoint.size);
    Ok(report)
}
