//! The demo's simulated service, "shopfront": a small HTTP service on loopback that can
//! fail on purpose (readiness down, checkout 500s, a spool directory filling the disk),
//! so the demo's runbooks have something real to diagnose and fix.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::watch;

/// A fault the shop can be told to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `/readyz` answers 503.
    NotReady,
    /// A third of checkouts answer 500.
    Errors,
    /// Spool files pile up in the spool directory.
    DiskFilling,
}

impl Fault {
    fn parse(s: &str) -> Option<Fault> {
        match s {
            "readiness" => Some(Fault::NotReady),
            "errors" => Some(Fault::Errors),
            "disk" => Some(Fault::DiskFilling),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    not_ready: bool,
    errors: bool,
    disk: bool,
}

struct Shop {
    faults: Mutex<Faults>,
    requests: AtomicU64,
    errors: AtomicU64,
    log: Mutex<VecDeque<String>>,
    spool: PathBuf,
}

impl Shop {
    fn log(&self, line: impl Into<String>) {
        let mut log = self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if log.len() >= 500 {
            log.pop_front();
        }
        let now = jiff::Timestamp::now().strftime("%H:%M:%S");
        log.push_back(format!("{now} {}", line.into()));
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running shop.
pub struct ShopHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its spool directory.
    pub spool: PathBuf,
    shop: Arc<Shop>,
    stop: watch::Sender<bool>,
}

impl ShopHandle {
    /// Turns a fault on.
    pub fn inject(&self, fault: Fault) {
        set_fault(&self.shop, fault, true);
    }

    /// Stops serving and the background traffic.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

fn set_fault(shop: &Shop, fault: Fault, on: bool) {
    {
        let mut f = shop.faults();
        match fault {
            Fault::NotReady => f.not_ready = on,
            Fault::Errors => f.errors = on,
            Fault::DiskFilling => f.disk = on,
        }
    }
    if on {
        shop.log(match fault {
            Fault::NotReady => {
                "ERROR payment provider unreachable: dependency down, readiness failing"
            }
            Fault::Errors => "ERROR db pool exhausted (32/32 in use); checkout answers 500",
            Fault::DiskFilling => "WARN spool cleanup stopped: shipped orders are not deleted",
        });
    }
}

/// Starts the shop on `listener`, with simulated customer traffic (10 checkouts a
/// second) and its spool directory at `spool`.
pub async fn start(listener: tokio::net::TcpListener, spool: &Path) -> std::io::Result<ShopHandle> {
    std::fs::create_dir_all(spool)?;
    let addr = listener.local_addr()?;
    let shop = Arc::new(Shop {
        faults: Mutex::new(Faults::default()),
        requests: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        log: Mutex::new(VecDeque::new()),
        spool: spool.to_owned(),
    });
    shop.log("INFO shopfront started");
    let (stop, mut stopped) = watch::channel(false);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/checkout", get(checkout))
        .route("/metrics", get(metrics))
        .route("/log", get(log))
        .route("/admin/restart", post(restart))
        .route("/admin/break/{fault}", post(inject))
        .with_state(shop.clone());
    let mut server_stop = stopped.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|s| *s).await;
            })
            .await;
    });
    let traffic = shop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut n: u64 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            n += 1;
            simulate_checkout(&traffic, n);
            if n % 5 == 0 && traffic.faults().disk {
                // 256 KiB every half second: about 30 MB a minute.
                let path = traffic.spool.join(format!("order-{n:08}.spool"));
                let _ = tokio::fs::write(&path, vec![b'x'; 256 << 10]).await;
            }
        }
    });
    Ok(ShopHandle {
        addr,
        spool: spool.to_owned(),
        shop,
        stop,
    })
}

fn simulate_checkout(shop: &Shop, n: u64) {
    shop.requests.fetch_add(1, Ordering::Relaxed);
    let failing = {
        let f = shop.faults();
        f.not_ready || (f.errors && n % 3 == 0)
    };
    if failing {
        shop.errors.fetch_add(1, Ordering::Relaxed);
        if n % 10 == 0 {
            shop.log(format!(
                "ERROR checkout {n} failed: 500 Internal Server Error"
            ));
        }
    }
}

async fn readyz(State(shop): State<Arc<Shop>>) -> impl IntoResponse {
    if shop.faults().not_ready {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: payment provider unreachable\n",
        )
    } else {
        (StatusCode::OK, "ready\n")
    }
}

async fn checkout(State(shop): State<Arc<Shop>>) -> impl IntoResponse {
    let n = shop.requests.fetch_add(1, Ordering::Relaxed);
    let failing = {
        let f = shop.faults();
        f.not_ready || (f.errors && n % 3 == 0)
    };
    if failing {
        shop.errors.fetch_add(1, Ordering::Relaxed);
        (StatusCode::INTERNAL_SERVER_ERROR, "checkout failed\n")
    } else {
        (StatusCode::OK, "order placed\n")
    }
}

async fn metrics(State(shop): State<Arc<Shop>>) -> String {
    let spool_bytes: u64 = std::fs::read_dir(&shop.spool)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let f = shop.faults();
    format!(
        "shopfront_requests_total {}\nshopfront_errors_total {}\nshopfront_ready {}\nshopfront_spool_bytes {}\n",
        shop.requests.load(Ordering::Relaxed),
        shop.errors.load(Ordering::Relaxed),
        u8::from(!f.not_ready),
        spool_bytes
    )
}

#[derive(Deserialize)]
struct LogQuery {
    lines: Option<usize>,
}

async fn log(State(shop): State<Arc<Shop>>, Query(q): Query<LogQuery>) -> String {
    let n = q.lines.unwrap_or(20).min(500);
    let log = shop
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let start = log.len().saturating_sub(n);
    log.iter().skip(start).map(|l| format!("{l}\n")).collect()
}

async fn restart(State(shop): State<Arc<Shop>>) -> &'static str {
    {
        let mut f = shop.faults();
        f.not_ready = false;
        f.errors = false;
    }
    shop.log("INFO shopfront restarted; connections re-established");
    "restarted\n"
}

async fn inject(
    State(shop): State<Arc<Shop>>,
    axum::extract::Path(fault): axum::extract::Path<String>,
) -> impl IntoResponse {
    match Fault::parse(&fault) {
        Some(f) => {
            set_fault(&shop, f, true);
            (StatusCode::OK, format!("{fault} broken\n"))
        }
        None => (
            StatusCode::BAD_REQUEST,
            format!("unknown fault {fault:?}; one of readiness, errors, disk\n"),
        ),
    }
}
