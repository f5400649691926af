//! 1,000 live streams that never read, during a burst of 600 notes of 16 KiB, keep the
//! server's memory under a fixed bound (issue 21, point 3: before, 300 such streams
//! took a server from 123 MB to 1.73 GB). The server runs in this process, alone in
//! this test binary, so the process's VmHWM is its peak.

mod common;

use std::time::Duration;

use serde_json::json;
use sitrep_app::Config;
use tokio::io::AsyncWriteExt;

const STREAMS: usize = 1000;
const NOTES: usize = 600;
/// Most the peak resident size may grow over the size before the streams opened.
const BOUND_MIB: u64 = 128;

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_streams_that_never_read_keep_memory_bounded() {
    let s = common::start_with(|c: &mut Config| {
        c.server.max_connections = STREAMS + 100;
        c.server.max_connections_per_ip = STREAMS + 100;
        c.server.streams.total = STREAMS;
        c.server.streams.per_principal = STREAMS;
    })
    .await;
    let id = s.declare(json!({"title": "memory"})).await;
    // Warm up the paths the burst takes, so the baseline includes their one-off costs.
    common_burst(&s, &id, 8).await;
    let base = status_kib("VmRSS");
    let addr: std::net::SocketAddr = s.url.trim_start_matches("http://").parse().unwrap();
    let req = format!(
        "GET /api/v1/incidents/{id}/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
        s.viewer
    );
    let mut clients = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(req.as_bytes()).await.unwrap();
        clients.push(tcp);
    }
    s.until(60, || async {
        (s.state.streams().open_count() == STREAMS).then_some(())
    })
    .await;
    let started = std::time::Instant::now();
    common_burst(&s, &id, NOTES).await;
    let burst = started.elapsed();
    // Let the feed reach every subscriber.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (hwm, rss) = (status_kib("VmHWM"), status_kib("VmRSS"));
    let dropped = s.state.metrics().streams_dropped("slow");
    println!(
        "streams {STREAMS}, notes {NOTES} in {burst:?}: VmRSS before {} MiB, peak {} MiB, \
         after {} MiB; dropped as slow {dropped}",
        base / 1024,
        hwm / 1024,
        rss / 1024
    );
    assert!(
        hwm.saturating_sub(base) < BOUND_MIB * 1024,
        "peak {} MiB over a {} MiB baseline",
        hwm / 1024,
        base / 1024
    );
    // The streams that could not keep up were dropped, not buffered.
    assert!(dropped > 0, "no stream was dropped");
    drop(clients);
    s.stop().await;
}

async fn common_burst(s: &common::Server, id: &str, n: usize) {
    let text = "x".repeat(16_000);
    let path = format!("/api/v1/incidents/{id}/notes");
    for chunk in (0..n).collect::<Vec<_>>().chunks(4) {
        let posts = chunk
            .iter()
            .map(|i| s.post(&path, &s.responder, json!({"text": format!("{i} {text}")})));
        for (st, v) in futures_util::future::join_all(posts).await {
            assert_eq!(st, 201, "{v}");
        }
    }
}
