//! Step runs over HTTP: plan (dry run), run with confirmation, and approvals.
//!
//! The confirmation flow: `POST .../plan` shows the exact `display` text and the gate's
//! decision; `POST .../runs` without `confirmed` answers 428 with the display and the
//! reasons; the same request with `confirmed` set to that exact text runs the step.
//!
//! Approvals (when policy asks for a second person): a run that needs one answers 403
//! `approval_needed` with a pending approval `{id, ...}`. A different caller with role
//! commander or above POSTs `.../approvals/{approval}/approve`; the requester then
//! repeats the run with `"approval": "<id>"`. An approval is for one exact run (same
//! step, values and display, same requester), expires after 30 minutes and is used up
//! by the run.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sitrep_app::{AppError, Mode, Plan, RunRequest};
use sitrep_store::StepRun;

use crate::ServerState;
use crate::auth::{Commander, Responder, Viewer};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::live::LiveSink;

/// How long a pending approval stays valid.
const APPROVAL_TTL: Duration = Duration::from_secs(30 * 60);
/// Most pending approvals kept.
const MAX_APPROVALS: usize = 1000;

/// A run waiting for a second person.
#[derive(Debug, Clone, Serialize)]
pub struct PendingApproval {
    /// Its id, to approve and to name in the run request.
    pub id: String,
    /// Incident id.
    pub incident_id: String,
    /// Runbook path.
    pub runbook: String,
    /// Step id.
    pub step: String,
    /// The values given.
    pub set: BTreeMap<String, String>,
    /// The exact command (as confirmed).
    pub display: String,
    /// Why an approval is needed.
    pub reason: String,
    /// Who asked to run it.
    pub requested_by: String,
    /// Who approved so far.
    pub approvers: Vec<String>,
    /// Unix ms when it was requested.
    pub requested_ms: i64,
    #[serde(skip)]
    expires: Option<Instant>,
}

/// Pending approvals, in memory (a restart asks again, the safe direction).
#[derive(Default)]
pub struct Approvals {
    map: Mutex<HashMap<String, PendingApproval>>,
}

impl Approvals {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingApproval>> {
        let mut m = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        m.retain(|_, a| a.expires.is_none_or(|e| e > now));
        m
    }

    /// Pending approvals of an incident.
    #[must_use]
    pub fn for_incident(&self, incident_id: &str) -> Vec<PendingApproval> {
        let mut v: Vec<_> = self
            .lock()
            .values()
            .filter(|a| a.incident_id == incident_id)
            .cloned()
            .collect();
        v.sort_by_key(|a| a.requested_ms);
        v
    }

