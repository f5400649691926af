//! Step runs a crash left `running`: once past their deadline they become `interrupted`,
//! with a `step.interrupted` event sealed in the same transaction.
//!
//! A run's row says `running` from the moment it starts until its process records the
//! outcome; if that process dies (kill -9, power loss) nothing else ever ends it. Runs
//! are started by several replicas and by CLI processes sharing the database, so "every
//! run that was running when I started" may well be alive elsewhere. What no live run
//! can do is outlive its deadline: the executor kills it at its timeout, after the kill
//! grace, and then only the output upload and one commit stand between it and its
//! result. Past that, the run is gone, whoever started it.

use std::time::Duration;

use serde::Serialize;
use sitrep_store::{Change, StepRun, StoreError, Write};

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::stamp::now_ms;

/// The longest the executor waits between SIGTERM and SIGKILL (runs.rs caps its grace
/// at 5 s).
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// Added to every deadline, for what a run does after its process ended: up to two
/// output uploads to a shared bucket (about 45 s each in the worst case: a 30 s request
/// plus 10 s of retries) and the final commit, plus clock skew between replicas. Large on
/// purpose: sweeping late only delays a label, sweeping early would end a live run.
pub const MARGIN: Duration = Duration::from_secs(120);

/// The timeout assumed for a run whose runbook or step is no longer in the library
/// (removed, renamed, or a replica with another runbook directory), when the configured
/// default is shorter. The row does not record its timeout, and a step may set any;
/// a day covers every timeout a runbook plausibly sets, while still ending a crashed
/// run's `running` label the next day.
pub const UNKNOWN_STEP_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Most runs ended by one sweep; the next sweep takes the rest.
const BATCH: u32 = 1000;

/// Who the events are by: the sweep itself, not a person (`sitrep:sitrep`).
const ACTOR: &str = "sitrep";

/// A run this sweep marked `interrupted`.
#[derive(Debug, Clone, Serialize)]
pub struct InterruptedRun {
    /// The run as it is now stored.
    pub run: StepRun,
    /// When the run had to be over by, Unix milliseconds.
    pub deadline_ms: i64,
    /// The `step.interrupted` event's ledger index.
    pub index: u64,
}

impl App {
    /// Marks every `running` run past its deadline `interrupted` and seals one
    /// `step.interrupted` event for each, in the same transaction as the row change.
    /// Safe to call anywhere, any time, from several replicas at once: a run that is not
    /// past its deadline is never touched, and a run another sweep (or its own process)
    /// ended first is skipped, so each run gets at most one such event.
    pub async fn interrupt_overdue_runs(&self) -> Result<Vec<InterruptedRun>, AppError> {
        let now = now_ms();
        // Whatever its timeout, a run started after this cannot be overdue yet.
        let floor = now.saturating_sub(millis(KILL_GRACE + MARGIN));
        let mut out = Vec::new();
        for run in self.inner.store.running_runs(floor, BATCH).await? {
            let (timeout, deadline_ms) = self.run_deadline(&run);
            if deadline_ms < now {
                out.extend(self.interrupt(run, timeout, deadline_ms, now).await?);
            }
        }
        Ok(out)
    }

    /// [`App::interrupt_overdue_runs`] for [`App::open`]: a failure is logged, never
    /// fatal, because the server's periodic sweep tries again and opening must not
    /// depend on it.
    pub(crate) async fn interrupt_overdue_runs_at_open(&self) {
        match self.interrupt_overdue_runs().await {
            Ok(runs) => {
                for r in runs {
                    tracing::warn!(run = %r.run.id, step = %r.run.step_id, "step run left running by a crash marked interrupted");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not look for interrupted step runs"),
        }
    }

    /// The run's timeout and the time it had to be over by: its step's `timeout`, else
    /// the configured default; [`UNKNOWN_STEP_TIMEOUT`] when the library lacks the step.
    fn run_deadline(&self, run: &StepRun) -> (Duration, i64) {
        let default = self.inner.config.executor.default_timeout;
        let library = self.library();
        let step = library
            .get(&run.runbook)
            .and_then(|e| e.runbook.steps.iter().find(|s| s.id == run.step_id));
        let timeout = match step {
            Some(s) => s.attributes.timeout.unwrap_or(default),
            None => default.max(UNKNOWN_STEP_TIMEOUT),
        };
        let deadline = run
            .started_ms
            .saturating_add(millis(timeout + KILL_GRACE + MARGIN));
        (timeout, deadline)
    }

    /// Ends one run as `interrupted` with its event; `None` when it was no longer
    /// running by the time the transaction ran (another sweep, or its own process).
    async fn interrupt(
        &self,
        mut run: StepRun,
        timeout: Duration,
        deadline_ms: i64,
        now: i64,
    ) -> Result<Option<InterruptedRun>, AppError> {
        let reason = format!(
            "no result within its timeout ({}) plus the kill grace and a margin: the process \
             running it stopped (a crash, kill -9 or power loss) before recording one",
            humantime::format_duration(timeout)
        );
        let rec = events::record(
            events::STEP_INTERRUPTED,
            &run.incident_id,
            now,
            &crate::identity::Principal::sitrep(ACTOR),
            [
                ("run", run.id.clone()),
                ("runbook", run.runbook.clone()),
                ("step", run.step_id.clone()),
                ("command", run.command.clone()),
                ("started_ms", run.started_ms.to_string()),
                ("deadline_ms", deadline_ms.to_string()),
                ("reason", reason),
            ],
        );
        let change = Change {
            writes: vec![Write::EndRun {
                id: run.id.clone(),
                status: "interrupted".to_owned(),
                ended_ms: now,
            }],
            events: vec![rec],
        };
        let committed = match self.inner.store.commit(change).await {
            Ok(c) => c,
            Err(StoreError::Conflict { what: "run", .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        run.status = "interrupted".to_owned();
        run.ended_ms = Some(now);
        Ok(Some(InterruptedRun {
            run,
            deadline_ms,
            index: committed.indexes.first().copied().unwrap_or_default(),
        }))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
