//! `sitrep runbook lint`: read the files (and their siblings, for links), lint them as a
//! set, print in the chosen format.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sitrep_runbook::{Diagnostic, RunbookSet, Severity};

use super::{Format, display_path, markdown_files, read};
use crate::output::emit;
use crate::{CliError, Ctx};

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

pub(super) fn lint(
    paths: &[PathBuf],
    format: Format,
    all: bool,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let (report, context) = lint_files(paths)?;
    let (sources, reported, skipped) = lint_sources(&report, &context)?;
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
        Format::Github => emit(&github_lines(&entries, &skipped, &shown))?,
        Format::Human => {
            let counts = (errors, warnings, infos);
            emit(&human_lines(&entries, &skipped, &shown, counts, all))?;
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

/// A file to report on, with the runbook directory it was found under (read as the
/// server reads that directory), or `None` when it was named on the command line.
type ToReport<'a> = (PathBuf, Option<&'a Path>);

/// The files to report on, and their siblings, read only so links between files resolve.
fn lint_files(paths: &[PathBuf]) -> Result<(Vec<ToReport<'_>>, Vec<PathBuf>), CliError> {
    let mut report: Vec<ToReport<'_>> = Vec::new();
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
    Ok((report, context))
}

/// `(name, text)` pairs of runbook files.
type Sources = Vec<(String, String)>;

/// `(name, text)` of every file to report on (each once), then of the readable siblings;
/// the names reported; the files under a directory that were skipped, and why.
fn lint_sources(
    report: &[ToReport<'_>],
    context: &[PathBuf],
) -> Result<(Sources, Vec<String>, Vec<Skipped>), CliError> {
    let mut sources: Vec<(String, String)> = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for (p, root) in report {
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
    for p in context {
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
    Ok((sources, reported, skipped))
}

/// GitHub Actions workflow commands, one per shown diagnostic.
fn github_lines(
    entries: &[&sitrep_runbook::SetEntry],
    skipped: &[Skipped],
    shown: &dyn Fn(&Diagnostic) -> bool,
) -> String {
    let mut out = String::new();
    for s in skipped {
        let _ = writeln!(
            out,
            "::warning file={},title=skipped::{}",
            gh_escape_prop(&s.path),
            gh_escape_data(&format!("not read: {}", s.reason))
        );
    }
    for e in entries {
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
    out
}

/// `path:line:col: severity[code]: message` lines and a summary.
fn human_lines(
    entries: &[&sitrep_runbook::SetEntry],
    skipped: &[Skipped],
    shown: &dyn Fn(&Diagnostic) -> bool,
    (errors, warnings, infos): (usize, usize, usize),
    all: bool,
) -> String {
    let mut out = String::new();
    for s in skipped {
        let _ = writeln!(out, "{}: skipped: {}", s.path, s.reason);
    }
    for e in entries {
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
    out
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
