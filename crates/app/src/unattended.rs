//! Unattended runs under an alert storm: a global cap on how many run at once (the
//! rest wait, each with a `step.queued` event), and coalescing: the same step with the
//! same bound values (one plan id) asked for by auto-triage within a window runs once,
//! and every incident that asked gets the result as its own run, marked `shared_with`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sitrep_executor::RunSink;
use sitrep_store::{Incident, StepRun};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::error::AppError;
use crate::runs::{Found, Plan, RunReport, RunRequest};
use crate::{App, events, now_ms};

/// Most coalescing entries kept; past it a run simply runs alone (every size bounded).
const MAX_SHARED: usize = 10_000;

/// Where the unattended runs stand, for `/metrics` and tests.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct UnattendedStats {
    /// The cap on concurrent unattended runs.
    pub cap: usize,
    /// Running now.
    pub running: usize,
    /// The most that ever ran at once.
    pub peak: usize,
    /// Waiting for a slot now.
    pub waiting: usize,
    /// Runs that were shared instead of run again.
    pub shared: usize,
}

/// What a coalesced run ended with, as its followers see it.
#[derive(Clone)]
enum Shared {
    Done(Box<RunReport>),
    Failed,
}

/// `None` until the leader's run ended.
type Published = Option<Shared>;

/// A run to join (its incident's number and result), or the lead of a new one (the
/// sender to publish its result on; `None` when it is not shared at all).
enum Role {
    Follow(i64, watch::Receiver<Published>),
    Lead(Option<watch::Sender<Published>>),
}

struct Lead {
    started: Instant,
    number: i64,
    result: watch::Receiver<Published>,
}

/// The state shared by every unattended run of one `App`.
pub(crate) struct Unattended {
    permits: Arc<Semaphore>,
    cap: usize,
    window: Duration,
    running: AtomicUsize,
    peak: AtomicUsize,
    waiting: AtomicUsize,
    shared_count: AtomicUsize,
    leads: Mutex<HashMap<String, Lead>>,
}

impl Unattended {
    pub(crate) fn new(cfg: &crate::tuning::UnattendedConfig) -> Unattended {
        let cap = cfg.cap().max(1);
        Unattended {
            permits: Arc::new(Semaphore::new(cap)),
            cap,
            window: cfg.coalesce_window,
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            shared_count: AtomicUsize::new(0),
            leads: Mutex::new(HashMap::new()),
        }
    }

    fn stats(&self) -> UnattendedStats {
        UnattendedStats {
            cap: self.cap,
            running: self.running.load(Ordering::SeqCst),
            peak: self.peak.load(Ordering::SeqCst),
            waiting: self.waiting.load(Ordering::SeqCst),
            shared: self.shared_count.load(Ordering::SeqCst),
        }
    }

    /// Joins a run of `key` started within the window (its incident's number and its
    /// result), or makes the caller its leader (the sender to publish the result on).
    fn join_or_lead(&self, key: &str, number: i64) -> Role {
        let mut leads = match self.leads.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        let window = self.window;
        leads.retain(|_, l| l.started.elapsed() < window);
        if let Some(l) = leads.get(key) {
            return Role::Follow(l.number, l.result.clone());
        }
        if window.is_zero() || leads.len() >= MAX_SHARED {
            return Role::Lead(None);
        }
        let (tx, rx) = watch::channel(None);
        leads.insert(
            key.to_owned(),
            Lead {
                started: Instant::now(),
                number,
                result: rx,
            },
        );
        Role::Lead(Some(tx))
    }
}

/// Counts a run as running and holds its slot for as long as it lives (also when its
/// task is dropped).
struct Running<'a> {
    u: &'a Unattended,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.u.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl App {
    /// Where unattended runs stand: the cap, running, peak, waiting, shared.
    #[must_use]
    pub fn unattended_stats(&self) -> UnattendedStats {
        self.inner.unattended.stats()
    }

    /// Runs one step unattended: shared with an identical run (same plan id) started
    /// within the coalescing window, else under the global cap.
    pub(crate) async fn run_unattended(
        &self,
        incident: &Incident,
        found: &Found,
        req: &RunRequest,
        sink: Arc<dyn RunSink>,
    ) -> Result<RunReport, AppError> {
        let (frozen, _) = self.plan_approved(incident, found, req).await?;
        let plan = frozen.plan;
        let u = &self.inner.unattended;
        match u.join_or_lead(&plan.id, incident.number) {
            Role::Follow(number, mut rx) => {
                let result = rx
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|r| r.clone());
                match result {
                    Some(Shared::Done(report)) => {
                        u.shared_count.fetch_add(1, Ordering::SeqCst);
                        self.record_shared(incident, &plan, &report, number, req)
                            .await
                    }
                    // The shared run failed (or its task ended): run on our own.
                    _ => self.run_capped(incident, found, req, sink).await,
                }
            }
            Role::Lead(lead) => {
                let res = self.run_capped(incident, found, req, sink).await;
                if let Some(tx) = lead {
                    let _ = tx.send(Some(match &res {
                        Ok(r) => Shared::Done(Box::new(r.clone())),
                        Err(_) => Shared::Failed,
                    }));
                }
                res
            }
        }
    }

    /// Runs under the global cap; a run that must wait says so on the timeline first.
    async fn run_capped(
        &self,
        incident: &Incident,
        found: &Found,
        req: &RunRequest,
        sink: Arc<dyn RunSink>,
    ) -> Result<RunReport, AppError> {
        let u = &self.inner.unattended;
        let permit = match u.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let ahead = u.waiting.fetch_add(1, Ordering::SeqCst);
                let rec = events::record(
                    events::STEP_QUEUED,
                    &incident.id,
                    now_ms(),
                    &req.actor,
                    [
                        ("runbook", found.0.clone()),
                        ("step", found.2.id.clone()),
                        ("status", "queued".to_owned()),
                        (
                            "reason",
                            format!(
                                "{} unattended runs at once at most; {ahead} waiting before it",
                                u.cap
                            ),
                        ),
                    ],
                );
                let sealed = self.seal(vec![rec]).await;
                let permit = u.permits.clone().acquire_owned().await;
                u.waiting.fetch_sub(1, Ordering::SeqCst);
                sealed?;
                permit.map_err(|e| AppError::Internal(format!("run slots closed: {e}")))?
            }
        };
        let now = u.running.fetch_add(1, Ordering::SeqCst) + 1;
        u.peak.fetch_max(now, Ordering::SeqCst);
        let _running = Running { u, _slot: permit };
        self.run_found(incident, found, req, sink).await
    }

    /// Records another incident's run as this incident's own: a run row of its own
    /// (same outcome, same output blobs) whose `step.run` event says `shared_with`.
    async fn record_shared(
        &self,
        incident: &Incident,
        plan: &Plan,
        report: &RunReport,
        number: i64,
        req: &RunRequest,
    ) -> Result<RunReport, AppError> {
        let row = StepRun {
            id: uuid::Uuid::now_v7().to_string(),
            incident_id: incident.id.clone(),
            actor: req.actor.name.clone(),
            approver: None,
            ..report.run.clone()
        };
        let extra = [
            ("shared_with", format!("#{number}")),
            ("shared_run", report.run.id.clone()),
        ];
        self.record_outcome(incident, plan, row, &report.outcome, &req.actor, &extra)
            .await
    }
}

