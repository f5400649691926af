//! The incident page: its header, steps, runs, approvals, alerts, checklist and timeline,
//! as one server-rendered page whose live regions the client re-reads on every event.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use sitrep_app::{AppError, Approval};

use super::queries::{QueryView, has_checkable_thresholds};
use super::summary::{RunView, Summary, summary};
use super::timeline::timeline_html;
use super::{ChecklistTpl, Chrome, Page, chrome, enc, html, user};
use crate::ServerState;
use crate::auth::Caller;
use sitrep_app::AccessRole as Role;

pub(super) struct StepView {
    pub(super) runbook: String,
    pub(super) runbook_q: String,
    pub(super) id: String,
    pub(super) id_q: String,
    pub(super) dom_id: String,
    pub(super) title: String,
    pub(super) role: String,
    pub(super) risk: String,
    pub(super) script: String,
    /// The output a console transcript printed under the step's commands (the runbook's
    /// example, not a run), at most 40 lines; empty when the runbook shows none.
    pub(super) example_output: String,
    /// A line of that output an `expect` check could look for.
    pub(super) expect_hint: String,
    /// A run of this step is under way: its Run button waits.
    pub(super) running: bool,
}

struct AlertView {
    fingerprint: String,
    status: String,
    name: String,
    labels: String,
}

