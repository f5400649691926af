//! The web UI: server-rendered pages (askama) with htmx for the live parts, vendored and
//! embedded in the binary (no CDN). Every page works with the keyboard and on a phone;
//! mutating forms carry the session's CSRF token, checked by `auth` like any API call.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sitrep_app::{AppError, NewIncident};

use crate::ServerState;
use crate::auth::Caller;
use sitrep_app::AccessRole as Role;

mod actions;
pub mod headers;
mod incident;
mod list;
mod login;
mod oncall;
mod pages;
mod queries;
mod query_view;
mod runs;
mod summary;
mod timeline;

use incident::StepView;

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
        .route(
            "/assets/favicon.svg",
            get(|| asset(FAVICON, "image/svg+xml")),
        )
        .route("/login", get(login::page))
        .route("/incidents", get(list::incidents).post(declare))
        .route("/incidents/{n}", get(incident::incident))
        .route("/incidents/{n}/timeline", get(timeline::timeline_fragment))
        .route("/incidents/{n}/plan", get(runs::plan))
        .route("/incidents/{n}/run", post(runs::run))
        .route("/incidents/{n}/query", post(queries::run))
        .route("/incidents/{n}/thresholds", post(queries::thresholds))
        .route("/incidents/{n}/checklist/{item}", post(tick))
        .route("/incidents/{n}/note", post(note))
        .route("/incidents/{n}/actions", post(add_action))
        .route("/incidents/{n}/severity", post(actions::severity))
        .route("/incidents/{n}/roles", post(actions::assign))
        .route("/incidents/{n}/escalate", post(oncall::escalate))
        .route("/incidents/{n}/page", post(oncall::page))
        .route(
            "/incidents/{n}/alerts/{fingerprint}/silence",
            post(oncall::silence),
        )
        .route("/incidents/{n}/approvals/{id}/approve", post(runs::approve))
        .route("/incidents/{n}/{action}", post(lifecycle))
        .route("/incidents/{n}/postmortem", get(pages::postmortem_page))
        .route("/incidents/{n}/postmortem.md", get(pages::postmortem_md))
        .route(
            "/incidents/{n}/postmortem/{section}",
            post(pages::postmortem_edit),
        )
        .route("/runs/{id}", get(runs::run_page))
        .route("/runbooks", get(pages::runbooks))
        .route("/runbooks/{*path}", get(pages::runbook))
        .route("/ledger", get(pages::ledger))
        .route("/oncall", get(oncall::on_call))
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
/// mail and chat clients fetch links to preview them. A logged-in visitor's form carries
/// the session's CSRF token, so the button acknowledges as them.
async fn ack_page(caller: Option<Caller>, Path(token): Path<String>) -> Page {
    html(&AckTpl {
        chrome: caller.as_ref().map(chrome).unwrap_or_default(),
        token,
        message: String::new(),
    })
}

/// The button on that page: the signed, expiring token is the authorisation; the
/// timeline records the link's page, the client's address and user agent, and who
/// pressed it when they were logged in.
async fn ack_link(
    State(st): State<ServerState>,
    caller: Option<Caller>,
    Path(token): Path<String>,
    req_headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Page {
    let visit = sitrep_app::acklink::LinkVisit {
        actor: caller.as_ref().map(Caller::principal),
        client: crate::auth::client_addr(&ext).map(|ip| ip.to_string()),
        user_agent: req_headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let message = match st
        .app()
        .acknowledge_by_link(&token, sitrep_app::now_ms(), &visit)
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
const FAVICON: &str = include_str!("../../assets/favicon.svg");

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
            &c.principal(),
        )
        .await?;
    Ok(Redirect::to(&format!("/incidents/{}", inc.number)).into_response())
}

/// `s` percent-encoded for a query-string value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "checklist.html")]
pub(super) struct ChecklistTpl {
    number: i64,
    items: Vec<sitrep_app::store::ChecklistItem>,
    can_tick: bool,
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
        .tick(&inc.id, &item, f.checked == "true", &c.principal())
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
    st.app().note(&n, &f.text, &c.principal()).await?;
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
            &c.principal(),
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
            st.app().acknowledge(&n, &c.principal()).await
        }
        "mitigate" => {
            need(&c, Role::Responder)?;
            st.app().mitigate(&n, &c.principal()).await
        }
        "resolve" => {
            need(&c, Role::Commander)?;
            st.app().resolve(&n, &c.principal(), None).await
        }
        "reopen" => {
            need(&c, Role::Commander)?;
            st.app().reopen(&n, &c.principal(), &f.reason).await
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
