//! Lint rules over a parsed runbook. Each rule has a stable kebab-case code documented in
//! docs/lint-rules.md (a test keeps the two in step).

use std::collections::{HashMap, HashSet};

use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::model::{LinkTarget, Placeholder, ProseValue, Role, Runbook, Step, TableData};
use crate::script;
use sitrep_risk::Level;
use sitrep_risk::{Reason, VALUE_REREAD_RULE};
use std::ops::Range;

/// A lint rule: its stable code, default severity, what it checks, and the function that
/// checks it (`None` for directory-level rules, which [`RunbookSet`](crate::RunbookSet)
/// checks, and for the import notes `parse` returns).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Rule {
    /// Stable kebab-case code.
    pub code: &'static str,
    /// Severity of its findings (some rules report milder cases at a lower level).
    pub severity: Severity,
    /// One line on what it checks.
    pub summary: &'static str,
    /// The check over one runbook.
    #[serde(skip)]
    pub(crate) check: Option<Check>,
}

/// Every lint rule, in documentation order.
pub const RULES: &[Rule] = &[
    Rule {
        code: "unknown-attribute",
        severity: Severity::Warning,
        summary: "a step attribute sitrep does not know",
        check: Some(unknown_attribute),
    },
    Rule {
        code: "bad-attribute-value",
        severity: Severity::Error,
        summary: "a known step attribute with an unusable value",
        check: Some(bad_attribute_value),
    },
    Rule {
        code: "not-shell",
        severity: Severity::Error,
        summary: "a shell-tagged block that is not shell (LogQL, PromQL, SQL, JSON, YAML)",
        check: Some(not_shell),
    },
    Rule {
        code: "query-in-shell",
        severity: Severity::Info,
        summary: "a shell command that only runs a query (curl to a query API, logcli, promtool, psql -c / mysql -e with a SELECT): a fenced promql, logql or sql block runs it as a query step",
        check: Some(query_in_shell),
    },
    Rule {
        code: "duplicate-step-name",
        severity: Severity::Error,
        summary: "two steps with the same `name`",
        check: Some(duplicate_step_name),
    },
    Rule {
        code: "broken-link",
        severity: Severity::Error,
        summary: "a link to an anchor or runbook file that does not exist",
        check: Some(broken_link),
    },
    Rule {
        code: "unbound-placeholder",
        severity: Severity::Warning,
        summary: "a placeholder with no entry in front matter `params`",
        check: Some(unbound_placeholder),
    },
    Rule {
        code: "prose-placeholder",
        severity: Severity::Info,
        summary: "a value written in prose in an assignment, and where its placeholder binds from",
        check: Some(prose_placeholder),
    },
    Rule {
        code: "placeholder-reread",
        severity: Severity::Warning,
        summary: "a placeholder inside text a second parser reads again (sh -c, eval, ssh, awk/sed/SQL, xargs, watch)",
        check: Some(placeholder_rereads),
    },
    Rule {
        code: "no-steps",
        severity: Severity::Warning,
        summary: "a runbook without a single shell or query step",
        check: Some(no_steps),
    },
    Rule {
        code: "empty-section",
        severity: Severity::Warning,
        summary: "a heading with nothing under it",
        check: Some(empty_section),
    },
    Rule {
        code: "stand-down-without-checklist",
        severity: Severity::Warning,
        summary: "a stand-down section without checklist items",
        check: Some(stand_down_without_checklist),
    },
    Rule {
        code: "non-read-step-in-diagnosis",
        severity: Severity::Error,
        summary: "a step that changes state in a diagnosis or verification section",
        check: Some(non_read_step_in_diagnosis),
    },
    Rule {
        code: "duplicate-alert-handler",
        severity: Severity::Warning,
        summary: "an alert handled by more than one runbook (directory check)",
        check: None,
    },
    Rule {
        code: "severity-duration",
        severity: Severity::Info,
        summary: "a severity level whose response, escalation or update time is not a duration sitrep can read",
        check: Some(severity_duration),
    },
    Rule {
        code: "alert-rule-refused",
        severity: Severity::Warning,
        summary: "an alert rule Prometheus would refuse (no name or `expr`, an unbalanced `expr`, a bad `for`, label or annotation name, a broken template): `sitrep runbook rules` leaves it out",
        check: Some(alert_rule_refused),
    },
];

