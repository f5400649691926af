//! Offline verification of a pack in one streaming pass within fixed bounds: the
//! manifest and the checkpoint's signature are checked before any blob is read, blobs
//! go through the hasher and are never held, and nothing after the archive's end
//! marker is tolerated. See docs/evidence.md.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader, Read};

use flate2::bufread::GzDecoder;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sitrep_ledger::{Checkpoint, Hash, MAX_RECORD_LEN, Record, TlogProof, Verifier, leaf_hash};

use super::read::{Bounded, Member, check_eof, check_padding};
use super::rotations::follow_rotations;
use super::text;
use super::{FORMAT, Manifest, ManifestBlob, PackError, checkpoint_of};

/// Bounds on what [`verify_pack`] reads, so a hostile pack cannot exhaust memory or
/// time. Memory stays under about twice `max_meta_bytes` plus fixed buffers: blobs are
/// hashed as they stream, never held.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most members in the archive.
    pub max_files: usize,
    /// Largest single member (so, blob), in bytes.
    pub max_file_bytes: u64,
    /// Most bytes decompressed in all (the work a gzip bomb can cause).
    pub max_total_bytes: u64,
    /// Most bytes of the members held to check together: the manifest, checkpoint, key
    /// rotation files, records and proofs (each counted with a fixed overhead).
    pub max_meta_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_files: 200_000,
            max_file_bytes: 1 << 30,
            max_total_bytes: 4 << 30,
            max_meta_bytes: 16 << 20,
        }
    }
}

/// Largest checkpoint, proof or key rotation file: far above what one can be.
const SMALL_FILE: u64 = 64 << 10;
/// What holding one small member costs besides its bytes (map entry, name).
const OVERHEAD: u64 = 128;

/// One thing that did not verify, naming the part of the pack it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What it is about: `checkpoint`, `manifest`, `pack`, `record 12`, `blob ab12...`,
    /// `file x` (names from the archive escaped, see [`text::name`]).
    pub subject: String,
    /// What is wrong.
    pub message: String,
}

/// The export record that seals a pack, as verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Export {
    /// Its leaf index: the pack is complete up to here.
    pub index: u64,
    /// When the export happened (Unix ms).
    pub time_ms: u64,
    /// Who exported.
    pub actor: String,
    /// How many records of the incident it counts before it.
    pub records: u64,
}

/// The outcome of verifying a pack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The verified checkpoint's origin, when it verified.
    pub origin: Option<String>,
    /// The verified checkpoint's tree size, when it verified.
    pub tree_size: Option<u64>,
    /// The incident the pack covers, from its export record.
    pub incident: Option<String>,
    /// The `evidence.exported` record that seals the pack, when it verified.
    pub export: Option<Export>,
    /// Set when the incident's chain reaches a version-1 record (written before chains
    /// existed): records at and below this index carry no links; the export's count
    /// still covers them.
    pub unlinked_from: Option<u64>,
    /// Records whose bytes, leaf hash and inclusion proof all verified.
    pub records_verified: usize,
    /// Blobs present and hashing to what their records say.
    pub blobs_verified: usize,
    /// Blobs the records name that retention deleted (or a lost replica held) before
    /// export, each named by a record of the incident saying so.
    pub blobs_deleted: Vec<Hash>,
    /// Verifier keys trusted because a key you pinned signed their rotation in.
    pub keys_followed: Vec<String>,
    /// Everything that failed (the first [`MAX_FAILURES`]); the pack verifies only when
    /// this is empty.
    pub failures: Vec<Failure>,
    /// Failures past the first [`MAX_FAILURES`], counted, not kept.
    pub failures_omitted: usize,
}

/// Failures kept in a report: a hostile manifest can list a failure per entry.
pub const MAX_FAILURES: usize = 1000;

impl VerifyReport {
    /// Whether the whole pack verified.
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.origin.is_some() && self.export.is_some()
    }

    pub(super) fn fail(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        if self.failures.len() >= MAX_FAILURES {
            self.failures_omitted += 1;
            return;
        }
        self.failures.push(Failure {
            subject: subject.into(),
            message: message.into(),
        });
    }
}

