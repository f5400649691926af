//! Query steps and threshold checks from the incident page: the cards the page lists,
//! the "Run query" post (asks for unbound values, shows the result, or the refusal) and
//! the "Check thresholds" post. Both go through the same `App` calls as the API.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Form, Path, State};
use sitrep_app::thresholds::{ThresholdCheck, is_thresholds_gate};
use sitrep_app::{AppError, Mode, QueryRequest};
use sitrep_runbook::{QueryStep, Runbook, TableData, Threshold, ThresholdStatus};

use super::runs::{RunTpl, run_view};
use super::{Page, csrf_token, html, need, user};
use crate::ServerState;
use crate::auth::Caller;
use sitrep_app::AccessRole as Role;

/// A query step as the incident page lists it.
pub(super) struct QueryView {
    pub(super) runbook: String,
    pub(super) id: String,
    pub(super) dom_id: String,
    pub(super) title: String,
    /// `promql`, `logql` or `sql`.
    pub(super) language: String,
    /// The datasource it names, or what the server picks.
    pub(super) datasource: String,
    /// `read`, or the SQL classifier's level (which the server refuses to run).
    pub(super) level: String,
    pub(super) query: String,
    /// "range 2m, step 5s" for a range query, else empty.
    pub(super) range: String,
    /// A run of this query is under way: its button waits.
    pub(super) running: bool,
}

impl QueryView {
    pub(super) fn new(path: &str, q: &QueryStep) -> QueryView {
        let dur = |d: std::time::Duration| sitrep_runbook::duration::format(d);
        let range = match (q.range, q.step) {
            (Some(r), Some(s)) => format!("range {}, step {}", dur(r), dur(s)),
            (Some(r), None) => format!("range {}", dur(r)),
            _ => String::new(),
        };
        QueryView {
            runbook: path.to_owned(),
            id: q.id.clone(),
            dom_id: super::incident::dom_id(&q.id),
            title: q.title.clone(),
            language: q.language.as_str().to_owned(),
            datasource: q
                .datasource
                .clone()
                .unwrap_or_else(|| format!("the configured {} datasource", q.language.as_str())),
            level: q.level.as_str().to_owned(),
            query: q.query.clone(),
            range,
            running: false,
        }
    }
}

/// Whether a runbook has a thresholds row the server can check (one with a query).
pub(super) fn has_checkable_thresholds(rb: &Runbook) -> bool {
    thresholds_rows(rb).any(|r| r.query.is_some())
}

fn thresholds_rows(rb: &Runbook) -> impl Iterator<Item = &Threshold> {
    rb.tables.iter().flat_map(|t| match &t.data {
        TableData::Thresholds(rows) => rows.as_slice(),
        _ => &[],
    })
}

/// The dialog when values are missing: one field per unbound placeholder.
#[derive(Template)]
#[template(path = "query_ask.html")]
struct AskTpl {
    csrf: String,
    number: i64,
    runbook: String,
    query: String,
    title: String,
    text: String,
    missing: Vec<String>,
    set: BTreeMap<String, String>,
}

/// The dialog when the server refused the query: nothing ran, and why.
#[derive(Template)]
#[template(path = "query_refused.html")]
struct RefusedTpl {
    number: i64,
    title: String,
    reasons: Vec<String>,
}

/// `Run query`: runs the step as the caller (responder and up), with the `set.NAME`
/// values the dialog collected, and answers the run (its result table or chart), the
/// form for values still unbound, or the refusal (sealed by `App` as `step.refused`).
pub(super) async fn run(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let inc = st.app().incident(&n).await?;
    let runbook = fields.get("runbook").cloned().unwrap_or_default();
    let query = fields.get("query").cloned().unwrap_or_default();
    let set = set_values(&fields);
    let step = find(&st, &runbook, &query)?;
    let req = QueryRequest {
        incident: inc.id.clone(),
        runbook: runbook.clone(),
        query: query.clone(),
        actor: c.principal(),
        set: set.clone(),
        mode: Mode::Interactive,
    };
    let res = st.app().run_query(&req).await;
    // A run, a failure or a refusal is on the timeline either way.
    st.changed();
    let reasons = match res {
        Ok(report) => {
            return html(&RunTpl {
                r: run_view(&st, inc.number, report.run).await?,
            });
        }
        Err(AppError::Unbound { names }) => {
            return html(&AskTpl {
                csrf: csrf_token(&c),
                number: inc.number,
                runbook,
                query,
                title: step.title,
                text: step.query,
                missing: names,
                set,
            });
        }
        Err(AppError::Denied { reason }) => vec![reason],
        Err(AppError::ValueRefused { refusals }) => refusals
            .iter()
            .map(|r| format!("value refused: {r}"))
            .collect(),
        Err(e) => return Err(e.into()),
    };
    html(&RefusedTpl {
        number: inc.number,
        title: step.title,
        reasons,
    })
}

