//! `sitrep incident ...`: declare, list, show, acknowledge, assign, note, severity,
//! mitigate, resolve and reopen incidents in the local data dir (or PostgreSQL), and
//! escalate or page by hand (`cmd::paging`).

use std::fmt::Write as _;

use sitrep_app::store::{Event, Incident, IncidentFilter};
use sitrep_app::{App, IncidentView, NewIncident, listing};

use crate::cmd::appctx::{AppArgs, app_error, with_app};
use crate::cmd::paging;
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum IncidentCmd {
    /// Declare a new incident.
    Declare {
        /// What is happening, in a few words.
        title: String,
        /// Severity (SEV1..SEV4, or P0..P3 with `severity_scheme = "priority"`). Default: the lowest.
        #[arg(long, short)]
        severity: Option<String>,
        /// The affected service (its runbooks are attached when no --runbook is given).
        #[arg(long)]
        service: Option<String>,
        /// A runbook to attach (path in the runbook directory); repeatable.
        #[arg(long = "runbook", value_name = "PATH")]
        runbooks: Vec<String>,
        /// The incident commander.
        #[arg(long)]
        commander: Option<String>,
    },
    /// List incidents (open ones unless --all or --status).
    List(ListArgs),
    /// Show an incident with its timeline, alerts, runs, checklist and action items.
    Show {
        /// Incident number or id.
        incident: String,
    },
    /// Acknowledge: you own it, paging stops.
    #[command(alias = "acknowledge")]
    Ack {
        /// Incident number or id.
        incident: String,
    },
    /// Give someone a role (commander, scribe, communications, ...).
    Assign {
        /// Incident number or id.
        incident: String,
        /// The role.
        role: String,
        /// The person.
        person: String,
    },
    /// Add a note to the timeline.
    Note {
        /// Incident number or id.
        incident: String,
        /// The note (secrets are redacted before it is stored).
        text: String,
    },
    /// Change the severity.
    Severity {
        /// Incident number or id.
        incident: String,
        /// The new severity.
        severity: String,
    },
    /// The impact has ended.
    Mitigate {
        /// Incident number or id.
        incident: String,
    },
    /// Resolve; every stand-down checklist item must be ticked unless --force.
    Resolve {
        /// Incident number or id.
        incident: String,
        /// Resolve with items still open; the reason is recorded.
        #[arg(long, value_name = "REASON")]
        force: Option<String>,
    },
    /// Reopen a resolved incident.
    Reopen {
        /// Incident number or id.
        incident: String,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
    },
    /// Page the next level of the incident's escalation policy now (needs `escalation`
    /// in the config); the paging sweep will not page that level again.
    Escalate {
        /// Incident number or id.
        incident: String,
    },
    /// Page one person of the escalation config now, on every contact method, and list
    /// them as a responder.
    Page {
        /// Incident number or id.
        incident: String,
        /// A person id of the escalation config.
        person: String,
    },
}

/// `sitrep incident list`'s filters.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only these statuses (triggered, acknowledged, mitigated, resolved, or `open`
    /// or `all`); repeatable.
    #[arg(long)]
    pub status: Vec<String>,
    /// Include resolved incidents.
    #[arg(long, conflicts_with = "status")]
    pub all: bool,
    /// Only this severity.
    #[arg(long)]
    pub severity: Option<String>,
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only incidents with every one of these words in their title, service or
    /// alert labels (case-insensitive).
    #[arg(long, value_name = "WORDS")]
    pub search: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

