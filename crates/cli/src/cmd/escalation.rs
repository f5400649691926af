//! `sitrep escalation simulate|lint|init`: escalation configs on the command line. This module
//! reads the file, takes the clock and prints; everything it shows comes from
//! `sitrep_escalation`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use sitrep_escalation::draft::{PathStep, draft_toml};
use sitrep_escalation::{
    Config, Finding, FindingLevel, Page, SignedDuration, Timestamp, lint, simulate,
};

use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum EscalationCmd {
    /// Show who would be paged when for an incident nobody acknowledges.
    Simulate {
        /// The escalation config (TOML; see docs/escalation.md).
        #[arg(long)]
        config: PathBuf,
        /// The service the incident belongs to.
        #[arg(long)]
        service: String,
        /// The incident's severity, e.g. SEV1 or P0.
        #[arg(long)]
        severity: String,
        /// When the incident is declared (RFC 3339, e.g. 2026-11-23T10:00:00Z); default now.
        #[arg(long)]
        from: Option<String>,
        /// How many hours to simulate.
        #[arg(long, default_value_t = 4)]
        hours: u32,
    },
    /// Check a config: unknown references, unreachable levels, people nobody can reach,
    /// empty rotations. Exit 1 on errors.
    Lint {
        /// The escalation config (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Print a first escalation config (TOML) drafted from the escalation path a runbook
    /// writes down (a numbered list of roles, or a contacts table): one person and one
    /// policy level per step. Add contacts, then `sitrep escalation lint`.
    Init {
        /// The runbook (Markdown) whose escalation path to start from.
        #[arg(long, value_name = "FILE")]
        from_runbook: PathBuf,
        /// The policy's id.
        #[arg(long, default_value = "default")]
        policy: String,
        /// A service to route to the policy.
        #[arg(long)]
        service: Option<String>,
    },
}

pub fn run(cmd: EscalationCmd, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        EscalationCmd::Simulate {
            config,
            service,
            severity,
            from,
            hours,
        } => {
            let from = match from {
                Some(s) => s.parse::<Timestamp>().map_err(|e| {
                    CliError::input(anyhow::anyhow!(
                        "--from `{s}` is not an RFC 3339 instant with an offset: {e}"
                    ))
                })?,
                None => Timestamp::now(),
            };
            simulate_cmd(&config, &service, &severity, from, hours, ctx)
        }
        EscalationCmd::Lint { config } => lint_cmd(&config, ctx),
        EscalationCmd::Init {
            from_runbook,
            policy,
            service,
        } => init_cmd(&from_runbook, &policy, service.as_deref()),
    }
}

/// Drafts a config from a runbook's escalation path; a runbook without one is bad input.
fn init_cmd(path: &Path, policy: &str, service: Option<&str>) -> Result<(), CliError> {
    let text = sitrep_app::read_runbook(None, path)
        .map_err(|why| CliError::input(anyhow::anyhow!("cannot read {}: {why}", path.display())))?;
    let (runbook, _) = sitrep_runbook::parse(&text);
    let Some(path_rows) = runbook.escalation_path() else {
        return Err(CliError::input(anyhow::anyhow!(
            "{}: no escalation path found (a numbered list of bold roles under an escalation heading, or a contacts table)",
            path.display()
        )));
    };
    let steps: Vec<PathStep> = path_rows
        .iter()
        .map(|c| PathStep {
            role: c.who.clone(),
            scope: c.fields.get("scope").cloned(),
            after: c.after(),
            email: c.fields.get("email").cloned(),
            notes: c
                .fields
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "scope" | "email" | "order"))
                .map(|(k, v)| format!("{k}: {v}"))
                .collect(),
        })
        .collect();
    emit(&draft_toml(policy, service, &steps))
}

/// Reads and parses a config; both a missing file and a bad one are the user's input.
fn load(path: &Path) -> Result<Config, CliError> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(CliError::Input)?;
    Config::from_toml(&text)
        .map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", path.display())))
}

#[derive(Serialize)]
struct SimulateJson<'a> {
    service: &'a str,
    severity: &'a str,
    policy: Option<&'a str>,
    from: Timestamp,
    until: Timestamp,
    pages: Vec<&'a Page>,
}

fn simulate_cmd(
    path: &Path,
    service: &str,
    severity: &str,
    from: Timestamp,
    hours: u32,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let cfg = load(path)?;
    let horizon = SignedDuration::from_hours(i64::from(hours));
    let pages = simulate(&cfg, service, severity, from, horizon).map_err(CliError::input)?;
    let until = from.checked_add(horizon).unwrap_or(Timestamp::MAX);
    let policy = cfg.policy_id_for(service);
    if ctx.json {
        return ctx.print_json(&SimulateJson {
            service,
            severity,
            policy,
            from,
            until,
            pages: pages.iter().map(|(_, p)| p).collect(),
        });
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{service} at {severity}, policy {}, declared {from}, nobody acknowledges, for {hours}h:",
        policy.unwrap_or("-")
    );
    if pages.is_empty() {
        let _ = writeln!(o, "\nnobody is paged in this window");
        return emit(&o);
    }
    let rows: Vec<[String; 6]> = pages
        .iter()
        .map(|(at, p)| {
            [
                at.to_string(),
                format!("+{}", minutes(at.duration_since(from))),
                format!("{}.{}", p.cycle, p.level),
                p.target.to_string(),
                p.person.clone().unwrap_or_else(|| "-".into()),
                format!("{} {}", p.contact.method.kind(), p.contact.method.address()),
            ]
        })
        .collect();
    let header = ["TIME", "AFTER", "LEVEL", "TARGET", "PERSON", "CONTACT"];
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let _ = writeln!(o);
    let line = |cells: [&str; 6]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        s
    };
    let _ = writeln!(o, "{}", line(header));
    for r in &rows {
        let _ = writeln!(o, "{}", line(r.each_ref().map(String::as_str)));
    }
    let cycles = pages
        .iter()
        .map(|(_, p)| p.cycle)
        .max()
        .map_or(0, |c| c + 1);
    let _ = writeln!(
        o,
        "\n{} page{} in {cycles} cycle{} (LEVEL is cycle.level)",
        pages.len(),
        plural(pages.len()),
        plural(cycles as usize)
    );
    emit(&o)
}

/// `75` minutes -> `1h15m`; pages are minutes apart, so minutes are precise enough.
fn minutes(d: SignedDuration) -> String {
    let m = d.as_mins();
    match (m / 60, m % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

#[derive(Serialize)]
struct LintJson<'a> {
    config: String,
    findings: &'a [Finding],
    errors: usize,
    warnings: usize,
}

fn lint_cmd(path: &Path, ctx: &Ctx) -> Result<(), CliError> {
    let cfg = load(path)?;
    let findings = lint(&cfg);
    let errors = findings
        .iter()
        .filter(|f| f.level == FindingLevel::Error)
        .count();
    let warnings = findings.len() - errors;
    if ctx.json {
        ctx.print_json(&LintJson {
            config: path.display().to_string(),
            findings: &findings,
            errors,
            warnings,
        })?;
    } else {
        let mut o = String::new();
        for f in &findings {
            let _ = writeln!(
                o,
                "{}: {}[{}] {}: {}",
                path.display(),
                f.level,
                f.code,
                f.path,
                f.message
            );
        }
        let _ = writeln!(
            o,
            "{}: {errors} error{}, {warnings} warning{}",
            path.display(),
            plural(errors),
            plural(warnings)
        );
        emit(&o)?;
    }
    if errors > 0 {
        return Err(CliError::CheckFailed(format!(
            "{errors} escalation lint error{} found",
            plural(errors)
        )));
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
