//! `sitrep-runbook`: Markdown runbooks, as teams already write them, to a typed model
//! (front matter, sections with roles, steps, tables, checklists, alert rules, links)
//! plus diagnostics. Pure: no filesystem, no clock, no environment.
//!
//! [`parse`] never fails and never panics: any text gives a model and a list of
//! [`Diagnostic`]s. Every byte range in the model points into the text given, on char
//! boundaries, so a caller can edit the file by splicing. [`lint`] checks a model against
//! the rules in `docs/lint-rules.md`; [`RunbookSet`] does the checks that need a whole
//! directory (links between files, alerts handled twice) over `(path, text)` pairs.

mod alertrules;
mod deadlines;
mod diag;
pub mod duration;
mod frontmatter;
mod landing;
mod lint;
mod lint_query;
mod lists;
mod model;
mod paramdecl;
mod params;
mod promrules;
mod prose;
mod query;
mod recover;
mod reference;
mod script;
mod set;
mod source;
mod tables;
mod text;
mod thresholds;
mod transcript;
mod walk;

pub use diag::{Diagnostic, Severity};
pub use lint::{IMPORT_RULES, RULES, Rule, lint};
pub use model::*;
pub use params::{
    MAX_DEFAULT_CHARS, MAX_VALUE_BYTES, ParamPattern, ParamType, ValueRefusal, check_argument,
    check_value,
};
pub use promrules::{
    PromRule, RuleFile, RuleGroup, RuleProblem, RulesError, RulesOutput, prometheus_rules,
};
pub use query::{QueryLanguage, QueryPlaceholder, QueryStep, query_level, scan_query_placeholders};
pub use set::{RunbookSet, SetEntry};
pub use thresholds::{Condition, ThresholdStatus};

use diag::LineIndex;
use source::SourceMap;

/// File names read as runbooks: Markdown (`.md`, `.markdown`) and `.txt` pages saved
/// from the web (scraped runbooks lose their `.md` on the way; the importer repairs what
/// it can and says so). One rule for every directory walk: the library, `runbook list`
/// and `runbook lint`.
#[must_use]
pub fn is_runbook_file_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".md", ".markdown", ".txt"]
        .iter()
        .any(|ext| lower.ends_with(ext) && lower.len() > ext.len())
}

/// Parses a Markdown runbook. Never fails, never panics.
///
/// Import diagnostics (what was guessed or repaired, invalid YAML) come back with the
/// model; rule checks are [`lint`]'s job.
pub fn parse(text: &str) -> (Runbook, Vec<Diagnostic>) {
    parse_with_rules(text, &[])
}

/// [`parse`] with a site's risk rules (from configuration) applied to every step together
/// with the front matter's own `risk:` rules: the most specific prefix decides, and
/// between equally specific rules the higher level (one source can never lower what the
/// other raised). Lets a team teach sitrep its own CLIs without editing runbooks it
/// imported unchanged.
pub fn parse_with_rules(
    text: &str,
    site_rules: &[sitrep_risk::CustomRule],
) -> (Runbook, Vec<Diagnostic>) {
    let idx = LineIndex::new(text);
    let mut diags = Vec::new();
    let (front_matter, body_start) = frontmatter::split(text, &idx, &mut diags);
    let body = text.get(body_start..).unwrap_or("");

    // Repairs for scraped pages, each on the previous one's output.
    let mut clean: std::borrow::Cow<'_, str> = body.into();
    let mut map = SourceMap::identity(body_start, body.len());
    if let Some((t, m)) = source::strip_preamble(&clean, &map, &idx, &mut diags) {
        (clean, map) = (t.into(), m);
    }
    if let Some((t, m)) = source::strip_pipe_lines(&clean, &map, &idx, &mut diags) {
        (clean, map) = (t.into(), m);
    }
    let mut recovered = walk::Recovered::default();
    if let Some((t, m, r)) = recover::recover(&clean, &map, &idx, &mut diags) {
        (clean, map, recovered) = (t.into(), m, r);
    }

    let own = front_matter
        .as_ref()
        .map(|f| f.risk.as_slice())
        .unwrap_or_default();
    let merged: Vec<sitrep_risk::CustomRule>;
    let rules = if site_rules.is_empty() {
        own
    } else {
        merged = site_rules.iter().chain(own).cloned().collect();
        &merged
    };
    let classifier = classifier(rules);
    let input = walk::Input {
        clean: &clean,
        map: &map,
        idx: &idx,
        recovered: &recovered,
        classifier: classifier.as_ref(),
    };
    let (mut runbook, walk_diags) = walk::walk(&input);
    runbook.front_matter = front_matter;
    runbook.lists = lists::read(&runbook, text, body_start, &idx);
    deadlines::apply(&mut runbook);
    query::apply_front_matter(&mut runbook);
    thresholds::apply_front_matter(&mut runbook);
    diags.extend(walk_diags);
    diags.sort_by_key(|d| (d.span.start, d.code));
    (runbook, diags)
}

/// The classifier for a runbook. Building the builtin rule table costs far more than
/// classifying a runbook's steps, so runbooks without site rules share one, built once.
fn classifier(
    rules: &[sitrep_risk::CustomRule],
) -> std::borrow::Cow<'static, sitrep_risk::Classifier> {
    static BUILTIN: std::sync::OnceLock<sitrep_risk::Classifier> = std::sync::OnceLock::new();
    if rules.is_empty() {
        std::borrow::Cow::Borrowed(BUILTIN.get_or_init(sitrep_risk::Classifier::builtin))
    } else {
        std::borrow::Cow::Owned(sitrep_risk::Classifier::with_custom(rules))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn runbook_file_names() {
        for yes in ["a.md", "B.MD", "x/y.markdown", "page.txt"] {
            assert!(super::is_runbook_file_name(yes), "{yes}");
        }
        for no in ["a.rs", "md", ".md", "notes.mdx", "README"] {
            assert!(!super::is_runbook_file_name(no), "{no}");
        }
    }
}
