//! What the server benches share: RSS, percentiles, the bench alerts and a keep-alive
//! load generator.

// Each bench binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// 10 new alerts per request, spread over 50 groups: every request writes 10 alert rows
/// and 10 ledger events in sitrep (the expensive path; repeats would be cheaper).
pub fn alerts(conn: usize, seq: u64) -> (usize, Vec<serde_json::Value>) {
    let group = (seq as usize * 7 + conn) % 50;
    let alerts = (0..10)
        .map(|i| {
            serde_json::json!({
                "status": "firing",
                "labels": {"alertname": format!("Bench{group}"), "conn": conn.to_string(), "seq": seq.to_string(), "i": i.to_string()},
                "annotations": {"summary": "benchmark alert"},
                "startsAt": "2026-11-22T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
            })
        })
        .collect();
    (group, alerts)
}

/// An Alertmanager v4 webhook delivery of [`alerts`], as Alertmanager sends to sitrep.
pub fn payload(conn: usize, seq: u64) -> String {
    let (group, alerts) = alerts(conn, seq);
    serde_json::json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"Bench{group}\"}}"),
        "status": "firing",
        "receiver": "bench",
        "alerts": alerts,
    })
    .to_string()
}

pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A request for connection `conn`'s `seq`-th post.
pub type MakeRequest =
    Arc<dyn Fn(&reqwest::Client, usize, u64) -> reqwest::RequestBuilder + Send + Sync>;

/// Calls of [`load`] so far: each call's sequence numbers start at `calls << 32`, so
/// no round or level re-sends an earlier one's alerts (sitrep would find them
/// unchanged and write nothing: a cheaper path than the one measured).
static CALLS: AtomicU64 = AtomicU64::new(0);

/// `conns` keep-alive connections post for `secs` seconds; a request counts when answered
/// `ok`. Returns req/s, p50 ms, p99 ms and the error count.
pub async fn load(make: MakeRequest, ok: u16, conns: usize, secs: u64) -> (f64, f64, f64, u64) {
    let base = CALLS.fetch_add(1, Ordering::Relaxed) << 32;
    let stop_at = Instant::now() + Duration::from_secs(secs);
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let make = make.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            // One client per task: one keep-alive connection each.
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut lat = Vec::new();
            let mut seq = base;
            while Instant::now() < stop_at {
                let req = make(&http, c, seq);
                seq += 1;
                let t = Instant::now();
                let r = req.send().await;
                match r {
                    Ok(r) if r.status().as_u16() == ok => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        }));
    }
    let start = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = start.elapsed().as_secs_f64().max(secs as f64);
    all.sort_by(f64::total_cmp);
    (
        all.len() as f64 / wall,
        pct(&all, 0.50),
        pct(&all, 0.99),
        errors.load(Ordering::Relaxed),
    )
}
