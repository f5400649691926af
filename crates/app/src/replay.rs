//! An incident as its sealed ledger records tell it, and where the mutable tables drift
//! from that.
//!
//! The tables are a cache for queries; the ledger is the truth. The post-mortem is
//! written from [`Replayed`], and `sitrep ledger verify` reports every [`Drift`], so an
//! edit of a row (a title, a recorded command, a tick) cannot change what sitrep claims.

use std::collections::BTreeMap;

use serde::Serialize;
use sitrep_store::{Event, Incident};

use crate::app::IncidentView;
use crate::events;
use crate::lifecycle::{Action, Status, transition};

/// An incident's state, folded from its records in ledger order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Replayed {
    /// The incident id the records name.
    pub id: String,
    /// Title, severity, service and runbooks as declared, severity as last changed.
    pub title: String,
    pub severity: String,
    pub service: Option<String>,
    pub runbooks: Vec<String>,
    /// Status after every recorded transition.
    pub status: Option<Status>,
    /// Role to person, as last assigned (the commander named at declaration included).
    pub roles: BTreeMap<String, String>,
    pub created_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub mitigated_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    /// Finished runs (`step.run`, `step.interrupted`), in the order they ended.
    pub runs: Vec<ReplayedRun>,
    /// Checklist items someone ticked or unticked, by `(source, item)`.
    pub checklist: BTreeMap<(String, String), ReplayedCheck>,
    /// Action items, by id.
    pub actions: BTreeMap<String, ReplayedAction>,
    /// The post-mortem's blanks as last written, by key (`postmortem::BLANKS`).
    pub written: BTreeMap<String, ReplayedText>,
}

/// A post-mortem blank's last recorded text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayedText {
    pub text: String,
    pub by: String,
    pub at_ms: i64,
}

/// One finished run, as its `step.run` record says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayedRun {
    pub run: String,
    pub runbook: String,
    pub step: String,
    pub command: String,
    pub risk: String,
    pub status: String,
    pub actor: String,
    /// The actor's id (`None` on records sealed before ids were recorded).
    pub actor_id: Option<String>,
    pub approver: Option<String>,
    pub started_ms: Option<i64>,
    pub exit_code: Option<i32>,
    pub stdout_sha256: Option<String>,
}

/// A checklist item's last recorded state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayedCheck {
    pub text: String,
    pub checked: bool,
    pub by: String,
    /// Who ticked it, by id (`None` on records sealed before ids were recorded).
    pub by_id: Option<String>,
    pub at_ms: i64,
}

/// An action item as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayedAction {
    pub title: String,
    pub owner: Option<String>,
    pub due_ms: Option<i64>,
    pub done: bool,
    pub created_ms: i64,
}

/// One difference between the tables and the records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The incident's number.
    pub incident: i64,
    /// What differs: `title`, `status`, `run 0193…​ command`, `checklist item x`.
    pub field: String,
    /// What the sealed records say.
    pub recorded: String,
    /// What the table says.
    pub table: String,
}

/// Folds an incident's events (ledger order) into its state.
#[must_use]
pub fn replay(timeline: &[Event]) -> Replayed {
    let mut r = Replayed::default();
    for e in timeline {
        apply(&mut r, e);
    }
    r
}

