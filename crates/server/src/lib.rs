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
//!  background: ledger tail → broadcast, runbook reload, session sweep, paging,
//!              evidence upload retries, evidence retention (hourly, by lease),
//!              raw alert payload retention (hourly, every replica),
//!              interrupted-run sweep (every minute)
//! ```
//!
//! Handlers are thin: they check the caller's role, call one `App` use case with the
//! caller's token name as the actor, poke the live feed, and map errors through
//! [`ApiError`] once.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sitrep_app::{App, Ingestor};

pub mod api;
pub mod auth;
pub mod error;
pub mod health;
mod listen;
pub mod live;
pub mod metrics;
pub mod paging;
pub mod ratelimit;
mod receivers;
mod routes;
mod triage;
pub mod ui;
pub mod watch;

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
    started: AtomicBool,
    closing: tokio::sync::watch::Sender<bool>,
    runbook_error: Mutex<Option<String>>,
    paging: paging::Pacing,
    triage_wake: tokio::sync::Notify,
}

impl ServerState {
    /// State over an opened app. The live feed starts at the ledger's current size.
    pub async fn new(app: App) -> Result<ServerState, sitrep_app::AppError> {
        let size = app
            .store()
            .tree_size()
            .await
            .map_err(sitrep_app::AppError::Store)?;
        let (closing, _) = tokio::sync::watch::channel(false);
        let receivers = &app.config().server.receivers;
        Ok(ServerState {
            inner: Arc::new(Inner {
                limiter: ratelimit::Limiter::new(receivers.rate, receivers.burst),
                ingestor: Ingestor::load(app.clone()).await?,
                app,
                metrics: metrics::Metrics::default(),
                live: live::Live::new(size),
                started: AtomicBool::new(false),
                closing,
                runbook_error: Mutex::new(None),
                paging: paging::Pacing::default(),
                triage_wake: tokio::sync::Notify::new(),
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
    /// for a new incident (`triage.rs`); results land on its timeline (and in the live
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
    tasks.spawn(watch::watch_runbooks(state.clone(), Duration::from_secs(2)));
    tasks.spawn(sweep_sessions(state.clone()));
    tasks.spawn(sweep_interrupted_runs(state.clone()));
    tasks.spawn(upload_blobs(state.clone()));
    tasks.spawn(retention(state.clone()));
    tasks.spawn(paging::run(state.clone()));
    tasks.spawn(triage::run(state.clone()));
    let holder = format!("serve-{}-{}", std::process::id(), uuid::Uuid::now_v7());
    tasks.spawn(presence(state.clone(), holder.clone()));
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

/// How long a serving lease lasts; renewed three times as often.
const SERVING_TTL: Duration = Duration::from_secs(30);

/// Keeps this replica's serving lease fresh while it serves (see
/// `sitrep_app::SERVING_LEASE`): a key rotation refuses to run beside a server.
async fn presence(state: ServerState, holder: String) {
    let mut closing = state.closing_signal();
    let ttl = i64::try_from(SERVING_TTL.as_millis()).unwrap_or(30_000);
    loop {
        match state
            .app()
            .announce_serving(&holder, sitrep_app::now_ms(), ttl)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => tracing::warn!(
                replica = state.app().replica(),
                "another server runs on this data dir (same replica id)"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot renew the serving lease"),
        }
        if !nap(&mut closing, SERVING_TTL / 3).await {
            return;
        }
    }
}

/// Sleeps `d`; false when the server began closing meanwhile (the task should end).
pub(crate) async fn nap(closing: &mut tokio::sync::watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        _ = closing.wait_for(|c| *c) => false,
    }
}

/// Retries evidence uploads to the shared bucket that failed when the output was
/// captured (a durable job each, so a restart resumes them).
async fn upload_blobs(state: ServerState) {
    let worker = format!("blobs-{}-{}", std::process::id(), uuid::Uuid::now_v7());
    let mut closing = state.closing_signal();
    loop {
        match state.app().upload_pending(&worker, 100).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploaded = n, "evidence uploads retried"),
            Err(e) => tracing::warn!(error = %e, "evidence upload retry failed"),
        }
        if !nap(&mut closing, Duration::from_secs(5)).await {
            return;
        }
    }
}

/// Once an hour: deletes expired raw alert payloads (every replica; deleting is
/// idempotent) and, with `[evidence] retention`, expired evidence bytes (one replica at
/// a time, by lease; each replica also drops its own copies of expired blobs).
async fn retention(state: ServerState) {
    let mut closing = state.closing_signal();
    let holder = format!("retention-{}-{}", std::process::id(), uuid::Uuid::now_v7());
    loop {
        let now = sitrep_app::now_ms();
        match state.app().sweep_raw_payloads(now).await {
            Ok(s) if s.accepted + s.rejected > 0 => {
                tracing::info!(
                    accepted = s.accepted,
                    rejected = s.rejected,
                    "raw alert payloads expired"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "raw payload retention failed; retrying"),
        }
        if let Some(keep) = state.app().config().evidence.retention {
            evidence_retention(&state, &holder, now, keep).await;
        }
        if !nap(&mut closing, Duration::from_secs(3600)).await {
            return;
        }
    }
}

/// One evidence retention round (see [`retention`]).
async fn evidence_retention(state: &ServerState, holder: &str, now: i64, keep: Duration) {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let store = state.app().store();
    let lease = store
        .acquire_lease("evidence-retention", holder, now, 600_000)
        .await;
    if let Ok(Some(_)) = lease {
        match state
            .app()
            .apply_retention(now, keep_ms, false, "retention")
            .await
        {
            Ok(r) if !r.incidents.is_empty() => {
                tracing::info!(incidents = r.incidents.len(), "evidence retention applied");
                state.changed();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "evidence retention failed; retrying"),
        }
    } else if let Err(e) = state.app().drop_expired_copies().await {
        // Another replica sweeps; this one still drops its own copies.
        tracing::warn!(error = %e, "could not drop expired evidence copies");
    }
}

async fn sweep_sessions(state: ServerState) {
    let mut closing = state.closing_signal();
    loop {
        if !nap(&mut closing, Duration::from_secs(60)).await {
            return;
        }
        if let Err(e) = state.app().sweep_sessions().await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
    }
}

/// Marks runs a crash left `running` as interrupted, once past their deadline. Every
/// replica sweeps, without a lease: a run moves from `running` only once, inside the
/// commit, and the query reads a partial index of the few running rows.
async fn sweep_interrupted_runs(state: ServerState) {
    let mut closing = state.closing_signal();
    loop {
        if !nap(&mut closing, Duration::from_secs(60)).await {
            return;
        }
        match state.app().interrupt_overdue_runs().await {
            Ok(runs) if !runs.is_empty() => {
                tracing::warn!(
                    runs = runs.len(),
                    "step runs left running by a crash marked interrupted"
                );
                state.changed();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not look for interrupted step runs"),
        }
    }
}
