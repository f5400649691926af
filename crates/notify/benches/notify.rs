//! Notifications per second to a loopback webhook receiver, at several concurrencies,
//! through the whole `Notifier::deliver` path (breaker, JSON rendering, HTTP POST,
//! classification, counters). Run with `cargo bench -p sitrep-notify --bench notify`.
//! Goal (docs/benchmarks.md): at least 1,000 notifications/s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Receiver, page};
use sitrep_notify::{Channel, Notifier, NotifierConfig, Route, SlackStyle, unix_now_ms};

const GOAL_PER_SEC: f64 = 1_000.0;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ok = rt.block_on(run());
    if !ok {
        std::process::exit(1);
    }
}

async fn run() -> bool {
    let rx = Receiver::start().await;
    rx.stop_recording();
    let notifier = Notifier::new(NotifierConfig::default()).expect("notifier");
    let webhook = Route::to(Channel::webhook("bench-webhook", rx.url("/hook")));
    let slack = Route::to(Channel::slack(
        "bench-slack",
        rx.url("/services/T/B/x"),
        SlackStyle::Blocks,
    ));

    // Warm up connections and allocations.
    measure(&notifier, &webhook, 16, 500).await;

    println!("channel   concurrency  notifications  seconds  per_second  p50_ms  p99_ms");
    let mut all_ok = true;
    let mut best = 0.0f64;
    for (name, route) in [("webhook", &webhook), ("slack", &slack)] {
        for (concurrency, total) in [(1, 2_000), (16, 10_000), (64, 20_000)] {
            let before = rx.count();
            let r = measure(&notifier, route, concurrency, total).await;
            let arrived = rx.count() - before;
            println!(
                "{name:<9} {concurrency:>11}  {total:>13}  {:>7.2}  {:>10.0}  {:>6.2}  {:>6.2}",
                r.elapsed.as_secs_f64(),
                r.per_sec,
                r.p50.as_secs_f64() * 1e3,
                r.p99.as_secs_f64() * 1e3,
            );
            if r.delivered != total || arrived != total {
                println!(
                    "  ERROR: {} delivered, {arrived} arrived, {total} sent",
                    r.delivered
                );
                all_ok = false;
            }
            best = best.max(r.per_sec);
        }
    }
    println!(
        "best {best:.0}/s; goal {GOAL_PER_SEC:.0}/s: {}",
        if best >= GOAL_PER_SEC {
            "met"
        } else {
            "MISSED"
        }
    );
    all_ok
}

struct Run {
    elapsed: Duration,
    per_sec: f64,
    delivered: usize,
    p50: Duration,
    p99: Duration,
}

async fn measure(notifier: &Notifier, route: &Route, concurrency: usize, total: usize) -> Run {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let n = notifier.clone();
        let route = route.clone();
        let share = total / concurrency + usize::from(w < total % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut msg = page();
            let mut lat = Vec::with_capacity(share);
            let mut delivered = 0;
            for i in 0..share {
                msg.delivery_id = format!("bench:{w}:{i}");
                let t = Instant::now();
                let r = n.deliver(&route, &msg, unix_now_ms(), 0).await;
                lat.push(t.elapsed());
                delivered += usize::from(r.delivered());
            }
            (delivered, lat)
        }));
    }
    let mut delivered = 0;
    let mut lat = Vec::with_capacity(total);
    for t in tasks {
        let (d, l) = t.await.expect("bench task");
        delivered += d;
        lat.extend(l);
    }
    let elapsed = started.elapsed();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Run {
        elapsed,
        per_sec: total as f64 / elapsed.as_secs_f64(),
        delivered,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}