/// Codes of the diagnostics `parse` itself returns (import problems and repairs).
pub const IMPORT_RULES: &[Rule] = &[
    Rule {
        code: "front-matter",
        severity: Severity::Error,
        summary: "front matter that is not valid YAML, not a mapping, or has a wrongly typed key",
        check: None,
    },
    Rule {
        code: "param-type",
        severity: Severity::Error,
        summary: "a parameter type that cannot be used, or a default its own type refuses",
        check: None,
    },
    Rule {
        code: "attribute-syntax",
        severity: Severity::Error,
        summary: "step attributes that cannot be read (bad JSON, unterminated quote)",
        check: None,
    },
    Rule {
        code: "alert-rule-yaml",
        severity: Severity::Warning,
        summary: "a YAML block that looks like an alert rule but is broken or lacks `expr`",
        check: None,
    },
    Rule {
        code: "reference-block",
        severity: Severity::Info,
        summary: "an untagged block that is not shell, or queries at a database prompt: kept as a reference block or query, not a step",
        check: None,
    },
    Rule {
        code: "scrape-preamble",
        severity: Severity::Info,
        summary: "a file viewer's header or git commit header was skipped",
        check: None,
    },
    Rule {
        code: "scrape-pipe-lines",
        severity: Severity::Info,
        summary: "a scraper's `|` lines between every line were removed",
        check: None,
    },
    Rule {
        code: "recovered-markdown",
        severity: Severity::Info,
        summary: "the page lost its Markdown and was read line by line",
        check: None,
    },
    Rule {
        code: "recovered-heading",
        severity: Severity::Info,
        summary: "a plain line was read as a heading",
        check: None,
    },
    Rule {
        code: "recovered-commands",
        severity: Severity::Info,
        summary: "bare lines were read as shell commands",
        check: None,
    },
    Rule {
        code: "recovered-table-row",
        severity: Severity::Info,
        summary: "a broken table row was repaired",
        check: None,
    },
    Rule {
        code: "recovered-list",
        severity: Severity::Info,
        summary: "flattened list items were split apart",
        check: None,
    },
    Rule {
        code: "recovered-checklist",
        severity: Severity::Info,
        summary: "a stand-down section's plain list was read as checklist gates",
        check: None,
    },
];

/// What every rule's check reads: the model, its text and the text's line index.
pub(crate) struct Ctx<'a> {
    rb: &'a Runbook,
    text: &'a str,
    idx: LineIndex<'a>,
}

impl Ctx<'_> {
    fn d(&self, code: &'static str, sev: Severity, span: Range<usize>, msg: String) -> Diagnostic {
        self.idx.diag(code, sev, span, msg)
    }
}

