//! Durable timeline events per second and acknowledgement latency (p50/p99) with many
//! concurrent committers, on SQLite and, when `SITREP_TEST_DATABASE_URL` is set, on
//! PostgreSQL, side by side. Goals (docs/benchmarks.md): >= 20k events/s on SQLite,
//! p99 acknowledgement <= 50 ms.
//!
//! Run: `cargo bench -p sitrep-store` (`SITREP_BENCH_SECS` sets the seconds per
//! configuration, default 4).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Db, event, on_each_backend};
use sitrep_store::{Backend, Change};

const COMMITTERS: &[usize] = &[1, 16, 128, 512];

struct Row {
    backend: Backend,
    committers: usize,
    events: u64,
    secs: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn main() {
    let secs: f64 = std::env::var("SITREP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rows = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        for &committers in COMMITTERS {
            let rows = rows.clone();
            on_each_backend(move |db| {
                let rows = rows.clone();
                async move {
                    let row = run(db, committers, Duration::from_secs_f64(secs)).await;
                    rows.lock().expect("rows").push(row);
                }
            })
            .await;
        }
    });
    println!("| backend | committers | events | events/s | ack p50 | ack p99 | ack max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut rows = std::mem::take(&mut *rows.lock().expect("rows"));
    rows.sort_by_key(|r| (format!("{:?}", r.backend), r.committers));
    for r in rows {
        println!(
            "| {:?} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms |",
            r.backend,
            r.committers,
            r.events,
            r.events as f64 / r.secs,
            ms(r.p50),
            ms(r.p99),
            ms(r.max)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `committers` tasks commit one timeline event per change, back to back, for `for_`.
async fn run(db: Db, committers: usize, for_: Duration) -> Row {
    let mut opts = db.options();
    // The default: a background checkpoint every 5 s, as in production.
    opts.checkpoint_every = Duration::from_secs(5);
    opts.max_connections = 8;
    let store = sitrep_store::Store::open(opts).await.expect("open");
    // Warm up the pool and statement caches.
    for i in 0..200 {
        let change = Change {
            writes: vec![],
            events: vec![event("bench.warmup", "warmup", i, "bench")],
        };
        store.commit(change).await.expect("warm-up commit");
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for c in 0..committers {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let incident = format!("incident-{}", c % 50);
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while start.elapsed() < for_ {
                let change = Change {
                    writes: vec![],
                    events: vec![event(
                        "note.added",
                        &incident,
                        1_700_000_000_000 + i,
                        "bench",
                    )],
                };
                let t = Instant::now();
                store.commit(change).await.expect("commit");
                latencies.push(t.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("committer"));
    }
    let secs = start.elapsed().as_secs_f64();
    store.close().await;
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Row {
        backend: db.backend,
        committers,
        events: all.len() as u64,
        secs,
        p50: pct(0.50),
        p99: pct(0.99),
        max: *all.last().expect("latencies"),
    }
}
