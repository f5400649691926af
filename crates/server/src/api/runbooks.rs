//! Runbook endpoints: the library with lint counts, one runbook with its model and
//! diagnostics.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use sitrep_runbook::{Diagnostic, Runbook, Severity};

use crate::ServerState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// One runbook in the list.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Path in the runbook directory.
    pub path: String,
    /// Its title.
    pub title: Option<String>,
    /// Front-matter service.
    pub service: Option<String>,
    /// Alerts it handles.
    pub alerts: Vec<String>,
    /// Front-matter severity.
    pub severity: Option<String>,
    /// Number of steps.
    pub steps: usize,
    /// Lint errors.
    pub errors: usize,
    /// Lint warnings.
    pub warnings: usize,
}

/// The list answer.
#[derive(Debug, Serialize)]
pub struct List {
    /// Runbooks, in path order.
    pub runbooks: Vec<Summary>,
    /// Files that could not be read, with why.
    pub unreadable: Vec<(String, String)>,
}

fn count(d: &[Diagnostic], s: Severity) -> usize {
    d.iter().filter(|x| x.severity == s).count()
}

/// Every runbook.
pub async fn list(State(state): State<ServerState>, Viewer(_): Viewer) -> Json<List> {
    let lib = state.app().library();
    let runbooks = lib
        .entries()
        .iter()
        .map(|e| {
            let fm = e.runbook.front_matter.as_ref();
            Summary {
                path: e.path.clone(),
                title: e.runbook.title.clone(),
                service: fm.and_then(|f| f.service.clone()),
                alerts: fm.map(|f| f.alerts.clone()).unwrap_or_default(),
                severity: fm.and_then(|f| f.severity.clone()),
                steps: e.runbook.steps.len(),
                errors: count(&e.diagnostics, Severity::Error),
                warnings: count(&e.diagnostics, Severity::Warning),
            }
        })
        .collect();
    Json(List {
        runbooks,
        unreadable: lib.unreadable.clone(),
    })
}

/// One runbook.
#[derive(Debug, Serialize)]
pub struct Detail {
    /// Path in the runbook directory.
    pub path: String,
    /// The parsed model (steps with risk, sections, tables, checklist...).
    pub runbook: Runbook,
    /// Import and lint diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

/// One runbook by path (or file name).
pub async fn get(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(path): Path<String>,
) -> ApiResult<Json<Detail>> {
    let lib = state.app().library();
    let e = lib
        .get(&path)
        .ok_or_else(|| ApiError::not_found(format!("runbook {path} not found")))?;
    Ok(Json(Detail {
        path: e.path.clone(),
        runbook: e.runbook.clone(),
        diagnostics: e.diagnostics.clone(),
    }))
}
