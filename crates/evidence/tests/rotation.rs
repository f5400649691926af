//! Evidence packs across key rotations: a key pinned before the log rotated (twice) still
//! verifies a pack signed after, by following rotations each retiring key signed; a
//! rotation the pinned key did not sign, or a forged one, does not extend trust.

use std::io::Read;

use flate2::read::GzDecoder;
use sitrep_evidence::BlobStore;
use sitrep_evidence::pack::{
    Limits, PackEntry, PackTransition, VerifyReport, export_record, verify_pack, write_pack_entries,
};
use sitrep_ledger::{
    Checkpoint, Link, MemoryStore, Record, Signer, TlogProof, Verifier, append, prove_consistency,
    prove_inclusion, tree_hash,
};

const ORIGIN: &str = "sitrep.test/ledger";

fn key(seed: u8) -> Signer {
    Signer::from_seed(ORIGIN, &[seed; 32]).expect("signer")
}

struct Log {
    _dir: tempfile::TempDir,
    blobs: BlobStore,
    log: MemoryStore,
    size: u64,
    /// (index of the rotation record, signed transition checkpoint)
    rotations: Vec<(u64, String)>,
    /// The incident's last record.
    head: Option<Link>,
}

impl Log {
    fn new() -> Log {
        let dir = tempfile::tempdir().expect("temp dir");
        Log {
            blobs: BlobStore::open(dir.path().join("blobs")).expect("blobs"),
            _dir: dir,
            log: MemoryStore::new(),
            size: 0,
            rotations: Vec::new(),
            head: None,
        }
    }

    /// Appends `record`, linked to its incident's last record as the store links it.
    fn push(&mut self, record: &Record) -> u64 {
        let mut record = record.clone();
        if record.incident.is_some() {
            record.prev = self.head;
            self.head = Some(Link {
                index: self.size,
                hash: record.leaf_hash().expect("leaf"),
            });
        }
        let bytes = record.encode().expect("encode");
        append(&mut self.log, &[bytes.as_slice()]).expect("append");
        self.size += 1;
        self.size - 1
    }

    fn notes(&mut self, n: u64) {
        for i in 0..n {
            let kind = if self.head.is_none() {
                "incident.declared"
            } else {
                "note.added"
            };
            let mut r = Record::new(kind, 1_000 + self.size + i, "ann");
            r.incident = Some("inc-1".into());
            self.push(&r);
        }
    }

    /// Seals the incident as an export does.
    fn export(&mut self) {
        let head = self.head.expect("records").index;
        let count = self.size - self.rotations.len() as u64;
        self.push(&export_record("inc-1", head, count, 9_000, "ann"));
    }

    fn checkpoint(&self, signers: &[&Signer]) -> String {
        let root = tree_hash(self.size, &self.log).expect("root");
        Checkpoint::new(ORIGIN, self.size, root)
            .sign(signers)
            .expect("sign")
    }

    /// A rotation as the store does it: the record, then a checkpoint both keys sign
    /// (`signers` lets a test leave the retiring key out).
    fn rotate(&mut self, from: &Signer, to: &Signer, signers: &[&Signer]) {
        let r = Record::key_rotation(&from.verifier(), &to.verifier(), 5_000 + self.size, "root");
        let index = self.push(&r);
        let signed = self.checkpoint(signers);
        self.rotations.push((index, signed));
    }

    fn transitions(&self) -> Vec<PackTransition> {
        self.rotations
            .iter()
            .map(|(index, signed)| {
                let at = Checkpoint::parse(&sitrep_ledger::Note::parse(signed).unwrap().text)
                    .unwrap()
                    .size;
                PackTransition {
                    index: *index,
                    record: self.log_entry(*index),
                    inclusion: TlogProof {
                        extra: None,
                        index: *index,
                        proof: prove_inclusion(at, *index, &self.log).unwrap(),
                        checkpoint: signed.clone(),
                    },
                    consistency: if at == self.size {
                        Vec::new()
                    } else {
                        prove_consistency(at, self.size, &self.log).unwrap()
                    },
                }
            })
            .collect()
    }

    fn log_entry(&self, index: u64) -> Vec<u8> {
        use sitrep_ledger::LogStore as _;
        self.log.read_entries(index, index + 1).unwrap().remove(0)
    }