/// What the signed checkpoint and the manifest established, before any record or blob.
struct Header {
    signed: String,
    checkpoint: Checkpoint,
    manifest: Manifest,
    blobs: BTreeMap<Hash, ManifestBlob>,
    listed: BTreeSet<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// The state of one pass over the archive.
struct Pass {
    trusted: Vec<Verifier>,
    limits: Limits,
    members: usize,
    meta_bytes: u64,
    manifest: Option<Manifest>,
    signed: Option<String>,
    keys: BTreeMap<String, Vec<u8>>,
    header: Option<Header>,
    records: BTreeMap<u64, Vec<u8>>,
    proofs: BTreeMap<u64, Vec<u8>>,
    blobs_seen: BTreeSet<Hash>,
    blobs_ok: BTreeSet<Hash>,
}

/// Verifies a pack fully offline.
///
/// `trusted` are the verifier keys the user pinned; keys inside the pack are never
/// used. The checkpoint must be signed by a trusted key and the manifest match it
/// before any record or blob is read; every record must hash to its manifest leaf and
/// carry a valid inclusion proof; the last record must be the `evidence.exported`
/// record sealing the pack, whose incident chain and count account for every record;
/// every present blob must hash to its name, every absent one be named by a record
/// saying it was deleted or lost; nothing may be in the archive that is not accounted
/// for, and nothing after its end. An `Err` means the archive could not be read at all
/// (or exceeded a [`Limits`] bound).
pub fn verify_pack(
    reader: impl Read,
    trusted: &[Verifier],
    limits: Limits,
) -> Result<VerifyReport, PackError> {
    let mut report = VerifyReport::default();
    let gz = GzDecoder::new(BufReader::new(reader));
    let mut archive = tar::Archive::new(Bounded::new(gz, limits.max_total_bytes));
    let mut pass = Pass::new(trusted, limits);
    let flow = pass.read(&mut archive, &mut report);
    let mut bounded = archive.into_inner();
    if bounded.exceeded {
        return Err(PackError::TooLarge(format!(
            "more than {} bytes decompressed",
            limits.max_total_bytes
        )));
    }
    if flow? == Flow::Stop {
        return Ok(report);
    }
    // The gzip stream's end is only reached (and what follows it only seen) when the
    // padding is all there is.
    let problem = match check_padding(&mut bounded)? {
        Some(p) => Some(p),
        None => check_eof(bounded.into_inner().into_inner())?,
    };
    if let Some(problem) = problem {
        report.fail("pack", problem);
    }
    pass.finish(&mut report);
    Ok(report)
}

impl Pass {
    fn new(trusted: &[Verifier], limits: Limits) -> Pass {
        Pass {
            trusted: trusted.to_vec(),
            limits,
            members: 0,
            meta_bytes: 0,
            manifest: None,
            signed: None,
            keys: BTreeMap::new(),
            header: None,
            records: BTreeMap::new(),
            proofs: BTreeMap::new(),
            blobs_seen: BTreeSet::new(),
            blobs_ok: BTreeSet::new(),
        }
    }

