//! sitrep's HTTP server: the JSON API under `/api/v1`, alert receivers, browser login,
//! live timeline events (SSE), health probes and Prometheus metrics, over [`App`].
//!
//! ```text
//!  serve(listener, state, shutdown)
//!    └─ listen: connection caps, header/body/idle timeouts
//!       └─ router(state)
//!         ├─ /healthz /readyz /startupz /metrics        (no auth)
//!         ├─ /api/v1/alerts/{alertmanager,grafana,generic} (receiver auth, 4 MiB)
//!         ├─ /api/v1/...                                 (bearer or session, 1 MiB)
//!         ├─ /api/v1/incidents/{id}/events               (SSE, no request timeout)
//!         ├─ /login /logout
//!         └─ /  ui::routes()                             (the web UI)
//!  background: ledger tail → broadcast, runbook reload, paging, and app's workers
//!              (`sitrep_app::workers`: serving lease, evidence upload retries,
//!              retention, session sweep, interrupted-run sweep)
//! ```
//!
//! Handlers are thin: they check the caller's role, call one `App` use case with the
//! caller's token name as the actor, poke the live feed, and map errors through
//! [`ApiError`] once.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sitrep_app::workers::{ReloadHook, TriageHooks, Workers};
use sitrep_app::{App, Ingestor};

pub mod api;
pub mod auth;
pub mod error;
pub mod guessing;
pub mod health;
mod listen;
pub mod live;
pub mod metrics;
pub mod paging;
pub mod ratelimit;
mod receivers;
mod routes;
pub mod sse;
pub mod streams;
pub mod ui;

pub use auth::{Caller, Via, csrf_token};
pub use error::{ApiError, ApiResult};
pub use routes::{route_table, router};

/// Everything handlers share. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct ServerState {
    inner: Arc<Inner>,
}

struct Inner {
    app: App,
    ingestor: Ingestor,
    limiter: ratelimit::Limiter,
    metrics: metrics::Metrics,
    live: live::Live,
    streams: streams::Streams,
    guessing: guessing::Guessing,
    started: AtomicBool,
    closing: tokio::sync::watch::Sender<bool>,
    runbook_error: Mutex<Option<String>>,
    paging: paging::Pacing,
    triage_wake: Arc<tokio::sync::Notify>,
}

impl ServerState {
    /// State over an opened app. The live feed starts at the ledger's current size.
    pub async fn new(app: App) -> Result<ServerState, sitrep_app::AppError> {
        let size = app.ledger_size().await?;
        let (closing, _) = tokio::sync::watch::channel(false);
        let receivers = &app.config().server.receivers;
        Ok(ServerState {
            inner: Arc::new(Inner {
                limiter: ratelimit::Limiter::new(receivers.rate, receivers.burst),
                ingestor: Ingestor::load(app.clone()).await?,
                streams: streams::Streams::new(app.config().server.streams.clone()),
                guessing: guessing::Guessing::new(&app.config().server.guessing),
                app,
                metrics: metrics::Metrics::default(),
                live: live::Live::new(size),
                started: AtomicBool::new(false),
                closing,
                runbook_error: Mutex::new(None),
                paging: paging::Pacing::default(),
                triage_wake: Arc::new(tokio::sync::Notify::new()),
            }),
        })
    }

    /// The application.
    #[must_use]
    pub fn app(&self) -> &App {
        &self.inner.app
    }

    /// Alert ingestion and silences.
    #[must_use]
    pub fn ingestor(&self) -> &Ingestor {
        &self.inner.ingestor
    }

    /// The receivers' rate limiter (tests set its clock).
    #[must_use]
    pub fn receiver_limiter(&self) -> &ratelimit::Limiter {
        &self.inner.limiter
    }

    /// The metrics registry.
    #[must_use]
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    /// The live event feed (subscribe for SSE; poke after a commit).
    #[must_use]
    pub fn live(&self) -> &live::Live {
        &self.inner.live
    }

    /// The open live streams (caps, ending them when credentials end).
    #[must_use]
    pub fn streams(&self) -> &streams::Streams {
        &self.inner.streams
    }

