//! Running runbook steps from the UI: the plan dialog, the run itself, approving a
//! held run, and the page for one finished run.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use sitrep_app::store::StepRun;
use sitrep_app::{AppError, Approval, Mode, NullSink, Plan, RunRequest};
use sitrep_app::{Decision, Level};

use super::summary::RunView;
use super::{Chrome, Page, UiError, chrome, csrf_token, enc, html, need, user};
use crate::ServerState;
use crate::auth::Caller;
use sitrep_app::AccessRole as Role;

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanTpl {
    csrf: String,
    number: i64,
    plan: Plan,
    set: BTreeMap<String, String>,
    decision: String,
    runnable: bool,
}

/// The run request a query or form describes (`runbook`, `step`, `set.NAME`,
/// `confirmed`), for `incident` as `caller`. Also returns the `set` values, which the
/// plan dialog carries forward.
fn run_request(
    incident: &str,
    caller: &Caller,
    fields: &BTreeMap<String, String>,
) -> (RunRequest, BTreeMap<String, String>) {
    let set: BTreeMap<String, String> = fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("set.").map(|k| (k.to_owned(), v.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let req = RunRequest {
        incident: incident.to_owned(),
        runbook: fields.get("runbook").cloned().unwrap_or_default(),
        step: fields.get("step").cloned().unwrap_or_default(),
        actor: caller.principal(),
        set: set.clone(),
        confirmed: fields.get("confirmed").cloned(),
        approval: None,
        mode: Mode::Interactive,
    };
    (req, set)
}

pub(super) async fn plan(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Query(fields): Query<BTreeMap<String, String>>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let inc = st.app().incident(&n).await?;
    let (req, set) = run_request(&inc.id, &c, &fields);
    let plan = st.app().plan(&req).await?;
    let (decision, runnable) = match plan.decision() {
        Some(Decision::Allow) => ("Read only: runs without confirmation.".to_owned(), true),
        Some(Decision::NeedsConfirmation { .. }) if plan.risk == Level::Read => (
            "It reads only, with values you typed. Check the command above before you run it."
                .to_owned(),
            true,
        ),
        Some(Decision::NeedsConfirmation { .. }) => (
            format!(
                "This {} step changes things. Check the command above before you run it.",
                plan.risk
            ),
            true,
        ),
        Some(Decision::NeedsApproval { reason }) => (format!("Needs approval: {reason}"), false),
        Some(Decision::Deny { reason }) => (format!("Refused: {reason}"), false),
        None => (String::new(), false),
    };
    html(&PlanTpl {
        csrf: csrf_token(&c),
        number: inc.number,
        plan,
        set,
        decision,
        runnable,
    })
}

/// One finished run as the dialog and the run page show it.
pub(super) struct RunBody {
    number: i64,
    run: StepRun,
    /// The runbook's check or the exit code, and its colour.
    check: String,
    check_class: &'static str,
    stdout: String,
    stderr: String,
    duration_ms: i64,
    /// A query step's result as HTML (escaped table or SVG chart).
    result_html: Option<String>,
}

/// The run dialog's answer: the run alone.
#[derive(Template)]
#[template(path = "run.html")]
pub(super) struct RunTpl {
    pub(super) r: RunBody,
}

pub(super) async fn run(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let inc = st.app().incident(&n).await?;
    let (req, _) = run_request(&inc.id, &c, &fields);
    let report = match st.app().run_step(&req, std::sync::Arc::new(NullSink)).await {
        Ok(r) => r,
        Err(AppError::NeedsApproval {
            reason,
            approval: Some(a),
        }) => {
            st.changed();
            return html(&ApprovalNeededTpl {
                number: inc.number,
                reason,
                a: *a,
            });
        }
        Err(e) => return Err(e.into()),
    };
    html(&RunTpl {
        r: run_view(&st, inc.number, report.run).await?,
    })
}

#[derive(Template)]
#[template(path = "approval_needed.html")]
struct ApprovalNeededTpl {
    number: i64,
    reason: String,
    a: Approval,
}

/// A commander (not the requester) approves a held run; back to the incident page.
pub(super) async fn approve(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path((n, id)): Path<(String, String)>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Commander)?;
    match st.app().approve(&n, &id, &c.principal()).await {
        Ok(_) => {
            st.changed();
            Ok(Redirect::to(&format!("/incidents/{n}")).into_response())
        }
        Err(e) if e.is_caller_error() => Ok(Redirect::to(&format!(
            "/incidents/{n}?flash={}",
            enc(&e.to_string())
        ))
        .into_response()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn run_view(
    st: &ServerState,
    number: i64,
    run: StepRun,
) -> Result<RunBody, UiError> {
    // Output captured on another replica comes from the shared bucket.
    async fn read(st: &ServerState, h: Option<&str>) -> String {
        match h.and_then(|h| sitrep_ledger::Hash::from_hex(h).ok()) {
            Some(h) => st
                .app()
                .blob(&h)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            None => String::new(),
        }
    }
    let duration_ms = run.ended_ms.map_or(0, |e| e - run.started_ms);
    let stdout = read(st, run.stdout_sha256.as_deref()).await;
    let stderr = read(st, run.stderr_sha256.as_deref()).await;
    let v = RunView::new(run);
    let result_html = super::query_view::render(&stdout);
    Ok(RunBody {
        number,
        result_html,
        stdout,
        stderr,
        duration_ms,
        check: v.check,
        check_class: v.check_class,
        run: v.run,
    })
}

#[derive(Template)]
#[template(path = "run_page.html")]
struct RunPageTpl {
    chrome: Chrome,
    r: RunBody,
}

pub(super) async fn run_page(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(id): Path<String>,
) -> Page {
    let c = user(c)?;
    let run = st.app().run(&id).await?;
    let inc = st.app().incident(&run.incident_id).await?;
    html(&RunPageTpl {
        chrome: chrome(&c),
        r: run_view(&st, inc.number, run).await?,
    })
}
