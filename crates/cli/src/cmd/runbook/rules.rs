//! `sitrep runbook rules DIR`: the Prometheus rule file for a runbook directory. Reads the
//! files as the server's library does (same relative paths, so each `runbook_url` opens
//! the page sitrep serves), renders with `sitrep_runbook::prometheus_rules`, and writes
//! nothing when a rule has a problem.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use sitrep_runbook::{RuleFile, RuleProblem};

use super::markdown_files;
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Serialize)]
struct RulesJson<'a> {
    /// The rule file, as Prometheus reads it (JSON is YAML too).
    file: &'a RuleFile,
    /// Rules left out, with file and line; the command exits 1 when there are any.
    problems: &'a [RuleProblem],
    /// Files not read, and why.
    #[serde(skip_serializing_if = "<[Skipped]>::is_empty")]
    skipped: &'a [Skipped],
    /// Where the YAML was written (`--out`), else null.
    out: Option<String>,
}

/// `(path relative to the directory, text)`, as the library names runbooks.
type Sources = Vec<(String, String)>;

#[derive(Serialize)]
struct Skipped {
    path: String,
    reason: String,
}

pub(super) fn rules(
    dir: &Path,
    base_url: &str,
    out: Option<&PathBuf>,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let (sources, skipped) = read_dir(dir)?;
    let made = sitrep_runbook::prometheus_rules(sources, base_url).map_err(CliError::input)?;
    let ok = made.problems.is_empty();
    if ok {
        if let Some(path) = out {
            write_file(path, &made.file.to_yaml())?;
        }
    }
    if ctx.json {
        ctx.print_json(&RulesJson {
            file: &made.file,
            problems: &made.problems,
            skipped: &skipped,
            out: out.filter(|_| ok).map(|p| p.display().to_string()),
        })?;
    } else {
        for s in &skipped {
            let file = super::display_path(&dir.join(&s.path));
            eprintln!("{file}: skipped: {}", s.reason);
        }
        // Named from where the command was run, so an editor can jump to the line.
        for p in &made.problems {
            let file = super::display_path(&dir.join(&p.path));
            eprintln!("{file}:{}: error: {}", p.line, p.message);
        }
        if ok && out.is_none() {
            emit(&made.file.to_yaml())?;
        }
    }
    if ok {
        return Ok(());
    }
    Err(CliError::CheckFailed(format!(
        "{} alert rule problem(s); no rule file written",
        made.problems.len()
    )))
}

/// Every runbook under `dir`, named by its path relative to `dir` with `/` separators,
/// exactly as the library names it (and the page route expects it).
fn read_dir(dir: &Path) -> Result<(Sources, Vec<Skipped>), CliError> {
    if !dir.is_dir() {
        return Err(CliError::input(anyhow::anyhow!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mut sources = Vec::new();
    let mut skipped = Vec::new();
    for f in markdown_files(dir)? {
        let rel = f.strip_prefix(dir).unwrap_or(&f);
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        match sitrep_app::read_runbook(Some(dir), &f) {
            Ok(text) => sources.push((name, text)),
            Err(reason) => skipped.push(Skipped { path: name, reason }),
        }
    }
    Ok((sources, skipped))
}

/// Writes the file whole or not at all (a temporary file renamed over it), readable by
/// the Prometheus user: it holds nothing the runbooks do not.
fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let write = || -> std::io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write()
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(CliError::Internal)
}
