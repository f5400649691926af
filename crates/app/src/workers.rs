//! The background loops a serving replica runs: its serving lease, evidence upload
//! retries, retention, the session sweep and the interrupted-run sweep
//! (`Workers::spawn_all`), the auto-triage worker (`triage.rs`) and the runbook watcher
//! (`reload.rs`). The server only spawns them, handing in hooks for its live feed and
//! metrics; each ends when the closing signal turns true (or its task is stopped).

mod reload;
mod triage;

pub use reload::ReloadHook;
pub use triage::TriageHooks;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::App;
use crate::stamp::now_ms;

/// How long a serving lease lasts; renewed three times as often.
const SERVING_TTL: Duration = Duration::from_secs(30);

/// What the loops share: the app, the closing signal, and a hook called after a loop
/// changed something a live view shows (the server pokes its live feed).
#[derive(Clone)]
pub struct Workers {
    app: App,
    closing: watch::Receiver<bool>,
    changed: Arc<dyn Fn() + Send + Sync>,
}

impl Workers {
    /// Loops over `app` that stop when `closing` turns true and call `changed` after
    /// changing what a page shows.
    pub fn new(
        app: App,
        closing: watch::Receiver<bool>,
        changed: Arc<dyn Fn() + Send + Sync>,
    ) -> Workers {
        Workers {
            app,
            closing,
            changed,
        }
    }

    /// Spawns every loop on `tasks`. `holder` names this replica's serving lease.
    pub fn spawn_all(&self, tasks: &mut tokio::task::JoinSet<()>, holder: &str) {
        tasks.spawn(self.clone().presence(holder.to_owned()));
        tasks.spawn(self.clone().upload_blobs());
        tasks.spawn(self.clone().retention());
        tasks.spawn(self.clone().sweep_sessions());
        tasks.spawn(self.clone().sweep_interrupted_runs());
    }

    /// Sleeps `d`; false when closing began meanwhile (the loop should end).
    pub async fn nap(closing: &mut watch::Receiver<bool>, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            _ = closing.wait_for(|c| *c) => false,
        }
    }

    /// Keeps this replica's serving lease fresh while it serves (see
    /// `SERVING_LEASE`): a key rotation refuses to run beside a server.
    async fn presence(self, holder: String) {
        let mut closing = self.closing.clone();
        let ttl = i64::try_from(SERVING_TTL.as_millis()).unwrap_or(30_000);
        loop {
            match self.app.announce_serving(&holder, now_ms(), ttl).await {
                Ok(Some(_)) => {}
                Ok(None) => tracing::warn!(
                    replica = self.app.replica(),
                    "another server runs on this data dir (same replica id)"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot renew the serving lease"),
            }
            if !Self::nap(&mut closing, SERVING_TTL / 3).await {
                return;
            }
        }
    }

    /// Retries evidence uploads to the shared bucket that failed when the output was
    /// captured (a durable job each, so a restart resumes them).
    async fn upload_blobs(self) {
        let worker = format!("blobs-{}-{}", std::process::id(), uuid::Uuid::now_v7());
        let mut closing = self.closing.clone();
        loop {
            match self.app.upload_pending(&worker, 100).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(uploaded = n, "evidence uploads retried"),
                Err(e) => tracing::warn!(error = %e, "evidence upload retry failed"),
            }
            if !Self::nap(&mut closing, Duration::from_secs(5)).await {
                return;
            }
        }
    }

    /// Once an hour: deletes expired raw alert payloads (every replica; deleting is
    /// idempotent) and, with `[evidence] retention`, expired evidence bytes (one replica
    /// at a time, by lease; each replica also drops its own copies of expired blobs).
    async fn retention(self) {
        let mut closing = self.closing.clone();
        let holder = format!("retention-{}-{}", std::process::id(), uuid::Uuid::now_v7());
        loop {
            let now = now_ms();
            match self.app.sweep_raw_payloads(now).await {
                Ok(s) if s.accepted + s.rejected > 0 => tracing::info!(
                    accepted = s.accepted,
                    rejected = s.rejected,
                    "raw alert payloads expired"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "raw payload retention failed; retrying"),
            }
            if let Some(keep) = self.app.config().evidence.retention {
                self.evidence_retention(&holder, now, keep).await;
            }
            if !Self::nap(&mut closing, Duration::from_secs(3600)).await {
                return;
            }
        }
    }

    /// One evidence retention round (see [`Workers::retention`]).
    async fn evidence_retention(&self, holder: &str, now: i64, keep: Duration) {
        let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        let lease = self
            .app
            .store()
            .acquire_lease("evidence-retention", holder, now, 600_000)
            .await;
        if let Ok(Some(_)) = lease {
            match self
                .app
                .apply_retention(now, keep_ms, false, &crate::Principal::sitrep("retention"))
                .await
            {
                Ok(r) if !r.incidents.is_empty() => {
                    tracing::info!(incidents = r.incidents.len(), "evidence retention applied");
                    (self.changed)();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "evidence retention failed; retrying"),
            }
        } else if let Err(e) = self.app.drop_expired_copies().await {
            // Another replica sweeps; this one still drops its own copies.
            tracing::warn!(error = %e, "could not drop expired evidence copies");
        }
    }

    async fn sweep_sessions(self) {
        let mut closing = self.closing.clone();
        loop {
            if !Self::nap(&mut closing, Duration::from_secs(60)).await {
                return;
            }
            if let Err(e) = self.app.sweep_sessions().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
        }
    }

    /// Marks runs a crash left `running` as interrupted, once past their deadline. Every
    /// replica sweeps, without a lease: a run moves from `running` only once, inside the
    /// commit, and the query reads a partial index of the few running rows.
    async fn sweep_interrupted_runs(self) {
        let mut closing = self.closing.clone();
        loop {
            if !Self::nap(&mut closing, Duration::from_secs(60)).await {
                return;
            }
            match self.app.interrupt_overdue_runs().await {
                Ok(runs) if !runs.is_empty() => {
                    tracing::warn!(
                        runs = runs.len(),
                        "step runs left running by a crash marked interrupted"
                    );
                    (self.changed)();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not look for interrupted step runs"),
            }
        }
    }
}
