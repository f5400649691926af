//! Hostile evidence packs, generated here (never checked in), against `sitrep verify`
//! run as a user runs it: each fails with a named failure, and the verifier's peak
//! memory stays under a fixed bound.
//!
//! Measuring: a child's max RSS includes what its parent had resident when it was
//! spawned (the exec'ing process shares or copies the parent's memory first), and this
//! test holds large packs. So each `sitrep verify` is spawned by a fresh, lean copy of
//! this binary (`--measure`, no harness: `harness = false`), which reports its child's
//! max RSS from `getrusage(RUSAGE_CHILDREN)`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use nix::sys::resource::{UsageWho, getrusage};
use sitrep_evidence::BlobStore;
use sitrep_evidence::pack::{export_record, write_pack};
use sitrep_ledger::{
    Checkpoint, Evidence, Link, MemoryStore, Signer, append, leaf_hash, tree_hash,
};

/// The bound the issue asks for: 64 MiB (blobs are streamed, so no blob on top).
const MAX_RSS_KIB: i64 = 64 * 1024;
const GIB: u64 = 1 << 30;

/// A genuine pack of a sealed three-record incident, one record naming a blob; returns
/// the verifier key, the pack's members and the blob's hash and size.
fn genuine(dir: &Path) -> (String, Vec<(String, Vec<u8>)>) {
    let signer = Signer::from_seed("sitrep.test/ledger", &[3; 32]).expect("signer");
    let blobs = BlobStore::open(dir.join("blobs")).expect("blobs");
    let b = blobs.put(b"kubectl get pods\n").expect("put");
    let mut log = MemoryStore::new();
    let mut head: Option<Link> = None;
    for i in 0..4u64 {
        let mut r = if i == 3 {
            export_record("inc-1", 2, 3, 10, "ann")
        } else {
            let mut r = sitrep_ledger::Record::new(
                if i == 0 {
                    "incident.declared"
                } else {
                    "step.run"
                },
                i,
                "ann",
            );
            r.incident = Some("inc-1".into());
            r
        };
        r.prev = head;
        if i == 1 {
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
    let signed = Checkpoint::new("sitrep.test/ledger", 4, tree_hash(4, &log).expect("root"))
        .sign(&[&signer])
        .expect("sign");
    let mut pack = Vec::new();
    write_pack(&mut pack, &log, &signed, &[0, 1, 2, 3], &blobs).expect("pack");
    let mut members = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(pack.as_slice()));
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        let path = e.path().expect("path").to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut bytes).expect("read");
        members.push((path, bytes));
    }
    (signer.verifier().to_string(), members)
}

/// Writes a tar header of any type and size, as a hostile tool would.
fn header(tar: &mut impl Write, name: &[u8], kind: tar::EntryType, size: u64) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    tar.write_all(h.as_bytes()).expect("header");
}

/// `size` bytes of `byte`, then the padding to the next block.
fn body(tar: &mut impl Write, byte: u8, size: u64) {
    let chunk = vec![byte; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64);
        tar.write_all(&chunk[..n as usize]).expect("body");
        left -= n;
    }
    let pad = (512 - size % 512) % 512;
    tar.write_all(&vec![0u8; pad as usize]).expect("pad");
}

fn member(tar: &mut impl Write, name: &str, bytes: &[u8]) {
    header(
        tar,
        name.as_bytes(),
        tar::EntryType::Regular,
        bytes.len() as u64,
    );
    tar.write_all(bytes).expect("bytes");
    let pad = (512 - bytes.len() % 512) % 512;
    tar.write_all(&vec![0u8; pad]).expect("pad");
}

/// A pack file: `build` writes the tar stream (gzip-compressed, fast) into it.
fn pack(dir: &Path, name: &str, build: impl FnOnce(&mut GzEncoder<BufWriter<File>>)) -> PathBuf {
    let path = dir.join(name);
    let file = BufWriter::new(File::create(&path).expect("create"));
    let mut gz = GzEncoder::new(file, Compression::fast());
    build(&mut gz);
    gz.finish().expect("gzip").flush().expect("flush");
    path
}

/// Members as they are.
fn some(gz: &mut impl Write, members: &[(String, Vec<u8>)]) {
    for (name, bytes) in members {
        member(gz, name, bytes);
    }
}

