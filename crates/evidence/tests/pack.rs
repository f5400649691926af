//! Evidence packs end to end: write a pack from a real log and blob store, verify it
//! offline, and show that any single changed byte of any file in it is caught.

use std::io::Read;

use flate2::read::GzDecoder;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sitrep_evidence::BlobStore;
use sitrep_evidence::pack::{
    Limits, Manifest, VerifyReport, export_record, verify_pack, write_pack,
};
use sitrep_ledger::{
    Checkpoint, Evidence, Link, LogStore, MemoryStore, Record, Signer, Verifier, append, tree_hash,
};

const ORIGIN: &str = "sitrep.test/ledger";

struct Fixture {
    _dir: tempfile::TempDir,
    blobs: BlobStore,
    log: MemoryStore,
    signer: Signer,
    signed: String,
    evidence: Vec<sitrep_ledger::Hash>,
    /// The leaf indexes of incident `inc-1`, its export record last.
    incident: Vec<u64>,
}

/// Appends `record` to the log, linked to the previous record of its incident as the
/// store's writer links it.
struct Chain {
    log: MemoryStore,
    heads: std::collections::BTreeMap<String, Link>,
}

impl Chain {
    fn push(&mut self, mut record: Record) -> u64 {
        let index = self.log.tree_size().expect("size");
        if let Some(inc) = record.incident.clone() {
            record.prev = self.heads.get(&inc).copied();
            let hash = record.leaf_hash().expect("leaf");
            self.heads.insert(inc, Link { index, hash });
        }
        let bytes = record.encode().expect("encode");
        append(&mut self.log, &[bytes.as_slice()]).expect("append");
        index
    }
}

fn incident_record(event_type: &str, i: u64) -> Record {
    let mut record = Record::new(event_type, 1_700_000_000_000 + i, "alice");
    record.incident = Some("inc-1".into());
    record
}

/// Incident `inc-1` with `n` records (a declaration, then steps, every third naming an
/// evidence blob in the store; another incident's records and unrelated ones between),
/// `extra` records after them, and the export record sealing it.
fn fixture_with(n: u64, extra: impl FnOnce(&BlobStore) -> Vec<Record>) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let blobs = BlobStore::open(dir.path().join("blobs")).expect("blob store");
    let mut chain = Chain {
        log: MemoryStore::new(),
        heads: Default::default(),
    };
    let mut evidence = Vec::new();
    let mut incident = Vec::new();
    for i in 0..n {
        let kind = if i == 0 {
            "incident.declared"
        } else {
            "step.run"
        };
        let mut record = incident_record(kind, i);
        if i % 3 == 1 {
            let bytes = format!("output of step {i}\n").repeat(1 + i as usize);
            let stored = blobs.put(bytes.as_bytes()).expect("put");
            evidence.push(stored.sha256);
            record.evidence = Some(Evidence {
                sha256: stored.sha256,
                size: stored.size,
                media_type: "text/plain".into(),
            });
        }
        incident.push(chain.push(record));
        if i % 4 == 2 {
            let mut other = Record::new("note.added", i, "bob");
            other.incident = Some("inc-2".into());
            chain.push(other);
            chain.push(Record::new("system.tick", i, "system"));
        }
    }
    for record in extra(&blobs) {
        incident.push(chain.push(record));
    }
    let head = *incident.last().expect("records");
    let count = incident.len() as u64;
    let export = export_record("inc-1", head, count, 1_800_000_000_000, "auditor");
    incident.push(chain.push(export));
    let log = chain.log;
    let size = log.tree_size().expect("size");
    let signer = Signer::from_seed(ORIGIN, &[7u8; 32]).expect("signer");
    let root = tree_hash(size, &log).expect("root");
    let signed = Checkpoint::new(ORIGIN, size, root)
        .sign(&[&signer])
        .expect("sign");
    Fixture {
        _dir: dir,
        blobs,
        log,
        signer,
        signed,
        evidence,
        incident,
    }
}

fn fixture(n: u64) -> Fixture {
    fixture_with(n, |_| Vec::new())
}

fn pack(f: &Fixture) -> Vec<u8> {
    pack_of(f, &f.incident)
}

fn pack_of(f: &Fixture, indexes: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    write_pack(&mut out, &f.log, &f.signed, indexes, &f.blobs).expect("write pack");
    out
}

fn verify(pack: &[u8], key: &Verifier) -> VerifyReport {
    verify_pack(pack, std::slice::from_ref(key), Limits::default()).expect("readable pack")
}

/// The pack's files, in archive order.
fn unpack(pack: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(GzDecoder::new(pack));
    let mut files = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read");
        files.push((path, bytes));
    }
    files
}