/// The job kind of a queued auto-triage: enqueued with the alerts that opened the
/// incident, in the same transaction, so a triage asked for is never lost to a crash
/// or a restart (at least once: a triage cut short runs again once its lock expires).
pub const TRIAGE_JOB: &str = "auto-triage";

/// How long a claimed auto-triage stays locked to its worker: longer than a triage
/// takes (its steps time out sooner).
const TRIAGE_LOCK_MS: i64 = 30 * 60_000;

/// The durable request to triage a new incident.
pub(crate) fn triage_job(incident_id: &str) -> sitrep_store::Write {
    sitrep_store::Write::EnqueueJob(sitrep_store::NewJob {
        kind: TRIAGE_JOB.to_owned(),
        dedupe_key: format!("{TRIAGE_JOB}:{incident_id}"),
        incident_id: Some(incident_id.to_owned()),
        payload: serde_json::json!({}),
        due_ms: now_ms(),
    })
}

/// A claimed auto-triage: the job and the incident to triage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTriage {
    /// The job id (to finish it with).
    pub job: String,
    /// The incident.
    pub incident: String,
}

impl App {
    /// Claims up to `limit` queued auto-triages, oldest first, for `worker`.
    pub async fn claim_triage(
        &self,
        worker: &str,
        limit: u32,
    ) -> Result<Vec<QueuedTriage>, AppError> {
        let jobs = self
            .inner
            .store
            .claim_jobs(worker, &[TRIAGE_JOB], now_ms(), limit, TRIAGE_LOCK_MS)
            .await?;
        Ok(jobs
            .into_iter()
            .filter_map(|j| {
                Some(QueuedTriage {
                    incident: j.incident_id?,
                    job: j.id,
                })
            })
            .collect())
    }

    /// Marks a claimed auto-triage done (whatever its steps did: their outcomes are on
    /// the timeline).
    pub async fn finish_triage(&self, job: &str, worker: &str) -> Result<(), AppError> {
        self.inner.store.complete_job(job, worker).await?;
        Ok(())
    }

    /// Puts a claimed auto-triage back in the queue for `after` (it could not start: the
    /// database or the disk failed), remembering why.
    pub async fn retry_triage(
        &self,
        job: &str,
        worker: &str,
        after: Duration,
        error: &str,
    ) -> Result<(), AppError> {
        let due = now_ms().saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX));
        self.inner.store.retry_job(job, worker, due, error).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuning::UnattendedConfig;

    fn unattended(window: Duration) -> Unattended {
        Unattended::new(&UnattendedConfig {
            max_concurrent: 2,
            coalesce_window: window,
        })
    }

    #[test]
    fn the_first_asker_leads_and_later_ones_follow_within_the_window() {
        let u = unattended(Duration::from_secs(60));
        let Role::Lead(Some(tx)) = u.join_or_lead("sha256:a", 1) else {
            panic!("the first asker leads");
        };
        let Role::Follow(number, rx) = u.join_or_lead("sha256:a", 2) else {
            panic!("the second follows");
        };
        assert_eq!(number, 1);
        assert!(matches!(u.join_or_lead("sha256:b", 3), Role::Lead(Some(_))));
        tx.send(Some(Shared::Failed)).unwrap();
        assert!(matches!(*rx.borrow(), Some(Shared::Failed)));
        assert_eq!(u.stats().cap, 2);
    }

    #[test]
    fn a_zero_window_shares_nothing() {
        let u = unattended(Duration::ZERO);
        assert!(matches!(u.join_or_lead("sha256:a", 1), Role::Lead(None)));
        assert!(matches!(u.join_or_lead("sha256:a", 2), Role::Lead(None)));
    }
}
