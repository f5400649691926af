//! Running a query step inside an incident: resolve its datasource, bind its values as
//! data, run it only when it reads, keep the result as JSON evidence and seal the run
//! (`step.run` with `kind: query`, and `evidence.captured` for the result).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sitrep_executor::query::{self, BindQueryError, QueryResult, Window};
use sitrep_executor::{Level, Mode, Refusal, Trust};
use sitrep_ledger::Evidence;
use sitrep_runbook::{QueryStep, Runbook};
use sitrep_store::{Change, Incident, StepRun, Write};

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::plan::{is_secret_name, param_defaults};
use crate::stamp::now_ms;

/// Which query step to run, for whom, with what.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// Incident id or number.
    pub incident: String,
    /// Runbook path in the library.
    pub runbook: String,
    /// Query step id (see `sitrep runbook show`), or its 1-based number among the
    /// runbook's query steps.
    pub query: String,
    /// Who runs it.
    pub actor: Principal,
    /// Values given by the person (`--set K=V`); they win over every other source.
    pub set: BTreeMap<String, String>,
    /// Interactive (a person) or automatic (auto-triage).
    pub mode: Mode,
}

/// A finished query run.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    /// The stored run (`stdout_sha256` is the result's evidence blob).
    pub run: StepRun,
    /// The datasource it ran on.
    pub datasource: String,
    /// `promql`, `logql` or `sql`.
    pub language: &'static str,
    /// The result as kept.
    pub result: QueryResult,
}

