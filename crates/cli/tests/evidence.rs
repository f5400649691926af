//! `sitrep key generate`, `sitrep evidence export` and `sitrep verify` as a user runs
//! them: a key made by the CLI signs a log, a pack exported from it verifies offline,
//! failures exit non-zero, and a real pack with any one record or blob taken out (its
//! manifest rebuilt) fails and names what is missing.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use sitrep_evidence::BlobStore;
use sitrep_evidence::pack::{Limits, Manifest, export_record, verify_pack, write_pack};
use sitrep_ledger::{
    Checkpoint, Evidence, Link, MemoryStore, Record, Signer, Verifier, append, leaf_hash, tree_hash,
};

fn sitrep(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run sitrep")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Generates a key with the CLI and writes a pack of a small log signed by it.
/// Returns (verifier key, pack path).
fn key_and_pack(dir: &Path) -> (String, std::path::PathBuf) {
    let out = sitrep(
        &[
            "--json",
            "key",
            "generate",
            "sitrep.test/ledger",
            "-o",
            "ledger.key",
        ],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let vkey = json["verifier_key"]
        .as_str()
        .expect("verifier_key")
        .to_owned();

    let key_file = dir.join("ledger.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).expect("meta").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "signing key must be private");
    let signer = Signer::parse(std::fs::read_to_string(&key_file).expect("read key").trim())
        .expect("parse key");

    // An incident of four records chained as the store chains them, sealed by an export.
    let blobs = BlobStore::open(dir.join("blobs")).expect("blobs");
    let mut log = MemoryStore::new();
    let mut head: Option<Link> = None;
    for i in 0..5u64 {
        let mut r = match i {
            0 => Record::new("incident.declared", 1_700_000_000_000, "alice"),
            4 => export_record("inc-1", 3, 4, 1_700_000_000_004, "alice"),
            _ => Record::new("note.added", 1_700_000_000_000 + i, "alice"),
        };
        r.incident = Some("inc-1".into());
        r.prev = head;
        if i == 2 {
            let b = blobs.put(b"df -h output").expect("put");
            r.evidence = Some(Evidence {
                sha256: b.sha256,
                size: b.size,
                media_type: "text/plain".into(),
            });
        }
        let bytes = r.encode().expect("encode");
        head = Some(Link {
            index: i,
            hash: leaf_hash(&bytes),
        });
        append(&mut log, &[bytes.as_slice()]).expect("append");
    }
    let signed = Checkpoint::new("sitrep.test/ledger", 5, tree_hash(5, &log).expect("root"))
        .sign(&[&signer])
        .expect("sign");
    let pack = dir.join("incident.tar.gz");
    let file = std::fs::File::create(&pack).expect("create pack");
    write_pack(file, &log, &signed, &[0, 1, 2, 3, 4], &blobs).expect("write pack");
    (vkey, pack)
}

#[test]
fn a_pack_verifies_with_the_pinned_key_and_fails_with_another() {
    let dir = tempfile::tempdir().expect("temp");
    let (vkey, pack) = key_and_pack(dir.path());
    let pack = pack.to_str().expect("utf-8 path");

    let out = sitrep(&["verify", pack, "--key", &vkey], dir.path());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("records verified: 5"), "{stdout}");
    assert!(
        stdout.contains(
            "incident inc-1: export record 4 (at 1700000000004 ms by alice) counts 4 records \
             before it; the pack is complete up to it"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("blobs verified: 1"), "{stdout}");

    std::fs::write(dir.path().join("vkey"), format!("{vkey}\n")).expect("write");
    let out = sitrep(&["--json", "verify", pack, "--key", "@vkey"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["ok"], true);

    // Another key of the same name: the pack's checkpoint is not trusted; exit 1.
    let other = sitrep(
        &[
            "--json",
            "key",
            "generate",
            "sitrep.test/ledger",
            "-o",
            "other.key",
        ],
        dir.path(),
    );
    let other: serde_json::Value = serde_json::from_slice(&other.stdout).expect("json");
    let out = sitrep(
        &[
            "verify",
            pack,
            "--key",
            other["verifier_key"].as_str().expect("key"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("FAILED checkpoint"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bad_input_exits_2_and_says_what_is_wrong() {
    let dir = tempfile::tempdir().expect("temp");
    let (vkey, pack) = key_and_pack(dir.path());

    let out = sitrep(&["verify", "missing.tar.gz", "--key", &vkey], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("missing.tar.gz"),
        "{}",
        text(&out.stderr)
    );

    let out = sitrep(
        &["verify", pack.to_str().expect("path"), "--key", "not-a-key"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a verifier key"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(dir.path().join("junk.tar.gz"), b"junk").expect("write");
    let out = sitrep(&["verify", "junk.tar.gz", "--key", &vkey], dir.path());
    assert_eq!(out.status.code(), Some(2));

    // The key generator never overwrites a key without --force.
    let out = sitrep(
        &["key", "generate", "sitrep.test/ledger", "-o", "ledger.key"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `sitrep` on a data dir of its own, as an on-call engineer would.
fn on_data_dir(dir: &Path, args: &[&str]) -> Output {
    let runbooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/app/runbooks");
    let o = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(args)
        .env("SITREP_DATA_DIR", dir.join("data"))
        .env("SITREP_RUNBOOKS", runbooks)
        .env("SITREP_ACTOR", "ann")
        .env_remove("SITREP_CONFIG")
        .env_remove("SITREP_DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("sitrep runs");
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    o
}

/// The pack's members, in archive order.
fn unpack(pack: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(pack));
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

/// The members without those `drop` names, the manifest rebuilt in the writer's format
/// after `edit`: what the prober did.
fn rebuilt(
    files: &[(String, Vec<u8>)],
    drop: impl Fn(&str) -> bool,
    edit: impl FnOnce(&mut Manifest),
) -> Vec<u8> {
    let mut files: Vec<_> = files.iter().filter(|(p, _)| !drop(p)).cloned().collect();
    let manifest = &mut files[0].1;
    let mut m: Manifest = serde_json::from_slice(manifest).expect("manifest");
    edit(&mut m);
    *manifest = serde_json::to_vec_pretty(&m).expect("json");
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, bytes) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes.as_slice())
            .expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

fn failures_of(pack: &[u8], key: &Verifier) -> (bool, String) {
    let report = verify_pack(pack, std::slice::from_ref(key), Limits::default()).expect("readable");
    let text = report
        .failures
        .iter()
        .map(|f| format!("{}: {}\n", f.subject, f.message))
        .collect();
    (report.ok(), text)
}

/// A real pack, exported by the CLI from an incident with notes and step output; every
/// single record and every blob taken out in turn, the manifest rebuilt in the same
/// format: each fails verification and names what is missing.
#[test]
fn a_real_pack_missing_any_one_record_or_blob_fails_and_names_it() {
    let dir = tempfile::tempdir().expect("temp");
    let d = dir.path();
    on_data_dir(d, &["incident", "declare", "db down", "-s", "2"]);
    on_data_dir(d, &["incident", "note", "1", "looking at replication"]);
    on_data_dir(d, &["run", "1", "local-service.md", "leaky"]);
    on_data_dir(d, &["run", "1", "local-service.md", "chatty"]);
    on_data_dir(d, &["incident", "ack", "1"]);
    let pack_path = d.join("pack.tar.gz");
    let o = on_data_dir(
        d,
        &[
            "--json",
            "evidence",
            "export",
            "1",
            "-o",
            pack_path.to_str().unwrap(),
        ],
    );
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let key = Verifier::parse(out["verifier_key"].as_str().expect("key")).expect("key");
    let pack = std::fs::read(&pack_path).expect("pack");
    assert!(failures_of(&pack, &key).0, "{}", failures_of(&pack, &key).1);

    let files = unpack(&pack);
    let manifest: Manifest = serde_json::from_slice(&files[0].1).expect("manifest");
    let last = manifest.records.last().expect("records").index;
    assert!(manifest.records.len() >= 6, "{:?}", manifest.records);
    assert!(manifest.blobs.len() >= 2, "{:?}", manifest.blobs);
    for r in &manifest.records {
        let (record, proof) = (
            format!("records/{}.json", r.index),
            format!("proofs/{}.tlog-proof", r.index),
        );
        let tampered = rebuilt(
            &files,
            |p| p == record || p == proof,
            |m| m.records.retain(|x| x.index != r.index),
        );
        let (ok, text) = failures_of(&tampered, &key);
        assert!(!ok, "record {} removed went unnoticed", r.index);
        let named = if r.index == last {
            text.contains("not evidence.exported")
        } else {
            text.contains(&format!("record {}: missing", r.index))
        };
        assert!(named, "record {} removed:\n{text}", r.index);
    }
    for b in &manifest.blobs {
        let (path, hex) = (format!("blobs/{}", b.sha256.to_hex()), b.sha256.to_hex());
        for unlist in [false, true] {
            let tampered = rebuilt(
                &files,
                |p| p == path,
                |m| {
                    if unlist {
                        m.blobs.retain(|x| x.sha256 != b.sha256);
                    } else {
                        m.blobs
                            .iter_mut()
                            .for_each(|x| x.present &= x.sha256 != b.sha256);
                    }
                },
            );
            let (ok, text) = failures_of(&tampered, &key);
            assert!(!ok && text.contains(&hex), "blob {hex} removed:\n{text}");
        }
    }

    // And as a user sees it: the export record dropped from the end is named.
    let export = format!("records/{last}.json");
    let tampered = rebuilt(
        &files,
        |p| p == export || p == format!("proofs/{last}.tlog-proof"),
        |m| m.records.retain(|x| x.index != last),
    );
    std::fs::write(d.join("cut.tar.gz"), tampered).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["verify", "cut.tar.gz", "--key", &key.to_string()])
        .current_dir(d)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    let shown = text(&o.stdout);
    assert!(shown.contains("FAILED pack: its last record"), "{shown}");
    assert!(shown.ends_with("NOT VERIFIED\n"), "{shown}");
}
