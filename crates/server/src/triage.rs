//! The auto-triage worker: claims the durable auto-triage requests ingestion enqueued
//! (`sitrep_app::TRIAGE_JOB`) and runs them, a bounded number of incidents at a time;
//! the app bounds the step runs themselves (a global cap, coalescing). Requests left
//! by a crash or a restart are claimed again once their lock expires (at least once).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::{ServerState, live};

/// Incidents triaged at once by this replica; their steps still queue for the global
/// cap of unattended runs, so this bounds only tasks and memory.
const IN_FLIGHT: usize = 64;
/// How often the queue is looked at without a wake-up (other replicas' requests, ones
/// whose lock expired, a database that was down).
const TICK: Duration = Duration::from_secs(1);
/// How long a triage that could not start waits before it is tried again.
const RETRY: Duration = Duration::from_secs(5);

/// Runs until the server stops.
pub(crate) async fn run(state: ServerState) {
    let worker = format!("triage-{}", uuid::Uuid::now_v7());
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let free = u32::try_from(slots.available_permits()).unwrap_or(0);
        if free > 0 {
            match state.app().claim_triage(&worker, free).await {
                Ok(claimed) => {
                    for q in claimed {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let (state, worker) = (state.clone(), worker.clone());
                        tokio::spawn(async move {
                            let app = state.app();
                            let done = match triage(&state, &q.incident).await {
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
            () = state.inner.triage_wake.notified() => {}
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Triages one incident; results land on its timeline (and in the live feed). Returns
/// why when the triage could not run for a fault that may clear (then it is retried).
async fn triage(state: &ServerState, incident_id: &str) -> Option<String> {
    let sink: Arc<dyn sitrep_app::RunSink> = Arc::new(live::LiveSink::new(state.clone()));
    match state.app().auto_triage(incident_id, sink).await {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(report) => state
                        .metrics()
                        .step_run(&report.run.risk, &report.run.status),
                    Err(e) => {
                        state.metrics().step_run("read", "error");
                        tracing::debug!(incident = %incident_id, error = %e, "auto-triage step not run");
                    }
                }
            }
        }
        Err(sitrep_app::AppError::Store(e)) if e.is_fault() => {
            tracing::warn!(incident = %incident_id, error = %e, "auto-triage could not start; retrying");
            return Some(e.to_string());
        }
        Err(e) => tracing::warn!(incident = %incident_id, error = %e, "auto-triage failed"),
    }
    state.changed();
    None
}
