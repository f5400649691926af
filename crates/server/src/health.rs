//! Probes: `/healthz` (the process answers), `/startupz` (startup finished), `/readyz`
//! (each subsystem, required or optional; 503 when a required one fails). `/readyz`
//! reports what the server last managed to do, not only what it can reach: the
//! group-commit writer's last outcome (re-probed with an empty write while it is
//! failing), the checkpoint signer's, the blob store's.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sitrep_app::store::LedgerVerification;
use sitrep_runbook::Severity;

use crate::ServerState;

/// Longest one check may take; a hung database must not hang the probe.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One subsystem's state.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Whether it works.
    pub ok: bool,
    /// Whether readiness depends on it.
    pub required: bool,
    /// What was seen.
    pub detail: String,
}

/// The whole readiness answer.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// `ready`, `degraded` (serving, but an optional subsystem failed) or `not_ready`.
    pub status: &'static str,
    /// By subsystem: `database`, `writer`, `ledger`, `blob_store`, `runbooks`, `sandbox`.
    pub checks: std::collections::BTreeMap<&'static str, Check>,
}

fn check(ok: bool, required: bool, detail: impl Into<String>) -> Check {
    Check {
        ok,
        required,
        detail: detail.into(),
    }
}

async fn timed<T, E: std::fmt::Display>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
    }
}

/// Runs every check.
pub async fn readiness(state: &ServerState) -> Readiness {
    let app = state.app();
    let mut checks = std::collections::BTreeMap::new();
    let size = timed(app.ledger_size()).await;
    checks.insert(
        "database",
        match &size {
            Ok(n) => check(true, true, format!("reachable; {n} ledger entries")),
            Err(e) => check(false, true, e.clone()),
        },
    );
    let ledger = match (timed(app.latest_checkpoint()).await, &size) {
        (Ok(Some(cp)), Ok(n)) if cp.size <= *n => {
            check(true, true, format!("checkpoint at size {} of {n}", cp.size))
        }
        (Ok(Some(cp)), Ok(n)) => check(
            false,
            true,
            format!("checkpoint covers {} entries but the tree has {n}", cp.size),
        ),
        (Ok(None), Ok(n)) => check(true, true, format!("no checkpoint yet; {n} entries")),
        (Err(e), _) => check(false, true, e),
        (_, Err(e)) => check(false, true, e.clone()),
    };
    if app.checkpoint_error().is_some() {
        // Failing: try again now (the outcome is recorded), so a cleared fault shows.
        let _ = timed(app.probe_signer()).await;
    }
    // Events still commit while checkpoints cannot be signed, but nothing new is
    // sealed: a retired key (the log rotated under this replica) or a ledger that no
    // longer matches its checkpoint. Take the replica out until it is fixed.
    let ledger = match app.checkpoint_error() {
        Some(e) if ledger.ok => check(false, true, format!("cannot sign checkpoints: {e}")),
        _ => ledger,
    };
    let ledger = ledger_verification(app.ledger_verification(), ledger);
    checks.insert("ledger", ledger);
    checks.insert("writer", writer_check(state).await);
    let blobs = state.app().data_dir().join("blobs");
    let probe = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let path = blobs.join(".readyz-probe");
        std::fs::write(&path, b"ok").map_err(|e| format!("{}: {e}", blobs.display()))?;
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", blobs.display()))
    });
    checks.insert(
        "blob_store",
        match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
            Ok(Ok(Ok(()))) => check(
                true,
                true,
                format!(
                    "writable; {} failed blob writes since start",
                    state.app().blob_outcome().failures
                ),
            ),
            Ok(Ok(Err(e))) => check(false, true, e),
            Ok(Err(e)) => check(false, true, e.to_string()),
            Err(_) => check(false, true, "no answer in time"),
        },
    );
    let lib = state.app().library();
    let errors = lib
        .entries()
        .iter()
        .flat_map(|e| &e.diagnostics)
        .filter(|d| d.severity == Severity::Error)
        .count();
    let runbooks = match (
        state.runbook_error(),
        state.app().config().runbooks.is_some(),
    ) {
        (Some(e), _) => check(false, false, format!("last reload failed: {e}")),
        (None, false) => check(true, false, "no runbook directory configured"),
        (None, true) => check(
            lib.unreadable.is_empty(),
            false,
            format!(
                "{} runbooks, {errors} lint errors, {} unreadable files",
                lib.entries().len(),
                lib.unreadable.len()
            ),
        ),
    };
    checks.insert("runbooks", runbooks);
    checks.insert("sandbox", sandbox_check(state));
    let ready = !state.closing() && checks.values().all(|c| c.ok || !c.required);
    let degraded = checks.values().any(|c| !c.ok);
    Readiness {
        status: match (ready, degraded) {
            (false, _) => "not_ready",
            (true, true) => "degraded",
            (true, false) => "ready",
        },
        checks,
    }
}

