//! The paging loop: one escalation sweeper per cluster (a lease with a fencing epoch)
//! enqueues due pages as durable jobs; every replica delivers claimed jobs.
//!
//! Timers are rows, not sleeping tasks, so a restart or a crash loses nothing: the next
//! sweep re-derives what is due from the incident state, and jobs claimed by a dead
//! worker are claimed again when their lock expires.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sitrep_app::notify::{Notifier, NotifierConfig};

use crate::ServerState;

/// Lease name for the escalation sweeper.
pub const SWEEPER_LEASE: &str = "escalation-sweeper";
/// How long a sweeper's lease lasts without renewal.
const LEASE_MS: i64 = 15_000;
/// Jobs claimed per delivery pass.
const BATCH: u32 = 500;
/// Longest sleep between sweeps.
const TICK: Duration = Duration::from_millis(500);

/// Where the paging loop reads the time, in ms since the epoch. The server uses the wall
/// clock; a test installs one it moves forward, so an escalation delay passes without the
/// test sleeping through it (and racing it under load).
pub trait Clock: Send + Sync {
    /// Now, in ms since the epoch.
    fn now_ms(&self) -> i64;
}

/// The wall clock.
struct Wall;

impl Clock for Wall {
    fn now_ms(&self) -> i64 {
        sitrep_app::now_ms()
    }
}

/// The paging loop's clock, and the clock's reading at the start of its last finished
/// pass (sweep, then delivery), for whoever must know a pass saw a given instant.
pub(crate) struct Pacing {
    clock: RwLock<Arc<dyn Clock>>,
    passes: tokio::sync::watch::Sender<i64>,
}

impl Default for Pacing {
    fn default() -> Pacing {
        Pacing {
            clock: RwLock::new(Arc::new(Wall)),
            passes: tokio::sync::watch::channel(i64::MIN).0,
        }
    }
}

impl ServerState {
    /// Replaces the paging loop's clock (from its next pass on).
    pub fn set_paging_clock(&self, clock: Arc<dyn Clock>) {
        *self
            .inner
            .paging
            .clock
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = clock;
    }

    /// The clock reading each finished paging pass started at: once it is at or past `t`,
    /// everything due at `t` has been enqueued and a delivery attempt made.
    #[must_use]
    pub fn paging_passes(&self) -> tokio::sync::watch::Receiver<i64> {
        self.inner.paging.passes.subscribe()
    }

    fn paging_now(&self) -> i64 {
        self.inner
            .paging
            .clock
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .now_ms()
    }
}

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
        let now = state.paging_now();
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
            .deliver_due(&notifier, &holder, state.paging_now(), BATCH)
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
        state.inner.paging.passes.send_replace(now);
        // A full batch means more are due now: go again without sleeping.
        if full {
            continue;
        }
        if !crate::nap(&mut closing, TICK).await {
            return;
        }
    }
}