    /// A pack of the incident's notes (not the rotation records) under `signed`.
    fn pack(&self, signed: &str) -> Result<Vec<u8>, sitrep_evidence::pack::PackError> {
        let entries = (0..self.size)
            .filter(|i| !self.rotations.iter().any(|(r, _)| r == i))
            .map(|index| PackEntry {
                index,
                entry: self.log_entry(index),
                proof: prove_inclusion(self.size, index, &self.log).unwrap(),
            })
            .collect();
        let mut out = Vec::new();
        write_pack_entries(&mut out, signed, entries, self.transitions(), &self.blobs)?;
        Ok(out)
    }
}

fn verify(pack: &[u8], keys: &[&Signer]) -> VerifyReport {
    let keys: Vec<Verifier> = keys.iter().map(|k| k.verifier()).collect();
    verify_pack(pack, &keys, Limits::default()).expect("readable")
}

/// k0 -> k1 -> k2, each transition signed by both keys, the pack by k2.
fn twice_rotated() -> (Log, [Signer; 3], String) {
    let ks = [key(1), key(2), key(3)];
    let mut log = Log::new();
    log.notes(3);
    log.rotate(&ks[0], &ks[1], &[&ks[1], &ks[0]]);
    log.notes(2);
    log.rotate(&ks[1], &ks[2], &[&ks[2], &ks[1]]);
    log.notes(4);
    log.export();
    let signed = log.checkpoint(&[&ks[2]]);
    (log, ks, signed)
}

#[test]
fn a_key_pinned_before_two_rotations_verifies_a_pack_signed_after_them() {
    let (log, ks, signed) = twice_rotated();
    let pack = log.pack(&signed).unwrap();

    let r = verify(&pack, &[&ks[0]]);
    assert!(r.ok(), "{:?}", r.failures);
    assert_eq!(
        r.keys_followed,
        [ks[1].verifier().to_string(), ks[2].verifier().to_string()]
    );
    assert_eq!(r.records_verified, 10, "nine notes and the export");

    // Pinning a later key needs no rotation of its own.
    let r = verify(&pack, &[&ks[1]]);
    assert!(r.ok(), "{:?}", r.failures);
    assert_eq!(r.keys_followed, [ks[2].verifier().to_string()]);
    let r = verify(&pack, &[&ks[2]]);
    assert!(r.ok(), "{:?}", r.failures);
    assert!(r.keys_followed.is_empty());

    // A key of another log follows nothing and verifies nothing.
    let r = verify(&pack, &[&key(9)]);
    assert!(!r.ok());
    assert!(r.keys_followed.is_empty());
}

#[test]
fn a_rotation_the_retiring_key_did_not_sign_is_refused() {
    let ks = [key(1), key(2)];
    let mut log = Log::new();
    log.notes(2);
    // Only the new key signed the "transition": nothing vouches for it from k0.
    log.rotate(&ks[0], &ks[1], &[&ks[1]]);
    let signed = log.checkpoint(&[&ks[1]]);
    let e = log.pack(&signed).unwrap_err();
    assert!(
        e.to_string().contains("not signed by the retiring key"),
        "{e}"
    );
}

fn files(pack: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(GzDecoder::new(pack));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            (path, bytes)
        })
        .collect()
}

fn repack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, &bytes[..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn a_tampered_rotation_does_not_extend_trust() {
    let (log, ks, signed) = twice_rotated();
    let pack = log.pack(&signed).unwrap();
    let original = files(&pack);
    let rotation_files: Vec<String> = original
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| p.starts_with("keys/"))
        .collect();
    assert_eq!(rotation_files.len(), 6, "{rotation_files:?}");
    for target in &rotation_files {
        let mut changed = original.clone();
        let bytes = &mut changed.iter_mut().find(|(p, _)| p == target).unwrap().1;
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        let r = verify(&repack(&changed), &[&ks[0]]);
        assert!(!r.ok(), "a changed byte in {target} went unnoticed");
        // Pinning the newest key, the pack's own checkpoint still verifies; a rotation
        // nobody needed to follow is not checked.
        let r = verify(&repack(&changed), &[&ks[2]]);
        assert!(r.ok(), "{target}: {:?}", r.failures);
    }
    // A removed rotation file is named.
    let without: Vec<_> = original
        .iter()
        .filter(|(p, _)| p != &rotation_files[0])
        .cloned()
        .collect();
    let r = verify(&repack(&without), &[&ks[0]]);
    assert!(
        r.failures
            .iter()
            .any(|f| f.subject.starts_with("key rotation") && f.message.contains("missing")),
        "{:?}",
        r.failures
    );
}
