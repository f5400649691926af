//! Ingest side by side with Alertmanager: the same alerts (10 per request, 32 keep-alive
//! connections) posted to Debian's `prometheus-alertmanager` (`POST /api/v2/alerts`, kept
//! in memory) and to sitrep's Alertmanager receiver (stored durably on SQLite), in
//! alternating rounds from one load generator, with the ratio printed.
//!
//! Run: `cargo bench -p sitrep-server --bench vs_alertmanager`. `SITREP_BENCH_SECS` sets the
//! seconds per round (default 8), `SITREP_BENCH_ROUNDS` the rounds (default 2),
//! `SITREP_BENCH_ALERTMANAGER` the binary (default
//! `/usr/bin/prometheus-alertmanager`; `apt install prometheus-alertmanager`).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sitrep_app::{App, Config};
use sitrep_server::ServerState;

mod support;

const CONNS: usize = 32;

/// Alertmanager on a free loopback port with a receiver that sends nothing.
fn start_alertmanager(bin: &str, dir: &std::path::Path) -> (Child, String) {
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\n  group_by: [alertname]\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // No gossip: a single in-memory instance, the fastest Alertmanager there is.
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e} (apt install prometheus-alertmanager)"));
    (child, format!("http://127.0.0.1:{port}"))
}

/// Sends `SIG` to the child with kill(1) (no libc in the workspace); true when sent.
fn signal(child: &Child, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .is_ok_and(|s| s.success())
}

async fn wait_ready(url: &str) {
    let probe = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = probe.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{url} never became ready");
}

fn main() {
    let secs: u64 = std::env::var("SITREP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let rounds: usize = std::env::var("SITREP_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let bin = std::env::var("SITREP_BENCH_ALERTMANAGER")
        .unwrap_or_else(|_| "/usr/bin/prometheus-alertmanager".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let (mut am, am_url) = start_alertmanager(&bin, dir.path());
        wait_ready(&format!("{am_url}/-/ready")).await;

        let mut cfg = Config {
            data_dir: Some(dir.path().join("sitrep")),
            ..Config::default()
        };
        cfg.server.receivers.token = Some("bench-secret-0123456789abcdef".into());
        cfg.server.receivers.burst = 0;
        let app = App::open(cfg).await.unwrap();
        let state = ServerState::new(app.clone()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sitrep_server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        wait_ready(&format!("http://{addr}/readyz")).await;

        let am_post = format!("{am_url}/api/v2/alerts");
        let to_am: support::MakeRequest = Arc::new(move |http, c, seq| {
            // Alertmanager's own API takes the alerts themselves, without the webhook
            // envelope; the same labels and annotations.
            let (_, alerts) = support::alerts(c, seq);
            let alerts: Vec<serde_json::Value> = alerts
                .into_iter()
                .map(|a| serde_json::json!({"labels": a["labels"], "annotations": a["annotations"], "startsAt": a["startsAt"]}))
                .collect();
            http.post(&am_post).json(&alerts)
        });
        let sitrep_post = format!("http://{addr}/api/v1/alerts/alertmanager");
        let to_sitrep: support::MakeRequest = Arc::new(move |http, c, seq| {
            http.post(&sitrep_post)
                .bearer_auth("bench-secret-0123456789abcdef")
                .body(support::payload(c, seq))
        });

        println!("{CONNS} connections, 10 alerts per request, {secs} s per round, alternating");
        println!("| round | target | req/s | p50 ms | p99 ms | errors |");
        println!("|---|---|---|---|---|---|");
        let (mut am_total, mut sitrep_total) = (0.0, 0.0);
        for round in 1..=rounds {
            for (name, make, ok) in [("alertmanager", &to_am, 200), ("sitrep", &to_sitrep, 202)] {
                // Alertmanager keeps dispatching what it received for a while after its
                // round; paused during sitrep's round, neither is measured on the
                // other's leftover work (sitrep in process has none once idle).
                let paused = name == "sitrep" && signal(&am, "STOP");
                let (rps, p50, p99, errors) = support::load(make.clone(), ok, CONNS, secs).await;
                if paused {
                    signal(&am, "CONT");
                }
                println!("| {round} | {name} | {rps:.0} | {p50:.1} | {p99:.1} | {errors} |");
                if name == "sitrep" {
                    sitrep_total += rps;
                } else {
                    am_total += rps;
                }
            }
        }
        println!(
            "ratio sitrep / alertmanager (mean req/s over {rounds} rounds): {:.2}x",
            sitrep_total / am_total
        );
        let _ = tx.send(());
        let _ = server.await;
        app.close().await;
        let _ = am.kill();
        let _ = am.wait();
    });
}
