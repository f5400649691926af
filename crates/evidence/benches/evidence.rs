//! Evidence benchmarks: durable file-log appends with group commit, SHA-256 of a 1 GiB
//! file next to `sha256sum`, a full blob-store put of it, and verifying a 10,000-record
//! evidence pack. Results: docs/benchmarks.md.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sitrep_evidence::BlobStore;
use sitrep_evidence::pack::{Limits, export_record, verify_pack, write_pack};
use sitrep_ledger::{Checkpoint, Evidence, Link, MemoryStore, Record, Signer, append, tree_hash};

const GIB: usize = 1 << 30;

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let dir =
        tempfile::tempdir_in(std::env::var("SITREP_BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
            .expect("temp dir");

    // Durable appends: every `append` call is one fsynced batch.
    println!("durable file log, 200-byte records (every call fsyncs entries, then hashes)");
    for (batch, total) in [(1u64, 500u64), (100, 20_000), (1_000, 100_000)] {
        let logdir = tempfile::tempdir_in(dir.path()).expect("log dir");
        let (mut log, _) = sitrep_evidence::filelog::FileLog::open(logdir.path()).expect("open");
        let record = vec![b'r'; 200];
        let t = Instant::now();
        for _ in 0..total / batch {
            let refs: Vec<&[u8]> = (0..batch).map(|_| record.as_slice()).collect();
            append(&mut log, &refs).expect("append");
        }
        let el = t.elapsed();
        println!(
            "  batch {batch:>5}: {total:>7} records in {el:>9.2?}  {:>9.0} records/s",
            total as f64 / el.as_secs_f64()
        );
    }

    // A 1 GiB file of incompressible-ish bytes (xorshift), as evidence output rarely is.
    let path = dir.path().join("one-gib");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut x = 0x9e3779b97f4a7c15u64;
        let mut chunk = vec![0u8; 1 << 20];
        for _ in 0..(GIB >> 20) {
            for b in chunk.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
            }
            f.write_all(&chunk).expect("write");
        }
        f.flush().expect("flush");
    }

    let coreutils = best(3, || {
        let out = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .expect("sha256sum");
        assert!(out.status.success());
    });
    let ours = best(3, || {
        // The blob store's hashing loop: 64 KiB reads into a streaming SHA-256.
        let mut f = std::fs::File::open(&path).expect("open");
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        h.finalize()
    });
    let blobs = BlobStore::open(dir.path().join("blobs")).expect("blobs");
    let put = best(1, || {
        blobs
            .put_reader(std::fs::File::open(&path).expect("open"))
            .expect("put")
    });
    std::fs::remove_file(&path).expect("remove");
    let gib_s = |d: Duration| 1.0 / d.as_secs_f64();
    println!("SHA-256 of a 1 GiB file (best of 3)");
    println!(
        "  sha256sum (coreutils)        {:>8.2?}  {:.2} GiB/s",
        coreutils,
        gib_s(coreutils)
    );
    println!(
        "  sitrep blob hashing loop     {:>8.2?}  {:.2} GiB/s  ({:.0}% of sha256sum)",
        ours,
        gib_s(ours),
        100.0 * coreutils.as_secs_f64() / ours.as_secs_f64()
    );
    println!(
        "  full blob put (hash + gzip fast + fsync + rename)  {:>8.2?}  {:.2} GiB/s",
        put,
        gib_s(put)
    );

    // A pack of an incident of 10,000 records (chained as the store chains them, sealed
    // by an export record), one in ten naming a small blob.
    let n = 10_000u64;
    let mut log = MemoryStore::new();
    let mut head: Option<Link> = None;
    for i in 0..=n {
        let mut r = if i == n {
            export_record("inc-1", n - 1, n, 1_800_000_000_000, "alice")
        } else {
            let kind = if i == 0 {
                "incident.declared"
            } else {
                "step.run"
            };
            let mut r = Record::new(kind, 1_700_000_000_000 + i, "alice");
            r.incident = Some("inc-1".into());
            r
        };
        r.prev = head;
        if i % 10 == 5 {
            let b = blobs.put(format!("output {i}\n").as_bytes()).expect("put");
            r.evidence = Some(Evidence {
                sha256: b.sha256,
                size: b.size,
                media_type: "text/plain".into(),
            });
        }
        let bytes = r.encode().expect("encode");
        head = Some(Link {
            index: i,
            hash: sitrep_ledger::leaf_hash(&bytes),
        });
        append(&mut log, &[bytes.as_slice()]).expect("append");
    }
    let n = n + 1;
    let signer = Signer::from_seed("bench/ledger", &[1; 32]).expect("signer");
    let signed = Checkpoint::new("bench/ledger", n, tree_hash(n, &log).expect("root"))
        .sign(&[&signer])
        .expect("sign");
    let all: Vec<u64> = (0..n).collect();
    let mut pack = Vec::new();
    let write = best(1, || {
        pack.clear();
        write_pack(&mut pack, &log, &signed, &all, &blobs).expect("write")
    });
    let key = signer.verifier();
    let verify = best(3, || {
        let r = verify_pack(
            pack.as_slice(),
            std::slice::from_ref(&key),
            Limits::default(),
        )
        .expect("verify");
        assert!(r.ok());
        r.records_verified
    });
    println!("evidence pack of {n} records ({} KiB)", pack.len() / 1024);
    println!("  write                        {write:>8.2?}");
    println!("  verify (best of 3)           {verify:>8.2?}  (goal < 1 s)");
}
