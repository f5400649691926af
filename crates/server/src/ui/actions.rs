//! Commander actions on the incident page: change the severity, assign a role. Each is
//! one `App` call; a refused one comes back to the page with its reason.

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sitrep_app::AccessRole as Role;

use super::{Page, enc, need, user};
use crate::ServerState;
use crate::auth::Caller;

/// The roles the page offers to assign (the API takes any name).
pub(super) const ROLES: [&str; 3] = ["commander", "communications", "scribe"];

#[derive(Deserialize)]
pub(super) struct SeverityForm {
    severity: String,
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    role: String,
    person: String,
}

/// Back to the incident page, with the reason when the app refused.
pub(super) fn back(n: &str, result: Result<(), sitrep_app::AppError>) -> Page {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/incidents/{n}")).into_response()),
        Err(e) if e.is_caller_error() => Ok(Redirect::to(&format!(
            "/incidents/{n}?flash={}",
            enc(&e.to_string())
        ))
        .into_response()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn severity(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Form(f): Form<SeverityForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Commander)?;
    let r = st.app().set_severity(&n, &f.severity, &c.principal()).await;
    st.changed();
    back(&n, r.map(|_| ()))
}

pub(super) async fn assign(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Form(f): Form<RoleForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Commander)?;
    let r = st
        .app()
        .assign(&n, f.role.trim(), f.person.trim(), &c.principal())
        .await;
    st.changed();
    back(&n, r.map(|_| ()))
}