fn repack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes.as_slice())
            .expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

#[test]
fn an_incident_exports_and_verifies_offline() {
    let f = fixture(30);
    let report = verify(&pack(&f), &f.signer.verifier());
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.records_verified, 31, "30 records and the export");
    assert_eq!(report.blobs_verified, f.evidence.len());
    assert_eq!(report.tree_size, Some(f.log.tree_size().unwrap()));
    assert_eq!(report.origin.as_deref(), Some(ORIGIN));
    assert_eq!(report.incident.as_deref(), Some("inc-1"));
    let export = report.export.expect("export");
    assert_eq!(
        (export.index, export.records),
        (*f.incident.last().unwrap(), 30)
    );
    assert_eq!(export.actor, "auditor");
}

#[test]
fn the_key_is_pinned_by_the_user_not_taken_from_the_pack() {
    let f = fixture(5);
    let other = Signer::from_seed(ORIGIN, &[9u8; 32]).expect("signer");
    let report = verify(&pack(&f), &other.verifier());
    assert!(!report.ok());
    assert_eq!(report.failures[0].subject, "checkpoint");
    assert_eq!(
        report.records_verified, 0,
        "nothing is read past a bad signature"
    );
}

#[test]
fn a_blob_retention_deleted_is_proven_by_its_record_and_the_expiry_record() {
    let f = fixture_with(4, |blobs| {
        // Step 1's output, the first blob of the fixture.
        let gone = sitrep_ledger::Hash::digest("output of step 1\n".repeat(2).as_bytes());
        blobs.delete(&gone).expect("delete");
        let mut expired = incident_record("evidence.expired", 99);
        expired.payload.insert("sha256".into(), gone.to_hex());
        vec![expired]
    });
    let report = verify(&pack(&f), &f.signer.verifier());
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.blobs_deleted, vec![f.evidence[0]]);
    assert_eq!(report.blobs_verified, 0);
}

#[test]
fn a_blob_absent_without_a_record_saying_why_is_missing() {
    let f = fixture(4);
    f.blobs.delete(&f.evidence[0]).expect("delete");
    let report = verify(&pack(&f), &f.signer.verifier());
    let hex = f.evidence[0].to_hex();
    assert!(
        report
            .failures
            .iter()
            .any(|x| x.subject == format!("blob {hex}") && x.message.contains("evidence.expired")),
        "{report:#?}"
    );
}

/// The manifest rebuilt in the writer's format after `edit`.
fn with_manifest(
    files: &[(String, Vec<u8>)],
    drop: impl Fn(&str) -> bool,
    edit: impl FnOnce(&mut Manifest),
) -> Vec<u8> {
    let mut files: Vec<_> = files.iter().filter(|(p, _)| !drop(p)).cloned().collect();
    let (_, bytes) = files
        .iter_mut()
        .find(|(p, _)| p == "manifest.json")
        .unwrap();
    let mut manifest: Manifest = serde_json::from_slice(bytes).unwrap();
    edit(&mut manifest);
    *bytes = serde_json::to_vec_pretty(&manifest).unwrap();
    repack(&files)
}

fn failures(report: &VerifyReport) -> String {
    report
        .failures
        .iter()
        .map(|x| format!("{}: {}\n", x.subject, x.message))
        .collect()
}

/// A change to a manifest.
type Edit<'a> = Box<dyn Fn(&mut Manifest) + 'a>;

/// The attack: a record (or blob) removed from a genuine pack and the manifest
/// rebuilt in the same format. Every single one, and each way of hiding a blob, fails
/// and names what is missing.
#[test]
fn removing_any_single_record_or_blob_fails_and_names_it() {
    let f = fixture(24);
    let files = unpack(&pack(&f));
    let key = f.signer.verifier();
    let export = *f.incident.last().unwrap();
    for &index in &f.incident {
        let record = format!("records/{index}.json");
        let proof = format!("proofs/{index}.tlog-proof");
        let pack = with_manifest(
            &files,
            |p| p == record || p == proof,
            |m| m.records.retain(|r| r.index != index),
        );
        let report = verify(&pack, &key);
        let text = failures(&report);
        assert!(!report.ok(), "record {index} removed went unnoticed");
        let named = if index == export {
            text.contains("pack: its last record") && text.contains("not evidence.exported")
        } else {
            text.contains(&format!("record {index}: missing: record "))
                && text.contains("1 missing")
        };
        assert!(named, "record {index} removed:\n{text}");
    }
    for sha in &f.evidence {
        let hex = sha.to_hex();
        let blob = format!("blobs/{hex}");
        let ways: [(&str, Edit); 3] = [
            ("file only", Box::new(|_| {})),
            (
                "unlisted",
                Box::new(|m| m.blobs.retain(|b| b.sha256 != *sha)),
            ),
            (
                "marked deleted",
                Box::new(|m| {
                    for b in m.blobs.iter_mut().filter(|b| b.sha256 == *sha) {
                        b.present = false;
                    }
                }),
            ),
        ];
        for (how, edit) in ways {
            let report = verify(&with_manifest(&files, |p| p == blob, edit), &key);
            let text = failures(&report);
            assert!(!report.ok(), "blob {hex} removed ({how}) went unnoticed");
            assert!(text.contains(&hex), "blob {hex} removed ({how}):\n{text}");
        }
    }
}