    fn find_or_add(&self, p: PendingApproval) -> PendingApproval {
        let mut m = self.lock();
        if let Some(existing) = m.values().find(|a| {
            a.incident_id == p.incident_id
                && a.runbook == p.runbook
                && a.step == p.step
                && a.set == p.set
                && a.display == p.display
                && a.requested_by == p.requested_by
        }) {
            return existing.clone();
        }
        if m.len() >= MAX_APPROVALS {
            if let Some(oldest) = m
                .values()
                .min_by_key(|a| a.requested_ms)
                .map(|a| a.id.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(p.id.clone(), p.clone());
        p
    }
}

/// `plan` and `runs` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// Runbook path.
    pub runbook: String,
    /// Step id or 1-based number.
    pub step: String,
    /// Placeholder values; they win over alert and incident values.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// The exact `display` text of the plan, confirming a write or destructive step.
    #[serde(default)]
    pub confirmed: Option<String>,
    /// A granted approval's id.
    #[serde(default)]
    pub approval: Option<String>,
}

fn request(incident: &str, body: &RunBody, actor: &str, approvals: Vec<String>) -> RunRequest {
    RunRequest {
        incident: incident.to_owned(),
        runbook: body.runbook.clone(),
        step: body.step.clone(),
        actor: actor.to_owned(),
        set: body.set.clone(),
        confirmed: body.confirmed.clone(),
        approvals,
        mode: Mode::Interactive,
    }
}

/// Binds and gates a step without running it.
pub async fn plan(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RunBody>,
) -> ApiResult<Json<Plan>> {
    let req = request(&id, &body, &caller.name, Vec::new());
    Ok(Json(state.app().plan(&req).await?))
}

/// The incident's runs, oldest first.
pub async fn list(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<StepRun>>> {
    Ok(Json(state.app().view(&id).await?.runs))
}

/// Runs a step. 200 with the report when it ends within half the request timeout, 202
/// `{"status":"running"}` when it runs longer (the result lands on the timeline).
pub async fn run(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RunBody>,
) -> ApiResult<Response> {
    let incident = state.app().incident(&id).await?;
    let mut approvers = Vec::new();
    if let Some(aid) = &body.approval {
        let all = state.approvals().lock();
        let a = all.get(aid).ok_or_else(|| {
            ApiError::invalid("approval", "no such pending approval (expired or used)")
        })?;
        let same = a.incident_id == incident.id
            && a.runbook == body.runbook
            && a.step == body.step
            && a.set == body.set
            && Some(&a.display) == body.confirmed.as_ref()
            && a.requested_by == caller.name;
        if !same {
            return Err(ApiError::invalid(
                "approval",
                "the approval is for another run (step, values, command or requester differ)",
            ));
        }
        approvers.clone_from(&a.approvers);
    }
    let req = request(&incident.id, &body, &caller.name, approvers);
    let app = state.app().clone();
    let sink = Arc::new(LiveSink::for_incident(state.clone(), incident.id.clone()));
    let task_req = req.clone();
    let task_state = state.clone();
    // The run continues in its own task if the client goes away or we stop waiting.
    let handle = tokio::spawn(async move {
        let res = app.run_step(&task_req, sink).await;
        if let Ok(r) = &res {
            task_state.metrics().step_run(&r.run.risk, &r.run.status);
        }
        task_state.changed();
        res
    });
    let wait = state.app().config().server.request_timeout / 2;
    let joined = match tokio::time::timeout(wait, handle).await {
        Ok(j) => j.map_err(|e| ApiError::internal(&e))?,
        Err(_) => {
            return Ok((
                StatusCode::ACCEPTED,
                Json(serde_json::json!({
                    "status": "running",
                    "incident": incident.id,
                    "runbook": body.runbook,
                    "step": body.step,
                })),
            )
                .into_response());
        }
    };
    match joined {
        Ok(report) => {
            if let Some(aid) = &body.approval {
                state.approvals().lock().remove(aid);
            }
            Ok(Json(report).into_response())
        }
        Err(AppError::NeedsApproval { reason }) => {
            let pending = state.approvals().find_or_add(PendingApproval {
                id: uuid::Uuid::now_v7().to_string(),
                incident_id: incident.id.clone(),
                runbook: body.runbook.clone(),
                step: body.step.clone(),
                set: body.set.clone(),
                display: body.confirmed.clone().unwrap_or_default(),
                reason: reason.clone(),
                requested_by: caller.name.clone(),
                approvers: Vec::new(),
                requested_ms: sitrep_app::now_ms(),
                expires: Some(Instant::now() + APPROVAL_TTL),
            });
            let value = serde_json::to_value(&pending).unwrap_or_default();
            Err(ApiError::from(AppError::NeedsApproval { reason }).with("approval", value))
        }
        Err(e) => {
            if matches!(e, AppError::Denied { .. }) {
                state.changed();
            }
            Err(e.into())
        }
    }
}

/// Pending approvals of an incident.
pub async fn approvals(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<PendingApproval>>> {
    let incident = state.app().incident(&id).await?;
    Ok(Json(state.approvals().for_incident(&incident.id)))
}

/// Approves a pending run (a commander who is not the requester).
pub async fn approve(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path((id, approval)): Path<(String, String)>,
) -> ApiResult<Json<PendingApproval>> {
    let incident = state.app().incident(&id).await?;
    let mut all = state.approvals().lock();
    let a = all
        .get_mut(&approval)
        .filter(|a| a.incident_id == incident.id)
        .ok_or_else(|| ApiError::not_found(format!("approval {approval} not found")))?;
    if a.requested_by == caller.name {
        return Err(ApiError::forbidden(
            "self_approval",
            "the person who asked for a run cannot approve it",
        ));
    }
    if !a.approvers.contains(&caller.name) {
        a.approvers.push(caller.name.clone());
    }
    tracing::info!(approval = %approval, approver = %caller.name, "run approved");
    Ok(Json(a.clone()))
}

/// A run's captured output (redacted, capped), `stream` = `stdout` or `stderr`, as text.
pub async fn output(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path((id, run, stream)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let incident = state.app().incident(&id).await?;
    let row = state
        .app()
        .store()
        .run(&run)
        .await?
        .filter(|r| r.incident_id == incident.id)
        .ok_or_else(|| ApiError::not_found(format!("run {run} not found in this incident")))?;
    let sha = match stream.as_str() {
        "stdout" => row.stdout_sha256,
        "stderr" => row.stderr_sha256,
        _ => return Err(ApiError::invalid("stream", "stdout or stderr")),
    }
    .ok_or_else(|| ApiError::not_found("no output was captured (the run has not finished)"))?;
    let hash = sitrep_ledger::Hash::from_hex(&sha).map_err(|e| ApiError::internal(&e))?;
    let blobs = state.app().blobs().clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&hash))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| match e {
            // Retention may have deleted the bytes; the hash stays in the ledger.
            sitrep_evidence::BlobError::NotFound(_) => ApiError::new(
                StatusCode::GONE,
                "gone",
                "the output was deleted by retention",
            ),
            other => ApiError::internal(&other),
        })?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        bytes,
    )
        .into_response())
}
