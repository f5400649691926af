//! Incident endpoints: list, get, declare, lifecycle actions, severity, roles, notes,
//! timeline, checklist, action items, post-mortem and evidence pack.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sitrep_app::store::{ActionItem, ChecklistItem, Event, Incident, IncidentFilter};
use sitrep_app::{IncidentView, NewIncident, listing};

use crate::ServerState;
use crate::auth::{Commander, Responder, Viewer};
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};

/// `GET /api/v1/incidents` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated statuses; `open` means every status but resolved, `all` (or
    /// none) every status.
    #[serde(default)]
    pub status: Option<String>,
    /// Only this severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// Only this service.
    #[serde(default)]
    pub service: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Lists incidents, newest first.
pub async fn list(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Incident>>> {
    // No status (or an empty one) lists every status here, unlike the UI and the CLI.
    let words: Vec<String> = q
        .status
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let statuses = if words.is_empty() {
        Vec::new()
    } else {
        listing::statuses(&words)?
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit", "between 1 and 1000"));
    }
    let filter = IncidentFilter {
        statuses,
        severity: match q.severity {
            Some(s) => Some(
                state
                    .app()
                    .scale()
                    .normalize(&s)
                    .map_err(|e| ApiError::invalid("severity", e.to_string()))?,
            ),
            None => None,
        },
        service: q.service,
        limit,
    };
    Ok(Json(state.app().incidents(&filter).await?))
}

/// One incident with its alerts, runs, checklist and action items.
pub async fn get(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentView>> {
    Ok(Json(state.app().view(&id).await?))
}

/// `POST /api/v1/incidents` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareBody {
    /// Short description.
    pub title: String,
    /// Severity (the scale's lowest when absent).
    #[serde(default)]
    pub severity: Option<String>,
    /// Service affected.
    #[serde(default)]
    pub service: Option<String>,
    /// Runbook paths to attach.
    #[serde(default)]
    pub runbooks: Vec<String>,
    /// Incident commander.
    #[serde(default)]
    pub commander: Option<String>,
}

/// Declares an incident.
pub async fn declare(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    ApiJson(body): ApiJson<DeclareBody>,
) -> ApiResult<(StatusCode, Json<Incident>)> {
    let incident = state
        .app()
        .declare(
            NewIncident {
                title: body.title,
                severity: body.severity,
                service: body.service,
                runbooks: body.runbooks,
                commander: body.commander,
                group_key: None,
            },
            &caller.principal(),
        )
        .await?;
    state.changed();
    Ok((StatusCode::CREATED, Json(incident)))
}

/// Acknowledges.
pub async fn acknowledge(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
) -> ApiResult<Json<Incident>> {
    let i = state.app().acknowledge(&id, &caller.principal()).await?;
    state.changed();
    Ok(Json(i))
}

/// Marks mitigated.
pub async fn mitigate(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
) -> ApiResult<Json<Incident>> {
    let i = state.app().mitigate(&id, &caller.principal()).await?;
    state.changed();
    Ok(Json(i))
}

/// `resolve` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// Resolve although checklist items are open, for this reason (recorded).
    #[serde(default)]
    pub force_reason: Option<String>,
}

/// Resolves (409 with the open items when the checklist does not hold).
pub async fn resolve(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> ApiResult<Json<Incident>> {
    let i = state
        .app()
        .resolve(&id, &caller.principal(), body.force_reason.as_deref())
        .await
        .map_err(|e| match e {
            sitrep_app::AppError::Invalid { field, message } if field == "reason" => {
                ApiError::invalid("force_reason", message)
            }
            other => other.into(),
        })?;
    state.changed();
    Ok(Json(i))
}

/// `reopen` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why.
    pub reason: String,
}

/// Reopens a resolved incident.
pub async fn reopen(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> ApiResult<Json<Incident>> {
    let i = state
        .app()
        .reopen(&id, &caller.principal(), &body.reason)
        .await?;
    state.changed();
    Ok(Json(i))
}

/// `severity` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityBody {
    /// The new severity.
    pub severity: String,
}

/// Changes the severity.
pub async fn severity(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SeverityBody>,
) -> ApiResult<Json<Incident>> {
    let i = state
        .app()
        .set_severity(&id, &body.severity, &caller.principal())
        .await?;
    state.changed();
    Ok(Json(i))
}

/// `roles` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// `commander`, `scribe`, `communications`, ...
    pub role: String,
    /// Who.
    pub person: String,
}

/// Assigns a role.
pub async fn assign(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<Json<Incident>> {
    let i = state
        .app()
        .assign(&id, &body.role, &body.person, &caller.principal())
        .await?;
    state.changed();
    Ok(Json(i))
}

/// `notes` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The note (redacted before it is recorded).
    pub text: String,
}

/// Adds a note.
pub async fn note(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let e = state
        .app()
        .note(&id, &body.text, &caller.principal())
        .await?;
    state.changed();
    Ok((StatusCode::CREATED, Json(e)))
}

