//! `sitrep run INCIDENT RUNBOOK [STEP]`: run one step (bound, gated, recorded) or every
//! read step of a section, printing output live.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;

use anyhow::anyhow;
use sitrep_app::{App, AppError, Mode, Plan, PlanState, Principal, RunReport, RunRequest, RunSink};
use sitrep_app::{Decision, Outcome, Stream};
use sitrep_runbook::Role;

use crate::cmd::appctx::{AppArgs, app_error, with_app};
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Incident number or id.
    pub incident: String,
    /// Runbook path in the runbook directory.
    pub runbook: String,
    /// Step id (as `sitrep runbook show` lists it) or number. Omit with --section.
    #[arg(required_unless_present = "section")]
    pub step: Option<String>,
    /// Run every read step of the sections with this role (diagnosis, verification, ...).
    #[arg(long, conflicts_with = "step", value_name = "ROLE")]
    pub section: Option<String>,
    /// A placeholder value, `NAME=VALUE`; repeatable. Wins over alert and incident values.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_kv)]
    pub set: Vec<(String, String)>,
    /// Confirm write and destructive steps without asking (for scripts).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// A granted approval for this run, when policy asks for a second person (see
    /// `sitrep approval`).
    #[arg(long, value_name = "ID")]
    pub approval: Option<String>,
    /// Print the bound command and its risk, run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn parse_kv(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    if k.trim().is_empty() {
        return Err(format!("{s:?} has an empty name"));
    }
    Ok((k.trim().to_owned(), v.to_owned()))
}

/// Prints output live: `[step] line` on stderr for human mode, nothing with --json.
struct PrintSink {
    quiet: bool,
    prefix: bool,
}

impl RunSink for PrintSink {
    fn started(&self, step_id: &str, display: &str, _pid: u32) {
        if !self.quiet {
            eprintln!("▶ {step_id}: {}", display.lines().next().unwrap_or(""));
        }
    }
    fn output(&self, step_id: &str, stream: Stream, bytes: &[u8]) {
        if self.quiet {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let mut err = std::io::stderr().lock();
        for line in text.lines() {
            let mark = if stream == Stream::Stderr { "!" } else { " " };
            let _ = if self.prefix {
                writeln!(err, "  [{step_id}]{mark} {line}")
            } else {
                writeln!(err, "  {mark} {line}")
            };
        }
    }
    fn finished(&self, _: &str, _: &Outcome) {}
}

pub fn run(args: RunArgs, app_args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    // A dry run records nothing, so it needs no name.
    let actor = match app_args.actor() {
        Ok(a) => a,
        Err(_) if args.dry_run => sitrep_app::Principal::asserted("(dry run)"),
        Err(e) => return Err(e),
    };
    with_app(app_args, move |app| async move {
        match &args.section {
            Some(role) => section(&app, &args, role, &actor, ctx).await,
            None => step(&app, &args, &actor, ctx).await,
        }
    })
}

async fn step(app: &App, args: &RunArgs, actor: &Principal, ctx: Ctx) -> Result<(), CliError> {
    let mut req = RunRequest {
        incident: args.incident.clone(),
        runbook: args.runbook.clone(),
        step: args.step.clone().unwrap_or_default(),
        // The CLI's `--as` is asserted: principal `cli:NAME`.
        actor: actor.clone(),
        set: args.set.iter().cloned().collect::<BTreeMap<_, _>>(),
        confirmed: None,
        approval: args.approval.clone(),
        mode: Mode::Interactive,
    };
    let interactive = std::io::stdin().is_terminal() && !ctx.json;
    let mut plan = app.plan(&req).await.map_err(app_error)?;
    if !plan.missing().is_empty() && interactive && !args.dry_run {
        for name in plan.missing().to_vec() {
            let v = prompt(&format!("value for {name}: "))?;
            req.set.insert(name, v);
        }
        plan = app.plan(&req).await.map_err(app_error)?;
    }
    if args.dry_run {
        return if ctx.json {
            ctx.print_json(&plan)
        } else {
            emit(&describe(&plan))
        };
    }
    if let PlanState::Unbound(names) = &plan.state {
        return Err(app_error(AppError::Unbound {
            names: names.clone(),
        }));
    }
    if let Some(Decision::NeedsConfirmation { reasons }) = plan.decision() {
        if args.yes {
            req.confirmed = Some(plan.id.clone());
        } else if interactive {
            eprint!("{}", describe(&plan));
            for r in reasons {
                eprintln!("  ! {r}");
            }
            let answer = prompt("type 'yes' to run exactly this: ")?;
            if answer.trim() != "yes" {
                return Err(CliError::CheckFailed("not confirmed; nothing ran".into()));
            }
            req.confirmed = Some(plan.id.clone());
        } else {
            eprint!("{}", describe(&plan));
            let why = reasons
                .first()
                .map_or("it needs confirmation", String::as_str);
            return Err(CliError::CheckFailed(format!(
                "{why}: confirm with --yes (or run it on a terminal); nothing ran"
            )));
        }
    }
    let sink = Arc::new(PrintSink {
        quiet: ctx.json,
        prefix: false,
    });
    let report = app.run_step(&req, sink).await.map_err(|e| match e {
        AppError::NeedsApproval {
            reason,
            approval: Some(a),
        } => CliError::CheckFailed(format!(
            "approval needed: {reason}; nothing ran.\n\
             Approval {id} is requested: someone else runs \
             `sitrep approval grant {inc} {id} --as NAME`, then run this again with \
             `--approval {id}` (valid until it is used or expires)",
            id = a.id,
            inc = args.incident,
        )),
        e => app_error(e),
    })?;
    finish(&[report], ctx)
}

async fn section(
    app: &App,
    args: &RunArgs,
    role: &str,
    actor: &Principal,
    ctx: Ctx,
) -> Result<(), CliError> {
    let role = parse_role(role)?;
    // Section runs take only read steps, so --yes and approvals do not apply.
    let incident = app.incident(&args.incident).await.map_err(app_error)?;
    if !incident.runbooks.iter().any(|r| {
        app.library()
            .get(&args.runbook)
            .is_some_and(|e| &e.path == r)
    }) {
        return Err(CliError::input(anyhow!(
            "runbook {} is not attached to incident #{}",
            args.runbook,
            incident.number
        )));
    }
    let sink = Arc::new(PrintSink {
        quiet: ctx.json,
        prefix: true,
    });
    let results = app
        .run_sections(&incident.id, &[role], actor, Mode::Interactive, sink)
        .await
        .map_err(app_error)?;
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(rep) => reports.push(rep),
            Err(e) => errors.push(e.to_string()),
        }
    }
    for e in &errors {
        eprintln!("skipped: {e}");
    }
    if reports.is_empty() && errors.is_empty() {
        eprintln!("no read steps in {} sections", role.as_str());
    }
    finish(&reports, ctx)
}

