//! Ingest benchmark: time to ready on an empty data dir, idle RSS, then a loopback load
//! of Alertmanager payloads (10 alerts each) from N concurrent connections, reporting
//! requests/s and p50/p99 latency. Run: `cargo bench -p sitrep-server --bench ingest`.
//! `SITREP_BENCH_SECS` sets the seconds per load level (default 8).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sitrep_app::{App, Config};
use sitrep_server::ServerState;

mod support;

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
        let idle = support::rss_mb();
        println!(
            "time to ready (empty data dir): {:.0} ms",
            ready.as_secs_f64() * 1000.0
        );
        println!("idle RSS (in-process, before load): {idle:.1} MB");
        let url = format!("http://{addr}/api/v1/alerts/alertmanager");
        let make: support::MakeRequest = Arc::new(move |http, c, seq| {
            http.post(&url)
                .bearer_auth("bench-secret")
                .body(support::payload(c, seq))
        });
        println!("load: Alertmanager payloads of 10 new alerts, 50 groups, {secs} s per level");
        println!("| connections | req/s | alerts/s | p50 ms | p99 ms | errors |");
        println!("|---|---|---|---|---|---|");
        for conns in [1, 8, 32, 64] {
            let (rps, p50, p99, errors) = support::load(make.clone(), 202, conns, secs).await;
            println!(
                "| {conns} | {rps:.0} | {:.0} | {p50:.2} | {p99:.2} | {errors} |",
                rps * 10.0
            );
        }
        println!("RSS after load: {:.1} MB", support::rss_mb());
        let _ = tx.send(());
        let _ = server.await;
        app.close().await;
    });
}
