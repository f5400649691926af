//! Paging by hand and on call: escalate an incident now, page a person now (responder),
//! silence one of its alerts (commander), and who is on call in each rotation (viewer).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sitrep_alerts::Silence;
use sitrep_app::oncall::{Paged, RotationNow};

use crate::ServerState;
use crate::auth::{Commander, Responder, Viewer};
use crate::error::{ApiJson, ApiResult};

/// Pages the next level of the incident's escalation policy now.
pub async fn escalate(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Paged>)> {
    let p = state.app().escalate_now(&id, &caller.principal()).await?;
    state.changed();
    Ok((StatusCode::ACCEPTED, Json(p)))
}

/// `page` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageBody {
    /// A person id of the escalation config.
    pub person: String,
}

/// Pages one person now, adding them as a responder.
pub async fn page(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PageBody>,
) -> ApiResult<(StatusCode, Json<Paged>)> {
    let p = state
        .app()
        .page_person(&id, &body.person, &caller.principal())
        .await?;
    state.changed();
    Ok((StatusCode::ACCEPTED, Json(p)))
}

/// `silence` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceBody {
    /// How long, `30m` to `14d`.
    pub duration: String,
    /// Why (at most 1 KiB).
    #[serde(default)]
    pub comment: String,
}

/// Silences one of the incident's alerts: every label of it, for a while.
pub async fn silence_alert(
    State(state): State<ServerState>,
    Commander(caller): Commander,
    Path((id, fingerprint)): Path<(String, String)>,
    ApiJson(body): ApiJson<SilenceBody>,
) -> ApiResult<(StatusCode, Json<Silence>)> {
    let s = state
        .ingestor()
        .silence_alert(
            &id,
            &fingerprint,
            &body.duration,
            &body.comment,
            &caller.principal(),
        )
        .await?;
    state.changed();
    Ok((StatusCode::CREATED, Json(s)))
}

/// Who is on call now in each rotation, the next hand-offs and overrides.
pub async fn on_call(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
) -> Json<Vec<RotationNow>> {
    Json(state.app().on_call_now(sitrep_app::now_ms()))
}