/// A rule's check: every finding of that rule (and only that rule) in one runbook.
type Check = fn(&Ctx<'_>) -> Vec<Diagnostic>;

/// Checks a runbook parsed from `text` against every single-file rule: each row of
/// [`RULES`] with a check runs once.
pub fn lint(runbook: &Runbook, text: &str) -> Vec<Diagnostic> {
    let ctx = Ctx {
        rb: runbook,
        text,
        idx: LineIndex::new(text),
    };
    let mut out: Vec<Diagnostic> = RULES
        .iter()
        .filter_map(|r| r.check)
        .flat_map(|check| check(&ctx))
        .collect();
    out.sort_by_key(|d| (d.span.start, d.code));
    out
}

fn attribute_span(step: &Step) -> Range<usize> {
    step.attributes.span.clone().unwrap_or(step.span.clone())
}

fn unknown_attribute(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for step in &c.rb.steps {
        for (key, value) in &step.attributes.unknown {
            let (sev, why) = if script::RUNME_IGNORED.contains(&key.as_str()) {
                (Severity::Info, "a Runme key sitrep ignores")
            } else {
                (
                    Severity::Warning,
                    "not a sitrep or Runme attribute; kept but unused",
                )
            };
            out.push(c.d(
                "unknown-attribute",
                sev,
                attribute_span(step),
                format!(
                    "step `{}`: unknown attribute `{key}` = {value} ({why})",
                    step.id
                ),
            ));
        }
    }
    out
}

fn bad_attribute_value(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for step in &c.rb.steps {
        for bad in &step.attributes.invalid {
            out.push(c.d(
                "bad-attribute-value",
                Severity::Error,
                attribute_span(step),
                format!(
                    "step `{}`: attribute `{}` = {}: {}",
                    step.id, bad.key, bad.value, bad.problem
                ),
            ));
        }
    }
    out
}

fn query_in_shell(c: &Ctx<'_>) -> Vec<Diagnostic> {
    c.rb.steps
        .iter()
        .filter_map(|step| {
            let (tag, what) = crate::lint_query::query_in_shell(step)?;
            Some(c.d(
                "query-in-shell",
                Severity::Info,
                step.span.clone(),
                format!("step `{}` runs a query through {what}: a fenced `{tag}` block runs it as a query step (values bound as data, read-only, the result kept as evidence)", step.id),
            ))
        })
        .collect()
}

fn not_shell(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for step in &c.rb.steps {
        if step.lang.as_deref() != Some("console")
            && let Some(what) = script::not_shell(&step.script)
        {
            let lang = step.lang.as_deref().unwrap_or("untagged");
            out.push(c.d(
                "not-shell",
                Severity::Error,
                step.span.clone(),
                format!("step `{}` is tagged `{lang}` but reads as {what}: tag it with its own language so it is not run as shell", step.id),
            ));
        }
    }
    out
}

fn prose_placeholder(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for step in &c.rb.steps {
        for p in &step.placeholders {
            if let Some(v) = &p.prose {
                out.push(prose_note(step, p, v, &c.idx));
            }
        }
    }
    out
}

fn unbound_placeholder(c: &Ctx<'_>) -> Vec<Diagnostic> {
    // `<artifact-id>` binds from `ARTIFACT_ID` and the other way round.
    let key = |s: &str| s.to_ascii_uppercase().replace('-', "_");
    let params: HashSet<String> =
        c.rb.front_matter
            .iter()
            .flat_map(|f| f.params.keys())
            .map(|k| key(k))
            .collect();
    let mut out = Vec::new();
    for step in &c.rb.steps {
        for p in &step.placeholders {
            // The alert's label binds it: nothing for `params` to declare.
            if p.prose.as_ref().is_some_and(|v| v.alert_label.is_some())
                || params.contains(&key(&p.name))
            {
                continue;
            }
            let span = p.spans.first().cloned().unwrap_or(step.span.clone());
            out.push(c.d(
                "unbound-placeholder",
                Severity::Warning,
                span,
                format!("step `{}` needs `{}`, which front matter `params` does not declare; it must come from the alert or the person running it", step.id, p.name),
            ));
        }
    }
    out
}

fn placeholder_rereads(c: &Ctx<'_>) -> Vec<Diagnostic> {
    c.rb.steps
        .iter()
        .flat_map(|step| placeholder_reread(step, c.text, &c.idx))
        .collect()
}

fn non_read_step_in_diagnosis(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for step in &c.rb.steps {
        if !matches!(step.role, Some(Role::Diagnosis | Role::Verification))
            || step.risk.level <= Level::Read
        {
            continue;
        }
        // A command that writes stays an error when only a re-read placeholder made it
        // `unknown`.
        let changes = step.risk.commands.iter().any(|c| {
            c.reasons.iter().any(|r| r.rule == VALUE_REREAD_RULE)
                && c.reasons
                    .iter()
                    .any(|r| matches!(r.level, Level::Write | Level::Destructive))
        });
        let sev = if step.risk.level == Level::Unknown && !changes {
            Severity::Warning
        } else {
            Severity::Error
        };
        let worst = step
            .risk
            .commands
            .iter()
            .filter(|c| c.level == step.risk.level)
            .map(|c| c.text.lines().next().unwrap_or(""))
            .next()
            .map(|w| format!(" (`{w}`)"))
            .unwrap_or_default();
        let role = step.role.map_or("", Role::as_str);
        out.push(c.d(
            "non-read-step-in-diagnosis",
            sev,
            step.span.clone(),
            format!("step `{}` in a {role} section is `{}`{worst}: it will not run automatically; move it to a resolution section or make it read-only", step.id, step.risk.level),
        ));
    }
    out
}

fn duplicate_step_name(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, step) in c.rb.steps.iter().enumerate() {
        let Some(n) = step.attributes.name.as_deref() else {
            continue;
        };
        if let Some(first) = names.get(n).and_then(|&j| c.rb.steps.get(j)) {
            out.push(c.d(
                "duplicate-step-name",
                Severity::Error,
                attribute_span(step),
                format!("step name `{n}` is already used on line {}; names must be unique (this one is `{}`)", first.line, step.id),
            ));
        } else {
            names.insert(n, i);
        }
    }
    out
}

