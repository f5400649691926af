//! `sitrep key generate` and `sitrep verify` as a user runs them: a key made by the CLI
//! signs a log, a pack exported from it verifies offline, and failures exit non-zero.

use std::path::Path;
use std::process::{Command, Output};

use sitrep_evidence::BlobStore;
use sitrep_evidence::pack::write_pack;
use sitrep_ledger::{Checkpoint, Evidence, MemoryStore, Record, Signer, append, tree_hash};

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

    let blobs = BlobStore::open(dir.join("blobs")).expect("blobs");
    let mut log = MemoryStore::new();
    for i in 0..5u64 {
        let mut r = Record::new("note.added", 1_700_000_000_000 + i, "alice");
        if i == 2 {
            let b = blobs.put(b"df -h output").expect("put");
            r.evidence = Some(Evidence {
                sha256: b.sha256,
                size: b.size,
                media_type: "text/plain".into(),
            });
        }
        append(&mut log, &[r.encode().expect("encode").as_slice()]).expect("append");
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