/// Records 926-928 of the issue: three in a row gone, a step and its evidence.
#[test]
fn three_records_removed_in_a_row_are_counted_and_the_linked_one_named() {
    let f = fixture(12);
    let files = unpack(&pack(&f));
    let gone: Vec<u64> = f.incident[4..7].to_vec();
    let pack = with_manifest(
        &files,
        |p| {
            gone.iter()
                .any(|i| p == format!("records/{i}.json") || p == format!("proofs/{i}.tlog-proof"))
        },
        |m| m.records.retain(|r| !gone.contains(&r.index)),
    );
    let report = verify(&pack, &f.signer.verifier());
    let text = failures(&report);
    assert!(
        text.contains(&format!("record {}: missing", gone[2])),
        "{text}"
    );
    assert!(text.contains("the pack has 9: 3 missing"), "{text}");
}

#[test]
fn an_added_file_is_named() {
    let f = fixture(6);
    let mut files = unpack(&pack(&f));
    files.push(("records/99.json".into(), b"{}".to_vec()));
    let report = verify(&repack(&files), &f.signer.verifier());
    assert!(
        report
            .failures
            .iter()
            .any(|x| x.subject == "file records/99.json"),
        "{report:#?}"
    );
}

#[test]
fn any_single_changed_byte_of_any_file_fails_verification() {
    let f = fixture(24);
    let files = unpack(&pack(&f));
    let key = f.signer.verifier();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    for trial in 0..1000 {
        let mut tampered = files.clone();
        // Pick the kind of file first, so the one manifest and one checkpoint are
        // tampered with as often as the many records.
        let kinds = [
            "records/",
            "proofs/",
            "blobs/",
            "checkpoint",
            "manifest.json",
        ];
        let prefix = kinds[rng.gen_range(0..kinds.len())];
        let candidates: Vec<usize> = (0..tampered.len())
            .filter(|&i| tampered[i].0.starts_with(prefix))
            .collect();
        let which = candidates[rng.gen_range(0..candidates.len())];
        let path = tampered[which].0.clone();
        let bytes = &mut tampered[which].1;
        let at = rng.gen_range(0..bytes.len());
        let flip: u8 = rng.gen_range(1..=255);
        bytes[at] ^= flip;
        let kind = match path.split('/').next().unwrap_or("?") {
            "records" => "records",
            "proofs" => "proofs",
            "blobs" => "blobs",
            "checkpoint" => "checkpoint",
            _ => "manifest",
        };
        *by_kind.entry(kind).or_default() += 1;
        let failed = match verify_pack(
            repack(&tampered).as_slice(),
            std::slice::from_ref(&key),
            Limits::default(),
        ) {
            Ok(report) => !report.ok(),
            Err(_) => true,
        };
        assert!(
            failed,
            "trial {trial}: byte {at} of {path} ^= {flip:#04x} went unnoticed"
        );
    }
    // Every kind of file was tampered with many times.
    for kind in ["records", "proofs", "blobs", "checkpoint", "manifest"] {
        assert!(
            by_kind.get(kind).copied().unwrap_or(0) >= 150,
            "{by_kind:?}"
        );
    }
}

#[test]
fn a_hostile_pack_is_refused_before_it_exhausts_memory() {
    let f = fixture(3);
    let pack = pack(&f);
    let limits = Limits {
        max_meta_bytes: 2048,
        ..Limits::default()
    };
    let err = verify_pack(pack.as_slice(), &[f.signer.verifier()], limits).expect_err("too large");
    assert!(err.to_string().contains("too large"), "{err}");
    let limits = Limits {
        max_total_bytes: 4096,
        ..Limits::default()
    };
    let err = verify_pack(pack.as_slice(), &[f.signer.verifier()], limits).expect_err("too large");
    assert!(err.to_string().contains("decompressed"), "{err}");
    let err = verify_pack(
        &b"not a pack at all"[..],
        &[f.signer.verifier()],
        Limits::default(),
    )
    .expect_err("garbage");
    assert!(!err.to_string().is_empty());
}