fn apply(r: &mut Replayed, e: &Event) {
    let rec = &e.record;
    let p = |k: &str| rec.payload.get(k).cloned();
    let at = i64::try_from(rec.time_ms).unwrap_or(i64::MAX);
    match rec.event_type.as_str() {
        events::DECLARED => {
            r.id = rec.incident.clone().unwrap_or_default();
            r.title = p("title").unwrap_or_default();
            r.severity = p("severity").unwrap_or_default();
            r.service = p("service");
            r.runbooks = p("runbooks")
                .map(|s| {
                    s.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if let Some(c) = p("commander") {
                r.roles.insert("commander".to_owned(), c);
            }
            r.status = Some(Status::Triggered);
            r.created_ms = at;
        }
        events::ACKNOWLEDGED => {
            step(r, Action::Acknowledge);
            r.acknowledged_ms.get_or_insert(at);
        }
        events::MITIGATED => {
            step(r, Action::Mitigate);
            r.mitigated_ms = Some(at);
        }
        events::RESOLVED => {
            step(r, Action::Resolve);
            r.resolved_ms = Some(at);
        }
        events::REOPENED => {
            step(r, Action::Reopen);
            r.resolved_ms = None;
            r.mitigated_ms = None;
        }
        events::SEVERITY => r.severity = p("to").unwrap_or_default(),
        events::ROLE => {
            if let (Some(role), Some(person)) = (p("role"), p("person")) {
                r.roles.insert(role, person);
            }
        }
        events::STEP_RUN | events::STEP_INTERRUPTED => r.runs.push(run_of(rec, e)),
        events::CHECK | events::UNCHECK => {
            let key = (
                p("source").unwrap_or_default(),
                p("item").unwrap_or_default(),
            );
            let check = ReplayedCheck {
                text: p("text").unwrap_or_default(),
                checked: rec.event_type == events::CHECK,
                by: rec.actor.clone(),
                by_id: rec.actor_id.clone(),
                at_ms: at,
            };
            r.checklist.insert(key, check);
        }
        events::ACTION_ADDED => {
            let action = ReplayedAction {
                title: p("title").unwrap_or_default(),
                owner: p("owner"),
                due_ms: p("due_ms").and_then(|d| d.parse().ok()),
                done: false,
                created_ms: at,
            };
            r.actions.insert(p("action").unwrap_or_default(), action);
        }
        events::ACTION_DONE => {
            if let Some(a) = p("action").and_then(|id| r.actions.get_mut(&id)) {
                a.done = true;
            }
        }
        events::POSTMORTEM_EDITED => {
            if let Some(key) =
                p("section").filter(|k| crate::postmortem::BLANKS.iter().any(|b| b.0 == k))
            {
                let text = ReplayedText {
                    text: p("text").unwrap_or_default(),
                    by: rec.actor.clone(),
                    at_ms: at,
                };
                r.written.insert(key, text);
            }
        }
        _ => {}
    }
}

/// A transition as the state machine allows it; a record the machine would refuse leaves
/// the status as it was (and the drift check then names the difference).
fn step(r: &mut Replayed, action: Action) {
    if let Some(from) = r.status {
        if let Ok(to) = transition(from, action) {
            r.status = Some(to);
        }
    }
}

fn run_of(rec: &sitrep_ledger::Record, e: &Event) -> ReplayedRun {
    let p = |k: &str| rec.payload.get(k).cloned();
    let interrupted = rec.event_type == events::STEP_INTERRUPTED;
    ReplayedRun {
        run: p("run").unwrap_or_else(|| format!("#{}", e.index)),
        runbook: p("runbook").unwrap_or_default(),
        step: p("step").unwrap_or_default(),
        command: p("command").unwrap_or_default(),
        risk: p("risk").unwrap_or_default(),
        status: if interrupted {
            "interrupted".to_owned()
        } else {
            p("status").unwrap_or_default()
        },
        actor: rec.actor.clone(),
        // Before records named ids, `step.run` carried the runner's in its payload.
        actor_id: rec.actor_id.clone().or_else(|| p("principal")),
        approver: p("approver"),
        started_ms: p("started_ms").and_then(|s| s.parse().ok()),
        exit_code: p("exit_code").and_then(|s| s.parse().ok()),
        stdout_sha256: p("stdout_sha256"),
    }
}

/// Every difference between an incident's rows and its replayed records. Runs still
/// going have no result record yet and are not compared; checklist items nobody ticked
/// have none either, so only a row claiming a tick the records lack is a drift.
#[must_use]
pub fn drift(view: &IncidentView, replayed: &Replayed) -> Vec<Drift> {
    let inc = &view.incident;
    let mut out = Vec::new();
    let mut differ = |field: String, recorded: String, table: String| {
        if recorded != table {
            out.push(Drift {
                incident: inc.number,
                field,
                recorded,
                table,
            });
        }
    };
    incident_fields(inc, replayed, &mut differ);
    for row in view.runs.iter().filter(|r| r.status != "running") {
        let rec = replayed.runs.iter().find(|r| r.run == row.id);
        let field = |what: &str| format!("run {} {what}", short(&row.id));
        match rec {
            None => differ(field("record"), "(none)".into(), row.command.clone()),
            Some(rec) => {
                differ(field("command"), rec.command.clone(), row.command.clone());
                differ(field("status"), rec.status.clone(), row.status.clone());
                differ(field("risk"), rec.risk.clone(), row.risk.clone());
                differ(field("exit code"), opt(rec.exit_code), opt(row.exit_code));
            }
        }
    }
    for item in &view.checklist {
        let key = (item.source.clone(), item.item_id.clone());
        let recorded = replayed.checklist.get(&key).is_some_and(|c| c.checked);
        let field = format!("checklist item {:?}", item.text);
        differ(field, ticked(recorded), ticked(item.checked));
    }
    for a in &view.actions {
        let recorded = replayed.actions.get(&a.id);
        let field = format!("action {}", short(&a.id));
        match recorded {
            None => differ(field, "(none)".into(), a.title.clone()),
            Some(r) => {
                differ(format!("{field} title"), r.title.clone(), a.title.clone());
                let done = if r.done { "done" } else { "open" };
                differ(format!("{field} status"), done.into(), a.status.clone());
            }
        }
    }
    out
}

fn incident_fields(inc: &Incident, r: &Replayed, differ: &mut impl FnMut(String, String, String)) {
    let status = r
        .status
        .map_or_else(|| "(none)".to_owned(), |s| s.as_str().to_owned());
    differ("title".into(), r.title.clone(), inc.title.clone());
    differ("severity".into(), r.severity.clone(), inc.severity.clone());
    differ("status".into(), status, inc.status.clone());
    differ(
        "service".into(),
        opt(r.service.as_ref()),
        opt(inc.service.as_ref()),
    );
    differ(
        "runbooks".into(),
        r.runbooks.join(","),
        inc.runbooks.join(","),
    );
    differ(
        "roles".into(),
        format!("{:?}", r.roles),
        format!("{:?}", inc.roles),
    );
    differ(
        "declared at".into(),
        r.created_ms.to_string(),
        inc.created_ms.to_string(),
    );
    differ(
        "acknowledged at".into(),
        opt(r.acknowledged_ms),
        opt(inc.acknowledged_ms),
    );
    differ(
        "mitigated at".into(),
        opt(r.mitigated_ms),
        opt(inc.mitigated_ms),
    );
    differ(
        "resolved at".into(),
        opt(r.resolved_ms),
        opt(inc.resolved_ms),
    );
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
}

fn ticked(b: bool) -> String {
    if b { "ticked" } else { "not ticked" }.to_owned()
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

impl crate::App {
    /// The incident `id` as its records tell it. Records are read by the store's index,
    /// and only those whose sealed `incident` field names this incident are folded, so a
    /// row edited to point elsewhere cannot add to it.
    pub async fn replay(&self, id: &str) -> Result<Replayed, crate::AppError> {
        let incident = self.incident(id).await?;
        let timeline = self.store().timeline(&incident.id, None).await?;
        Ok(replay(&own_events(&incident.id, timeline)))
    }

    /// Every drift between the tables and the ledger, over all incidents (oldest
    /// first). Empty when the tables say what the records say.
    pub async fn drift(&self) -> Result<Vec<Drift>, crate::AppError> {
        let filter = sitrep_store::IncidentFilter {
            limit: u32::MAX,
            ..sitrep_store::IncidentFilter::default()
        };
        let mut incidents = self.incidents(&filter).await?;
        incidents.sort_by_key(|i| i.number);
        let mut out = Vec::new();
        for inc in incidents {
            let view = self.view(&inc.id).await?;
            let timeline = self.store().timeline(&inc.id, None).await?;
            out.extend(drift(&view, &replay(&own_events(&inc.id, timeline))));
        }
        Ok(out)
    }
}

/// The events whose sealed record names `incident`.
pub(crate) fn own_events(incident: &str, timeline: Vec<Event>) -> Vec<Event> {
    timeline
        .into_iter()
        .filter(|e| e.record.incident.as_deref() == Some(incident))
        .collect()
}
