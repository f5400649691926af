//! The web UI: server-rendered pages (askama) with htmx for the live parts, vendored and
//! embedded in the binary (no CDN). Every page works with the keyboard and on a phone;
//! mutating forms carry the session's CSRF token, checked by `auth` like any API call.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sitrep_app::lifecycle::Status;
use sitrep_app::store::{IncidentFilter, StepRun};
use sitrep_app::{AppError, Approval, NewIncident};

use crate::ServerState;
use crate::auth::Caller;
use sitrep_app::AccessRole as Role;

pub mod headers;
mod login;
mod pages;
mod runs;

/// The UI's routes, merged at `/` by the server's router.
pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/incidents") }))
        .route(
            "/assets/htmx.min.js",
            get(|| asset(HTMX, "text/javascript; charset=utf-8")),
        )
        .route(
            "/assets/sitrep.js",
            get(|| asset(JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/assets/sitrep.css",
            get(|| asset(CSS, "text/css; charset=utf-8")),
        )
        .route("/login", get(login::page))
        .route("/incidents", get(incidents).post(declare))
        .route("/incidents/{n}", get(incident))
        .route("/incidents/{n}/timeline", get(timeline_fragment))
        .route("/incidents/{n}/plan", get(runs::plan))
        .route("/incidents/{n}/run", post(runs::run))
        .route("/incidents/{n}/checklist/{item}", post(tick))
        .route("/incidents/{n}/note", post(note))
        .route("/incidents/{n}/actions", post(add_action))
        .route("/incidents/{n}/approvals/{id}/approve", post(runs::approve))
        .route("/incidents/{n}/{action}", post(lifecycle))
        .route("/incidents/{n}/postmortem", get(pages::postmortem_page))
        .route("/incidents/{n}/postmortem.md", get(pages::postmortem_md))
        .route("/runs/{id}", get(runs::run_page))
        .route("/runbooks", get(pages::runbooks))
        .route("/runbooks/{*path}", get(pages::runbook))
        .route("/ledger", get(pages::ledger))
        .route("/ack/{token}", get(ack_page).post(ack_link))
        .layer(axum::middleware::from_fn(login::keep_next))
}

#[derive(Template)]
#[template(path = "ack.html")]
struct AckTpl {
    chrome: Chrome,
    token: String,
    message: String,
}

/// An acknowledge link from a page opens this; a GET never changes anything, because
/// mail and chat clients fetch links to preview them.
async fn ack_page(Path(token): Path<String>) -> Page {
    html(&AckTpl {
        chrome: Chrome::default(),
        token,
        message: String::new(),
    })
}

/// The button on that page: the signed, expiring token is the authorisation.
async fn ack_link(State(st): State<ServerState>, Path(token): Path<String>) -> Page {
    let message = match st
        .app()
        .acknowledge_by_link(&token, sitrep_app::now_ms())
        .await
    {
        Ok(inc) => {
            st.changed();
            format!("Incident #{} acknowledged. Escalation stopped.", inc.number)
        }
        Err(AppError::Transition(e)) => format!("Nothing to do: {e}."),
        Err(e) if e.is_caller_error() => {
            return Err(UiError::Forbidden(format!("This link does not work: {e}")));
        }
        Err(e) => return Err(e.into()),
    };
    html(&AckTpl {
        chrome: Chrome::default(),
        token: String::new(),
        message,
    })
}

const HTMX: &str = include_str!("../../assets/htmx.min.js");
const JS: &str = include_str!("../../assets/sitrep.js");
const CSS: &str = include_str!("../../assets/sitrep.css");

async fn asset(body: &'static str, ty: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(ty)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// A page's failure: log in again, or show the message.
enum UiError {
    Login,
    Forbidden(String),
    App(AppError),
    Render(askama::Error),
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        UiError::App(e)
    }
}
impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::Render(e)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            UiError::Login => {
                // `login::keep_next` adds the page asked for as `next`.
                let mut r = Redirect::to("/login").into_response();
                r.extensions_mut().insert(login::NeedsLogin);
                return r;
            }
            UiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            // The API's mapping, so a page and the API agree on what a failure is; the
            // page shows the message (internal details stay in the log).
            UiError::App(e) => {
                let api = crate::error::ApiError::from(e);
                (api.status, api.message)
            }
            UiError::Render(e) => {
                tracing::error!(error = %e, "template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be rendered".into(),
                )
            }
        };
        error_page(status, message)
    }
}

