//! Ledger benchmarks: in-memory append, and inclusion / consistency proof building and
//! verification at 2^24 leaves. Plain `Instant` loops printing a table; run with
//! `cargo bench -p sitrep-ledger`.

// Benchmarks time things; the library itself never reads the clock.
#![allow(clippy::disallowed_types)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sitrep_ledger::{
    MemoryStore, append, leaf_hash, prove_consistency, prove_inclusion, tree_hash,
    verify_consistency, verify_inclusion,
};

const BIG: u64 = 1 << 24;

/// A 100-byte entry, the size of a typical encoded record, unique per index.
fn entry(i: u64) -> [u8; 100] {
    let mut e = [b'x'; 100];
    e[..8].copy_from_slice(&i.to_be_bytes());
    e
}

/// A cheap deterministic sequence of indexes (splitmix64), so every run proves the
/// same leaves without an RNG dependency.
fn indexes(count: usize, below: u64) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % below
        })
        .collect()
}

fn row(name: &str, ops: usize, elapsed: Duration, goal: &str) {
    let per_op = elapsed.as_secs_f64() / ops as f64;
    println!(
        "{name:<44} {ops:>10} {:>12.3} us/op {:>14.0} op/s   goal {goal}",
        per_op * 1e6,
        1.0 / per_op
    );
}

fn main() {
    println!(
        "{:<44} {:>10} {:>18} {:>19}",
        "benchmark", "ops", "time", "rate"
    );

    // Append one entry per call: the server's sequencer path.
    let n = 1_000_000usize;
    let entries: Vec<[u8; 100]> = (0..n as u64).map(entry).collect();
    let mut store = MemoryStore::new();
    store.reserve(n, 100);
    let t = Instant::now();
    for e in &entries {
        append(&mut store, &[e.as_slice()]).expect("append");
    }
    row(
        "append, 1 entry per call (100 B)",
        n,
        t.elapsed(),
        ">= 1M/s",
    );

    // Append in batches of 1,000: group commit.
    let mut store = MemoryStore::new();
    store.reserve(n, 100);
    let t = Instant::now();
    for chunk in entries.chunks(1000) {
        let refs: Vec<&[u8]> = chunk.iter().map(|e| e.as_slice()).collect();
        append(&mut store, &refs).expect("append");
    }
    row(
        "append, batches of 1,000 (100 B)",
        n,
        t.elapsed(),
        ">= 1M/s",
    );
    drop(entries);
    drop(store);

    // Build a 2^24-leaf tree (8-byte entries), then time proofs against it.
    let mut store = MemoryStore::new();
    store.reserve(BIG as usize, 8);
    let t = Instant::now();
    let batch: Vec<[u8; 8]> = (0..BIG).map(u64::to_be_bytes).collect();
    for chunk in batch.chunks(4096) {
        let refs: Vec<&[u8]> = chunk.iter().map(|e| e.as_slice()).collect();
        append(&mut store, &refs).expect("append");
    }
    row(
        "build 2^24 tree, batches of 4,096 (8 B)",
        BIG as usize,
        t.elapsed(),
        "-",
    );

    let root = tree_hash(BIG, &store).expect("root");
    let samples = 100_000;
    let leaves = indexes(samples, BIG);

    let t = Instant::now();
    let proofs: Vec<_> = leaves
        .iter()
        .map(|&i| prove_inclusion(BIG, i, &store).expect("prove"))
        .collect();
    row(
        "inclusion proof build @ 2^24",
        samples,
        t.elapsed(),
        "<= 10 us",
    );

    let leaf_hashes: Vec<_> = leaves
        .iter()
        .map(|&i| leaf_hash(&i.to_be_bytes()))
        .collect();
    let t = Instant::now();
    for ((&i, proof), leaf) in leaves.iter().zip(&proofs).zip(&leaf_hashes) {
        verify_inclusion(black_box(leaf), i, BIG, proof, &root).expect("verify");
    }
    row(
        "inclusion proof verify @ 2^24",
        samples,
        t.elapsed(),
        "<= 10 us",
    );

    // Old sizes spread over the whole tree; roots computed outside the timed loops.
    let olds: Vec<u64> = indexes(samples, BIG - 1).iter().map(|i| i + 1).collect();
    let old_roots: Vec<_> = olds
        .iter()
        .map(|&m| tree_hash(m, &store).expect("root"))
        .collect();
    let t = Instant::now();
    let cproofs: Vec<_> = olds
        .iter()
        .map(|&m| prove_consistency(m, BIG, &store).expect("prove"))
        .collect();
    row(
        "consistency proof build @ 2^24",
        samples,
        t.elapsed(),
        "<= 10 us",
    );

    let t = Instant::now();
    for ((&m, proof), old_root) in olds.iter().zip(&cproofs).zip(&old_roots) {
        verify_consistency(m, BIG, proof, black_box(old_root), &root).expect("verify");
    }
    row(
        "consistency proof verify @ 2^24",
        samples,
        t.elapsed(),
        "<= 10 us",
    );
}