/// The writer's last outcome. While it is a failure, an empty write (a real write
/// transaction that stores nothing) is tried, so readiness comes back as soon as writes
/// work again, without waiting for traffic; while it keeps failing the probe says why.
async fn writer_check(state: &ServerState) -> Check {
    let app = state.app();
    let last = app.writer_outcome();
    if let Some(e) = last.error {
        if let Err(probe) = timed(app.probe_writer()).await {
            return check(
                false,
                true,
                format!(
                    "writes fail: {probe} (last commit: {e}); {} failures since start",
                    last.failures
                ),
            );
        }
    }
    check(
        true,
        true,
        format!(
            "last commit succeeded; {} failures since start",
            app.writer_outcome().failures
        ),
    )
}

/// A large ledger is re-hashed in the background after open (docs/store.md). Until it
/// passes the replica serves and commits but signs nothing: `degraded` (the check is
/// not required meanwhile, so a restart does not take a healthy replica out for the
/// minutes a big ledger takes). A divergence it finds is required and failing:
/// `not_ready`, as a failing checkpoint is.
fn ledger_verification(state: LedgerVerification, ledger: Check) -> Check {
    match state {
        LedgerVerification::Failed { refusal } => check(false, true, refusal),
        LedgerVerification::Verifying {
            checked,
            size,
            last_error,
        } if ledger.ok => {
            let retry = last_error.map(|e| format!("; retrying after: {e}"));
            let detail = format!(
                "verifying the signed ledger in the background: {checked} of {size} entries \
                 re-hashed; no checkpoint is signed until it passes{}",
                retry.unwrap_or_default()
            );
            check(false, false, detail)
        }
        _ => ledger,
    }
}

/// Unattended diagnostics run under Landlock; without it they are refused (or, if the
/// config opts in, run bare). Either way the server still serves: degraded, not down.
fn sandbox_check(state: &ServerState) -> Check {
    let support = state.app().sandbox_support();
    if support.is_ready() {
        return check(
            true,
            false,
            format!("unattended runs sandboxed ({support})"),
        );
    }
    let what = if state.app().config().executor.unsandboxed_triage {
        "unattended runs run WITHOUT a sandbox (executor.unsandboxed_triage)"
    } else {
        "unattended runs are refused"
    };
    check(false, false, format!("{support}: {what}"))
}

/// `GET /healthz`: the process is up and answering.
pub async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// `GET /startupz`: 200 once the server accepts requests (the data dir is open and
/// the ledger passed its startup check, which `App::open` does before serving).
pub async fn startupz(State(state): State<ServerState>) -> Response {
    if state.started() {
        Json(serde_json::json!({ "status": "started" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "starting" })),
        )
            .into_response()
    }
}

/// `GET /readyz`: per-subsystem JSON; 503 when a required subsystem fails or the
/// server is shutting down.
pub async fn readyz(State(state): State<ServerState>) -> Response {
    let r = readiness(&state).await;
    let code = if r.status != "not_ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(r)).into_response()
}