/// A styled error page: what went wrong in a sentence, and the ways on.
fn error_page(status: StatusCode, message: String) -> Response {
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        s if s.is_client_error() => "That did not work",
        _ => "Something went wrong",
    };
    let body = ErrorTpl {
        chrome: Chrome::default(),
        heading,
        status: status.as_u16(),
        message,
    }
    .render()
    .unwrap_or_else(|_| "error".to_owned());
    (status, Html(body)).into_response()
}

/// The server's answer for a path nothing serves: a page for a browser, the API's
/// JSON error for everything else.
pub async fn not_found(headers: HeaderMap) -> Response {
    let html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if html {
        error_page(StatusCode::NOT_FOUND, "There is no page here.".into())
    } else {
        crate::ApiError::not_found("no such route").into_response()
    }
}

type Page = Result<Response, UiError>;

fn user(c: Option<Caller>) -> Result<Caller, UiError> {
    c.ok_or(UiError::Login)
}

/// What every full page shows in its header: who is logged in, and the CSRF token its
/// forms carry.
#[derive(Debug, Clone, Default)]
struct Chrome {
    user: String,
    role: String,
    csrf: String,
}

fn chrome(c: &Caller) -> Chrome {
    Chrome {
        user: c.name.clone(),
        role: c.role.to_string(),
        csrf: csrf_token(c),
    }
}

fn csrf_token(c: &Caller) -> String {
    crate::auth::csrf_token(c).unwrap_or_default().to_owned()
}

fn need(c: &Caller, role: Role) -> Result<(), UiError> {
    if c.role >= role {
        Ok(())
    } else {
        Err(UiError::Forbidden(format!(
            "this needs the {role} role; {} is {}",
            c.name, c.role
        )))
    }
}

fn html(t: &impl Template) -> Page {
    Ok(Html(t.render()?).into_response())
}

fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTpl {
    chrome: Chrome,
    heading: &'static str,
    status: u16,
    message: String,
}

struct Row {
    number: i64,
    severity: String,
    status: String,
    title: String,
    service: Option<String>,
    created: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsTpl {
    chrome: Chrome,
    incidents: Vec<Row>,
    statuses: Vec<String>,
    severities: Vec<String>,
    runbooks: Vec<String>,
    status: String,
    severity: String,
    service: String,
    can_declare: bool,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    service: String,
}

async fn incidents(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Query(q): Query<ListQuery>,
) -> Page {
    let c = user(c)?;
    let status = if q.status.is_empty() {
        "open".to_owned()
    } else {
        q.status.clone()
    };
    let statuses = match status.as_str() {
        "open" => Status::names(&Status::OPEN),
        "all" => Vec::new(),
        s => vec![s.to_owned()],
    };
    let filter = IncidentFilter {
        statuses,
        severity: (!q.severity.is_empty()).then(|| q.severity.clone()),
        service: (!q.service.trim().is_empty()).then(|| q.service.trim().to_owned()),
        limit: 200,
    };
    let rows = st.app().incidents(&filter).await?;
    let lib = st.app().library();
    html(&IncidentsTpl {
        chrome: chrome(&c),
        incidents: rows
            .into_iter()
            .map(|i| Row {
                number: i.number,
                severity: i.severity,
                status: i.status,
                title: i.title,
                service: i.service,
                created: utc(i.created_ms),
            })
            .collect(),
        statuses: Status::names(&Status::ALL),
        severities: st.app().scale().names().map(str::to_owned).collect(),
        runbooks: lib.entries().iter().map(|e| e.path.clone()).collect(),
        status,
        severity: q.severity,
        service: q.service,
        can_declare: c.role >= Role::Responder,
    })
}

#[derive(Deserialize)]
struct DeclareForm {
    title: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    runbook: String,
}

async fn declare(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Form(f): Form<DeclareForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let inc = st
        .app()
        .declare(
            NewIncident {
                title: f.title,
                severity: (!f.severity.is_empty()).then_some(f.severity),
                service: (!f.service.trim().is_empty()).then(|| f.service.trim().to_owned()),
                runbooks: if f.runbook.is_empty() {
                    Vec::new()
                } else {
                    vec![f.runbook]
                },
                commander: None,
                group_key: None,
            },
            &c.name,
        )
        .await?;
    Ok(Redirect::to(&format!("/incidents/{}", inc.number)).into_response())
}

struct StepView {
    runbook: String,
    runbook_q: String,
    id: String,
    id_q: String,
    dom_id: String,
    title: String,
    role: String,
    risk: String,
    script: String,
}

struct AlertView {
    status: String,
    name: String,
    labels: String,
}

/// An open approval on the incident page, and whether the viewer may grant it.
struct ApprovalView {
    a: Approval,
    granted: bool,
    can_approve: bool,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentTpl {
    chrome: Chrome,
    inc: sitrep_app::store::Incident,
    steps: Vec<StepView>,
    runs: Vec<StepRun>,
    alerts: Vec<AlertView>,
    actions: Vec<sitrep_app::store::ActionItem>,
    approvals: Vec<ApprovalView>,
    /// A legal hold or retention, said next to the evidence download.
    evidence_note: String,
    open_items: usize,
    checklist_html: String,
    timeline_html: String,
    /// The newest ledger index on the page: the live stream starts after it.
    last_index: u64,
    flash: String,
    /// Acknowledge, run, tick, note (responder and up).
    can_respond: bool,
    /// Resolve, reopen (commander and up).
    can_command: bool,
}

#[derive(Deserialize, Default)]
struct FlashQuery {
    #[serde(default)]
    flash: String,
}

/// `s` percent-encoded for a query-string value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl StepView {
    /// The views of a runbook's steps. A step with nothing to name it but its section
    /// heading shares that title with its neighbours; those get their first command
    /// added, so the buttons say which is which.
    fn all(path: &str, steps: &[sitrep_runbook::Step]) -> Vec<StepView> {
        let mut views: Vec<StepView> = steps.iter().map(|s| StepView::new(path, s)).collect();
        let mut count: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for v in &views {
            *count.entry(v.title.clone()).or_default() += 1;
        }
        for v in &mut views {
            if count.get(&v.title).copied().unwrap_or(0) < 2 {
                continue;
            }
            let first = v
                .script
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'));
            if let Some(line) = first {
                let cut: String = line.chars().take(60).collect();
                let more = if cut.len() < line.len() { "…" } else { "" };
                v.title = format!("{}: {cut}{more}", v.title);
            }
        }
        views
    }

