//! `sitrep checklist` and `sitrep action`: the stand-down checklist and action items.

use std::fmt::Write as _;

use anyhow::anyhow;

use crate::cmd::appctx::{AppArgs, app_error, with_app};
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum ChecklistCmd {
    /// Show the checklist (numbers are what `tick` takes).
    Show {
        /// Incident number or id.
        incident: String,
    },
    /// Tick an item, by number or a unique piece of its text.
    Tick {
        /// Incident number or id.
        incident: String,
        /// Item number or text.
        item: String,
    },
    /// Untick an item.
    Untick {
        /// Incident number or id.
        incident: String,
        /// Item number or text.
        item: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ActionCmd {
    /// Add an action item.
    Add {
        /// Incident number or id.
        incident: String,
        /// What must be done.
        title: String,
        /// Who owns it.
        #[arg(long)]
        owner: Option<String>,
        /// Due date, `YYYY-MM-DD` (UTC).
        #[arg(long, value_parser = parse_date)]
        due: Option<i64>,
    },
    /// List action items.
    List {
        /// Incident number or id.
        incident: String,
    },
    /// Mark an action item done, by number or id prefix.
    Done {
        /// Incident number or id.
        incident: String,
        /// Item number or id prefix.
        action: String,
    },
}

fn parse_date(s: &str) -> Result<i64, String> {
    let d: jiff::civil::Date = s
        .parse()
        .map_err(|e| format!("{s:?} is not a date YYYY-MM-DD: {e}"))?;
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|e| e.to_string())
}

pub fn checklist(cmd: ChecklistCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let actor = args.actor().ok();
    with_app(args, move |app| async move {
        let actor = || actor.clone().ok_or_else(crate::cmd::appctx::no_actor);
        let incident = match &cmd {
            ChecklistCmd::Show { incident }
            | ChecklistCmd::Tick { incident, .. }
            | ChecklistCmd::Untick { incident, .. } => incident.clone(),
        };
        match cmd {
            ChecklistCmd::Show { .. } => {}
            ChecklistCmd::Tick { item, .. } => {
                app.tick(&incident, &item, true, &actor()?)
                    .await
                    .map_err(app_error)?;
            }
            ChecklistCmd::Untick { item, .. } => {
                app.tick(&incident, &item, false, &actor()?)
                    .await
                    .map_err(app_error)?;
            }
        }
        let view = app.view(&incident).await.map_err(app_error)?;
        if ctx.json {
            return ctx.print_json(&view.checklist);
        }
        if view.checklist.is_empty() {
            return emit(
                "no checklist items (the incident's runbooks have no stand-down checklist)\n",
            );
        }
        let mut o = String::new();
        for (n, c) in view.checklist.iter().enumerate() {
            let by = c
                .checked_by
                .as_deref()
                .map_or(String::new(), |b| format!("  ({b})"));
            let _ = writeln!(
                o,
                "{:>2}. [{}] {}{}  — {}",
                n + 1,
                if c.checked { "x" } else { " " },
                c.text,
                by,
                c.source
            );
        }
        let open = view
            .checklist
            .iter()
            .filter(|c| c.required && !c.checked)
            .count();
        let _ = writeln!(o, "{open} item(s) open");
        emit(&o)
    })
}

pub fn action(cmd: ActionCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let actor = args.actor().ok();
    with_app(args, move |app| async move {
        let actor = || actor.clone().ok_or_else(crate::cmd::appctx::no_actor);
        let incident = match &cmd {
            ActionCmd::Add { incident, .. }
            | ActionCmd::List { incident }
            | ActionCmd::Done { incident, .. } => incident.clone(),
        };
        match cmd {
            ActionCmd::Add {
                title, owner, due, ..
            } => {
                let a = app
                    .add_action(&incident, &title, owner.as_deref(), due, &actor()?)
                    .await
                    .map_err(app_error)?;
                if !ctx.json {
                    emit(&format!("added action item {}\n", &a.id))?;
                }
            }
            ActionCmd::Done { action, .. } => {
                app.complete_action(&incident, &action, &actor()?)
                    .await
                    .map_err(app_error)?;
            }
            ActionCmd::List { .. } => {}
        }
        let view = app.view(&incident).await.map_err(app_error)?;
        if ctx.json {
            return ctx.print_json(&view.actions);
        }
        let mut o = String::new();
        for (n, a) in view.actions.iter().enumerate() {
            let due = a
                .due_ms
                .and_then(|d| jiff::Timestamp::from_millisecond(d).ok())
                .map_or(String::new(), |t| {
                    format!(" due {}", t.strftime("%Y-%m-%d"))
                });
            let _ = writeln!(
                o,
                "{:>2}. [{}] {} ({}){due}",
                n + 1,
                if a.status == "done" { "x" } else { " " },
                a.title,
                a.owner.as_deref().unwrap_or("unowned")
            );
        }
        if view.actions.is_empty() {
            o.push_str("no action items\n");
        }
        emit(&o)
    })
}

#[derive(Debug, clap::Args)]
pub struct PostmortemArgs {
    /// Incident number or id.
    pub incident: String,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
}

pub fn postmortem(a: PostmortemArgs, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    with_app(args, move |app| async move {
        let md = app.postmortem(&a.incident).await.map_err(app_error)?;
        match &a.output {
            Some(path) => {
                std::fs::write(path, &md).map_err(|e| {
                    CliError::internal(
                        anyhow!(e).context(format!("cannot write {}", path.display())),
                    )
                })?;
                if ctx.json {
                    ctx.print_json(&serde_json::json!({ "written": path, "bytes": md.len() }))
                } else {
                    emit(&format!("wrote {} ({} bytes)\n", path.display(), md.len()))
                }
            }
            None if ctx.json => ctx.print_json(&serde_json::json!({ "markdown": md })),
            None => emit(&md),
        }
    })
}