fn parse_role(s: &str) -> Result<Role, CliError> {
    const ROLES: [Role; 9] = [
        Role::Symptoms,
        Role::Diagnosis,
        Role::Resolution,
        Role::Verification,
        Role::Prevention,
        Role::Escalation,
        Role::Evidence,
        Role::StandDown,
        Role::PostMortem,
    ];
    ROLES
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            let names: Vec<_> = ROLES.iter().map(|r| r.as_str()).collect();
            CliError::input(anyhow!(
                "unknown section role {s:?}; one of {}",
                names.join(", ")
            ))
        })
}

fn finish(reports: &[RunReport], ctx: Ctx) -> Result<(), CliError> {
    if ctx.json {
        ctx.print_json(reports)?;
    } else {
        let mut out = String::new();
        for r in reports {
            let o = &r.outcome;
            let exit = o.exit_code.map_or_else(
                || format!("signal {}", o.signal.unwrap_or(0)),
                |c| format!("exit {c}"),
            );
            out.push_str(&format!(
                "{} {}: {} ({exit}, {} ms){}\n  stdout sha256 {}\n",
                if r.run.status == "succeeded" {
                    "✔"
                } else {
                    "✘"
                },
                r.run.step_id,
                r.run.status,
                o.duration.as_millis(),
                if o.stdout.cut_bytes > 0 {
                    format!(", {} bytes of output cut", o.stdout.cut_bytes)
                } else {
                    String::new()
                },
                r.run.stdout_sha256.as_deref().unwrap_or("-"),
            ));
        }
        emit(&out)?;
    }
    if reports.iter().any(|r| r.run.status != "succeeded") {
        return Err(CliError::CheckFailed("a step did not succeed".into()));
    }
    Ok(())
}

fn describe(p: &Plan) -> String {
    let mut s = format!("{} / {} [{}]  {}\n", p.runbook, p.step_id, p.risk, p.title);
    for r in &p.reasons {
        s.push_str(&format!("  why: {r}\n"));
    }
    if !p.refused().is_empty() {
        for r in p.refused() {
            s.push_str(&format!("  refused: {r}\n"));
        }
    } else if p.missing().is_empty() {
        s.push_str("  command:\n");
        for line in p.display.lines() {
            s.push_str(&format!("    {line}\n"));
        }
        for b in &p.bindings {
            s.push_str(&format!("  {} = {} (from {})\n", b.name, b.value, b.source));
        }
    } else {
        s.push_str(&format!(
            "  unbound: {} (pass --set NAME=VALUE)\n",
            p.missing().join(", ")
        ));
    }
    if let Some(d) = p.decision() {
        let d = match d {
            Decision::Allow => "runs".to_owned(),
            Decision::NeedsConfirmation { .. } => "needs confirmation".to_owned(),
            Decision::NeedsApproval { reason } => format!("needs approval: {reason}"),
            Decision::Deny { reason } => format!("refused: {reason}"),
        };
        s.push_str(&format!("  gate: {d}\n"));
    }
    s
}

fn prompt(q: &str) -> Result<String, CliError> {
    eprint!("{q}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::input(anyhow!(e).context("cannot read the answer")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}
