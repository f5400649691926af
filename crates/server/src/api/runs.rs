//! Step runs over HTTP: plan (dry run), run with confirmation, and approvals.
//!
//! The confirmation flow: `POST .../plan` shows the exact `display` text, the plan `id`
//! and the gate's decision; `POST .../runs` without `confirmed` answers 428 with the
//! display, the plan id and the reasons; the same request with `confirmed` set to that
//! plan id runs exactly that plan. If anything that decides what runs changed in
//! between (a value, its source, the step), the plan id differs and it is 428 again.
//!
//! Approvals (when policy asks for a second person): a run that needs one answers 403
//! `approval_needed` with a pending approval `{id, ...}`. A different caller with role
//! commander or above POSTs `.../approvals/{approval}/approve`; the requester then
//! repeats the run with `"approval": "<id>"`. An approval is for one exact run (same
//! step, values and display, same requester), expires after 30 minutes and is used up
//! by the run.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sitrep_app::store::StepRun;
use sitrep_app::{AppError, Approval, Mode, Plan, RunRequest};

use crate::ServerState;
use crate::auth::{Caller, Commander, Responder, Viewer};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::live::LiveSink;

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
    /// The plan id (`id` of the plan, `plan` of a 428 answer), confirming exactly that
    /// run of a write, unknown or destructive step, or of one with `set` values.
    #[serde(default)]
    pub confirmed: Option<String>,
    /// A granted approval's id.
    #[serde(default)]
    pub approval: Option<String>,
}

fn request(incident: &str, body: &RunBody, caller: &Caller) -> RunRequest {
    RunRequest {
        incident: incident.to_owned(),
        runbook: body.runbook.clone(),
        step: body.step.clone(),
        actor: caller.principal(),
        set: body.set.clone(),
        confirmed: body.confirmed.clone(),
        approval: body.approval.clone(),
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
    let req = request(&id, &body, &caller);
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
    let req = request(&incident.id, &body, &caller);
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
        Ok(report) => Ok(Json(report).into_response()),
        Err(e) => {
            if matches!(e, AppError::Denied { .. } | AppError::NeedsApproval { .. }) {
                // A refusal or an approval request is on the timeline now.
                state.changed();
            }
            Err(e.into())
        }
    }
}

/// Open approvals of an incident (pending or granted, not yet used or expired).
pub async fn approvals(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Approval>>> {
    Ok(Json(state.app().approvals(&id).await?))
}

/// Approves a pending run (a commander who is not the requester).
pub async fn approve(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path((id, approval)): Path<(String, String)>,
) -> ApiResult<Json<Approval>> {
    let a = state
        .app()
        .approve(&id, &approval, &caller.principal())
        .await?;
    tracing::info!(approval = %approval, approver = %caller.name, "run approved");
    state.changed();
    Ok(Json(a))
}

/// A run's captured output (redacted, capped), `stream` = `stdout` or `stderr`, as text.
pub async fn output(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path((id, run, stream)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let row = state.app().run_of(&id, &run).await?;
    let sha = match stream.as_str() {
        "stdout" => row.stdout_sha256,
        "stderr" => row.stderr_sha256,
        _ => return Err(ApiError::invalid("stream", "stdout or stderr")),
    }
    .ok_or_else(|| ApiError::not_found("no output was captured (the run has not finished)"))?;
    let hash = sitrep_ledger::Hash::from_hex(&sha).map_err(|e| ApiError::internal(&e))?;
    // Local, else from the shared bucket (output captured on another replica).
    let bytes = state.app().blob(&hash).await.map_err(|e| match e {
        // Retention may have deleted the bytes; the hash stays in the ledger.
        AppError::Blob(sitrep_app::evidence::BlobError::NotFound(_)) => ApiError::new(
            StatusCode::GONE,
            "gone",
            "the output was deleted by retention",
        ),
        other => ApiError::from(other),
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
