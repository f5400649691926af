//! The paging loop: paces `sitrep_app::pager::Pager` passes (one escalation sweeper per
//! cluster, by a lease with a fencing epoch, enqueues due pages as durable jobs; every
//! replica delivers claimed jobs) and counts them in the metrics.
//!
//! Timers are rows, not sleeping tasks, so a restart or a crash loses nothing: the next
//! sweep re-derives what is due from the incident state, and jobs claimed by a dead
//! worker are claimed again when their lock expires.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sitrep_app::pager::Pager;
pub use sitrep_app::pager::SWEEPER_LEASE;

use crate::ServerState;

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
    let pager = match Pager::new(state.app()) {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, "paging disabled");
            return;
        }
    };
    let mut closing = state.closing_signal();
    loop {
        let now = state.paging_now();
        let mut full = false;
        match pager.pass(now, BATCH).await {
            Ok(r) if r.claimed > 0 => {
                full = r.claimed == BATCH as usize;
                if let Some(e) = &r.first_error {
                    tracing::warn!(errors = r.errors, first = %e, "some pages stay locked for a later pass");
                }
                state.changed();
                state.metrics().pages(&r, pager.metrics());
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
