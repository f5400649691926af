//! Ingest benchmark: time to ready on an empty data dir, idle RSS, then a loopback load
//! of Alertmanager payloads (10 alerts each) from N concurrent connections, reporting
//! requests/s and p50/p99 latency. Run: `cargo bench -p sitrep-server --bench ingest`.
//! `SITREP_BENCH_SECS` sets the seconds per load level (default 8).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sitrep_app::{App, Config};
use sitrep_server::ServerState;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn payload(conn: usize, seq: u64) -> String {
    // 10 new alerts per request, spread over 50 groups: every request writes 10 alert
    // rows and 10 ledger events (the expensive path; repeats would be cheaper).
    let group = (seq as usize * 7 + conn) % 50;
    let alerts: Vec<serde_json::Value> = (0..10)
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
    serde_json::json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"Bench{group}\"}}"),
        "status": "firing",
        "receiver": "bench",
        "alerts": alerts,
    })
    .to_string()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn load(url: &str, conns: usize, secs: u64) -> (f64, f64, f64, u64) {
    let stop_at = Instant::now() + Duration::from_secs(secs);
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let url = url.to_owned();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            // One client per task: one keep-alive connection each.
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut lat = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < stop_at {
                let body = payload(c, seq);
                seq += 1;
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .bearer_auth("bench-secret")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 202 => {
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

fn main() {
    let secs: u64 = std::env::var("SITREP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            data_dir: Some(dir.path().join("data")),
            ..Config::default()
        };
        cfg.server.receivers.token = Some("bench-secret".into());
        // One credential at ~1,200 req/s measures ingestion, not the rate limit.
        cfg.server.receivers.burst = 0;
        // Time to ready: open an empty data dir (key, database, migrations, ledger
        // check), build the state, listen, and answer /readyz 200.
        let t0 = Instant::now();
        let app = App::open(cfg).await.unwrap();
        let state = ServerState::new(app.clone()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sitrep_server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        let probe = reqwest::Client::new();
        loop {
            if let Ok(r) = probe.get(format!("http://{addr}/readyz")).send().await {
                if r.status().as_u16() == 200 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let ready = t0.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle = rss_mb();
        println!(
            "time to ready (empty data dir): {:.0} ms",
            ready.as_secs_f64() * 1000.0
        );
        println!("idle RSS (in-process, before load): {idle:.1} MB");
        let url = format!("http://{addr}/api/v1/alerts/alertmanager");
        println!("load: Alertmanager payloads of 10 new alerts, 50 groups, {secs} s per level");
        println!("| connections | req/s | alerts/s | p50 ms | p99 ms | errors |");
        println!("|---|---|---|---|---|---|");
        for conns in [1, 8, 32, 64] {
            let (rps, p50, p99, errors) = load(&url, conns, secs).await;
            println!(
                "| {conns} | {rps:.0} | {:.0} | {p50:.2} | {p99:.2} | {errors} |",
                rps * 10.0
            );
        }
        println!("RSS after load: {:.1} MB", rss_mb());
        let _ = tx.send(());
        let _ = server.await;
        app.close().await;
    });
}
