//! Running runbook steps inside an incident: plan (bind + gate), run, record.
//!
//! A run is recorded twice over: the `StepRun` row for queries, and ledger events
//! (`step.run`, one `evidence.captured` per output stream) whose payloads hold the exact
//! command, bound values, actor, approver, times, exit and output hashes. Output bytes go
//! to the blob store; only redacted text ever reaches a sink, a row, a blob or a record.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use sitrep_executor::{
    Decision, Level, Mode, Outcome, Permit, Refusal, RunConfig, RunSink, Verdict, authorize,
};
use sitrep_ledger::Evidence;
use sitrep_runbook::{Role, Runbook, Step};
use sitrep_store::{Change, Incident, StepRun, Write};

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::plan::Frozen;
pub use crate::plan::{Plan, PlanState};
use crate::stamp::now_ms;

/// Which step to run, for whom, with what.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Incident id or number.
    pub incident: String,
    /// Runbook path in the library.
    pub runbook: String,
    /// Step id (see `sitrep runbook show`), or its 1-based number in the runbook.
    pub step: String,
    /// Who runs it: the name the timeline shows and the id two-person control
    /// compares (a token's through the server, `cli:NAME` from the command line, see
    /// [`crate::Principal`]).
    pub actor: Principal,
    /// Values given by the person (`--set K=V`); they win over every other source.
    pub set: BTreeMap<String, String>,
    /// The plan id the actor confirmed (`Plan::id`): it names the exact command, its
    /// values and their sources, so nothing else can run under this confirmation.
    pub confirmed: Option<String>,
    /// A granted approval's id (see [`App::approvals`]), for a run the policy holds
    /// for a second person. Approvers come only from a stored approval, never from
    /// the request.
    pub approval: Option<String>,
    /// Interactive (a person) or automatic (auto-triage: read steps only).
    pub mode: Mode,
}

/// A finished run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The stored run.
    pub run: StepRun,
    /// Redacted, capped output and exit details.
    pub outcome: Outcome,
}

/// A step found in the library: its runbook's path, the runbook and the step.
pub(crate) type Found = (String, Runbook, Step);

