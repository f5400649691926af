//! `sitrep query INCIDENT RUNBOOK QUERY` and `sitrep thresholds INCIDENT`: a runbook's
//! query steps and threshold checks, run inside an incident and sealed on its timeline.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sitrep_app::QueryRequest;
use sitrep_app::thresholds::ThresholdCheck;

use crate::cmd::appctx::{AppArgs, app_error, with_app};
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// Incident number or id.
    pub incident: String,
    /// Runbook path in the library.
    pub runbook: String,
    /// Query step name, or its 1-based number among the runbook's query steps.
    pub query: String,
    /// A value for a placeholder (bound as a parameter, never spliced); repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = crate::cmd::run::parse_kv)]
    pub set: Vec<(String, String)>,
}

#[derive(Debug, clap::Args)]
pub struct ThresholdsArgs {
    /// Incident number or id.
    pub incident: String,
}

pub fn query(args: QueryArgs, app_args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let actor = app_args.actor()?;
    with_app(app_args, move |app| async move {
        let req = QueryRequest {
            incident: args.incident,
            runbook: args.runbook,
            query: args.query,
            actor,
            set: args.set.into_iter().collect::<BTreeMap<_, _>>(),
            mode: sitrep_app::Mode::Interactive,
        };
        let report = app.run_query(&req).await.map_err(app_error)?;
        if ctx.json {
            return ctx.print_json(&report);
        }
        let r = &report.result;
        let mut s = format!(
            "{} ({} on {}): {}\n",
            report.run.step_id, report.language, report.datasource, report.run.status
        );
        if !r.columns.is_empty() {
            let _ = writeln!(s, "  {}", r.columns.join(" | "));
        }
        for row in &r.rows {
            let cells: Vec<String> = row.iter().map(cell).collect();
            let _ = writeln!(s, "  {}", cells.join(" | "));
        }
        for series in &r.series {
            let last = series.points.last().map_or("–", |p| p.1.as_str());
            let _ = writeln!(
                s,
                "  {:?}: {} points, last {last}",
                series.labels,
                series.points.len()
            );
        }
        if r.rows.is_empty() && r.series.is_empty() {
            s.push_str("  (no result)\n");
        }
        if r.truncated {
            s.push_str("  (truncated to the datasource's limits)\n");
        }
        emit(&s)
    })
}

/// A cell as text: strings without their JSON quotes.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn thresholds(args: ThresholdsArgs, app_args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let actor = app_args.actor()?;
    with_app(app_args, move |app| async move {
        let checks = app
            .check_thresholds(&args.incident, &actor)
            .await
            .map_err(app_error)?;
        if ctx.json {
            return ctx.print_json(&checks);
        }
        emit(&describe(&checks))
    })
}

fn describe(checks: &[ThresholdCheck]) -> String {
    if checks.is_empty() {
        return "no thresholds rows with an expression in this incident's runbooks\n".into();
    }
    let mut s = String::new();
    for c in checks {
        let value = c.value.as_deref().or(c.error.as_deref()).unwrap_or("–");
        let _ = writeln!(
            s,
            "{:<8} {} ({}): {value}",
            c.status.as_str(),
            c.metric,
            c.runbook
        );
    }
    s
}