/// What the evidence blob holds: enough to read the result without the runbook.
#[derive(Serialize)]
struct Kept<'a> {
    datasource: &'a str,
    language: &'static str,
    query: &'a str,
    params: Vec<String>,
    window: Option<Window>,
    result: &'a QueryResult,
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl App {
    /// Finds a query step: by id, else by 1-based number among the query steps.
    pub(crate) fn find_query(
        &self,
        runbook: &str,
        query: &str,
    ) -> Result<(String, Runbook, QueryStep), AppError> {
        self.find_in_runbook(runbook, query, "query step", |rb| &rb.queries, |q| &q.id)
    }

    /// Runs a query step of an incident's runbook and records it.
    pub async fn run_query(&self, req: &QueryRequest) -> Result<QueryReport, AppError> {
        req.actor.check()?;
        let incident = self.incident(&req.incident).await?;
        let found = self.find_query(&req.runbook, &req.query)?;
        self.run_query_found(&incident, &found, req).await
    }

    pub(crate) async fn run_query_found(
        &self,
        incident: &Incident,
        (path, rb, step): &(String, Runbook, QueryStep),
        req: &QueryRequest,
    ) -> Result<QueryReport, AppError> {
        if step.level != Level::Read {
            let why: Vec<String> = step
                .reasons
                .iter()
                .filter(|r| r.level != Level::Read)
                .map(|r| format!("{} ({})", r.rule, r.level))
                .collect();
            let reason = format!(
                "a query step runs only when it reads; this one is {}: {}",
                step.level,
                why.join(", ")
            );
            self.refuse_query(incident, path, step, &req.actor, &reason)
                .await?;
            return Err(AppError::Denied { reason });
        }
        let (name, cfg) = self
            .inner
            .config
            .datasources
            .resolve(step.datasource.as_deref(), step.language)?;
        let ds = cfg.open(&name)?;
        let (values, bindings) = self.query_values(incident, rb, step, req).await?;
        let secret = step.placeholders.iter().any(|p| is_secret_name(&p.name));
        if secret && ds.kind.language() != "sql" {
            // PromQL and LogQL carry values in their text, which is kept as evidence.
            return Err(AppError::invalid(
                "query",
                format!(
                    "{path} {}: a secret cannot be a PromQL or LogQL value (it would be kept in the query text)",
                    step.id
                ),
            ));
        }
        let bound = query::bind_query(ds.kind, &step.query, &values).map_err(|e| match e {
            BindQueryError::Missing(names) => AppError::Unbound { names },
            e @ BindQueryError::Misplaced { .. } => {
                AppError::invalid("query", format!("{path} {}: {e}", step.id))
            }
        })?;
        let window = step.range.map(|r| Window::ending_at(now_s(), r, step.step));
        let mut row = StepRun {
            id: uuid::Uuid::now_v7().to_string(),
            incident_id: incident.id.clone(),
            runbook: path.clone(),
            step_id: step.id.clone(),
            command: self.redact(&bound.text),
            bound: bindings.clone(),
            risk: step.level.as_str().to_owned(),
            actor: req.actor.name.clone(),
            approver: None,
            status: "running".to_owned(),
            started_ms: now_ms(),
            ended_ms: None,
            exit_code: None,
            verdict: None,
            stdout_sha256: None,
            stderr_sha256: None,
        };
        self.inner
            .store
            .commit(Change {
                writes: vec![Write::PutRun(row.clone())],
                events: Vec::new(),
            })
            .await?;
        let mut limits = cfg.limits();
        if let Some(t) = step.attributes.timeout {
            limits.timeout = limits.timeout.min(t);
        }
        let outcome = query::run_query(&ds, &bound, window, now_s(), &limits).await;
        let mut payload = vec![
            ("kind", "query".to_owned()),
            ("run", row.id.clone()),
            ("runbook", path.clone()),
            ("step", step.id.clone()),
            ("command", row.command.clone()),
            ("datasource", name.clone()),
            ("language", step.language.as_str().to_owned()),
            ("risk", row.risk.clone()),
            ("started_ms", row.started_ms.to_string()),
        ];
        if !bindings.is_empty() {
            let b: Vec<String> = bindings.iter().map(|(k, v)| format!("{k}={v}")).collect();
            payload.push(("bound", self.redact(&b.join("\n"))));
        }
        let result = match outcome {
            Ok(r) => r,
            Err(e) => {
                row.status = "error".to_owned();
                row.ended_ms = Some(now_ms());
                payload.push(("status", "error".to_owned()));
                payload.push(("error", self.redact(&e.to_string())));
                let rec = events::record(
                    events::STEP_RUN,
                    &incident.id,
                    now_ms(),
                    &req.actor,
                    payload,
                );
                self.inner
                    .store
                    .commit(Change {
                        writes: vec![Write::PutRun(row)],
                        events: vec![rec],
                    })
                    .await?;
                return Err(AppError::Query(e));
            }
        };
        let kept = Kept {
            datasource: &name,
            language: step.language.as_str(),
            query: &bound.text,
            params: if secret {
                vec!["[REDACTED:param]".to_owned(); bound.params.len()]
            } else {
                bound.params.clone()
            },
            window,
            result: &result,
        };
        let json = serde_json::to_string(&kept)
            .map_err(|e| AppError::Internal(format!("query result: {e}")))?;
        // Redacted like command output: a secret a database returns is masked too.
        let json = self.redact(&json);
        let (blob, retry) = self.keep_blob(json.as_bytes(), &incident.id).await?;
        let ended = now_ms();
        let mut evidence = events::record(
            events::EVIDENCE,
            &incident.id,
            ended,
            &req.actor,
            [
                ("run", row.id.clone()),
                ("stream", "result".to_owned()),
                ("total_bytes", blob.size.to_string()),
                ("truncated", result.truncated.to_string()),
            ],
        );
        evidence.evidence = Some(Evidence {
            sha256: blob.sha256,
            size: blob.size,
            media_type: "application/json".to_owned(),
        });
        row.status = "succeeded".to_owned();
        row.ended_ms = Some(ended);
        row.stdout_sha256 = Some(blob.sha256.to_string());
        payload.push(("status", "succeeded".to_owned()));
        payload.push(("result_sha256", blob.sha256.to_string()));
        payload.push(("duration_ms", (ended - row.started_ms).to_string()));
        let rec = events::record(events::STEP_RUN, &incident.id, ended, &req.actor, payload);
        self.inner
            .store
            .commit(Change {
                writes: std::iter::once(Write::PutRun(row.clone()))
                    .chain(retry)
                    .collect(),
                events: vec![evidence, rec],
            })
            .await?;
        Ok(QueryReport {
            run: row,
            datasource: name,
            language: step.language.as_str(),
            result,
        })
    }

    /// The values a query step needs, each checked as a command's are (declared type,
    /// else the default rule for values from outside); secrets shown redacted.
    async fn query_values(
        &self,
        incident: &Incident,
        rb: &Runbook,
        step: &QueryStep,
        req: &QueryRequest,
    ) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>), AppError> {
        let values = self.values(incident, &req.set, param_defaults(rb)).await?;
        let mut bound = BTreeMap::new();
        let mut shown = BTreeMap::new();
        let mut refusals = Vec::new();
        for p in &step.placeholders {
            let Some(found) = values.lookup(&p.name) else {
                continue;
            };
            if req.mode == Mode::Automatic && found.trust == Trust::Person {
                continue;
            }
            if let Err(rule) = crate::plan::check_value(rb, &p.name, found.value, found.trust) {
                refusals.push(Refusal {
                    name: p.name.clone(),
                    source: found.source.to_owned(),
                    rule,
                });
                continue;
            }
            bound.insert(p.name.clone(), found.value.to_owned());
            let v = if is_secret_name(&p.name) {
                "[REDACTED:param]".to_owned()
            } else {
                found.value.to_owned()
            };
            shown.insert(p.name.clone(), v);
        }
        if !refusals.is_empty() {
            let recs = refusals
                .iter()
                .map(|r| {
                    events::record(
                        events::STEP_REFUSED,
                        &incident.id,
                        now_ms(),
                        &req.actor,
                        [
                            ("runbook", req.runbook.clone()),
                            ("step", step.id.clone()),
                            ("placeholder", r.name.clone()),
                            ("source", r.source.clone()),
                            ("rule", r.rule.clone()),
                            ("reason", format!("value refused: {r}")),
                        ],
                    )
                })
                .collect();
            self.seal(recs).await?;
            return Err(AppError::ValueRefused { refusals });
        }
        Ok((bound, shown))
    }

    async fn refuse_query(
        &self,
        incident: &Incident,
        path: &str,
        step: &QueryStep,
        actor: &Principal,
        reason: &str,
    ) -> Result<(), AppError> {
        let rec = events::record(
            events::STEP_REFUSED,
            &incident.id,
            now_ms(),
            actor,
            [
                ("kind", "query".to_owned()),
                ("runbook", path.to_owned()),
                ("step", step.id.clone()),
                ("risk", step.level.as_str().to_owned()),
                ("reason", reason.to_owned()),
            ],
        );
        self.seal(vec![rec]).await
    }
}

