//! Alert webhooks: `POST /api/v1/alerts/{alertmanager,grafana,generic}`.
//!
//! The raw body is stored durably before anything else, so a delivery we answered 2xx
//! is never lost, even if interpreting it fails later; a body that cannot be stored is
//! answered 503 so the sender retries. Malformed payloads are 400 naming the field.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sitrep_alerts::Source;
use sitrep_app::AppError;
use sitrep_app::ingest::source_name;

use crate::ServerState;
use crate::auth::receiver_allowed;
use crate::error::{ApiError, body_bytes};

async fn receive(state: ServerState, source: Source, req: Request) -> Response {
    let name = source_name(source);
    let metrics = state.metrics();
    if let Err(e) = receiver_allowed(&state, req.headers()).await {
        metrics.alert_received(name, "unauthorized");
        return e.into_response();
    }
    let bytes = match body_bytes(req, &state).await {
        Ok(b) => b,
        Err(e) => {
            let outcome = if e.status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "malformed"
            };
            metrics.alert_received(name, outcome);
            return e.into_response();
        }
    };
    let ingestor = state.ingestor();
    let (payload_id, bytes) = match ingestor.store_raw(source, &bytes).await {
        Ok(stored) => stored,
        Err(e) => {
            metrics.alert_received(name, "unavailable");
            tracing::error!(source = name, error = %e, "cannot store an alert payload");
            return ApiError::unavailable("the payload could not be stored; retry later")
                .into_response();
        }
    };
    match ingestor.ingest(source, &payload_id, &bytes).await {
        Ok(report) => {
            metrics.alert_received(name, "accepted");
            for id in &report.opened {
                state.spawn_auto_triage(id.clone());
            }
            if report.changed > 0 {
                state.changed();
            }
            (StatusCode::ACCEPTED, Json(report)).into_response()
        }
        Err(e @ AppError::Invalid { .. }) => {
            metrics.alert_received(name, "malformed");
            ApiError::from(e)
                .with("payload_id", payload_id)
                .into_response()
        }
        Err(e) => {
            // Stored but not interpreted: the sender's retry will be ingested again
            // (ingestion is idempotent). Always 503, never 409 or 500: Alertmanager and
            // Grafana retry only on 5xx and connection errors, and a retry is wanted.
            metrics.alert_received(name, "unavailable");
            tracing::error!(source = name, payload = %payload_id, error = %e, "alert payload stored but not ingested");
            ApiError::unavailable(format!("stored but not ingested; retry: {e}"))
                .with("payload_id", payload_id)
                .into_response()
        }
    }
}

/// Alertmanager webhook v4.
pub async fn alertmanager(State(state): State<ServerState>, req: Request) -> Response {
    receive(state, Source::Alertmanager, req).await
}

/// Grafana unified alerting webhook v1.
pub async fn grafana(State(state): State<ServerState>, req: Request) -> Response {
    receive(state, Source::Grafana, req).await
}

/// sitrep's generic JSON.
pub async fn generic(State(state): State<ServerState>, req: Request) -> Response {
    receive(state, Source::Generic, req).await
}