    /// Every member in order, until the end marker or a member no pack contains.
    fn read<R: Read>(
        &mut self,
        archive: &mut tar::Archive<R>,
        report: &mut VerifyReport,
    ) -> Result<Flow, PackError> {
        // Raw: GNU long names and PAX extensions come to us as members of their own,
        // unread, instead of being read into memory whatever their size.
        for entry in archive.entries()?.raw(true) {
            let mut entry = entry?;
            if self.member(&mut entry, report)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        if self.header.is_none() {
            return Ok(self.seal(report));
        }
        Ok(Flow::Go)
    }

    fn member<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        report: &mut VerifyReport,
    ) -> Result<Flow, PackError> {
        let raw_name = entry.path_bytes().into_owned();
        let file = format!("file {}", text::name(&raw_name));
        self.members += 1;
        if self.members > self.limits.max_files {
            return Err(PackError::TooLarge(format!(
                "more than {} members",
                self.limits.max_files
            )));
        }
        let kind = entry.header().entry_type();
        let extension = if kind.is_gnu_longname() || kind.is_gnu_longlink() {
            Some("GNU long-name")
        } else if kind.is_pax_local_extensions() || kind.is_pax_global_extensions() {
            Some("PAX extension")
        } else {
            None
        };
        let size = entry.header().size()?;
        if let Some(what) = extension {
            report.fail(
                file,
                format!("a {what} header of {size} bytes: a pack never has one (refused unread)"),
            );
            return Ok(Flow::Stop);
        }
        if !kind.is_file() {
            report.fail(file, "not a regular file");
            return Ok(Flow::Stop);
        }
        if size > self.limits.max_file_bytes {
            report.fail(
                file,
                format!(
                    "{size} bytes, over the limit of {}",
                    self.limits.max_file_bytes
                ),
            );
            return Ok(Flow::Stop);
        }
        let member = std::str::from_utf8(&raw_name).map_or(Member::Unknown, Member::of);
        if self.members <= 2 {
            return self.opening(entry, &member, size, &file, report);
        }
        if self.header.is_none() {
            if let Member::Key(index) = member {
                let name = String::from_utf8_lossy(&raw_name).into_owned();
                let listed = self
                    .manifest
                    .as_ref()
                    .is_some_and(|m| m.key_transitions.iter().any(|t| t.index == index));
                if !listed || self.keys.contains_key(&name) {
                    report.fail(file, "not accounted for by the manifest (or appears twice)");
                    return Ok(Flow::Stop);
                }
                return Ok(match self.small(entry, size, SMALL_FILE, &file, report)? {
                    Some(bytes) => {
                        self.keys.insert(name, bytes);
                        Flow::Go
                    }
                    None => Flow::Stop,
                });
            }
            // Everything after the key files needs the checkpoint verified first.
            if self.seal(report) == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        self.content(entry, member, size, &file, report)
    }

    /// The first two members: the manifest, then the checkpoint.
    fn opening<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        member: &Member,
        size: u64,
        file: &str,
        report: &mut VerifyReport,
    ) -> Result<Flow, PackError> {
        match (self.members, member) {
            (1, Member::Manifest) => self.manifest(entry, size, report),
            (1, _) => {
                report.fail(
                    "manifest",
                    format!("the archive starts with {file}, not manifest.json"),
                );
                Ok(Flow::Stop)
            }
            (_, Member::Checkpoint) => {
                let bytes = self.small(entry, size, SMALL_FILE, file, report)?;
                Ok(match bytes.map(String::from_utf8) {
                    Some(Ok(signed)) => {
                        self.signed = Some(signed);
                        Flow::Go
                    }
                    Some(Err(_)) => {
                        report.fail("checkpoint", "not UTF-8");
                        Flow::Stop
                    }
                    None => Flow::Stop,
                })
            }
            _ => {
                report.fail(
                    "checkpoint",
                    format!("the archive's second member is {file}, not checkpoint"),
                );
                Ok(Flow::Stop)
            }
        }
    }

    /// A record, proof or blob, after the header verified.
    fn content<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        member: Member,
        size: u64,
        file: &str,
        report: &mut VerifyReport,
    ) -> Result<Flow, PackError> {
        let Some(header) = &self.header else {
            return Ok(Flow::Stop);
        };
        let (index, is_record) = match member {
            Member::Blob(sha256) => return self.blob(entry, sha256, size, file, report),
            Member::Record(i) => (i, true),
            Member::Proof(i) => (i, false),
            _ => {
                report.fail(file, "not accounted for by the manifest");
                return Ok(Flow::Stop);
            }
        };
        let held = if is_record {
            &self.records
        } else {
            &self.proofs
        };
        if !header.listed.contains(&index) || held.contains_key(&index) {
            report.fail(file, "not accounted for by the manifest (or appears twice)");
            return Ok(Flow::Stop);
        }
        let cap = if is_record {
            MAX_RECORD_LEN as u64
        } else {
            SMALL_FILE
        };
        let Some(bytes) = self.small(entry, size, cap, file, report)? else {
            return Ok(Flow::Stop);
        };
        if is_record {
            self.records.insert(index, bytes);
        } else {
            self.proofs.insert(index, bytes);
        }
        Ok(Flow::Go)
    }

