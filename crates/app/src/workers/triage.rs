//! The auto-triage worker: claims the durable auto-triage requests ingestion enqueued
//! (`crate::TRIAGE_JOB`) and runs them, a bounded number of incidents at a time; the
//! app bounds the step runs themselves (a global cap, coalescing). Requests left by a
//! crash or a restart are claimed again once their lock expires (at least once).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::Workers;
use crate::error::AppError;

/// Incidents triaged at once by this replica; their steps still queue for the global
/// cap of unattended runs, so this bounds only tasks and memory.
const IN_FLIGHT: usize = 64;
/// How often the queue is looked at without a wake-up (other replicas' requests, ones
/// whose lock expired, a database that was down).
const TICK: Duration = Duration::from_secs(1);
/// How long a triage that could not start waits before it is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// What the triage worker reports to whoever spawned it: where run output goes and
/// how each finished step ran (`risk`, `status`, for metrics).
#[derive(Clone)]
pub struct TriageHooks {
    /// Where the steps' output lines go (the server's live feed).
    pub sink: Arc<dyn sitrep_executor::RunSink>,
    /// Called once per step with its risk and status (`read`, `error` when it did not
    /// run).
    pub step_run: StepRunHook,
}

/// Told each auto-triage step's risk and status.
pub type StepRunHook = Arc<dyn Fn(&str, &str) + Send + Sync>;

impl Workers {
    /// Claims and runs auto-triage jobs until the task is stopped; `wake` says a new
    /// one was enqueued (else the queue is looked at every second).
    pub async fn triage(self, wake: Arc<Notify>, hooks: TriageHooks) {
        let worker = format!("triage-{}", uuid::Uuid::now_v7());
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        loop {
            let free = u32::try_from(slots.available_permits()).unwrap_or(0);
            if free > 0 {
                match self.app.claim_triage(&worker, free).await {
                    Ok(claimed) => {
                        for q in claimed {
                            let Ok(slot) = slots.clone().acquire_owned().await else {
                                return;
                            };
                            let (me, worker, hooks) = (self.clone(), worker.clone(), hooks.clone());
                            tokio::spawn(async move {
                                let app = &me.app;
                                let done = match me.triage_one(&q.incident, &hooks).await {
                                    // It could not start (database or disk down): again later.
                                    Some(e) => app.retry_triage(&q.job, &worker, RETRY, &e).await,
                                    None => app.finish_triage(&q.job, &worker).await,
                                };
                                if let Err(e) = done {
                                    tracing::warn!(incident = %q.incident, error = %e, "cannot finish an auto-triage job; it runs again after its lock expires");
                                }
                                drop(slot);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot claim auto-triage jobs; retrying"),
                }
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Triages one incident; results land on its timeline (and in the live feed).
    /// Returns why when the triage could not run for a fault that may clear (then it
    /// is retried).
    async fn triage_one(&self, incident_id: &str, hooks: &TriageHooks) -> Option<String> {
        match self.app.auto_triage(incident_id, hooks.sink.clone()).await {
            Ok(results) => {
                for r in results {
                    match r {
                        Ok(report) => (hooks.step_run)(&report.run.risk, &report.run.status),
                        Err(e) => {
                            (hooks.step_run)("read", "error");
                            tracing::debug!(incident = %incident_id, error = %e, "auto-triage step not run");
                        }
                    }
                }
            }
            Err(AppError::Store(e)) if e.is_fault() => {
                tracing::warn!(incident = %incident_id, error = %e, "auto-triage could not start; retrying");
                return Some(e.to_string());
            }
            Err(e) => tracing::warn!(incident = %incident_id, error = %e, "auto-triage failed"),
        }
        (self.changed)();
        None
    }
}