    fn new(path: &str, s: &sitrep_runbook::Step) -> StepView {
        StepView {
            runbook: path.to_owned(),
            runbook_q: enc(path),
            id: s.id.clone(),
            id_q: enc(&s.id),
            dom_id: s
                .id
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
                .collect(),
            title: s.title.clone(),
            role: s.role.map_or(String::new(), |r| r.as_str().to_owned()),
            risk: s.risk.level.as_str().to_owned(),
            script: s.script.clone(),
        }
    }
}

async fn incident(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Query(q): Query<FlashQuery>,
) -> Page {
    let c = user(c)?;
    let view = st.app().view(&n).await?;
    let lib = st.app().library();
    let mut steps = Vec::new();
    for path in &view.incident.runbooks {
        let Some(e) = lib.get(path) else { continue };
        steps.extend(StepView::all(&e.path, &e.runbook.steps));
    }
    let open_items = view
        .checklist
        .iter()
        .filter(|i| i.required && !i.checked)
        .count();
    let checklist_html = ChecklistTpl {
        number: view.incident.number,
        items: view.checklist.clone(),
        can_tick: c.role >= Role::Responder && view.incident.status != "resolved",
    }
    .render()?;
    let (timeline_html, last_index) = timeline_html(&st, &view.incident.id).await?;
    let approvals = st
        .app()
        .approvals(&view.incident.id)
        .await?
        .into_iter()
        .map(|a| ApprovalView {
            granted: a.is_granted(),
            can_approve: c.role >= Role::Commander
                && a.requested_by != c.name
                && !a.approvers.contains(&c.name),
            a,
        })
        .collect();
    let evidence_note = match st.app().evidence_hold(&view.incident.id).await? {
        Some(h) => format!("Evidence under legal hold ({}, by {})", h.reason, h.held_by),
        None if st
            .app()
            .store()
            .evidence_expired(&view.incident.id)
            .await
            .map_err(AppError::from)? =>
        {
            "Output deleted by retention; the records remain and verify".to_owned()
        }
        None => String::new(),
    };
    html(&IncidentTpl {
        chrome: chrome(&c),
        alerts: view
            .alerts
            .iter()
            .map(|a| AlertView {
                status: a.status.clone(),
                name: a.labels.get("alertname").cloned().unwrap_or_default(),
                labels: a
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "alertname")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            })
            .collect(),
        runs: view.runs,
        actions: view.actions,
        approvals,
        evidence_note,
        inc: view.incident,
        steps,
        open_items,
        checklist_html,
        timeline_html,
        last_index,
        flash: q.flash,
        can_respond: c.role >= Role::Responder,
        can_command: c.role >= Role::Commander,
    })
}

