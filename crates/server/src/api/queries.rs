//! Query steps and threshold checks over HTTP: `POST .../queries` runs a fenced `promql`,
//! `logql` or `sql` step and answers the stored run with its result (a table or series);
//! `POST .../thresholds` evaluates the incident's thresholds rows (sealed).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use sitrep_app::thresholds::ThresholdCheck;
use sitrep_app::{Mode, QueryReport, QueryRequest};

use crate::ServerState;
use crate::auth::Responder;
use crate::error::{ApiJson, ApiResult};

/// `queries` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    /// Runbook path.
    pub runbook: String,
    /// Query step id or 1-based number among the runbook's query steps.
    pub query: String,
    /// Placeholder values; they win over alert and incident values.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}

/// Runs a query step (read only; anything else is 403 `denied`).
pub async fn run(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<QueryBody>,
) -> ApiResult<Json<QueryReport>> {
    let req = QueryRequest {
        incident: id,
        runbook: body.runbook,
        query: body.query,
        actor: caller.principal(),
        set: body.set,
        mode: Mode::Interactive,
    };
    let res = state.app().run_query(&req).await;
    // A run, a failure or a refusal is on the timeline either way.
    state.changed();
    Ok(Json(res?))
}

/// Evaluates the incident's thresholds rows against Prometheus.
pub async fn thresholds(
    State(state): State<ServerState>,
    Responder(caller): Responder,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ThresholdCheck>>> {
    let checks = state
        .app()
        .check_thresholds(&id, &caller.principal())
        .await?;
    state.changed();
    Ok(Json(checks))
}
