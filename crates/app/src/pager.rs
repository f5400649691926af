//! One paging pass, as the server's paging loop runs it: the escalation sweep (one
//! replica per cluster, by a fenced lease) and the delivery of claimed page jobs through
//! the notifier this module owns. The loop itself (pacing, metrics, a test clock) stays
//! with the caller.

use sitrep_notify::{MetricsSnapshot, Notifier, NotifierConfig};

use crate::app::App;
use crate::error::AppError;
use crate::paging::DeliverReport;

/// Lease name for the escalation sweeper.
pub const SWEEPER_LEASE: &str = "escalation-sweeper";
/// How long a sweeper's lease lasts without renewal.
const LEASE_MS: i64 = 15_000;

/// Pages for one replica: its worker name and its notifier (breakers, rate limits and
/// counters live as long as it does).
pub struct Pager {
    app: App,
    holder: String,
    notifier: Notifier,
}

impl Pager {
    /// A pager for `app`, or `None` when no escalation file is configured.
    pub fn new(app: &App) -> Result<Option<Pager>, AppError> {
        if app.escalation().is_none() {
            return Ok(None);
        }
        let notifier = Notifier::new(NotifierConfig::default())
            .map_err(|e| AppError::Internal(format!("cannot build the notifier: {e}")))?;
        Ok(Some(Pager {
            app: app.clone(),
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            notifier,
        }))
    }

    /// Sweeps escalations if this replica holds (or takes) the sweeper lease, then
    /// delivers up to `batch` due pages. Sweep failures are logged and retried next pass;
    /// a delivery failure is the error.
    pub async fn pass(&self, now_ms: i64, batch: u32) -> Result<DeliverReport, AppError> {
        match self
            .app
            .store()
            .acquire_lease(SWEEPER_LEASE, &self.holder, now_ms, LEASE_MS)
            .await
        {
            Ok(Some(lease)) => {
                if let Err(e) = self.app.sweep_escalations(now_ms, Some(&lease)).await {
                    tracing::warn!(error = %e, "escalation sweep failed; retrying");
                }
            }
            Ok(None) => {} // another replica sweeps
            Err(e) => tracing::warn!(error = %e, "cannot take the sweeper lease"),
        }
        self.app
            .deliver_due(&self.notifier, &self.holder, now_ms, batch)
            .await
    }

    /// The notifier's delivery counters.
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        self.notifier.metrics()
    }
}
