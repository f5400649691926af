//! Paging from the incident page (escalate now, page a person, silence an alert) and the
//! on-call page: who is on call in each rotation, the next hand-offs and overrides. Each
//! action is one `App` call; a refused one comes back to the page with its reason.

use askama::Template;
use axum::extract::{Form, Path, State};
use serde::Deserialize;
use sitrep_app::AccessRole as Role;

use super::actions::back;
use super::summary::Ago;
use super::{Chrome, Page, chrome, html, need, user, utc};
use crate::ServerState;
use crate::auth::Caller;

/// The durations the alert list offers for a silence.
pub(super) const SILENCE_FOR: [&str; 4] = ["1h", "4h", "24h", "7d"];

#[derive(Deserialize)]
pub(super) struct PageForm {
    person: String,
}

#[derive(Deserialize)]
pub(super) struct SilenceForm {
    duration: String,
    #[serde(default)]
    comment: String,
}

pub(super) async fn escalate(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let r = st.app().escalate_now(&n, &c.principal()).await;
    st.changed();
    back(&n, r.map(|_| ()))
}

pub(super) async fn page(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Form(f): Form<PageForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let r = st.app().page_person(&n, &f.person, &c.principal()).await;
    st.changed();
    back(&n, r.map(|_| ()))
}

pub(super) async fn silence(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path((n, fingerprint)): Path<(String, String)>,
    Form(f): Form<SilenceForm>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Commander)?;
    let r = st
        .ingestor()
        .silence_alert(&n, &fingerprint, &f.duration, &f.comment, &c.principal())
        .await;
    st.changed();
    back(&n, r.map(|_| ()))
}

/// One rotation on the on-call page.
struct RotationView {
    id: String,
    on_call: String,
    overridden: bool,
    time_zone: String,
    /// When (relative, UTC on hover) and to whom.
    handovers: Vec<(Ago, String)>,
    /// From, until (UTC) and who.
    overrides: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "oncall.html")]
struct OnCallTpl {
    chrome: Chrome,
    configured: bool,
    rotations: Vec<RotationView>,
}

pub(super) async fn on_call(State(st): State<ServerState>, c: Option<Caller>) -> Page {
    let c = user(c)?;
    let now = sitrep_app::now_ms();
    let rotations = st
        .app()
        .on_call_now(now)
        .into_iter()
        .map(|r| RotationView {
            id: r.id,
            on_call: r.on_call.map_or_else(String::new, |(name, _)| name),
            overridden: r.overridden,
            time_zone: r.time_zone,
            handovers: r
                .handovers
                .into_iter()
                .map(|(at, who)| (Ago::ahead(at, now), who))
                .collect(),
            overrides: r
                .overrides
                .into_iter()
                .map(|(from, to, who)| (utc(from), utc(to), who))
                .collect(),
        })
        .collect();
    html(&OnCallTpl {
        chrome: chrome(&c),
        configured: st.app().escalation().is_some(),
        rotations,
    })
}
