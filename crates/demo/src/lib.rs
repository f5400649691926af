//! `sitrep demo`: everything a new user needs to see sitrep work, on loopback only.
//!
//! A temporary data dir, runbooks written for the demo (not the seeds), a simulated
//! service that fails on purpose, a real server, and two real Alertmanager alerts sent
//! over HTTP, so auto-triage runs the runbooks' read steps against the failing service
//! before the user has opened the browser.

pub mod shop;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sitrep_app::{AccessRole, App, Config};
use sitrep_server::ServerState;

/// The demo's runbooks: `(file name, text)`.
pub const RUNBOOKS: [(&str, &str); 2] = [
    (
        "shopfront-checkout-errors.md",
        include_str!("../runbooks/shopfront-checkout-errors.md"),
    ),
    (
        "shopfront-disk-filling.md",
        include_str!("../runbooks/shopfront-disk-filling.md"),
    ),
];

/// How to run the demo.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Where the server listens; `127.0.0.1:8080`, or any free port when that is taken.
    pub listen: Option<SocketAddr>,
    /// Keep the data here instead of a temporary directory removed on exit.
    pub data_dir: Option<PathBuf>,
}

/// A running demo.
pub struct Demo {
    /// The UI's URL.
    pub url: String,
    /// An admin token to log in with.
    pub token: String,
    /// Where the data lives.
    pub data_dir: PathBuf,
    /// The simulated service.
    pub shop: shop::ShopHandle,
    /// Incident numbers the demo's alerts opened.
    pub incidents: Vec<i64>,
    /// Time from start to a ready server.
    pub ready_in: Duration,
    state: ServerState,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _tmp: Option<tempfile::TempDir>,
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The app refused to open.
    #[error(transparent)]
    App(#[from] sitrep_app::AppError),
    /// The server could not start or did not answer as expected.
    #[error("server: {0}")]
    Server(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
    let what = what.into();
    move |source| DemoError::Io { what, source }
}

impl Demo {
    /// Starts everything, sends the alerts, and returns once the first auto-triage
    /// results are on the timeline (or after 15 s, whichever comes first).
    pub async fn start(opts: DemoOptions, progress: impl Fn(&str)) -> Result<Demo, DemoError> {
        let started = Instant::now();
        let (tmp, root) = match &opts.data_dir {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("sitrep-demo-")
                    .tempdir()
                    .map_err(io("temporary directory"))?;
                let p = t.path().to_owned();
                (Some(t), p)
            }
        };
        let runbooks = root.join("runbooks");
        std::fs::create_dir_all(&runbooks).map_err(io(format!("create {}", runbooks.display())))?;
        for (name, text) in RUNBOOKS {
            let path = runbooks.join(name);
            std::fs::write(&path, text).map_err(io(format!("write {}", path.display())))?;
        }

        let shop_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io("bind the simulated service"))?;
        let shop = shop::start(shop_listener, &root.join("spool"))
            .await
            .map_err(io("start the simulated service"))?;
        progress(&format!(
            "simulated service \"shopfront\" on http://{}",
            shop.addr
        ));

        let listener = bind(opts.listen).await?;
        let addr = listener.local_addr().map_err(io("server address"))?;
        let url = format!("http://{addr}");
        let receiver_token = random_token();
        let mut cfg = Config {
            data_dir: Some(root.join("data")),
            runbooks: Some(runbooks.clone()),
            origin: "sitrep.demo/ledger".to_owned(),
            ..Config::default()
        };
        cfg.server.base_url = Some(url.clone());
        cfg.server.receivers.token = Some(receiver_token.clone());
        cfg.executor.default_timeout = Duration::from_secs(20);
        // The demo's diagnostics talk to a toy shop on loopback over a throwaway data dir:
        // where the kernel has no Landlock they still run, and the demo says so. A real
        // deployment refuses (docs/executor.md).
        cfg.executor.unsandboxed_triage = true;
        let app = App::open(cfg).await?;
        let support = app.sandbox_support();
        progress(&if support.is_ready() {
            format!("auto-triage runs read-only steps sandboxed ({support})")
        } else {
            format!(
                "WARNING: {support}; the demo runs its read-only diagnostics unsandboxed (a real server refuses)"
            )
        });
        let token = app
            .create_token(
                "demo-admin",
                AccessRole::Admin,
                &sitrep_app::Principal::sitrep("demo"),
            )
            .await?
            .secret;
        let state = ServerState::new(app)
            .await
            .map_err(|e| DemoError::Server(format!("{e:?}")))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sitrep_server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        let ready_in = started.elapsed();
        progress(&format!(
            "sitrep server ready on {url} in {} ms",
            ready_in.as_millis()
        ));

        // The shop breaks, and Alertmanager (played by us) notices.
        shop.inject(shop::Fault::Errors);
        shop.inject(shop::Fault::NotReady);
        shop.inject(shop::Fault::DiskFilling);
        let http = reqwest::Client::new();
        for (alert, labels) in [
            (
                "ShopfrontCheckoutErrors",
                serde_json::json!({"instance": shop.addr.to_string(), "service": "shopfront", "severity": "SEV2"}),
            ),
            (
                "ShopfrontDiskFilling",
                serde_json::json!({"instance": shop.addr.to_string(), "service": "shopfront", "spool_dir": shop.spool.display().to_string()}),
            ),
        ] {
            let body = alertmanager_payload(alert, &labels);
            let r = http
                .post(format!("{url}/api/v1/alerts/alertmanager"))
                .bearer_auth(&receiver_token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| DemoError::Server(format!("sending the alert: {e}")))?;
            if !r.status().is_success() {
                return Err(DemoError::Server(format!(
                    "the receiver answered {}",
                    r.status()
                )));
            }
            progress(&format!("sent Alertmanager alert {alert}"));
        }
        // Wait for the incidents and their first diagnostics.
        let deadline = Instant::now() + Duration::from_secs(15);
        let incidents = loop {
            let list = state
                .app()
                .incidents(&sitrep_app::store::IncidentFilter::default())
                .await?;
            let mut triaged = 0;
            for inc in &list {
                // A run counts once it finished: its output is on the timeline.
                let runs = state.app().runs_for(&inc.id).await?;
                if runs.iter().any(|r| r.ended_ms.is_some()) {
                    triaged += 1;
                }
            }
            if (list.len() >= 2 && triaged >= 2) || Instant::now() > deadline {
                let mut numbers: Vec<i64> = list.iter().map(|i| i.number).collect();
                numbers.sort_unstable();
                progress(&format!(
                    "{} incident(s) open, {triaged} with auto-triage results",
                    list.len()
                ));
                break numbers;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Ok(Demo {
            url,
            token,
            data_dir: root,
            shop,
            incidents,
            ready_in,
            state,
            stop,
            server,
            _tmp: tmp,
        })
    }

    /// The app behind the server (for tests).
    #[must_use]
    pub fn app(&self) -> &App {
        self.state.app()
    }

    /// Stops the server and the simulated service; removes the temporary data dir.
    pub async fn stop(self) -> Result<(), DemoError> {
        let _ = self.stop.send(());
        let res = self.server.await;
        self.shop.stop();
        self.state.app().close().await;
        match res {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DemoError::Io {
                what: "server".into(),
                source: e,
            }),
            Err(e) => Err(DemoError::Server(e.to_string())),
        }
    }
}

async fn bind(listen: Option<SocketAddr>) -> Result<tokio::net::TcpListener, DemoError> {
    if let Some(addr) = listen {
        return tokio::net::TcpListener::bind(addr)
            .await
            .map_err(io(format!("listen on {addr}")));
    }
    match tokio::net::TcpListener::bind("127.0.0.1:8080").await {
        Ok(l) => Ok(l),
        // 8080 is popular; any free port will do for a demo.
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io("listen on loopback")),
    }
}

