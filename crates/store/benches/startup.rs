//! The startup ledger check on SQLite: how fast `open` re-hashes a signed ledger.
//! Goal (docs/benchmarks.md): >= 1M entries/s.
//!
//! Run: `cargo bench -p sitrep-store --bench startup` (`SITREP_BENCH_ENTRIES` sets the
//! ledger size, default 1,000,000; `SITREP_BENCH_ROUNDS` the rounds, default 5).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Db, event, on_each_backend};
use sitrep_store::{Backend, Change, LedgerVerification, Store};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    let entries = env("SITREP_BENCH_ENTRIES", 1_000_000);
    let rounds = env("SITREP_BENCH_ROUNDS", 5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(on_each_backend(move |db| async move {
        // PostgreSQL is not the goal's backend; skip it rather than fill it too.
        if db.backend == Backend::Sqlite {
            run(db, entries, rounds).await;
        }
    }));
}

async fn run(db: Db, entries: u64, rounds: u64) {
    let started = Instant::now();
    fill(&db, entries).await;
    println!("filled {entries} entries in {:.1?}", started.elapsed());
    println!("| pass | entries | best | entries/s | least CPU | all rounds: wall (CPU) |");
    println!("|---|---:|---:|---:|---:|---|");
    let mut opts = db.options();
    // An empty re-hash: what open costs besides it (migrations, counts, tail).
    opts.verify_in_background_above = 0;
    let base = time_rounds(rounds, || async {
        let store = Store::open(opts.clone()).await.expect("open");
        store.close().await;
    })
    .await;
    row("open, re-hash deferred (baseline)", entries, &base);
    opts.verify_in_background_above = u64::MAX;
    let fg = time_rounds(rounds, || async {
        let store = Store::open(opts.clone()).await.expect("open");
        assert_eq!(store.ledger_verification(), LedgerVerification::Verified);
        store.close().await;
    })
    .await;
    row("open with the full re-hash", entries, &fg);
    opts.verify_in_background_above = 0;
    let bg = time_rounds(rounds, || async {
        let store = Store::open(opts.clone()).await.expect("open");
        wait_verified(&store).await;
        store.close().await;
    })
    .await;
    row("open + background re-hash until verified", entries, &bg);
}

/// `entries` events under one checkpoint, committed by 8 committers in changes of 500.
async fn fill(db: &Db, entries: u64) {
    let store = db.open().await;
    let per_change = 500;
    let changes = entries.div_ceil(per_change);
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for c in (w..changes).step_by(8) {
                let n = per_change.min(entries - c * per_change);
                let events = (0..n)
                    .map(|i| event("note.added", "inc-1", c * per_change + i, "alice"))
                    .collect();
                let change = Change {
                    events,
                    ..Change::default()
                };
                store.commit(change).await.expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("committer");
    }
    assert_eq!(store.checkpoint_now().await.expect("sign").size, entries);
    store.close().await;
}

/// Wall time and the process's CPU time (user + system, all threads) per round: on a
/// machine shared with other builds the CPU time is the steadier measure.
async fn time_rounds<F, Fut>(rounds: u64, f: F) -> Vec<(Duration, Duration)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::new();
    for _ in 0..rounds.max(1) {
        let (t, cpu) = (Instant::now(), cpu_time());
        f().await;
        times.push((t.elapsed(), cpu_time().saturating_sub(cpu)));
    }
    times
}

/// This process's user + system CPU time from /proc/self/stat (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

async fn wait_verified(store: &Store) {
    loop {
        match store.ledger_verification() {
            LedgerVerification::Verified => return,
            // A short sleep, not a yield: a spinning waiter would take one of the two
            // cores the re-hash uses.
            LedgerVerification::Verifying { .. } => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            other => panic!("background re-hash: {other:?}"),
        }
    }
}

fn row(pass: &str, entries: u64, times: &[(Duration, Duration)]) {
    let best = times.iter().map(|t| t.0).min().unwrap_or_default();
    let cpu = times.iter().map(|t| t.1).min().unwrap_or_default();
    let all: Vec<String> = times
        .iter()
        .map(|(wall, cpu)| {
            format!(
                "{:.0} ms ({:.0})",
                wall.as_secs_f64() * 1e3,
                cpu.as_secs_f64() * 1e3
            )
        })
        .collect();
    println!(
        "| {pass} | {entries} | {:.0} ms | {:.2} M/s | {:.0} ms | {} |",
        best.as_secs_f64() * 1e3,
        entries as f64 / best.as_secs_f64() / 1e6,
        cpu.as_secs_f64() * 1e3,
        all.join(", ")
    );
}
