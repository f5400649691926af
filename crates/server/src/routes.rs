//! The route table. Routes are added through [`Routes`], which records each method and
//! path as it builds the router, so [`route_table`] is exactly what [`router`] serves
//! (the OpenAPI test compares it with `docs/openapi.yaml`).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, delete, get, post};
use tower_http::timeout::TimeoutLayer;

use crate::api::{admin, incidents, ledger, paging, queries, runbooks, runs};
use crate::{ServerState, auth, health, metrics, receivers, sse, ui};

/// A router that remembers what it routes.
struct Routes {
    router: Router<ServerState>,
    list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn new() -> Routes {
        Routes {
            router: Router::new(),
            list: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        mr: MethodRouter<ServerState>,
    ) -> Routes {
        self.router = self.router.route(path, mr);
        self.list.push((method, path));
        self
    }

    fn get<H: Handler<T, ServerState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("get", path, get(h))
    }

    fn post<H: Handler<T, ServerState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("post", path, post(h))
    }

    fn delete<H: Handler<T, ServerState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("delete", path, delete(h))
    }
}

const INCIDENT: &str = "/api/v1/incidents/{id}";

/// The JSON API (auth middleware, API body limit, request timeout).
fn api() -> Routes {
    Routes::new()
        .get("/api/v1/whoami", admin::whoami)
        .get("/api/v1/incidents", incidents::list)
        .post("/api/v1/incidents", incidents::declare)
        .get(INCIDENT, incidents::get)
        .post("/api/v1/incidents/{id}/acknowledge", incidents::acknowledge)
        .post("/api/v1/incidents/{id}/mitigate", incidents::mitigate)
        .post("/api/v1/incidents/{id}/resolve", incidents::resolve)
        .post("/api/v1/incidents/{id}/reopen", incidents::reopen)
        .post("/api/v1/incidents/{id}/severity", incidents::severity)
        .post("/api/v1/incidents/{id}/roles", incidents::assign)
        .post("/api/v1/incidents/{id}/notes", incidents::note)
        .post("/api/v1/incidents/{id}/escalate", paging::escalate)
        .post("/api/v1/incidents/{id}/page", paging::page)
        .post(
            "/api/v1/incidents/{id}/alerts/{fingerprint}/silence",
            paging::silence_alert,
        )
        .get("/api/v1/oncall", paging::on_call)
        .get("/api/v1/incidents/{id}/timeline", incidents::timeline)
        .get("/api/v1/incidents/{id}/checklist", incidents::checklist)
        .post(
            "/api/v1/incidents/{id}/checklist/{item}/tick",
            incidents::tick,
        )
        .post(
            "/api/v1/incidents/{id}/checklist/{item}/untick",
            incidents::untick,
        )
        .get("/api/v1/incidents/{id}/actions", incidents::actions)
        .post("/api/v1/incidents/{id}/actions", incidents::add_action)
        .post(
            "/api/v1/incidents/{id}/actions/{action}/done",
            incidents::complete_action,
        )
        .get("/api/v1/incidents/{id}/postmortem", incidents::postmortem)
        .post(
            "/api/v1/incidents/{id}/postmortem/{section}",
            incidents::edit_postmortem,
        )
        .get("/api/v1/incidents/{id}/evidence", incidents::evidence)
        .get("/api/v1/incidents/{id}/evidence/hold", incidents::hold)
        .post("/api/v1/incidents/{id}/evidence/hold", incidents::put_hold)
        .delete(
            "/api/v1/incidents/{id}/evidence/hold",
            incidents::release_hold,
        )
        .post("/api/v1/incidents/{id}/plan", runs::plan)
        .get("/api/v1/incidents/{id}/runs", runs::list)
        .post("/api/v1/incidents/{id}/runs", runs::run)
        .get(
            "/api/v1/incidents/{id}/runs/{run}/output/{stream}",
            runs::output,
        )
        .post("/api/v1/incidents/{id}/queries", queries::run)
        .post("/api/v1/incidents/{id}/thresholds", queries::thresholds)
        .get("/api/v1/incidents/{id}/approvals", runs::approvals)
        .post(
            "/api/v1/incidents/{id}/approvals/{approval}/approve",
            runs::approve,
        )
        .get("/api/v1/runbooks", runbooks::list)
        .get("/api/v1/runbooks/{*path}", runbooks::get)
        .get("/api/v1/ledger", ledger::status)
        .get("/api/v1/ledger/keys", ledger::keys)
        .post("/api/v1/ledger/checkpoint", ledger::checkpoint)
        .get("/api/v1/ledger/inclusion/{index}", ledger::inclusion)
        .get("/api/v1/ledger/consistency", ledger::consistency)
        .get("/api/v1/tokens", admin::tokens)
        .post("/api/v1/tokens", admin::create_token)
        .delete("/api/v1/tokens/{id}", admin::revoke_token)
        .get("/api/v1/silences", admin::silences)
        .post("/api/v1/silences", admin::add_silence)
        .delete("/api/v1/silences/{id}", admin::remove_silence)
        .post("/logout", auth::logout)
}

/// Live streams: authenticated, but no request timeout (they end at shutdown).
fn streams() -> Routes {
    Routes::new().get("/api/v1/incidents/{id}/events", sse::incident_events)
}

/// Alert receivers (their own auth, receiver body limit, request timeout).
fn alert_receivers() -> Routes {
    Routes::new()
        .post("/api/v1/alerts/alertmanager", receivers::alertmanager)
        .post("/api/v1/alerts/grafana", receivers::grafana)
        .post("/api/v1/alerts/generic", receivers::generic)
}

/// Probes, metrics and login: no auth.
fn open() -> Routes {
    Routes::new()
        .get("/healthz", health::healthz)
        .get("/readyz", health::readyz)
        .get("/startupz", health::startupz)
        .get("/metrics", metrics::metrics)
        .post("/login", auth::login)
}

/// Every `(method, path)` the router serves outside the UI, in axum's path syntax.
#[must_use]
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    [api(), streams(), alert_receivers(), open()]
        .into_iter()
        .flat_map(|r| r.list)
        .collect()
}

/// The whole application: API, streams, receivers, probes, login, and the UI at `/`.
pub fn router(state: ServerState) -> Router {
    let cfg = &state.app().config().server;
    let timeout = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, cfg.request_timeout);
    let authed = axum::middleware::from_fn_with_state(state.clone(), auth::authenticate);
    let api = api()
        .router
        .merge(ui::routes())
        .layer(authed.clone())
        .layer(DefaultBodyLimit::max(cfg.api_body_limit))
        .layer(timeout);
    let streams = streams().router.layer(authed);
    let receivers = alert_receivers()
        .router
        .layer(DefaultBodyLimit::max(cfg.receiver_body_limit))
        .layer(timeout);
    let open = open()
        .router
        .layer(DefaultBodyLimit::max(cfg.api_body_limit))
        .layer(timeout);
    let track = axum::middleware::from_fn_with_state(state.clone(), metrics::track);
    api.merge(streams)
        .merge(receivers)
        .merge(open)
        .layer(track)
        .fallback(ui::not_found)
        .layer(axum::middleware::from_fn(ui::headers::secure))
        .with_state(state)
}