pub fn run(cmd: IncidentCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let actor = args.actor().ok();
    with_app(args, move |app| async move {
        let actor = || actor.clone().ok_or_else(crate::cmd::appctx::no_actor);
        let inc = match cmd {
            IncidentCmd::Declare {
                title,
                severity,
                service,
                runbooks,
                commander,
            } => {
                let new = NewIncident {
                    title,
                    severity,
                    service,
                    runbooks,
                    commander,
                    group_key: None,
                };
                app.declare(new, &actor()?).await
            }
            IncidentCmd::List(args) => return list(&app, args, ctx).await,
            IncidentCmd::Show { incident } => return show(&app, &incident, ctx).await,
            IncidentCmd::Escalate { incident } => {
                return paging::escalate(&app, &incident, &actor()?, ctx).await;
            }
            IncidentCmd::Page { incident, person } => {
                return paging::page(&app, &incident, &person, &actor()?, ctx).await;
            }
            IncidentCmd::Ack { incident } => app.acknowledge(&incident, &actor()?).await,
            IncidentCmd::Assign {
                incident,
                role,
                person,
            } => app.assign(&incident, &role, &person, &actor()?).await,
            IncidentCmd::Note { incident, text } => {
                let e = app
                    .note(&incident, &text, &actor()?)
                    .await
                    .map_err(app_error)?;
                return if ctx.json {
                    ctx.print_json(&e)
                } else {
                    emit(&format!("noted (ledger #{})\n", e.index))
                };
            }
            IncidentCmd::Severity { incident, severity } => {
                app.set_severity(&incident, &severity, &actor()?).await
            }
            IncidentCmd::Mitigate { incident } => app.mitigate(&incident, &actor()?).await,
            IncidentCmd::Resolve { incident, force } => {
                app.resolve(&incident, &actor()?, force.as_deref()).await
            }
            IncidentCmd::Reopen { incident, reason } => {
                app.reopen(&incident, &actor()?, &reason).await
            }
        }
        .map_err(app_error)?;
        if ctx.json {
            ctx.print_json(&inc)
        } else {
            emit(&format!("{}\n", one_line(&inc)))
        }
    })
}

async fn list(app: &App, args: ListArgs, ctx: Ctx) -> Result<(), CliError> {
    let statuses = if args.all && args.status.is_empty() {
        Vec::new()
    } else {
        listing::statuses(&args.status).map_err(app_error)?
    };
    let severity = match args.severity {
        Some(s) => Some(app.scale().normalize(&s).map_err(CliError::input)?),
        None => None,
    };
    let search = args.search.unwrap_or_default();
    let filter = IncidentFilter {
        statuses,
        severity,
        service: args.service,
        // A search looks through more than it shows, as the UI's list does.
        limit: if search.trim().is_empty() {
            args.limit
        } else {
            1000.max(args.limit)
        },
    };
    let incidents: Vec<_> = app
        .incidents(&filter)
        .await
        .map_err(app_error)?
        .into_iter()
        .filter(|i| listing::matches(i, &search, i64::MIN))
        .take(args.limit as usize)
        .collect();
    if ctx.json {
        return ctx.print_json(&incidents);
    }
    if incidents.is_empty() {
        return emit("no incidents\n");
    }
    let mut out = String::new();
    for i in &incidents {
        let _ = writeln!(out, "{}", one_line(i));
    }
    emit(&out)
}

async fn show(app: &App, id: &str, ctx: Ctx) -> Result<(), CliError> {
    let view = app.view(id).await.map_err(app_error)?;
    let timeline = app.timeline(id, None).await.map_err(app_error)?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "incident": view, "timeline": timeline }));
    }
    emit(&render(&view, &timeline))
}

/// `#3 SEV2 acknowledged  checkout errors  [checkout]`
fn one_line(i: &Incident) -> String {
    let service = i
        .service
        .as_deref()
        .map_or(String::new(), |s| format!("  [{s}]"));
    format!(
        "#{:<4} {:<5} {:<12} {}{}",
        i.number, i.severity, i.status, i.title, service
    )
}