    /// Streams a blob through the hasher: never held, whatever its size.
    fn blob<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        sha256: Hash,
        size: u64,
        file: &str,
        report: &mut VerifyReport,
    ) -> Result<Flow, PackError> {
        let subject = format!("blob {}", sha256.to_hex());
        let listed = self.header.as_ref().and_then(|h| h.blobs.get(&sha256));
        let Some(listed) = listed else {
            report.fail(file, "not accounted for by the manifest");
            return Ok(Flow::Stop);
        };
        if !listed.present {
            report.fail(subject, "present in the pack but listed as deleted");
            return Ok(Flow::Stop);
        }
        if listed.size != size {
            report.fail(
                subject,
                format!(
                    "{size} bytes in the archive, {} in the manifest",
                    listed.size
                ),
            );
            return Ok(Flow::Stop);
        }
        if !self.blobs_seen.insert(sha256) {
            report.fail(subject, "appears twice in the archive");
            return Ok(Flow::Stop);
        }
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            let n = entry.read(&mut buf[..want])?;
            if n == 0 {
                return Err(PackError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{file} is cut short"),
                )));
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        if Hash(hasher.finalize().into()) == sha256 {
            self.blobs_ok.insert(sha256);
        } else {
            report.fail(subject, "content does not hash to its name");
        }
        Ok(Flow::Go)
    }

    /// Reads a member to hold, within its cap and the budget of everything held.
    fn small<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        size: u64,
        cap: u64,
        file: &str,
        report: &mut VerifyReport,
    ) -> Result<Option<Vec<u8>>, PackError> {
        if size > cap {
            report.fail(
                file,
                format!("{size} bytes, more than such a file can be ({cap})"),
            );
            return Ok(None);
        }
        self.meta_bytes = self.meta_bytes.saturating_add(size + OVERHEAD);
        if self.meta_bytes > self.limits.max_meta_bytes {
            return Err(PackError::TooLarge(format!(
                "the manifest, checkpoint, records and proofs total more than {} bytes",
                self.limits.max_meta_bytes
            )));
        }
        // `size` is within `cap`, so this allocation is bounded.
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry.by_ref().take(size).read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    fn manifest<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        size: u64,
        report: &mut VerifyReport,
    ) -> Result<Flow, PackError> {
        let cap = self.limits.max_meta_bytes;
        let Some(bytes) = self.small(entry, size, cap, "file manifest.json", report)? else {
            return Ok(Flow::Stop);
        };
        let manifest: Manifest = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                report.fail("manifest", format!("not a valid manifest: {e}"));
                return Ok(Flow::Stop);
            }
        };
        if manifest.format != FORMAT {
            report.fail(
                "manifest",
                format!(
                    "format {:?}, expected {FORMAT:?} (packs before complete packs cannot prove \
                     they are complete: export again)",
                    manifest.format
                ),
            );
            return Ok(Flow::Stop);
        }
        // One encoding only, as for records: any byte changed, even whitespace, is tampering.
        if !is_canonical(&manifest, &bytes) {
            report.fail("manifest", "not in its canonical encoding (altered?)");
        }
        self.manifest = Some(manifest);
        Ok(Flow::Go)
    }

    /// Verifies the checkpoint (following key rotations) and ties the manifest to it.
    fn seal(&mut self, report: &mut VerifyReport) -> Flow {
        let (Some(mut manifest), Some(signed)) = (self.manifest.take(), self.signed.take()) else {
            report.fail("checkpoint", "missing from the pack");
            return Flow::Stop;
        };
        if !manifest.key_transitions.is_empty() {
            match checkpoint_of(&signed) {
                Ok(claimed) => follow_rotations(
                    &manifest,
                    &mut self.keys,
                    &claimed,
                    &mut self.trusted,
                    report,
                ),
                Err(e) => report.fail("checkpoint", e.to_string()),
            }
        }
        let checkpoint = match Checkpoint::open(&signed, &self.trusted) {
            Ok(c) => c,
            Err(e) => {
                report.fail("checkpoint", e.to_string());
                return Flow::Stop;
            }
        };
        for path in std::mem::take(&mut self.keys).keys() {
            report.fail(
                format!("file {}", text::name(path.as_bytes())),
                "not accounted for by the manifest",
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
        // Moved, not copied: a manifest can be as large as the limits allow.
        let listed_blobs = manifest.blobs.len();
        let blobs: BTreeMap<Hash, ManifestBlob> = std::mem::take(&mut manifest.blobs)
            .into_iter()
            .map(|b| (b.sha256, b))
            .collect();
        if blobs.len() != listed_blobs {
            report.fail("manifest", "a blob is listed twice");
        }
        let listed: BTreeSet<u64> = manifest.records.iter().map(|r| r.index).collect();
        if listed.len() != manifest.records.len() {
            report.fail("manifest", "a record is listed twice");
        }
        report.origin = Some(checkpoint.origin.clone());
        report.tree_size = Some(checkpoint.size);
        self.header = Some(Header {
            signed,
            checkpoint,
            manifest,
            blobs,
            listed,
        });
        Flow::Go
    }
}

impl Pass {
    /// After the whole archive: each record against its proof, the blobs, and the
    /// pack's completeness.
    fn finish(mut self, report: &mut VerifyReport) {
        let Some(header) = self.header.take() else {
            return;
        };
        let mut verified: BTreeMap<u64, (Record, Hash)> = BTreeMap::new();
        for entry in &header.manifest.records {
            let subject = format!("record {}", entry.index);
            let bytes = self.records.remove(&entry.index);
            let proof = self.proofs.remove(&entry.index);
            match check_record(&header, entry.index, &entry.leaf_hash, bytes, proof) {
                Ok(record) => {
                    verified.insert(entry.index, (record, entry.leaf_hash));
                }
                Err(message) => report.fail(subject, message),
            }
        }
        report.records_verified = verified.len();
        for index in self.proofs.keys() {
            report.fail(
                format!("file proofs/{index}.tlog-proof"),
                "its record is not in the pack",
            );
        }
        self.check_blobs(&header, &verified, report);
        super::complete::check(&verified, &header.blobs, report);
    }

    fn check_blobs(
        &self,
        header: &Header,
        verified: &BTreeMap<u64, (Record, Hash)>,
        report: &mut VerifyReport,
    ) {
        let mut referenced = BTreeSet::new();
        for (index, (record, _)) in verified {
            let Some(ev) = &record.evidence else {
                continue;
            };
            referenced.insert(ev.sha256);
            let subject = format!("record {index}");
            match header.blobs.get(&ev.sha256) {
                None => report.fail(
                    subject,
                    format!(
                        "its evidence blob {} is not in the manifest",
                        ev.sha256.to_hex()
                    ),
                ),
                Some(b) if b.size != ev.size || b.media_type != ev.media_type => report.fail(
                    subject,
                    "manifest size or media type differ from the record",
                ),
                Some(_) => {}
            }
        }
        for blob in header.blobs.values() {
            let subject = format!("blob {}", blob.sha256.to_hex());
            if !referenced.contains(&blob.sha256) {
                report.fail(&subject, "listed but no verified record names it");
            }
            if !blob.present {
                report.blobs_deleted.push(blob.sha256);
            } else if self.blobs_ok.contains(&blob.sha256) {
                report.blobs_verified += 1;
            } else if !self.blobs_seen.contains(&blob.sha256) {
                report.fail(&subject, "missing: the manifest lists it as present");
            }
        }
    }
}

/// A record's bytes against its manifest leaf and its proof against the checkpoint.
fn check_record(
    header: &Header,
    index: u64,
    leaf: &Hash,
    bytes: Option<Vec<u8>>,
    proof: Option<Vec<u8>>,
) -> Result<Record, String> {
    let bytes = bytes.ok_or("missing: the manifest lists it but its file is not in the pack")?;
    if leaf_hash(&bytes) != *leaf {
        return Err("record bytes do not match the manifest's leaf hash".into());
    }
    let record = Record::decode(&bytes).map_err(|e| format!("not a canonical record: {e}"))?;
    let proof = proof.ok_or("proof file missing")?;
    let text = std::str::from_utf8(&proof).map_err(|_| "proof is not UTF-8")?;
    let proof = TlogProof::parse(text).map_err(|e| format!("proof is malformed: {e}"))?;
    if proof.index != index {
        return Err(format!("proof is for index {}", proof.index));
    }
    if proof.checkpoint != header.signed {
        return Err("proof leads to a different checkpoint than the pack's".into());
    }
    // The proof carries the pack's checkpoint (checked just above), whose signature
    // was verified before any record was read; only the inclusion path is left.
    let c = &header.checkpoint;
    sitrep_ledger::verify_inclusion(leaf, index, c.size, &proof.proof, &c.root)
        .map_err(|e| format!("inclusion proof does not verify: {e}"))?;
    Ok(record)
}

/// Whether `bytes` are the manifest's one encoding, compared as it is written rather
/// than by building a second copy (a manifest can be as large as the limits allow).
fn is_canonical(manifest: &Manifest, bytes: &[u8]) -> bool {
    struct Compare<'a> {
        rest: &'a [u8],
        equal: bool,
    }
    impl io::Write for Compare<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            match self.rest.strip_prefix(buf) {
                Some(rest) if self.equal => self.rest = rest,
                _ => self.equal = false,
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut c = Compare {
        rest: bytes,
        equal: true,
    };
    super::write_manifest(&mut c, manifest).is_ok() && c.equal && c.rest.is_empty()
}