fn broken_link(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let rb = c.rb;
    let mut out = Vec::new();
    for link in &rb.links {
        if let LinkTarget::Anchor { anchor } = &link.target
            && !anchor.is_empty()
            && rb.section_by_anchor(anchor).is_none()
        {
            out.push(c.d(
                "broken-link",
                Severity::Error,
                link.span.clone(),
                format!("link to `#{anchor}`: no heading has that anchor"),
            ));
        }
    }
    for rule in &rb.alert_rules {
        if let Some(a) = rule.action.as_deref().and_then(|a| a.strip_prefix('#'))
            && rb.section_by_anchor(a).is_none()
            && !rb
                .links
                .iter()
                .any(|l| matches!(&l.target, LinkTarget::Anchor { anchor } if anchor == a))
        {
            out.push(c.d(
                "broken-link",
                Severity::Error,
                rule.span.clone(),
                format!(
                    "alert `{}` points to `#{a}`: no heading has that anchor",
                    rule.name
                ),
            ));
        }
    }
    out
}

fn no_steps(c: &Ctx<'_>) -> Vec<Diagnostic> {
    if !c.rb.steps.is_empty() || !c.rb.queries.is_empty() {
        return Vec::new();
    }
    vec![c.d(
        "no-steps",
        Severity::Warning,
        0..0,
        "no shell steps: nothing in this runbook can run".to_string(),
    )]
}

fn empty_section(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let parents: HashSet<usize> = c.rb.sections.iter().filter_map(|s| s.parent).collect();
    c.rb.sections
        .iter()
        .enumerate()
        .filter(|(i, s)| !s.has_content && !parents.contains(i))
        .map(|(_, s)| {
            c.d(
                "empty-section",
                Severity::Warning,
                s.span.clone(),
                format!("section \"{}\" is empty", s.heading),
            )
        })
        .collect()
}

fn stand_down_without_checklist(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let rb = c.rb;
    let mut out = Vec::new();
    for (i, s) in rb.sections.iter().enumerate() {
        if s.role != Some(Role::StandDown) {
            continue;
        }
        let has = rb
            .checklist
            .iter()
            .any(|c| c.section.is_some_and(|cs| is_within(rb, cs, i)));
        if !has {
            out.push(c.d(
                "stand-down-without-checklist",
                Severity::Warning,
                s.span.clone(),
                format!("\"{}\" has no checklist: write its conditions as `- [ ]` items so the incident can be gated on them", s.heading),
            ));
        }
    }
    out
}

/// Severity rows (tables and lists) with a time sitrep cannot read: incidents at that
/// level fall back to the config's value, which the author should know.
fn severity_duration(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let tables = c.rb.tables.iter().map(|t| (&t.data, &t.span));
    let lists = c.rb.lists.iter().map(|l| (&l.data, &l.span));
    let mut out = Vec::new();
    for (data, span) in tables.chain(lists) {
        let TableData::Severity(rows) = data else {
            continue;
        };
        for row in rows {
            // The row with the bad time, not the list's first line.
            let at = if row.span.is_empty() { span } else { &row.span };
            let unread = [
                (
                    "response",
                    &row.response_time,
                    row.response.is_none(),
                    "acknowledgement target",
                ),
                (
                    "escalation",
                    &row.escalation,
                    row.escalate_after.is_none(),
                    "escalation point",
                ),
            ];
            for (what, text, unread, fallback) in unread {
                let Some(text) = text.as_deref().filter(|_| unread) else {
                    continue;
                };
                out.push(c.d(
                    "severity-duration",
                    Severity::Info,
                    at.clone(),
                    format!("severity `{}`: {what} `{text}` is not a duration sitrep can read, so incidents at this level use the configured {fallback}; write e.g. `15 minutes` or `Immediate`", row.level),
                ));
            }
        }
    }
    out
}

