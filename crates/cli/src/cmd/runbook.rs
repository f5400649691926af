//! `sitrep runbook show|list|lint`: the runbook engine on the command line. This module
//! reads files and prints; everything it shows comes from `sitrep_runbook`.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use sitrep_runbook::{
    Diagnostic, LinkTarget, Runbook, RunbookSet, SectionKind, Severity, TableData,
};

use crate::output::emit;
use crate::{CliError, Ctx};

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
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d)
            .with_context(|| format!("cannot read directory {}", d.display()))
            .map_err(CliError::Input)?;
        for entry in rd {
            let entry = entry
                .with_context(|| format!("cannot read directory {}", d.display()))
                .map_err(CliError::Internal)?;
            let path = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            // The entry's own type: a link to a directory is not followed.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if sitrep_runbook::is_runbook_file_name(&name.to_string_lossy()) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
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

fn badge(level: impl std::fmt::Display) -> String {
    format!("[{level}]")
}

/// The human view of one runbook.
fn render(path: &str, rb: &Runbook, diags: &[Diagnostic]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{path}");
    if let Some(t) = &rb.title {
        let _ = writeln!(o, "  title     {t}");
    }
    if let Some(f) = &rb.front_matter {
        if let Some(s) = &f.service {
            let _ = writeln!(o, "  service   {s}");
        }
        if !f.owners.is_empty() {
            let _ = writeln!(o, "  owners    {}", f.owners.join(", "));
        }
        if let Some(s) = &f.severity {
            let _ = writeln!(o, "  severity  {s}");
        }
        if !f.params.is_empty() {
            let ps: Vec<String> = f
                .params
                .iter()
                .map(|(k, p)| match &p.default {
                    Some(d) => format!("{k}={d}"),
                    None => k.clone(),
                })
                .collect();
            let _ = writeln!(o, "  params    {}", ps.join(", "));
        }
    }
    let alerts = rb.alerts_handled();
    if !alerts.is_empty() {
        let _ = writeln!(o, "  alerts    {}", alerts.join(", "));
    }

    if !rb.sections.is_empty() {
        let _ = writeln!(o, "\nSections");
        for (i, s) in rb.sections.iter().enumerate() {
            let depth = depth(rb, i);
            let role = s
                .role
                .map(|r| format!("  [{}]", r.as_str()))
                .unwrap_or_default();
            let kind = match s.kind {
                SectionKind::Heading => "",
                SectionKind::BoldParagraph | SectionKind::BoldListItem => "  (bold)",
                SectionKind::Recovered => "  (recovered)",
            };
            let _ = writeln!(
                o,
                "  {:>4}  {}{}{role}{kind}",
                s.line,
                "  ".repeat(depth),
                s.heading
            );
        }
    }

    if !rb.steps.is_empty() {
        let _ = writeln!(o, "\nSteps ({})", rb.steps.len());
        for s in &rb.steps {
            let role = s
                .role
                .map(|r| format!(" ({})", r.as_str()))
                .unwrap_or_default();
            let _ = writeln!(o, "  {} {}  {}{role}", badge(s.risk.level), s.id, s.title);
            let mut meta = vec![format!("lines {}-{}", s.line, s.end_line)];
            if let Some(l) = &s.lang {
                meta.push(l.clone());
            }
            if let Some(t) = s.attributes.timeout {
                meta.push(format!("timeout {}", humantime_fmt(t)));
            }
            if s.attributes.confirm == Some(true) {
                meta.push("confirm".into());
            }
            if let Some(r) = &s.attributes.risk {
                meta.push(format!("declared {r}"));
            }
            if s.recovered {
                meta.push("recovered from bare lines".into());
            }
            let _ = writeln!(o, "      {}", meta.join(" · "));
            for c in &s.commands {
                let level = s
                    .risk
                    .commands
                    .iter()
                    .filter(|r| {
                        r.span.start >= c.span.start
                            && r.span.start < c.span.end.max(c.span.start + 1)
                    })
                    .map(|r| r.level)
                    .max();
                let first = c.text.lines().next().unwrap_or("");
                let more = if c.text.lines().nth(1).is_some() {
                    " …"
                } else {
                    ""
                };
                match level {
                    Some(l) => {
                        let _ = writeln!(o, "      $ {first}{more}  {}", badge(l));
                    }
                    None => {
                        let _ = writeln!(o, "      $ {first}{more}");
                    }
                }
            }
            if !s.placeholders.is_empty() {
                let names: Vec<&str> = s.placeholders.iter().map(|p| p.name.as_str()).collect();
                let _ = writeln!(o, "      needs: {}", names.join(", "));
            }
        }
    }

    if !rb.tables.is_empty() {
        let _ = writeln!(o, "\nTables");
        for t in &rb.tables {
            let (kind, rows): (&str, Vec<String>) = match &t.data {
                TableData::Severity(r) => (
                    "severity levels",
                    r.iter()
                        .map(|l| {
                            let resp = match (&l.response_time, l.response) {
                                (Some(w), Some(d)) => {
                                    format!(" — respond {w} ({})", humantime_fmt(d))
                                }
                                (Some(w), None) => format!(" — respond {w}"),
                                _ => String::new(),
                            };
                            format!("{}{resp}", l.level)
                        })
                        .collect(),
                ),
                TableData::Triage(r) => (
                    "triage matrix",
                    r.iter()
                        .map(|t| {
                            format!(
                                "{} → {}",
                                t.symptom,
                                t.first_action.as_deref().unwrap_or("?")
                            )
                        })
                        .collect(),
                ),
                TableData::Thresholds(r) => (
                    "thresholds",
                    r.iter()
                        .map(|t| {
                            format!(
                                "{}: warning {}, critical {}",
                                t.metric,
                                t.warning.as_deref().unwrap_or("-"),
                                t.critical.as_deref().unwrap_or("-")
                            )
                        })
                        .collect(),
                ),
                TableData::Contacts(r) => (
                    "contacts",
                    r.iter()
                        .map(|c| {
                            let f: Vec<String> =
                                c.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                            format!("{} ({})", c.who, f.join(", "))
                        })
                        .collect(),
                ),
                TableData::Generic => ("table", vec![t.header.join(" | ")]),
            };
            let _ = writeln!(o, "  {kind} ({} rows)", t.rows.len());
            for r in rows {
                let _ = writeln!(o, "    - {r}");
            }
        }
    }

    if !rb.checklist.is_empty() {
        let _ = writeln!(o, "\nChecklist");
        for c in &rb.checklist {
            let mark = if c.checked { "[x]" } else { "[ ]" };
            let gate = if c.gate { "  (gate)" } else { "" };
            let _ = writeln!(o, "  {mark} {}{gate}", c.text);
        }
    }

    if !rb.alert_rules.is_empty() {
        let _ = writeln!(o, "\nAlert rules");
        for a in &rb.alert_rules {
            let handler = a
                .handler
                .and_then(|h| rb.sections.get(h))
                .map_or(String::new(), |s| format!("  → {}", s.heading));
            let f = a
                .for_
                .as_deref()
                .map_or(String::new(), |f| format!(" for {f}"));
            let _ = writeln!(o, "  {}{f}{handler}", a.name);
            let _ = writeln!(o, "      expr: {}", a.expr.lines().next().unwrap_or(""));
        }
    }

    let files: Vec<String> = rb
        .links
        .iter()
        .filter_map(|l| match &l.target {
            LinkTarget::File { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    if !files.is_empty() {
        let _ = writeln!(o, "\nLinks to other runbooks: {}", files.join(", "));
    }

    if !diags.is_empty() {
        let _ = writeln!(o, "\nNotes");
        for d in diags {
            let _ = writeln!(
                o,
                "  {}:{} {}[{}] {}",
                d.line, d.column, d.severity, d.code, d.message
            );
        }
    }
    o
}

fn humantime_fmt(d: std::time::Duration) -> String {
    if d.is_zero() {
        "0s".to_string()
    } else {
        humantime_like(d)
    }
}

/// `90s` -> `1m 30s`; enough for output without another dependency.
fn humantime_like(d: std::time::Duration) -> String {
    let mut s = d.as_secs();
    let mut parts = Vec::new();
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= n {
            parts.push(format!("{}{unit}", s / n));
            s %= n;
        }
    }
    if parts.is_empty() {
        format!("{}ms", d.as_millis())
    } else {
        parts.join(" ")
    }
}

fn depth(rb: &Runbook, i: usize) -> usize {
    let mut d = 0;
    let mut cur = rb.sections.get(i).and_then(|s| s.parent);
    while let Some(p) = cur {
        d += 1;
        cur = rb.sections.get(p).and_then(|s| s.parent);
        if d > rb.sections.len() {
            break;
        }
    }
    d
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

#[derive(Serialize)]
struct LintFile<'a> {
    path: &'a str,
    diagnostics: Vec<&'a Diagnostic>,
}

#[derive(Serialize)]
struct Skipped {
    path: String,
    reason: String,
}

#[derive(Serialize)]
struct LintJson<'a> {
    files: Vec<LintFile<'a>>,
    /// Files under a directory that were not read, and why (links, devices, too big).
    #[serde(skip_serializing_if = "<[Skipped]>::is_empty")]
    skipped: &'a [Skipped],
    errors: usize,
    warnings: usize,
    infos: usize,
}

fn lint(paths: &[PathBuf], format: Format, all: bool, ctx: &Ctx) -> Result<(), CliError> {
    // Files to report on, plus siblings read only so links between files resolve.
    // Files under a directory are read as the server reads its runbook directory.
    let mut report: Vec<(PathBuf, Option<&Path>)> = Vec::new();
    let mut context: Vec<PathBuf> = Vec::new();
    for p in paths {
        if p.is_dir() {
            report.extend(
                markdown_files(p)?
                    .into_iter()
                    .map(|f| (f, Some(p.as_path()))),
            );
        } else {
            report.push((p.clone(), None));
            if let Some(parent) = p.parent() {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                if let Ok(rd) = std::fs::read_dir(parent) {
                    context.extend(rd.flatten().map(|e| e.path()).filter(|p| {
                        p.file_name().is_some_and(|n| {
                            sitrep_runbook::is_runbook_file_name(&n.to_string_lossy())
                        })
                    }));
                }
            }
        }
    }
    let mut sources: Vec<(String, String)> = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for (p, root) in &report {
        let name = display_path(p);
        if reported.contains(&name) || skipped.iter().any(|s| s.path == name) {
            continue;
        }
        match root {
            None => sources.push((name.clone(), read(p)?)),
            Some(root) => match sitrep_app::read_runbook(Some(root), p) {
                Ok(text) => sources.push((name.clone(), text)),
                Err(reason) => {
                    skipped.push(Skipped { path: name, reason });
                    continue;
                }
            },
        }
        reported.push(name);
    }
    for p in &context {
        let name = display_path(p);
        if sources.iter().any(|(n, _)| *n == name) {
            continue;
        }
        // Context files that cannot be read are simply not link targets.
        if let Ok(bytes) = std::fs::read(p)
            && let Ok(text) = String::from_utf8(bytes)
        {
            sources.push((name, text));
        }
    }
    let set = RunbookSet::from_sources(sources);
    let entries: Vec<_> = reported.iter().filter_map(|p| set.get(p)).collect();
    let count = |s: Severity| {
        entries
            .iter()
            .flat_map(|e| &e.diagnostics)
            .filter(|d| d.severity == s)
            .count()
    };
    let (errors, warnings, infos) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
    let shown = |d: &Diagnostic| all || d.severity > Severity::Info;
    match format {
        Format::Json => {
            let files = entries
                .iter()
                .map(|e| LintFile {
                    path: &e.path,
                    diagnostics: e.diagnostics.iter().filter(|d| shown(d)).collect(),
                })
                .collect();
            ctx.print_json(&LintJson {
                files,
                skipped: &skipped,
                errors,
                warnings,
                infos,
            })?;
        }
        Format::Github => {
            let mut out = String::new();
            for s in &skipped {
                let _ = writeln!(
                    out,
                    "::warning file={},title=skipped::{}",
                    gh_escape_prop(&s.path),
                    gh_escape_data(&format!("not read: {}", s.reason))
                );
            }
            for e in &entries {
                for d in e.diagnostics.iter().filter(|d| shown(d)) {
                    let level = match d.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                        Severity::Info => "notice",
                    };
                    let _ = writeln!(
                        out,
                        "::{level} file={},line={},col={},title={}::{}",
                        gh_escape_prop(&e.path),
                        d.line,
                        d.column,
                        gh_escape_prop(d.code),
                        gh_escape_data(&d.message)
                    );
                }
            }
            emit(&out)?;
        }
        Format::Human => {
            let mut out = String::new();
            for s in &skipped {
                let _ = writeln!(out, "{}: skipped: {}", s.path, s.reason);
            }
            for e in &entries {
                for d in e.diagnostics.iter().filter(|d| shown(d)) {
                    let _ = writeln!(
                        out,
                        "{}:{}:{}: {}[{}]: {}",
                        e.path, d.line, d.column, d.severity, d.code, d.message
                    );
                }
            }
            let hidden = if all || infos == 0 {
                String::new()
            } else {
                format!(" ({infos} info notes hidden: --all shows them)")
            };
            let _ = writeln!(
                out,
                "{} file{} checked: {errors} error{}, {warnings} warning{}{hidden}",
                entries.len(),
                plural(entries.len()),
                plural(errors),
                plural(warnings)
            );
            emit(&out)?;
        }
    }
    if errors > 0 {
        return Err(CliError::CheckFailed(format!(
            "{errors} lint error{} found",
            plural(errors)
        )));
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// GitHub workflow-command escaping for message data.
fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub workflow-command escaping for properties (also `:` and `,`).
fn gh_escape_prop(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
