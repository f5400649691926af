//! Evidence packs end to end: write a pack from a real log and blob store, verify it
//! offline, and show that any single changed byte of any file in it is caught.

use std::io::Read;

use flate2::read::GzDecoder;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sitrep_evidence::BlobStore;
use sitrep_evidence::pack::{Limits, VerifyReport, verify_pack, write_pack};
use sitrep_ledger::{
    Checkpoint, Evidence, MemoryStore, Record, Signer, Verifier, append, tree_hash,
};

const ORIGIN: &str = "sitrep.test/ledger";

struct Fixture {
    _dir: tempfile::TempDir,
    blobs: BlobStore,
    log: MemoryStore,
    signer: Signer,
    signed: String,
    evidence: Vec<sitrep_ledger::Hash>,
}

/// A log of `n` records, every third of which names an evidence blob in the store.
fn fixture(n: u64) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let blobs = BlobStore::open(dir.path().join("blobs")).expect("blob store");
    let mut log = MemoryStore::new();
    let mut evidence = Vec::new();
    for i in 0..n {
        let mut record = Record::new("step.run", 1_700_000_000_000 + i, "alice");
        record.incident = Some("inc-1".into());
        if i % 3 == 0 {
            let bytes = format!("output of step {i}\n").repeat(1 + i as usize);
            let stored = blobs.put(bytes.as_bytes()).expect("put");
            evidence.push(stored.sha256);
            record.evidence = Some(Evidence {
                sha256: stored.sha256,
                size: stored.size,
                media_type: "text/plain".into(),
            });
        }
        let bytes = record.encode().expect("encode");
        append(&mut log, &[bytes.as_slice()]).expect("append");
    }
    let signer = Signer::from_seed(ORIGIN, &[7u8; 32]).expect("signer");
    let root = tree_hash(n, &log).expect("root");
    let signed = Checkpoint::new(ORIGIN, n, root)
        .sign(&[&signer])
        .expect("sign");
    Fixture {
        _dir: dir,
        blobs,
        log,
        signer,
        signed,
        evidence,
    }
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
fn a_whole_log_exports_and_verifies_offline() {
    let f = fixture(30);
    let all: Vec<u64> = (0..30).collect();
    let report = verify(&pack_of(&f, &all), &f.signer.verifier());
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.records_verified, 30);
    assert_eq!(report.blobs_verified, f.evidence.len());
    assert_eq!(report.tree_size, Some(30));
    assert_eq!(report.origin.as_deref(), Some(ORIGIN));
}

#[test]
fn a_subset_of_records_verifies_against_the_full_checkpoint() {
    let f = fixture(20);
    let report = verify(&pack_of(&f, &[3, 4, 17]), &f.signer.verifier());
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.records_verified, 3);
    assert_eq!(report.blobs_verified, 1, "only record 3 names a blob");
}

#[test]
fn the_key_is_pinned_by_the_user_not_taken_from_the_pack() {
    let f = fixture(5);
    let other = Signer::from_seed(ORIGIN, &[9u8; 32]).expect("signer");
    let report = verify(&pack_of(&f, &[0, 1]), &other.verifier());
    assert!(!report.ok());
    assert_eq!(report.failures[0].subject, "checkpoint");
}

#[test]
fn retention_deletes_the_blob_and_the_record_still_proves_it() {
    let f = fixture(4);
    f.blobs.delete(&f.evidence[0]).expect("delete");
    let report = verify(&pack_of(&f, &[0, 1]), &f.signer.verifier());
    assert!(report.ok(), "{report:#?}");
    assert_eq!(report.blobs_deleted, vec![f.evidence[0]]);
    assert_eq!(report.records_verified, 2);
}

#[test]
fn a_removed_or_added_file_is_named() {
    let f = fixture(6);
    let files = unpack(&pack_of(&f, &[0, 1, 2]));

    let without_proof: Vec<_> = files
        .iter()
        .filter(|(p, _)| p != "proofs/1.tlog-proof")
        .cloned()
        .collect();
    let report = verify(&repack(&without_proof), &f.signer.verifier());
    assert!(
        report
            .failures
            .iter()
            .any(|x| x.subject == "record 1" && x.message.contains("proof file missing")),
        "{report:#?}"
    );

    let blob = format!("blobs/{}", f.evidence[0].to_hex());
    let without_blob: Vec<_> = files.iter().filter(|(p, _)| *p != blob).cloned().collect();
    let report = verify(&repack(&without_blob), &f.signer.verifier());
    assert!(
        report
            .failures
            .iter()
            .any(|x| x.subject.starts_with("blob ") && x.message == "blob file missing"),
        "{report:#?}"
    );

    let mut extra = files.clone();
    extra.push(("records/99.json".into(), b"{}".to_vec()));
    let report = verify(&repack(&extra), &f.signer.verifier());
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
    let all: Vec<u64> = (0..24).collect();
    let files = unpack(&pack_of(&f, &all));
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
    let pack = pack_of(&f, &[0, 1, 2]);
    let limits = Limits {
        max_files: 1_000,
        max_file_bytes: 64,
        max_total_bytes: 1 << 20,
    };
    let err = verify_pack(pack.as_slice(), &[f.signer.verifier()], limits).expect_err("too large");
    assert!(err.to_string().contains("too large"), "{err}");
    let err = verify_pack(
        &b"not a pack at all"[..],
        &[f.signer.verifier()],
        Limits::default(),
    )
    .expect_err("garbage");
    assert!(!err.to_string().is_empty());
}