/// The alert rules `sitrep runbook rules` would refuse, for the same reasons it gives
/// (`promrules::refused`), at the rule's `alert:` line. A rule another runbook handles
/// first is `duplicate-alert-handler`'s, a block that is not YAML or a rule without
/// `expr` `alert-rule-yaml`'s.
fn alert_rule_refused(c: &Ctx<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // A rule without `expr` is already `alert-rule-yaml`'s finding (parse reports it).
    for rule in
        c.rb.alert_rules
            .iter()
            .filter(|r| !r.expr.trim().is_empty())
    {
        let at = crate::promrules::rule_start(c.text, rule);
        for why in crate::promrules::refused(rule) {
            out.push(c.d(
                "alert-rule-refused",
                Severity::Warning,
                at..at,
                format!("{why}: `sitrep runbook rules` leaves this rule out"),
            ));
        }
    }
    out
}

/// Whether section `s` is `ancestor` or inside it.
fn is_within(rb: &Runbook, s: usize, ancestor: usize) -> bool {
    let mut cur = Some(s);
    let mut guard = 0;
    while let Some(i) = cur {
        if i == ancestor {
            return true;
        }
        cur = rb.sections.get(i).and_then(|x| x.parent);
        guard += 1;
        if guard > rb.sections.len() {
            break;
        }
    }
    false
}

/// Placeholders whose value a second parser reads again: the step's risk carries a
/// `value-reread` reason (from classifying it with outside values in place). One finding
/// per placeholder and command, at its first occurrence inside the re-read text when
/// that text can be found, else inside the command.
/// Says what a prose value became: bound from the alert label it names, or a placeholder
/// named after its variable.
fn prose_note(step: &Step, p: &Placeholder, v: &ProseValue, idx: &LineIndex<'_>) -> Diagnostic {
    let span = p.spans.first().cloned().unwrap_or(step.span.clone());
    let what = match &v.alert_label {
        Some(l) => format!(
            "binds `{}` from the alert's `{l}` label (placeholder `<{l}>`)",
            v.variable
        ),
        None => format!(
            "names no alert label, so it is a placeholder named after the variable, `<{}>`: declare it in `params` or set it when running",
            v.variable
        ),
    };
    idx.diag(
        "prose-placeholder",
        Severity::Info,
        span,
        format!("step `{}`: `{}={}` {what}", step.id, v.variable, v.text),
    )
}

fn placeholder_reread(step: &Step, text: &str, idx: &LineIndex<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for cmd in &step.risk.commands {
        let reasons: Vec<&Reason> = cmd
            .reasons
            .iter()
            .filter(|r| r.rule == VALUE_REREAD_RULE)
            .collect();
        let Some(first) = reasons.first() else {
            continue;
        };
        let within =
            |outer: &Range<usize>, s: &Range<usize>| outer.start <= s.start && s.end <= outer.end;
        let body = text.get(cmd.span.clone()).unwrap_or("");
        let scopes: Vec<Range<usize>> = reasons
            .iter()
            .filter_map(|r| {
                body.find(r.matched.as_str())
                    .map(|i| cmd.span.start + i..cmd.span.start + i + r.matched.len())
            })
            .collect();
        let in_scope = |s: &Range<usize>| scopes.iter().any(|r| within(r, s));
        let any_in_scope = step
            .placeholders
            .iter()
            .flat_map(|p| &p.spans)
            .any(in_scope);
        let what = first.matched.lines().next().unwrap_or("");
        let what: String = match what.char_indices().nth(60) {
            Some((i, _)) => format!("{}...", what.get(..i).unwrap_or(what)),
            None => what.to_string(),
        };
        for p in &step.placeholders {
            let at = p
                .spans
                .iter()
                .find(|s| within(&cmd.span, s) && (!any_in_scope || in_scope(s)));
            let Some(at) = at else { continue };
            out.push(idx.diag(
                "placeholder-reread",
                Severity::Warning,
                at.clone(),
                format!("step `{}`: placeholder `{}` sits where a second parser reads it again (`{what}`): the step needs a person and never runs unattended; pass the value as an argument instead, or move the logic into the runbook", step.id, p.name),
            ));
        }
    }
    out
}

#[cfg(test)]
#[path = "lint_tests.rs"]
mod tests;