impl App {
    /// Finds an item of a library runbook (a step, a query step): by id, else by its
    /// 1-based number among `items`; not found names the item and the runbook's path.
    pub(crate) fn find_in_runbook<T: Clone>(
        &self,
        runbook: &str,
        wanted: &str,
        what: &'static str,
        items: impl Fn(&Runbook) -> &[T],
        id: impl Fn(&T) -> &str,
    ) -> Result<(String, Runbook, T), AppError> {
        let library = self.library();
        let entry = library.get(runbook).ok_or_else(|| AppError::NotFound {
            what: "runbook",
            id: runbook.to_owned(),
        })?;
        let all = items(&entry.runbook);
        let found = all
            .iter()
            .find(|item| id(item) == wanted)
            .or_else(|| {
                wanted
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| all.get(i))
            })
            .ok_or_else(|| AppError::NotFound {
                what,
                id: format!("{wanted} in {}", entry.path),
            })?;
        Ok((entry.path.clone(), entry.runbook.clone(), found.clone()))
    }

    /// Finds the step: by id, else by 1-based number.
    fn find_step(&self, runbook: &str, step: &str) -> Result<Found, AppError> {
        self.find_in_runbook(runbook, step, "step", |rb| &rb.steps, |s| &s.id)
    }

    /// Binds and gates a step without running it (`sitrep run --dry-run`, the UI's
    /// confirm dialog).
    pub async fn plan(&self, req: &RunRequest) -> Result<Plan, AppError> {
        let incident = self.incident(&req.incident).await?;
        let found = self.find_step(&req.runbook, &req.step)?;
        Ok(self.plan_approved(&incident, &found, req).await?.0.plan)
    }

    /// The frozen plan with the approvers of the approval the request presents (checked
    /// to be granted and for exactly this plan), and that approval.
    pub(crate) async fn plan_approved(
        &self,
        incident: &Incident,
        (path, rb, step): &Found,
        req: &RunRequest,
    ) -> Result<(Frozen, Option<crate::Approval>), AppError> {
        let frozen = self.freeze(incident, (path, rb, step), req, &[]).await?;
        let held = matches!(frozen.plan.decision(), Some(Decision::NeedsApproval { .. }));
        if req.approval.is_none() && !held {
            return Ok((frozen, None));
        }
        let subject = self.approval_subject(incident, path, step, req, &frozen.plan);
        let approval = match &req.approval {
            Some(id) => self.approval_for_run(incident, id, &subject).await?,
            // Running the held run again once someone granted it needs no id: the
            // granted approval for exactly this run applies.
            None => match self.granted_approval(&subject).await? {
                Some(a) => a,
                None => return Ok((frozen, None)),
            },
        };
        let frozen = self
            .freeze(
                incident,
                (path, rb, step),
                req,
                &approval.separate_approvers(),
            )
            .await?;
        Ok((frozen, Some(approval)))
    }

    /// Runs a step if the gate allows it, reporting live into `sink`, and records it.
    pub async fn run_step(
        &self,
        req: &RunRequest,
        sink: Arc<dyn RunSink>,
    ) -> Result<RunReport, AppError> {
        req.actor.check()?;
        let incident = self.incident(&req.incident).await?;
        let found = self.find_step(&req.runbook, &req.step)?;
        self.run_found(&incident, &found, req, sink).await
    }

    /// The gate's permit for the frozen plan, or why not (refusals and denials are
    /// sealed on the timeline first).
    async fn permit(
        &self,
        incident: &Incident,
        (path, _, step): &Found,
        req: &RunRequest,
        frozen: Frozen,
        approval: Option<&crate::Approval>,
    ) -> Result<Permit, AppError> {
        let Frozen { plan, spec } = frozen;
        match &plan.state {
            PlanState::Unbound(names) => {
                return Err(AppError::Unbound {
                    names: names.clone(),
                });
            }
            PlanState::Refused(refusals) => {
                self.record_value_refusals(incident, &plan, &req.actor, refusals)
                    .await?;
                return Err(AppError::ValueRefused {
                    refusals: refusals.clone(),
                });
            }
            PlanState::Gated(_) => {}
        }
        let spec = spec.ok_or_else(|| AppError::Internal("a bound plan without a spec".into()))?;
        // Only approvers who are someone else by id and by name count; the gate then
        // compares names, which these all differ in.
        let approvers = approval.map(crate::Approval::separate_approvers);
        let gate_req =
            crate::plan::gate_request(incident, req, &plan, approvers.as_deref().unwrap_or(&[]));
        match authorize(spec, path, &gate_req, &self.policy()) {
            Ok(permit) => Ok(permit),
            Err(Decision::NeedsConfirmation { reasons }) => Err(AppError::NeedsConfirmation {
                display: plan.display,
                plan: plan.id,
                reasons,
            }),
            Err(Decision::NeedsApproval { reason }) => {
                let subject = self.approval_subject(incident, path, step, req, &plan);
                let pending = self.request_approval(subject, &reason).await?;
                Err(AppError::NeedsApproval {
                    reason,
                    approval: Some(Box::new(pending)),
                })
            }
            Err(Decision::Deny { reason }) => {
                self.record_refusal(incident, &plan, &req.actor, &reason)
                    .await?;
                Err(AppError::Denied { reason })
            }
            Err(Decision::Allow) => Err(AppError::Internal("the gate allowed no permit".into())),
        }
    }

    pub(crate) async fn run_found(
        &self,
        incident: &Incident,
        found: &Found,
        req: &RunRequest,
        sink: Arc<dyn RunSink>,
    ) -> Result<RunReport, AppError> {
        let (frozen, approval) = self.plan_approved(incident, found, req).await?;
        let plan = frozen.plan.clone();
        let permit = self
            .permit(incident, found, req, frozen, approval.as_ref())
            .await?;
        let cfg = match self.sandboxed(self.run_config(), req.mode) {
            Ok(cfg) => cfg,
            Err(AppError::Denied { reason }) => {
                self.record_refusal(incident, &plan, &req.actor, &reason)
                    .await?;
                return Err(AppError::Denied { reason });
            }
            Err(e) => return Err(e),
        };
        let approver = approval
            .as_ref()
            .and_then(|a| a.separate_approvers().into_iter().next());
        let run_id = uuid::Uuid::now_v7().to_string();
        let row = StepRun {
            id: run_id.clone(),
            incident_id: incident.id.clone(),
            runbook: plan.runbook.clone(),
            step_id: plan.step_id.clone(),
            command: plan.display.clone(),
            bound: plan
                .bindings
                .iter()
                .map(|b| (b.name.clone(), b.value.clone()))
                .collect(),
            risk: plan.risk.as_str().to_owned(),
            actor: req.actor.name.clone(),
            approver: approver.clone(),
            status: "running".to_owned(),
            started_ms: now_ms(),
            ended_ms: None,
            exit_code: None,
            verdict: None,
            stdout_sha256: None,
            stderr_sha256: None,
        };
        let mut writes = vec![Write::PutRun(row.clone())];
        if let Some(a) = &approval {
            // In the same transaction as the run row: two runs racing with one
            // approval (on two replicas, say) cannot both start.
            writes.push(Write::UseApproval {
                id: a.id.clone(),
                run: run_id.clone(),
            });
        }
        self.inner
            .store
            .commit(Change {
                writes,
                events: Vec::new(),
            })
            .await
            .map_err(|e| match e {
                sitrep_store::StoreError::Conflict {
                    what: "approval", ..
                } => AppError::invalid("approval", "the approval was used by another run"),
                e => e.into(),
            })?;
        let result = sitrep_executor::run(&permit, &cfg, sink).await;
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                self.record_run_error(incident, &plan, row, &req.actor, &e.to_string())
                    .await?;
                return Err(e.into());
            }
        };
        match self
            .record_outcome(incident, &plan, row.clone(), &outcome, &req.actor, &[])
            .await
        {
            Err(e @ AppError::Blob(_)) => {
                // The output could not be kept (blob directory read-only or full): the
                // run is recorded as an error naming why instead of staying "running",
                // so the step can run again as soon as the fault clears.
                let why = format!("its output could not be stored: {e}");
                self.record_run_error(incident, &plan, row, &req.actor, &why)
                    .await?;
                Err(e)
            }
            other => other,
        }
    }

    /// Records a run that ended without an outcome to keep: its row as `error` and a
    /// `step.run` event with the (redacted) reason.
    async fn record_run_error(
        &self,
        incident: &Incident,
        plan: &Plan,
        mut row: StepRun,
        actor: &Principal,
        error: &str,
    ) -> Result<(), AppError> {
        row.status = "error".to_owned();
        row.ended_ms = Some(now_ms());
        let rec = events::record(
            events::STEP_RUN,
            &incident.id,
            now_ms(),
            actor,
            [
                ("run", row.id.clone()),
                ("runbook", plan.runbook.clone()),
                ("step", plan.step_id.clone()),
                ("command", plan.display.clone()),
                ("plan", plan.id.clone()),
                ("status", "error".to_owned()),
                ("error", self.redact(error)),
            ],
        );
        self.inner
            .store
            .commit(Change {
                writes: vec![Write::PutRun(row)],
                events: vec![rec],
            })
            .await?;
        Ok(())
    }

    /// The executor's limits from the config.
    fn run_config(&self) -> RunConfig {
        let mut cfg = RunConfig {
            default_timeout: self.inner.config.executor.default_timeout,
            capture_cap: self.inner.config.executor.capture_bytes,
            extra_env: self.inner.config.executor.env.clone().into_iter().collect(),
            ..RunConfig::default()
        };
        cfg.grace = cfg.grace.min(Duration::from_secs(5));
        cfg
    }

    pub(crate) async fn record_outcome(
        &self,
        incident: &Incident,
        plan: &Plan,
        mut row: StepRun,
        outcome: &Outcome,
        who: &Principal,
        extra: &[(&'static str, String)],
    ) -> Result<RunReport, AppError> {
        let ended = to_ms(outcome.ended_at);
        let mut events_out = Vec::new();
        let mut hashes = Vec::new();
        let mut retries = Vec::new();
        for (stream, cap) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
            // The executor already redacted; redacting again with our literals costs
            // little and keeps the promise even if the configured list grew.
            let text = self.redact(&cap.text);
            let (blob, retry) = self.keep_blob(text.as_bytes(), &incident.id).await?;
            retries.extend(retry);
            let mut rec = events::record(
                events::EVIDENCE,
                &incident.id,
                ended,
                who,
                [
                    ("run", row.id.clone()),
                    ("stream", stream.to_owned()),
                    ("total_bytes", cap.total_bytes.to_string()),
                    ("cut_bytes", cap.cut_bytes.to_string()),
                ],
            );
            rec.evidence = Some(Evidence {
                sha256: blob.sha256,
                size: blob.size,
                media_type: "text/plain; charset=utf-8".to_owned(),
            });
            events_out.push(rec);
            hashes.push(blob.sha256.to_string());
        }
        let status = if outcome.timed_out {
            "timed-out"
        } else if outcome.exit_code == Some(0) && !matches!(outcome.verdict, Verdict::Fail(_)) {
            "succeeded"
        } else {
            "failed"
        };
        let verdict = match &outcome.verdict {
            Verdict::Pass(r) => Some(format!("pass: {r}")),
            Verdict::Fail(r) => Some(format!("fail: {r}")),
            Verdict::None => None,
        };
        row.status = status.to_owned();
        row.ended_ms = Some(ended);
        row.exit_code = outcome.exit_code;
        row.verdict = verdict.clone();
        row.stdout_sha256 = hashes.first().cloned();
        row.stderr_sha256 = hashes.get(1).cloned();
        let mut payload = vec![
            ("run", row.id.clone()),
            ("runbook", row.runbook.clone()),
            ("step", row.step_id.clone()),
            ("command", row.command.clone()),
            ("plan", plan.id.clone()),
            ("principal", who.id.clone()),
            ("risk", row.risk.clone()),
            ("status", status.to_owned()),
            ("started_ms", row.started_ms.to_string()),
            ("duration_ms", outcome.duration.as_millis().to_string()),
            ("stdout_sha256", hashes[0].clone()),
            ("stderr_sha256", hashes[1].clone()),
        ];
        if let Some(c) = outcome.exit_code {
            payload.push(("exit_code", c.to_string()));
        }
        if let Some(s) = outcome.signal {
            payload.push(("signal", s.to_string()));
        }
        if let Some(v) = verdict {
            payload.push(("verdict", v));
        }
        if let Some(a) = &row.approver {
            payload.push(("approver", a.clone()));
        }
        payload.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
        if !plan.bindings.is_empty() {
            let b: Vec<String> = plan
                .bindings
                .iter()
                .map(|b| format!("{}={} ({})", b.name, b.value, b.source))
                .collect();
            payload.push(("bound", self.redact(&b.join("\n"))));
        }
        events_out.push(events::record(
            events::STEP_RUN,
            &incident.id,
            ended,
            who,
            payload,
        ));
        self.inner
            .store
            .commit(Change {
                writes: std::iter::once(Write::PutRun(row.clone()))
                    .chain(retries)
                    .collect(),
                events: events_out,
            })
            .await?;
        Ok(RunReport {
            run: row,
            outcome: outcome.clone(),
        })
    }

    async fn record_refusal(
        &self,
        incident: &Incident,
        plan: &Plan,
        actor: &Principal,
        reason: &str,
    ) -> Result<(), AppError> {
        let rec = events::record(
            events::STEP_REFUSED,
            &incident.id,
            now_ms(),
            actor,
            [
                ("runbook", plan.runbook.clone()),
                ("step", plan.step_id.clone()),
                ("risk", plan.risk.as_str().to_owned()),
                ("plan", plan.id.clone()),
                ("reason", reason.to_owned()),
            ],
        );
        self.seal(vec![rec]).await?;
        Ok(())
    }

    /// One `step.refused` event per refused value: the placeholder, where the value came
    /// from and the rule it broke. The value itself is not recorded (it is untrusted and
    /// may be huge); the rule says enough to fix the alert or the runbook.
    async fn record_value_refusals(
        &self,
        incident: &Incident,
        plan: &Plan,
        actor: &Principal,
        refusals: &[Refusal],
    ) -> Result<(), AppError> {
        let now = now_ms();
        let events = refusals
            .iter()
            .map(|r| {
                events::record(
                    events::STEP_REFUSED,
                    &incident.id,
                    now,
                    actor,
                    [
                        ("runbook", plan.runbook.clone()),
                        ("step", plan.step_id.clone()),
                        ("placeholder", r.name.clone()),
                        ("source", r.source.clone()),
                        ("rule", r.rule.clone()),
                        ("reason", format!("value refused: {r}")),
                    ],
                )
            })
            .collect();
        self.seal(events).await?;
        Ok(())
    }

    /// Runs every step of `roles` sections of the incident's runbooks that can run
    /// unattended: read steps whose placeholders all bind. The others are noted on the
    /// timeline as skipped, with the reason. At most `executor.concurrency` at a time.
    pub async fn run_sections(
        &self,
        incident_id: &str,
        roles: &[Role],
        actor: &Principal,
        mode: sitrep_executor::Mode,
        sink: Arc<dyn RunSink>,
    ) -> Result<Vec<Result<RunReport, AppError>>, AppError> {
        let incident = self.incident(incident_id).await?;
        let library = self.library();
        let mut todo = Vec::new();
        let mut skipped = Vec::new();
        for path in &incident.runbooks {
            let Some(entry) = library.get(path) else {
                continue;
            };
            for step in &entry.runbook.steps {
                if !step.role.is_some_and(|r| roles.contains(&r))
                    || step.attributes.exclude_from_run_all == Some(true)
                {
                    continue;
                }
                if step.risk.level != Level::Read {
                    skipped.push((
                        entry.path.clone(),
                        step.id.clone(),
                        format!("{} step: needs a person", step.risk.level),
                    ));
                    continue;
                }
                todo.push((entry.path.clone(), entry.runbook.clone(), step.clone()));
            }
        }
        let now = now_ms();
        if !skipped.is_empty() {
            let events: Vec<_> = skipped
                .iter()
                .map(|(rb, st, why)| {
                    events::record(
                        events::STEP_SKIPPED,
                        &incident.id,
                        now,
                        actor,
                        [
                            ("runbook", rb.clone()),
                            ("step", st.clone()),
                            ("reason", why.clone()),
                        ],
                    )
                })
                .collect();
            self.seal(events).await?;
        }
        let limit = Arc::new(tokio::sync::Semaphore::new(
            self.inner.config.executor.concurrency.max(1),
        ));
        let mut set = tokio::task::JoinSet::new();
        for (i, found) in todo.into_iter().enumerate() {
            let app = self.clone();
            let incident = incident.clone();
            let sink = sink.clone();
            let limit = limit.clone();
            let req = RunRequest {
                incident: incident.id.clone(),
                runbook: found.0.clone(),
                step: found.2.id.clone(),
                actor: actor.clone(),
                set: BTreeMap::new(),
                confirmed: None,
                approval: None,
                mode,
            };
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let res = if req.mode == Mode::Automatic {
                    // Under the global cap, shared with identical runs (unattended.rs).
                    app.run_unattended(&incident, &found, &req, sink).await
                } else {
                    app.run_found(&incident, &found, &req, sink).await
                };
                if let Err(AppError::Unbound { names }) = &res {
                    let rec = events::record(
                        events::STEP_SKIPPED,
                        &incident.id,
                        now_ms(),
                        &req.actor,
                        [
                            ("runbook", found.0.clone()),
                            ("step", found.2.id.clone()),
                            ("reason", format!("unbound: {}", names.join(", "))),
                        ],
                    );
                    let _ = app.seal(vec![rec]).await;
                }
                (i, res)
            });
        }
        let mut out: Vec<(usize, Result<RunReport, AppError>)> = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => out.push(r),
                Err(e) => return Err(AppError::Internal(format!("step task failed: {e}"))),
            }
        }
        out.sort_by_key(|(i, _)| *i);
        // Read query steps of the same sections run too (their results and failures
        // are on the timeline; the reports here are the shell steps').
        self.run_section_queries(&incident, roles, actor, mode)
            .await?;
        Ok(out.into_iter().map(|(_, r)| r).collect())
    }
}

impl App {
    /// Seals timeline events that change nothing else (refusals, skips).
    pub(crate) async fn seal(&self, events: Vec<sitrep_ledger::Record>) -> Result<(), AppError> {
        self.inner
            .store
            .commit(Change {
                writes: Vec::new(),
                events,
            })
            .await?;
        Ok(())
    }
}

fn to_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
