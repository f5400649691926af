//! The incident list: search (title, service, alert labels), filters for status,
//! severity, service and age, and at a glance each incident's age, commander and how
//! soon it was acknowledged.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use sitrep_app::AccessRole as Role;
use sitrep_app::lifecycle::Status;
use sitrep_app::listing;
use sitrep_app::store::{Incident, IncidentFilter};

use super::summary::{Ago, span};
use super::{Chrome, Page, chrome, html, user};
use crate::ServerState;
use crate::auth::Caller;

/// Rows shown; and rows a search or an age filter looks through (newest first).
const SHOWN: usize = 200;
const SEARCHED: u32 = 1000;

/// The age filter's choices: (value, label, milliseconds).
const AGES: [(&str, &str, i64); 4] = [
    ("", "any age", 0),
    ("1h", "last hour", 3_600_000),
    ("24h", "last 24 hours", 86_400_000),
    ("7d", "last 7 days", 604_800_000),
];

struct Row {
    number: i64,
    severity: String,
    sev_class: String,
    status: String,
    title: String,
    service: Option<String>,
    age: Ago,
    commander: String,
    /// How soon after declaring it was acknowledged, or empty.
    acked_after: String,
    /// Open action items past their due time.
    overdue: usize,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsTpl {
    chrome: Chrome,
    incidents: Vec<Row>,
    statuses: Vec<String>,
    severities: Vec<String>,
    runbooks: Vec<String>,
    ages: Vec<(&'static str, &'static str)>,
    status: String,
    severity: String,
    service: String,
    q: String,
    age: String,
    can_declare: bool,
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    service: String,
    /// Words that must all appear in the title, service or alert group (labels).
    #[serde(default)]
    q: String,
    /// One of [`AGES`]: declared within it.
    #[serde(default)]
    age: String,
}

pub(super) async fn incidents(
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
    let statuses = listing::statuses(std::slice::from_ref(&status))?;
    let window = AGES.iter().find(|a| a.0 == q.age).map_or(0, |a| a.2);
    let narrowing = window > 0 || !q.q.trim().is_empty();
    let filter = IncidentFilter {
        statuses,
        severity: (!q.severity.is_empty()).then(|| q.severity.clone()),
        service: (!q.service.trim().is_empty()).then(|| q.service.trim().to_owned()),
        limit: if narrowing { SEARCHED } else { SHOWN as u32 },
    };
    let now = sitrep_app::now_ms();
    let since = if window > 0 { now - window } else { i64::MIN };
    let scale = st.app().scale();
    let shown: Vec<Incident> = st
        .app()
        .incidents(&filter)
        .await?
        .into_iter()
        .filter(|i| listing::matches(i, &q.q, since))
        .take(SHOWN)
        .collect();
    let ids: Vec<String> = shown.iter().map(|i| i.id.clone()).collect();
    let overdue = st.app().overdue_actions(&ids, now).await?;
    let rows = shown
        .into_iter()
        .map(|i| Row {
            overdue: overdue.get(&i.id).copied().unwrap_or(0),
            number: i.number,
            sev_class: format!("sev-{}", scale.rank(&i.severity).min(3)),
            severity: i.severity,
            status: i.status,
            title: i.title,
            service: i.service,
            age: Ago::new(i.created_ms, now),
            commander: i.roles.get("commander").cloned().unwrap_or_default(),
            acked_after: i
                .acknowledged_ms
                .map_or(String::new(), |a| span((a - i.created_ms).max(0))),
        })
        .collect();
    let lib = st.app().library();
    html(&IncidentsTpl {
        chrome: chrome(&c),
        incidents: rows,
        statuses: Status::names(&Status::ALL),
        severities: scale.names().map(str::to_owned).collect(),
        runbooks: lib.entries().iter().map(|e| e.path.clone()).collect(),
        ages: AGES.iter().map(|a| (a.0, a.1)).collect(),
        status,
        severity: q.severity,
        service: q.service,
        q: q.q,
        age: q.age,
        can_declare: c.role >= Role::Responder,
    })
}