/// The genuine members, then a tar end marker.
fn all(gz: &mut impl Write, members: &[(String, Vec<u8>)]) {
    some(gz, members);
    gz.write_all(&[0u8; 1024]).expect("end marker");
}

/// Every genuine member but the manifest.
fn rest_with_checkpoint(members: &[(String, Vec<u8>)]) -> &[(String, Vec<u8>)] {
    &members[1..]
}

/// The lean mode: runs the command, passes its output and exit code through, and puts
/// its max RSS (KiB) on the last line of standard error.
fn measure(command: &[String]) -> ! {
    let status = Command::new(&command[0])
        .args(&command[1..])
        .status()
        .expect("run the measured command");
    let rss = getrusage(UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss();
    eprintln!("\n{RSS_LINE}{rss}");
    std::process::exit(status.code().unwrap_or(101));
}

const RSS_LINE: &str = "measured max RSS KiB: ";

/// Runs `sitrep verify` and checks its exit code, a named failure and no terminal
/// control character in its output. Returns its max RSS (KiB).
fn verify(pack: &Path, key: &str, code: i32, expect: &str) -> i64 {
    let o = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--measure", env!("CARGO_BIN_EXE_sitrep"), "verify"])
        .args([pack.to_str().expect("path"), "--key", key])
        .output()
        .expect("run sitrep");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let (stderr, rss) = stderr.rsplit_once(RSS_LINE).expect("measured");
    let rss: i64 = rss.trim().parse().expect("a number");
    let stderr = stderr.strip_suffix('\n').unwrap_or(stderr);
    let out = format!("{}{stderr}", String::from_utf8_lossy(&o.stdout));
    let name = pack.file_name().unwrap().to_string_lossy();
    assert_eq!(o.status.code(), Some(code), "{name}: {out}");
    assert!(
        out.contains(expect),
        "{name}: expected {expect:?} in\n{out}"
    );
    let raw = [&o.stdout[..], stderr.as_bytes()].concat();
    assert!(
        !raw.iter().any(|&b| b == 0x1b || b == b'\r' || b == 0x9b),
        "{name}: a control character reached the terminal:\n{out}"
    );
    eprintln!("{name}: sitrep verify max RSS {rss} KiB");
    assert!(
        rss < MAX_RSS_KIB,
        "{name}: sitrep verify used {rss} KiB, over {MAX_RSS_KIB}"
    );
    rss
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--measure") {
        measure(&args[2..]);
    }
    hostile_packs_fail_by_name_within_a_fixed_memory_bound();
    println!("test hostile_packs_fail_by_name_within_a_fixed_memory_bound ... ok");
}