impl App {
    /// Runs the read query steps of `roles` sections of the incident's runbooks, one at a
    /// time; a query step that is not read is skipped with a `step.skipped` event, one
    /// whose values do not bind too. Each run or failure is on the timeline.
    pub(crate) async fn run_section_queries(
        &self,
        incident: &Incident,
        roles: &[sitrep_runbook::Role],
        actor: &Principal,
        mode: Mode,
    ) -> Result<(), AppError> {
        let library = self.library();
        for path in &incident.runbooks {
            let Some(entry) = library.get(path) else {
                continue;
            };
            for step in &entry.runbook.queries {
                if !step.role.is_some_and(|r| roles.contains(&r))
                    || step.attributes.exclude_from_run_all == Some(true)
                {
                    continue;
                }
                let skip = if step.level == Level::Read {
                    let found = (entry.path.clone(), entry.runbook.clone(), step.clone());
                    let req = QueryRequest {
                        incident: incident.id.clone(),
                        runbook: entry.path.clone(),
                        query: step.id.clone(),
                        actor: actor.clone(),
                        set: BTreeMap::new(),
                        mode,
                    };
                    match self.run_query_found(incident, &found, &req).await {
                        Err(AppError::Unbound { names }) => {
                            Some(format!("unbound: {}", names.join(", ")))
                        }
                        Err(AppError::Invalid { message, .. }) => Some(message),
                        // Run, failed (recorded as a step.run error) or refused (sealed).
                        _ => None,
                    }
                } else {
                    Some(format!("{} query step: needs a person", step.level))
                };
                if let Some(reason) = skip {
                    let rec = events::record(
                        events::STEP_SKIPPED,
                        &incident.id,
                        now_ms(),
                        actor,
                        [
                            ("runbook", entry.path.clone()),
                            ("step", step.id.clone()),
                            ("reason", reason),
                        ],
                    );
                    self.seal(vec![rec]).await?;
                }
            }
        }
        Ok(())
    }
}