fn render(v: &IncidentView, timeline: &[Event]) -> String {
    let i = &v.incident;
    let mut o = String::new();
    let _ = writeln!(o, "#{} {}\n", i.number, i.title);
    let _ = writeln!(o, "  id        {}", i.id);
    let _ = writeln!(o, "  severity  {}", i.severity);
    let _ = writeln!(o, "  status    {}", i.status);
    if let Some(s) = &i.service {
        let _ = writeln!(o, "  service   {s}");
    }
    for (role, who) in &i.roles {
        let _ = writeln!(o, "  {role:<9} {who}");
    }
    for r in &i.runbooks {
        let _ = writeln!(o, "  runbook   {r}");
    }
    if !v.alerts.is_empty() {
        let _ = writeln!(o, "\nalerts:");
        for a in &v.alerts {
            let name = a.labels.get("alertname").map_or("?", String::as_str);
            let _ = writeln!(o, "  {} {name} ({})", a.status, a.fingerprint);
        }
    }
    if !v.runs.is_empty() {
        let _ = writeln!(o, "\nruns:");
        for r in &v.runs {
            let exit = r.exit_code.map_or("-".to_owned(), |c| c.to_string());
            let _ = writeln!(
                o,
                "  {} {:<11} exit {:<3} {} [{}] by {}",
                r.step_id, r.status, exit, r.runbook, r.risk, r.actor
            );
        }
    }
    if !v.checklist.is_empty() {
        let _ = writeln!(o, "\nchecklist:");
        for (n, c) in v.checklist.iter().enumerate() {
            let _ = writeln!(
                o,
                "  {:>2}. [{}] {}",
                n + 1,
                if c.checked { "x" } else { " " },
                c.text
            );
        }
    }
    if !v.actions.is_empty() {
        let _ = writeln!(o, "\naction items:");
        for (n, a) in v.actions.iter().enumerate() {
            let owner = a.owner.as_deref().unwrap_or("unowned");
            let _ = writeln!(
                o,
                "  {:>2}. [{}] {} ({owner})",
                n + 1,
                if a.status == "done" { "x" } else { " " },
                a.title
            );
        }
    }
    let _ = writeln!(o, "\ntimeline:");
    for e in timeline {
        let r = &e.record;
        let when = jiff::Timestamp::from_millisecond(i64::try_from(r.time_ms).unwrap_or(0))
            .map_or_else(
                |_| r.time_ms.to_string(),
                |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            );
        // An alert record's per-alert fields (`alert.NN.*`) go on lines of their own.
        let detail: Vec<String> = r
            .payload
            .iter()
            .filter(|(k, _)| {
                !k.ends_with("sha256") && k.as_str() != "bound" && !k.starts_with("alert.")
            })
            .map(|(k, v)| format!("{k}={}", v.lines().next().unwrap_or("")))
            .collect();
        let _ = writeln!(
            o,
            "  {when}  #{:<5} {:<26} {:<10} {}",
            e.index,
            r.event_type,
            r.actor,
            detail.join(" ")
        );
        for line in listed_alerts(&r.payload) {
            let _ = writeln!(o, "{:>34}{line}", "");
        }
    }
    o
}

/// One line per alert an alert record lists (`sitrep_app::alert_records`): its labels,
/// and its summary when it has one.
fn listed_alerts(payload: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    (0..sitrep_app::alert_records::PER_RECORD)
        .map_while(|i| {
            let labels = payload.get(&format!("alert.{i:02}.labels"))?;
            let first = |s: &str| s.lines().next().unwrap_or("").to_owned();
            Some(match payload.get(&format!("alert.{i:02}.summary")) {
                Some(sum) => format!("{} · {}", first(labels), first(sum)),
                None => first(labels),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::listed_alerts;

    #[test]
    fn an_alert_record_lists_one_line_per_alert() {
        let payload = [
            ("alerts", "2"),
            ("alertname", "DiskFull"),
            ("alert.00.fingerprint", "00000000000000aa"),
            ("alert.00.labels", "alertname=DiskFull, host=db-1"),
            ("alert.00.summary", "disk 97% full\nmore"),
            ("alert.01.fingerprint", "00000000000000bb"),
            ("alert.01.labels", "alertname=DiskFull, host=db-2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            listed_alerts(&payload),
            [
                "alertname=DiskFull, host=db-1 · disk 97% full",
                "alertname=DiskFull, host=db-2"
            ]
        );
        assert!(listed_alerts(&std::collections::BTreeMap::new()).is_empty());
    }
}