/// `timeline` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// Only events with a ledger index above this.
    #[serde(default)]
    pub after: Option<u64>,
}

/// The timeline, oldest first.
pub async fn timeline(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> ApiResult<Json<Vec<Event>>> {
    Ok(Json(state.app().timeline(&id, q.after).await?))
}

/// The checklist.
pub async fn checklist(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ChecklistItem>>> {
    Ok(Json(state.app().view(&id).await?.checklist))
}

async fn set_item(
    state: &ServerState,
    caller: &sitrep_app::Principal,
    id: &str,
    item: &str,
    checked: bool,
) -> ApiResult<Json<ChecklistItem>> {
    let row = state.app().tick(id, item, checked, caller).await?;
    state.changed();
    Ok(Json(row))
}

/// Ticks an item (by 1-based number or a unique piece of its text).
pub async fn tick(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path((id, item)): Path<(String, String)>,
) -> ApiResult<Json<ChecklistItem>> {
    set_item(&state, &caller.principal(), &id, &item, true).await
}

/// Unticks an item.
pub async fn untick(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path((id, item)): Path<(String, String)>,
) -> ApiResult<Json<ChecklistItem>> {
    set_item(&state, &caller.principal(), &id, &item, false).await
}

/// Action items.
pub async fn actions(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ActionItem>>> {
    Ok(Json(state.app().view(&id).await?.actions))
}

/// `actions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// What to do.
    pub title: String,
    /// Who.
    #[serde(default)]
    pub owner: Option<String>,
    /// Due date, Unix milliseconds.
    #[serde(default)]
    pub due_ms: Option<i64>,
}

/// Adds an action item.
pub async fn add_action(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ActionBody>,
) -> ApiResult<(StatusCode, Json<ActionItem>)> {
    let a = state
        .app()
        .add_action(
            &id,
            &body.title,
            body.owner.as_deref(),
            body.due_ms,
            &caller.principal(),
        )
        .await?;
    state.changed();
    Ok((StatusCode::CREATED, Json(a)))
}

/// Marks an action item done (by id, unique id prefix, or 1-based number).
pub async fn complete_action(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<ActionItem>> {
    let a = state
        .app()
        .complete_action(&id, &action, &caller.principal())
        .await?;
    state.changed();
    Ok(Json(a))
}

/// The post-mortem, as Markdown.
pub async fn postmortem(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let text = state.app().postmortem(&id).await?;
    Ok(([(CONTENT_TYPE, "text/markdown; charset=utf-8")], text).into_response())
}

/// `postmortem/{section}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlankBody {
    /// The blank's new text (empty clears it; at most 8 KiB, redacted).
    pub text: String,
}

/// Writes one of the post-mortem's blanks (`impact`, `root_cause`, `went_well`,
/// `went_wrong`, `lucky`), sealed as a `postmortem.edited` event.
pub async fn edit_postmortem(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path((id, section)): Path<(String, String)>,
    ApiJson(body): ApiJson<BlankBody>,
) -> ApiResult<(StatusCode, Json<Event>)> {
    let e = state
        .app()
        .edit_postmortem(&id, &section, &body.text, &caller.principal())
        .await?;
    state.changed();
    Ok((StatusCode::CREATED, Json(e)))
}

/// The evidence pack (`.tar.gz`), sealed by an `evidence.exported` event, with proofs to
/// a checkpoint signed now.
pub async fn evidence(
    State(state): State<ServerState>,
    Viewer(caller): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let incident = state.app().incident(&id).await?;
    let mut buf = Vec::new();
    // Sealed in the ledger as an `evidence.exported` event by the caller.
    state
        .app()
        .export_evidence_as(&incident.id, &caller.principal(), &mut buf)
        .await?;
    state.changed();
    let name = format!(
        "attachment; filename=\"incident-{}.tar.gz\"",
        incident.number
    );
    Ok((
        [
            (CONTENT_TYPE, "application/gzip".to_owned()),
            (CONTENT_DISPOSITION, name),
        ],
        Body::from(buf),
    )
        .into_response())
}

/// `evidence/hold` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    /// Why (a case number, a request); recorded in the ledger.
    pub reason: String,
}

/// The legal hold on the incident's evidence; 404 when there is none.
pub async fn hold(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
) -> ApiResult<Json<sitrep_app::store::EvidenceHold>> {
    state
        .app()
        .evidence_hold(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("the incident's evidence is not held"))
}

/// Puts a legal hold on the incident's evidence: retention keeps its bytes.
pub async fn put_hold(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<HoldBody>,
) -> ApiResult<(StatusCode, Json<sitrep_app::store::EvidenceHold>)> {
    let hold = state
        .app()
        .hold_evidence(&id, &body.reason, &caller.principal())
        .await?;
    state.changed();
    Ok((StatusCode::CREATED, Json(hold)))
}

/// Releases the legal hold; retention applies again.
pub async fn release_hold(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .app()
        .release_evidence(&id, &caller.principal())
        .await?;
    state.changed();
    Ok(StatusCode::NO_CONTENT)
}