#[derive(Template)]
#[template(path = "checklist.html")]
struct ChecklistTpl {
    number: i64,
    items: Vec<sitrep_app::store::ChecklistItem>,
    can_tick: bool,
}

struct EventView {
    time: String,
    kind: String,
    actor: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelineTpl {
    events: Vec<EventView>,
}

/// The timeline fragment, and the newest ledger index in it.
async fn timeline_html(st: &ServerState, id: &str) -> Result<(String, u64), UiError> {
    let mut events = st.app().timeline(id, None).await?;
    let last = events.last().map_or(0, |e| e.index);
    events.reverse();
    let events = events
        .into_iter()
        .map(|e| {
            let r = e.record;
            let detail = r
                .payload
                .iter()
                .filter(|(k, _)| {
                    !k.ends_with("sha256") && !matches!(k.as_str(), "bound" | "run" | "started_ms")
                })
                .map(|(k, v)| format!("{k}: {}", v.lines().next().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(" · ");
            EventView {
                time: utc(i64::try_from(r.time_ms).unwrap_or(0))[11..].to_owned(),
                kind: r.event_type,
                actor: r.actor,
                detail,
            }
        })
        .collect();
    Ok((TimelineTpl { events }.render()?, last))
}

async fn timeline_fragment(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
) -> Page {
    user(c)?;
    let inc = st.app().incident(&n).await?;
    Ok(Html(timeline_html(&st, &inc.id).await?.0).into_response())
}

#[derive(Deserialize)]
struct TickForm {
    checked: String,
}

async fn tick(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path((n, item)): Path<(String, String)>,
    Form(f): Form<TickForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let inc = st.app().incident(&n).await?;
    st.app()
        .tick(&inc.id, &item, f.checked == "true", &c.name)
        .await?;
    let view = st.app().view(&inc.id).await?;
    let open = view
        .checklist
        .iter()
        .filter(|i| i.required && !i.checked)
        .count();
    let body = ChecklistTpl {
        number: inc.number,
        items: view.checklist,
        can_tick: true,
    }
    .render()?;
    // The page refreshes so the resolve button follows the checklist.
    let mut headers = HeaderMap::new();
    if open == 0 || f.checked != "true" {
        headers.insert("HX-Refresh", HeaderValue::from_static("true"));
    }
    Ok((headers, Html(body)).into_response())
}

#[derive(Deserialize)]
struct TextForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    owner: String,
}

async fn note(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Form(f): Form<TextForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    st.app().note(&n, &f.text, &c.name).await?;
    Ok(Redirect::to(&format!("/incidents/{n}")).into_response())
}

async fn add_action(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Form(f): Form<TextForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let owner = f.owner.trim();
    st.app()
        .add_action(
            &n,
            &f.title,
            (!owner.is_empty()).then_some(owner),
            None,
            &c.name,
        )
        .await?;
    Ok(Redirect::to(&format!("/incidents/{n}")).into_response())
}

async fn lifecycle(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path((n, action)): Path<(String, String)>,
    Form(f): Form<TextForm>,
) -> Page {
    let c = user(c)?;
    let result = match action.as_str() {
        "ack" => {
            need(&c, Role::Responder)?;
            st.app().acknowledge(&n, &c.name).await
        }
        "mitigate" => {
            need(&c, Role::Responder)?;
            st.app().mitigate(&n, &c.name).await
        }
        "resolve" => {
            need(&c, Role::Commander)?;
            st.app().resolve(&n, &c.name, None).await
        }
        "reopen" => {
            need(&c, Role::Commander)?;
            st.app().reopen(&n, &c.name, &f.reason).await
        }
        _ => {
            return Err(UiError::App(AppError::NotFound {
                what: "action",
                id: action,
            }));
        }
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/incidents/{n}")).into_response()),
        Err(e) if e.is_caller_error() => Ok(Redirect::to(&format!(
            "/incidents/{n}?flash={}",
            enc(&e.to_string())
        ))
        .into_response()),
        Err(e) => Err(e.into()),
    }
}