    /// The failed-credential limiter (per client address).
    #[must_use]
    pub fn guessing(&self) -> &guessing::Guessing {
        &self.inner.guessing
    }

    /// Something was committed: wake the live feed now rather than at its next poll.
    pub fn changed(&self) {
        self.inner.live.poke();
    }

    /// True once [`serve`] accepts connections.
    #[must_use]
    pub fn started(&self) -> bool {
        self.inner.started.load(Ordering::Acquire)
    }

    /// True once shutdown began (readiness fails, streams end).
    #[must_use]
    pub fn closing(&self) -> bool {
        *self.inner.closing.borrow()
    }

    /// A receiver that changes to `true` when shutdown begins.
    #[must_use]
    pub fn closing_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// The last runbook reload error, if the last reload failed.
    #[must_use]
    pub fn runbook_error(&self) -> Option<String> {
        self.inner
            .runbook_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_runbook_error(&self, e: Option<String>) {
        *self
            .inner
            .runbook_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = e;
    }

    /// Wakes the auto-triage worker: ingestion enqueued a durable auto-triage request
    /// for a new incident (`sitrep_app::workers`); results land on its timeline (and in the live
    /// feed) as they finish.
    pub fn spawn_auto_triage(&self, _incident_id: String) {
        self.inner.triage_wake.notify_one();
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops accepting, ends
/// live streams, lets in-flight requests finish, and returns. Background tasks (live
/// feed, runbook reload, session sweep) run for as long as it serves. Connections are
/// capped and stalled clients cut as `[server]` says (see `listen`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let support = state.app().sandbox_support();
    if support.is_ready() {
        tracing::info!(%support, "unattended runs are sandboxed");
    } else if state.app().config().executor.unsandboxed_triage {
        tracing::warn!(%support, "unattended runs run WITHOUT a sandbox (executor.unsandboxed_triage)");
    } else {
        tracing::warn!(%support, "unattended runs are refused: no sandbox (see /readyz)");
    }
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(live::tail(state.clone()));
    tasks.spawn(streams::recheck(state.clone()));
    tasks.spawn(paging::run(state.clone()));
    let holder = format!("serve-{}-{}", std::process::id(), uuid::Uuid::now_v7());
    let poke = state.clone();
    let workers = Workers::new(
        state.app().clone(),
        state.closing_signal(),
        Arc::new(move || poke.changed()),
    );
    workers.spawn_all(&mut tasks, &holder);
    let (counts, reloads) = (state.clone(), state.clone());
    let triage = TriageHooks {
        sink: Arc::new(live::LiveSink::new(state.clone())),
        step_run: Arc::new(move |risk, status| counts.metrics().step_run(risk, status)),
    };
    tasks.spawn(
        workers
            .clone()
            .triage(state.inner.triage_wake.clone(), triage),
    );
    let reloaded: ReloadHook = Arc::new(move |e| reloads.set_runbook_error(e));
    tasks.spawn(workers.watch_runbooks(Duration::from_secs(2), reloaded));
    let silences = state.clone();
    tasks.spawn(async move {
        let closing = silences.closing_signal();
        silences
            .ingestor()
            .follow_silences(closing, sitrep_app::silence_sync::SILENCE_REFRESH)
            .await;
    });
    state.inner.started.store(true, Ordering::Release);
    let closing = state.inner.closing.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        // Streams watch this and end, so graceful shutdown does not wait on them forever.
        closing.send_replace(true);
    };
    let limits = listen::Limits::from_config(&state.app().config().server);
    listen::serve(listener, app, limits, signal).await;
    state.inner.closing.send_replace(true);
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Renewed for no time at all, the serving lease lapses now: tools waiting for every
    // server to stop need not wait for it to expire.
    let _ = state
        .app()
        .announce_serving(&holder, sitrep_app::now_ms(), 0)
        .await;
    Ok(())
}

/// Sleeps `d`; false when the server began closing meanwhile (the task should end).
pub(crate) async fn nap(closing: &mut tokio::sync::watch::Receiver<bool>, d: Duration) -> bool {
    Workers::nap(closing, d).await
}
