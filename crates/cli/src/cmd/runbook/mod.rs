//! `sitrep runbook show|list|lint|rules`: the runbook engine on the command line. This module
//! reads files and prints; everything it shows comes from `sitrep_runbook`.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use sitrep_runbook::{Diagnostic, Runbook, RunbookSet, Severity};

use crate::output::emit;
use crate::{CliError, Ctx};

mod lint;
mod rules;
mod view;

use lint::lint;
use view::render;

#[derive(Debug, clap::Subcommand)]
pub enum RunbookCmd {
    /// Show one runbook: sections with roles, steps, tables, checklists, alert rules.
    Show {
        /// The Markdown file.
        file: PathBuf,
    },
    /// One line per runbook in a directory: service, alerts handled, steps.
    List {
        /// The directory (searched recursively for *.md, *.markdown and *.txt).
        dir: PathBuf,
    },
    /// Check runbooks against the lint rules (docs/lint-rules.md); exit 1 on errors.
    Lint {
        /// Files or directories (directories are searched recursively for *.md,
        /// *.markdown and *.txt).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format; `--json` means `--format json`.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Also print info notes (what the importer guessed or repaired).
        #[arg(long)]
        all: bool,
    },
    /// Write a Prometheus rule file from the runbooks' alert rules, each with a
    /// `runbook_url` to its runbook's page in sitrep; exit 1 (nothing written) when a rule
    /// has a problem.
    Rules {
        /// The runbook directory the server serves (paths are relative to it).
        dir: PathBuf,
        /// The URL people reach sitrep at; `runbook_url` is BASE/runbooks/PATH.
        #[arg(long, env = "SITREP_BASE_URL", default_value = "http://127.0.0.1:8080")]
        base_url: String,
        /// Write the YAML here (replaced whole) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// How lint findings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `path:line:col: severity[code]: message`, then a summary.
    Human,
    /// One JSON document.
    Json,
    /// GitHub Actions workflow commands (`::error file=...`), for annotations in CI.
    Github,
}

pub fn run(cmd: RunbookCmd, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        RunbookCmd::Show { file } => show(&file, ctx),
        RunbookCmd::List { dir } => list(&dir, ctx),
        RunbookCmd::Lint { paths, format, all } => {
            let format = if ctx.json { Format::Json } else { format };
            lint(&paths, format, all, ctx)
        }
        RunbookCmd::Rules { dir, base_url, out } => {
            rules::rules(&dir, &base_url, out.as_ref(), ctx)
        }
    }
}

/// Reads a runbook named on the command line as the server reads one: a regular file of
/// at most `MAX_RUNBOOK_BYTES`, UTF-8; anything else is the user's input.
fn read(path: &Path) -> Result<String, CliError> {
    sitrep_app::read_runbook(None, path)
        .map_err(|why| CliError::input(anyhow::anyhow!("cannot read {}: {why}", path.display())))
}

/// `a/./b` -> `a/b`, with `/` separators: the set compares link targets as strings.
fn display_path(p: &Path) -> String {
    let parts: Vec<String> = p
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let s = parts.join("/");
    if p.is_absolute() && !s.starts_with('/') {
        format!("/{}", s.trim_start_matches('/'))
    } else {
        s.replace("//", "/")
    }
}

/// Every runbook file under `dir` (`*.md`, `*.markdown`, `*.txt`), sorted, so output is
/// stable.
fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    // The library's walker, so lint sees exactly the files a server would load.
    sitrep_app::runbook_files(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))
        .map_err(CliError::Input)
}

#[derive(Serialize)]
struct ShowJson<'a> {
    path: String,
    runbook: &'a Runbook,
    diagnostics: &'a [Diagnostic],
}

fn show(file: &Path, ctx: &Ctx) -> Result<(), CliError> {
    let path = display_path(file);
    let text = read(file)?;
    let set = RunbookSet::from_sources([(path.clone(), text)]);
    let Some(e) = set.entries.first() else {
        return Err(CliError::internal(anyhow::anyhow!("empty runbook set")));
    };
    if ctx.json {
        return ctx.print_json(&ShowJson {
            path,
            runbook: &e.runbook,
            diagnostics: &e.diagnostics,
        });
    }
    emit(&render(&path, &e.runbook, &e.diagnostics))
}

#[derive(Serialize)]
struct ListRow {
    path: String,
    title: Option<String>,
    service: Option<String>,
    alerts: Vec<String>,
    steps: usize,
    errors: usize,
}

fn list(dir: &Path, ctx: &Ctx) -> Result<(), CliError> {
    if !dir.is_dir() {
        return Err(CliError::input(anyhow::anyhow!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let files = markdown_files(dir)?;
    let mut sources = Vec::new();
    for f in &files {
        // As the server reads its runbook directory: links, devices and oversized
        // files are skipped, and said so.
        match sitrep_app::read_runbook(Some(dir), f) {
            Ok(text) => sources.push((display_path(f), text)),
            Err(why) => eprintln!("{}: skipped: {why}", display_path(f)),
        }
    }
    let set = RunbookSet::from_sources(sources);
    let rows: Vec<ListRow> = set
        .entries
        .iter()
        .map(|e| ListRow {
            path: e.path.clone(),
            title: e.runbook.title.clone(),
            service: e
                .runbook
                .front_matter
                .as_ref()
                .and_then(|f| f.service.clone()),
            alerts: e.runbook.alerts_handled(),
            steps: e.runbook.steps.len(),
            errors: e
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count(),
        })
        .collect();
    if ctx.json {
        return ctx.print_json(&rows);
    }
    if rows.is_empty() {
        return emit(&format!(
            "no runbooks (*.md, *.markdown, *.txt) under {}\n",
            dir.display()
        ));
    }
    let w = rows
        .iter()
        .map(|r| r.path.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let sw = rows
        .iter()
        .map(|r| r.service.as_deref().unwrap_or("-").chars().count())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<w$}  {:<sw$}  {:>5}  ALERTS",
        "PATH", "SERVICE", "STEPS"
    );
    for r in &rows {
        let alerts = if r.alerts.is_empty() {
            "-".to_string()
        } else {
            r.alerts.join(", ")
        };
        let warn = if r.errors > 0 {
            format!("  ({} lint errors)", r.errors)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<w$}  {:<sw$}  {:>5}  {alerts}{warn}",
            r.path,
            r.service.as_deref().unwrap_or("-"),
            r.steps
        );
    }
    emit(&out)
}
