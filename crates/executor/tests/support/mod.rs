//! Real components for query tests: Debian's Prometheus scraping a target served here,
//! and a one-request HTTP server that records what it was sent.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Says why a test does not run; under CI (`CI=true`) a missing component fails it.
pub fn skip(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}: required under CI"
    );
    eprintln!("SKIP: {why}");
}

/// A Prometheus process on loopback scraping a target that serves `metrics`; killed on drop.
pub struct Prometheus {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// What the target serves: change it and [`Prometheus::wait_for`] the new value.
    pub metrics: Arc<Mutex<String>>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Serves `metrics` in the text exposition format on a thread, for as long as the test
/// process lives.
fn serve_metrics(metrics: Arc<Mutex<String>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind target");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let metrics = metrics.lock().map(|m| m.clone()).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                metrics.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(metrics.as_bytes());
        }
    });
    port
}

impl Prometheus {
    /// Starts `/usr/bin/prometheus` scraping a target that serves `metrics` every second,
    /// and waits until the target's samples are queryable. `None`: not installed.
    pub async fn start(metrics: &str) -> Option<Self> {
        if !std::path::Path::new("/usr/bin/prometheus").exists() {
            return None;
        }
        let metrics = Arc::new(Mutex::new(metrics.to_owned()));
        let target = serve_metrics(Arc::clone(&metrics));
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sitrep-test\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .expect("write config");
        let port = free_port();
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn prometheus");
        let prom = Self {
            url: format!("http://127.0.0.1:{port}"),
            metrics,
            child,
            _dir: dir,
        };
        prom.wait_for("up{job=\"sitrep-test\"} == 1").await;
        Some(prom)
    }

    /// Waits (up to 60 s) until `query` returns at least one sample.
    pub async fn wait_for(&self, query: &str) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = format!("{}/api/v1/query", self.url);
            let resp = client.get(&url).query(&[("query", query)]).send().await;
            if let Ok(r) = resp
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["data"]["result"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus never answered {query}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Answers exactly one HTTP request with `status` and `body`, keeping the request.
pub struct OneShot {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    request: tokio::sync::oneshot::Receiver<String>,
}

impl OneShot {
    pub async fn serve(status: &'static str, body: &'static str) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 16384];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(body.as_bytes()).await;
        });
        Self { url, request: rx }
    }

    /// The request it received.
    pub async fn request(self) -> String {
        self.request.await.expect("a request arrived")
    }
}