/// The dialog's `set.NAME` fields that hold a value.
fn set_values(fields: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("set.").map(|k| (k.to_owned(), v.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The query step `query` (id or 1-based number) of the library's runbook `runbook`.
fn find(st: &ServerState, runbook: &str, query: &str) -> Result<QueryStep, AppError> {
    let lib = st.app().library();
    let rb = lib.get(runbook).ok_or_else(|| AppError::NotFound {
        what: "runbook",
        id: runbook.to_owned(),
    })?;
    let by_number = query
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| rb.runbook.queries.get(i));
    rb.runbook
        .queries
        .iter()
        .find(|q| q.id == query)
        .or(by_number)
        .cloned()
        .ok_or_else(|| AppError::NotFound {
            what: "query step",
            id: query.to_owned(),
        })
}

/// One checked row as the dialog shows it.
struct RowView {
    c: ThresholdCheck,
    /// "value 42", or why there is none.
    value: String,
    /// The row's levels as the runbook writes them ("normal < 10 · warning 10-50 · …").
    levels: String,
}

#[derive(Template)]
#[template(path = "thresholds.html")]
struct ThresholdsTpl {
    number: i64,
    rows: Vec<RowView>,
    /// What the stand-down item "all thresholds normal" needs, said against this check.
    gate: String,
    all_normal: bool,
}

/// `Check thresholds`: evaluates every thresholds row with a query (sealed as
/// `thresholds.checked`) and says each row's status and what the stand-down item needs.
pub(super) async fn thresholds(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
) -> Page {
    let c = user(c)?;
    need(&c, Role::Responder)?;
    let view = st.app().view(&n).await?;
    let checks = st
        .app()
        .check_thresholds(&view.incident.id, &c.principal())
        .await?;
    st.changed();
    let all_normal =
        !checks.is_empty() && checks.iter().all(|c| c.status == ThresholdStatus::Normal);
    let item = view
        .checklist
        .iter()
        .find(|i| is_thresholds_gate(&i.text))
        .map(|i| (i.text.clone(), i.checked));
    let gate = gate_text(&checks, item);
    let lib = st.app().library();
    let rows = checks
        .into_iter()
        .map(|c| {
            let levels = lib
                .get(&c.runbook)
                .and_then(|e| {
                    thresholds_rows(&e.runbook)
                        .find(|r| r.metric == c.metric)
                        .map(levels)
                })
                .unwrap_or_default();
            let value = match (&c.value, &c.error) {
                (Some(v), _) => v.clone(),
                (None, Some(e)) => e.clone(),
                (None, None) => "no series came back".to_owned(),
            };
            RowView { c, value, levels }
        })
        .collect();
    html(&ThresholdsTpl {
        number: view.incident.number,
        rows,
        gate,
        all_normal,
    })
}

fn levels(r: &Threshold) -> String {
    [
        ("normal", &r.normal),
        ("warning", &r.warning),
        ("critical", &r.critical),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k} {v}")))
    .collect::<Vec<_>>()
    .join(" · ")
}

/// What the stand-down item about thresholds (its text, whether ticked) needs, said
/// against this check.
fn gate_text(checks: &[ThresholdCheck], item: Option<(String, bool)>) -> String {
    let Some((text, ticked)) = item else {
        return "No stand-down item waits on the thresholds.".to_owned();
    };
    let off: Vec<String> = checks
        .iter()
        .filter(|c| c.status != ThresholdStatus::Normal)
        .map(|c| format!("{} is {}", c.metric, c.status.as_str()))
        .collect();
    let done = if ticked { " (ticked already)" } else { "" };
    if checks.is_empty() {
        format!("“{text}”{done} needs a thresholds row with a query; none has one.")
    } else if off.is_empty() {
        format!(
            "“{text}”{done}: every threshold is normal now, so it can be ticked (ticking checks once more)."
        )
    } else {
        format!(
            "“{text}”{done} needs every threshold normal; not yet: {}.",
            off.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(metric: &str, status: ThresholdStatus) -> ThresholdCheck {
        ThresholdCheck {
            runbook: "rb.md".into(),
            metric: metric.into(),
            query: "up".into(),
            status,
            value: Some("1".into()),
            error: None,
        }
    }

    #[test]
    fn the_gate_says_what_is_not_normal_yet() {
        let item = || Some(("All thresholds normal".to_owned(), false));
        let off = [
            check("Queue depth", ThresholdStatus::Warning),
            check("Target up", ThresholdStatus::Normal),
            check("Errors", ThresholdStatus::Unknown),
        ];
        assert_eq!(
            gate_text(&off, item()),
            "“All thresholds normal” needs every threshold normal; not yet: Queue depth is warning, Errors is unknown."
        );
        let ok = [check("Target up", ThresholdStatus::Normal)];
        assert!(gate_text(&ok, item()).contains("can be ticked"));
        assert_eq!(
            gate_text(&ok, None),
            "No stand-down item waits on the thresholds."
        );
    }
}