fn hostile_packs_fail_by_name_within_a_fixed_memory_bound() {
    let dir = tempfile::tempdir().expect("temp");
    let d = dir.path();
    let (key, members) = genuine(d);
    let (head, rest) = members.split_at(2);
    assert_eq!(
        (head[0].0.as_str(), head[1].0.as_str()),
        ("manifest.json", "checkpoint")
    );

    // The genuine pack verifies: every failure below is the hostile part's.
    let ok = pack(d, "genuine.tar.gz", |gz| all(gz, &members));
    verify(&ok, &key, 0, "OK");

    // 1.5 GiB GNU long name after the manifest and checkpoint: refused unread.
    let long = pack(d, "long-name.tar.gz", |gz| {
        some(gz, head);
        header(
            gz,
            b"././@LongLink",
            tar::EntryType::GNULongName,
            3 * GIB / 2,
        );
        body(gz, b'a', 3 * GIB / 2);
        member(gz, "records/9.json", b"{}");
    });
    verify(&long, &key, 1, "a GNU long-name header of 1610612736 bytes");

    // 1.5 GiB PAX extension header: refused unread, never "OK".
    let pax = pack(d, "pax.tar.gz", |gz| {
        some(gz, head);
        header(gz, b"PaxHeaders/x", tar::EntryType::XHeader, 3 * GIB / 2);
        body(gz, b'9', 3 * GIB / 2);
    });
    verify(&pax, &key, 1, "a PAX extension header of 1610612736 bytes");

    // Gzip bombs of zeros as the blob the manifest lists, its size changed to match:
    // over the per-blob limit refused unread; at the limit streamed through the hasher,
    // never held.
    let blob_name = rest
        .iter()
        .find(|(n, _)| n.starts_with("blobs/"))
        .unwrap()
        .0
        .clone();
    for (name, size, expect) in [
        (
            "bomb-3g.tar.gz",
            3 * GIB,
            "3221225472 bytes, over the limit of 1073741824",
        ),
        ("bomb-1g.tar.gz", GIB, "content does not hash to its name"),
    ] {
        let manifest = {
            let mut m: sitrep_evidence::pack::Manifest =
                serde_json::from_slice(&head[0].1).expect("manifest");
            m.blobs[0].size = size;
            serde_json::to_vec_pretty(&m).expect("json")
        };
        let bomb = pack(d, name, |gz| {
            member(gz, "manifest.json", &manifest);
            member(gz, "checkpoint", &head[1].1);
            for (name, bytes) in rest.iter().filter(|(n, _)| *n != blob_name) {
                member(gz, name, bytes);
            }
            header(gz, blob_name.as_bytes(), tar::EntryType::Regular, size);
            body(gz, 0, size);
            gz.write_all(&[0u8; 1024]).expect("end");
        });
        let compressed = std::fs::metadata(&bomb).unwrap().len();
        eprintln!("{name}: {compressed} bytes compressed, {size} bytes of zeros inside");
        assert!(compressed < size / 100, "a bomb is small");
        verify(&bomb, &key, 1, expect);
    }

    // The largest manifest the limits allow (just under 16 MiB), listing ~80,000 blobs
    // no record names: parsed, checked, a failure each (the first 1,000 kept).
    let mut m: sitrep_evidence::pack::Manifest =
        serde_json::from_slice(&head[0].1).expect("manifest");
    let template = m.blobs[0].clone();
    // Every listed blob costs the same bytes in the manifest's encoding.
    let base = serde_json::to_vec_pretty(&m).expect("json").len() as u64;
    m.blobs.push(template.clone());
    let each = serde_json::to_vec_pretty(&m).expect("json").len() as u64 - base;
    m.blobs.pop();
    for n in 0..((15 << 20) - base) / each {
        let mut b = template.clone();
        b.sha256 = sitrep_ledger::Hash::digest(&n.to_be_bytes());
        b.present = false;
        m.blobs.push(b);
    }
    m.blobs.sort_by_key(|b| b.sha256);
    let big = serde_json::to_vec_pretty(&m).expect("json");
    let manifest = pack(d, "manifest-16m.tar.gz", |gz| {
        member(gz, "manifest.json", &big);
        some(gz, rest_with_checkpoint(&members));
        gz.write_all(&[0u8; 1024]).expect("end");
    });
    eprintln!("manifest-16m: {} bytes, {} blobs", big.len(), m.blobs.len());
    verify(&manifest, &key, 1, "more failure(s) not shown");

    // A member hidden after the end marker, inside the gzip stream.
    let hidden = pack(d, "trailing.tar.gz", |gz| {
        all(gz, &members);
        member(gz, "records/2.json", b"{\"v\":2}");
    });
    verify(
        &hidden,
        &key,
        1,
        "FAILED pack: data after the archive's end marker",
    );

    // And a second gzip member appended to the file.
    let appended = d.join("appended.tar.gz");
    let mut bytes = std::fs::read(&ok).expect("read");
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    member(&mut gz, "records/2.json", b"{}");
    bytes.extend(gz.finish().expect("gzip"));
    std::fs::write(&appended, bytes).expect("write");
    verify(&appended, &key, 1, "data after the end of the gzip stream");

    // Escape sequences in a member name: shown escaped, never interpreted.
    let paint = "\u{1b}[1A\u{1b}[2K\rOK\u{9b}0m";
    let escapes = pack(d, "escapes.tar.gz", |gz| {
        some(gz, head);
        member(gz, paint, b"x");
    });
    verify(
        &escapes,
        &key,
        1,
        "FAILED file \\u{001b}[1A\\u{001b}[2K\\u{000d}OK\\u{009b}0m: not accounted for",
    );
}
