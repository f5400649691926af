//! The worked example in docs/ledger-format.md, regenerated from a fixed test key:
//! snapshotted, verified end to end, and checked to appear verbatim in the docs so
//! the documentation cannot drift from the code.

// Tests read the docs page from disk; the library itself stays pure.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;

use sitrep_ledger::{
    Checkpoint, Evidence, Hash, Link, MemoryStore, Record, Signer, TlogProof, append,
    prove_inclusion, read_tile, tiles, tree_hash,
};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ledger-format.md");

/// The documentation's example log; its key is public and must never sign anything real.
fn example() -> (String, Vec<String>) {
    let seed = Hash::digest(b"sitrep documentation example key, never use it").0;
    let signer = Signer::from_seed("example.com/sitrep", &seed).expect("key");

    let declared = {
        let mut r = Record::new("incident.declared", 1_700_000_000_000, "alice");
        r.incident = Some("INC-42".into());
        r.payload.insert("severity".into(), "SEV2".into());
        r
    };
    // Each later record of the incident links to the one before it (index, leaf hash).
    let link = |index: u64, r: &Record| Link {
        index,
        hash: r.leaf_hash().expect("leaf"),
    };
    let step = {
        let mut r = Record::new("step.run", 1_700_000_012_345, "system");
        r.incident = Some("INC-42".into());
        r.prev = Some(link(0, &declared));
        r.payload.insert("exit_code".into(), "0".into());
        r.payload.insert("step".into(), "liveness".into());
        r
    };
    let evidence = {
        let mut r = Record::new("evidence.captured", 1_700_000_020_000, "alice");
        r.incident = Some("INC-42".into());
        r.prev = Some(link(1, &step));
        r.evidence = Some(Evidence {
            sha256: Hash::digest(b"pg_stat_replication output\n"),
            size: 27,
            media_type: "text/plain".into(),
        });
        r
    };
    let encoded: Vec<Vec<u8>> = [&declared, &step, &evidence]
        .iter()
        .map(|r| r.encode().expect("encode"))
        .collect();
    let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    let mut store = MemoryStore::new();
    append(&mut store, &refs).expect("append");

    let checkpoint = Checkpoint::new("example.com/sitrep", 3, tree_hash(3, &store).expect("root"));
    let signed = checkpoint.sign(&[&signer]).expect("sign");
    let proof = TlogProof {
        extra: None,
        index: 2,
        proof: prove_inclusion(3, 2, &store).expect("prove"),
        checkpoint: signed.clone(),
    };
    let leaf = evidence.leaf_hash().expect("leaf");
    proof
        .verify(&leaf, "example.com/sitrep", &[signer.verifier()])
        .expect("example proof verifies");

    let mut out = String::new();
    let mut pieces = Vec::new();
    let mut piece = |out: &mut String, title: &str, body: String| {
        writeln!(out, "## {title}\n{body}").expect("write");
        pieces.push(body);
    };
    piece(
        &mut out,
        "signer key (public test key)",
        signer.to_key_string(),
    );
    piece(&mut out, "verifier key", signer.verifier().to_string());
    for (i, e) in encoded.iter().enumerate() {
        piece(
            &mut out,
            &format!("record {i}"),
            String::from_utf8(e.clone()).expect("utf-8"),
        );
    }
    piece(&mut out, "leaf hash of record 2", leaf.to_hex());
    piece(&mut out, "signed checkpoint", signed);
    piece(&mut out, "tlog-proof for record 2", proof.to_text());
    let mut tile_list = String::new();
    for t in tiles(3) {
        let bytes = read_tile(&store, 3, &t).expect("tile");
        writeln!(tile_list, "{} ({} bytes)", t.path(), bytes.len()).expect("write");
    }
    piece(&mut out, "tiles", tile_list);
    (out, pieces)
}

#[test]
fn docs_example_is_current() {
    let (report, pieces) = example();
    insta::assert_snapshot!(report);
    let doc = std::fs::read_to_string(DOC).expect("docs/ledger-format.md");
    for p in pieces {
        let p = p.trim_end();
        assert!(
            doc.contains(p),
            "docs/ledger-format.md lacks this generated example:\n{p}"
        );
    }
}