/// The receiver's bearer token: random, known only to this process.
fn random_token() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn alertmanager_payload(alertname: &str, labels: &serde_json::Value) -> String {
    let mut l = labels.clone();
    l["alertname"] = alertname.into();
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    serde_json::json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"),
        "status": "firing",
        "receiver": "sitrep",
        "groupLabels": {"alertname": alertname},
        "commonLabels": l,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.demo",
        "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing",
            "labels": l,
            "annotations": {"summary": format!("{alertname} on the demo shop")},
            "startsAt": now,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.demo/graph",
        }],
    })
    .to_string()
}

/// Prints what to do next.
#[must_use]
pub fn instructions(d: &Demo) -> String {
    let data = d.data_dir.join("data");
    let first = d.incidents.first().copied().unwrap_or(1);
    format!(
        "\n  Open        {url}/incidents/{first}\n  Log in with {token}\n\n  \
         The shop at http://{shop} is failing: checkout 500s, readiness down, its spool\n  \
         directory filling. Two incidents are open and their diagnosis steps already ran.\n  \
         Try: run \"restart\" (a write step: you confirm the exact command), tick the\n  \
         checklist, resolve, and download the post-mortem. From another terminal:\n\n    \
         sitrep incident list --data-dir {data}\n    \
         sitrep run {first} shopfront-checkout-errors.md restart --yes --data-dir {data} --runbooks {rb}\n    \
         sitrep run {first} shopfront-checkout-errors.md verify --data-dir {data} --runbooks {rb}\n\n  \
         Ctrl-C stops the demo{keep}.\n",
        url = d.url,
        token = d.token,
        shop = d.shop.addr,
        data = data.display(),
        rb = d.data_dir.join("runbooks").display(),
        keep = if d._tmp.is_some() {
            " and deletes its data"
        } else {
            ""
        },
    )
}

/// Where the demo keeps its runbooks (for tests).
#[must_use]
pub fn runbooks_dir(d: &Demo) -> PathBuf {
    d.data_dir.join("runbooks")
}