/// An action item on the incident page, and whether it is past its due time.
struct ActionView {
    a: sitrep_app::store::ActionItem,
    overdue: bool,
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
    /// Query steps (fenced promql, logql, sql blocks) of the attached runbooks.
    queries: Vec<QueryView>,
    /// An attached runbook has thresholds rows with queries: "Check thresholds".
    thresholds: bool,
    /// Severity colour, ages, commander, acknowledgement, alert counts.
    head: Summary,
    runs: Vec<RunView>,
    alerts: Vec<AlertView>,
    actions: Vec<ActionView>,
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
    /// Resolve, reopen, severity, roles (commander and up).
    can_command: bool,
    /// The severity scale, worst first, and the roles offered to assign.
    severities: Vec<String>,
    roles: [&'static str; 3],
    /// Paging is configured: escalate and page a person (id, name) now.
    paging: bool,
    /// Why Escalate now would be refused (no service, no policy), or empty.
    escalate_why: String,
    people: Vec<(String, String)>,
    silence_for: [&'static str; 4],
}

#[derive(Deserialize, Default)]
pub(super) struct FlashQuery {
    #[serde(default)]
    pub(super) flash: String,
}

impl StepView {
    /// The views of a runbook's steps. A step with nothing to name it but its section
    /// heading shares that title with its neighbours; those get their first command
    /// added, so the buttons say which is which.
    pub(super) fn all(path: &str, steps: &[sitrep_runbook::Step]) -> Vec<StepView> {
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
            dom_id: dom_id(&s.id),
            title: s.title.clone(),
            role: s.role.map_or(String::new(), |r| r.as_str().to_owned()),
            risk: s.risk.level.as_str().to_owned(),
            script: s.script.clone(),
            example_output: example_output(s),
            expect_hint: s.expect_hint().unwrap_or_default().to_owned(),
            running: false,
        }
    }
}

pub(super) async fn incident(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Query(q): Query<FlashQuery>,
) -> Page {
    let c = user(c)?;
    let view = st.app().view(&n).await?;
    let service = view.incident.service.clone();
    let (steps, queries, thresholds) = runbook_views(&st, &view);
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
    let events = st.app().timeline(&view.incident.id, None).await?;
    let mut head = summary(
        &view.incident,
        &events,
        &view.alerts,
        st.app().scale().rank(&view.incident.severity),
        sitrep_app::now_ms(),
    );
    let people = people(&st);
    head.responders = display_names(&people, head.responders);
    let (timeline_html, last_index) = timeline_html(&st, events).await?;
    let approvals = approvals(&st, &view.incident.id, &c).await?;
    let evidence_note = evidence_note(&st, &view.incident.id).await?;
    html(&IncidentTpl {
        chrome: chrome(&c),
        alerts: view.alerts.iter().map(AlertView::new).collect(),
        runs: view.runs.into_iter().rev().map(RunView::new).collect(),
        head,
        actions: view
            .actions
            .into_iter()
            .map(|a| ActionView {
                overdue: sitrep_app::followups::is_overdue(&a, sitrep_app::now_ms()),
                a,
            })
            .collect(),
        approvals,
        evidence_note,
        inc: view.incident,
        steps,
        queries,
        thresholds,
        open_items,
        checklist_html,
        timeline_html,
        last_index,
        flash: q.flash,
        can_respond: c.role >= Role::Responder,
        can_command: c.role >= Role::Commander,
        severities: st.app().scale().names().map(str::to_owned).collect(),
        roles: super::actions::ROLES,
        paging: st.app().escalation().is_some(),
        escalate_why: escalate_why(&st, service.as_deref()),
        people,
        silence_for: super::oncall::SILENCE_FOR,
    })
}

/// The attached runbooks' steps and query steps (each marked while a run of it is under
/// way), and whether any has thresholds rows to check.
fn runbook_views(
    st: &ServerState,
    view: &sitrep_app::IncidentView,
) -> (Vec<StepView>, Vec<QueryView>, bool) {
    let lib = st.app().library();
    let (mut steps, mut queries, mut thresholds) = (Vec::new(), Vec::new(), false);
    for path in &view.incident.runbooks {
        let Some(e) = lib.get(path) else { continue };
        steps.extend(StepView::all(&e.path, &e.runbook.steps));
        queries.extend(e.runbook.queries.iter().map(|q| QueryView::new(&e.path, q)));
        thresholds |= has_checkable_thresholds(&e.runbook);
    }
    let running = |runbook: &str, id: &str| {
        view.runs
            .iter()
            .any(|r| r.status == "running" && r.runbook == runbook && r.step_id == id)
    };
    for s in &mut steps {
        s.running = running(&s.runbook, &s.id);
    }
    for q in &mut queries {
        q.running = running(&q.runbook, &q.id);
    }
    (steps, queries, thresholds)
}

/// The escalation config's people as (id, display name); none without a config.
fn people(st: &ServerState) -> Vec<(String, String)> {
    st.app().escalation().map_or_else(Vec::new, |e| {
        e.people
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect()
    })
}

/// People by their display name from the escalation config, by id when it names no
/// such person (the config changed since they were paged, or there is none).
fn display_names(people: &[(String, String)], ids: Vec<String>) -> Vec<String> {
    ids.into_iter()
        .map(|id| {
            people
                .iter()
                .find(|(p, _)| *p == id)
                .map_or(id.clone(), |(_, name)| name.clone())
        })
        .collect()
}

/// Why escalating this incident would be refused before anyone presses the button: no
/// service, or a service without an escalation policy. Empty when it can escalate.
fn escalate_why(st: &ServerState, service: Option<&str>) -> String {
    let Some(cfg) = st.app().escalation() else {
        return String::new();
    };
    match service {
        None => "Escalating needs a service (its policy says who is next).".to_owned(),
        Some(s) => match cfg.policy_id_for(s).and_then(|id| cfg.policy(id)) {
            Some(_) => String::new(),
            None => format!("Service {s} has no escalation policy to escalate in."),
        },
    }
}

impl AlertView {
    fn new(a: &sitrep_app::store::Alert) -> AlertView {
        AlertView {
            fingerprint: a.fingerprint.clone(),
            status: a.status.clone(),
            name: a.labels.get("alertname").cloned().unwrap_or_default(),
            labels: a
                .labels
                .iter()
                .filter(|(k, _)| *k != "alertname")
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// The incident's open approvals, and whether `c` may grant each.
async fn approvals(st: &ServerState, id: &str, c: &Caller) -> Result<Vec<ApprovalView>, AppError> {
    Ok(st
        .app()
        .approvals(id)
        .await?
        .into_iter()
        .map(|a| ApprovalView {
            granted: a.is_granted(),
            // The app's own test: another principal, not one who approved already.
            can_approve: c.role >= Role::Commander
                && c.principal().is_other_than(&a.requester())
                && !a.approver_ids.contains(&c.id),
            a,
        })
        .collect())
}

/// A legal hold or retention, said next to the evidence download.
async fn evidence_note(st: &ServerState, id: &str) -> Result<String, AppError> {
    Ok(match st.app().evidence_hold(id).await? {
        Some(h) => format!("Evidence under legal hold ({}, by {})", h.reason, h.held_by),
        None if st.app().evidence_expired(id).await? => {
            "Output deleted by retention; the records remain and verify".to_owned()
        }
        None => String::new(),
    })
}

/// A step id as an HTML id: anything but ASCII letters and digits becomes `-`.
pub(super) fn dom_id(id: &str) -> String {
    id.chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect()
}

/// The example output of a step's commands, joined, cut to its first 40 lines.
fn example_output(s: &sitrep_runbook::Step) -> String {
    let all: Vec<&str> = s
        .commands
        .iter()
        .filter_map(|c| c.example_output.as_deref())
        .flat_map(str::lines)
        .collect();
    let mut out = all.iter().take(40).copied().collect::<Vec<_>>().join("\n");
    if all.len() > 40 {
        out.push_str(&format!("\n… {} more lines", all.len() - 40));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::display_names;

    #[test]
    fn paged_people_are_named_with_the_id_as_fallback() {
        let people = [("dba".to_owned(), "Dee Dba".to_owned())];
        let ids = vec!["dba".to_owned(), "gone".to_owned()];
        assert_eq!(display_names(&people, ids), ["Dee Dba", "gone"]);
    }
}
