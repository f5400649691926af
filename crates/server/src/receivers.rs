//! Alert webhooks: `POST /api/v1/alerts/{alertmanager,grafana,generic}`.
//!
//! After authentication each delivery takes a token from its receiver's and
//! credential's bucket (`ratelimit`); with none left it is answered 429 with
//! `Retry-After` before its body is read, so nothing is stored. The raw body is then
//! stored durably before it is ingested, so a delivery we answered 2xx is never lost,
//! even if interpreting it fails later; a body that cannot be stored is answered 503 so
//! the sender retries. Malformed payloads are 400 naming the field (their raw body is
//! kept for less time, and not at all when only evicting accepted ones would make room).

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sitrep_alerts::Source;
use sitrep_app::ingest::source_name;
use sitrep_app::receive::Received;

use crate::ServerState;
use crate::auth::receiver_allowed;
use crate::error::{ApiError, body_bytes};

async fn receive(state: ServerState, source: Source, req: Request) -> Response {
    let name = source_name(source);
    let metrics = state.metrics();
    let ip = crate::auth::client_addr(req.extensions());
    if let Err(e) = receiver_allowed(&state, req.headers(), ip).await {
        metrics.alert_received(name, "unauthorized");
        return e.into_response();
    }
    if let Err(wait) = state
        .receiver_limiter()
        .take(&limit_key(name, req.headers()))
    {
        metrics.alert_received(name, "rate_limited");
        return rate_limited(wait);
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
    match state.ingestor().receive(source, &bytes).await {
        Received::Accepted(report) => {
            metrics.alert_received(name, "accepted");
            for id in &report.opened {
                state.spawn_auto_triage(id.clone());
            }
            if report.changed > 0 {
                state.changed();
            }
            (StatusCode::ACCEPTED, Json(report)).into_response()
        }
        Received::Malformed { payload_id, error } => {
            metrics.alert_received(name, "malformed");
            let e = ApiError::from(error);
            match payload_id {
                Some(id) => e.with("payload_id", id),
                None => e,
            }
            .into_response()
        }
        Received::Unstored(e) => {
            metrics.alert_received(name, "unavailable");
            tracing::error!(source = name, error = %e, "cannot store an alert payload");
            ApiError::unavailable("the payload could not be stored; retry later").into_response()
        }
        Received::NotIngested { payload_id, error } => {
            // Always 503, never 409 or 500: Alertmanager and Grafana retry only on 5xx
            // and connection errors, and a retry is wanted.
            metrics.alert_received(name, "unavailable");
            tracing::error!(source = name, payload = %payload_id, error = %error, "alert payload stored but not ingested");
            ApiError::unavailable(format!("stored but not ingested; retry: {error}"))
                .with("payload_id", payload_id)
                .into_response()
        }
    }
}

/// The bucket a delivery counts against: the receiver and the credential presented
/// (hashed: buckets never hold secrets). Only called after authentication succeeded,
/// so the number of buckets is bounded by the valid credentials; the scheme is
/// lower-cased so spelling `Bearer` differently does not buy another bucket.
fn limit_key(source: &str, headers: &HeaderMap) -> String {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    format!(
        "{source} {} {}",
        scheme.to_ascii_lowercase(),
        crate::auth::token_hash(rest.trim())
    )
}

/// 429 with `Retry-After` in whole seconds.
fn rate_limited(wait_secs: u64) -> Response {
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many deliveries from this credential; retry after {wait_secs} s"),
    )
    .with("retry_after", wait_secs)
    .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait_secs));
    resp
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
