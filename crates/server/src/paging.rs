//! The paging loop: one escalation sweeper per cluster (a lease with a fencing epoch)
//! enqueues due pages as durable jobs; every replica delivers claimed jobs.
//!
//! Timers are rows, not sleeping tasks, so a restart or a crash loses nothing: the next
//! sweep re-derives what is due from the incident state, and jobs claimed by a dead
//! worker are claimed again when their lock expires.

use std::time::Duration;

use sitrep_app::now_ms;
use sitrep_notify::{Notifier, NotifierConfig};

use crate::ServerState;

/// Lease name for the escalation sweeper.
pub const SWEEPER_LEASE: &str = "escalation-sweeper";
/// How long a sweeper's lease lasts without renewal.
const LEASE_MS: i64 = 15_000;
/// Jobs claimed per delivery pass.
const BATCH: u32 = 500;
/// Longest sleep between sweeps.
const TICK: Duration = Duration::from_millis(500);

/// Runs until the server closes. Does nothing when no escalation file is configured.
pub async fn run(state: ServerState) {
    if state.app().escalation().is_none() {
        return;
    }
    let notifier = match Notifier::new(NotifierConfig::default()) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "paging disabled: cannot build the notifier");
            return;
        }
    };
    let holder = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7());
    let mut closing = state.closing_signal();
    loop {
        let now = now_ms();
        let store = state.app().store();
        match store
            .acquire_lease(SWEEPER_LEASE, &holder, now, LEASE_MS)
            .await
        {
            Ok(Some(lease)) => {
                if let Err(e) = state.app().sweep_escalations(now, Some(&lease)).await {
                    tracing::warn!(error = %e, "escalation sweep failed; retrying");
                }
            }
            Ok(None) => {} // another replica sweeps
            Err(e) => tracing::warn!(error = %e, "cannot take the sweeper lease"),
        }
        let mut full = false;
        match state
            .app()
            .deliver_due(&notifier, &holder, now_ms(), BATCH)
            .await
        {
            Ok(r) if r.claimed > 0 => {
                full = r.claimed == BATCH as usize;
                if let Some(e) = &r.first_error {
                    tracing::warn!(errors = r.errors, first = %e, "some pages stay locked for a later pass");
                }
                state.changed();
                state.metrics().pages(&r, notifier.metrics());
                tracing::info!(
                    delivered = r.delivered,
                    retrying = r.retrying,
                    failed = r.failed,
                    "pages"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "page delivery pass failed; retrying"),
        }
        // A full batch means more are due now: go again without sleeping.
        if full {
            continue;
        }
        if !crate::nap(&mut closing, TICK).await {
            return;
        }
    }
}
