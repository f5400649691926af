//! Lint rules over a parsed runbook. Each rule has a stable kebab-case code documented in
//! docs/lint-rules.md (a test keeps the two in step).

use std::collections::{HashMap, HashSet};

use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::model::{LinkTarget, Placeholder, ProseValue, Role, Runbook, Step};
use crate::script;
use sitrep_risk::Level;
use sitrep_risk::{Reason, VALUE_REREAD_RULE};
use std::ops::Range;

/// A lint rule: its stable code, default severity and what it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// Stable kebab-case code.
    pub code: &'static str,
    /// Severity of its findings (some rules report milder cases at a lower level).
    pub severity: Severity,
    /// One line on what it checks.
    pub summary: &'static str,
}

/// Every lint rule, in documentation order.
pub const RULES: &[Rule] = &[
    Rule {
        code: "unknown-attribute",
        severity: Severity::Warning,
        summary: "a step attribute sitrep does not know",
    },
    Rule {
        code: "bad-attribute-value",
        severity: Severity::Error,
        summary: "a known step attribute with an unusable value",
    },
    Rule {
        code: "not-shell",
        severity: Severity::Error,
        summary: "a shell-tagged block that is not shell (LogQL, PromQL, SQL, JSON, YAML)",
    },
    Rule {
        code: "query-in-shell",
        severity: Severity::Info,
        summary: "a shell command that only runs a query (curl to a query API, logcli, promtool, psql -c / mysql -e with a SELECT): a fenced promql, logql or sql block runs it as a query step",
    },
    Rule {
        code: "duplicate-step-name",
        severity: Severity::Error,
        summary: "two steps with the same `name`",
    },
    Rule {
        code: "broken-link",
        severity: Severity::Error,
        summary: "a link to an anchor or runbook file that does not exist",
    },
    Rule {
        code: "unbound-placeholder",
        severity: Severity::Warning,
        summary: "a placeholder with no entry in front matter `params`",
    },
    Rule {
        code: "prose-placeholder",
        severity: Severity::Info,
        summary: "a value written in prose in an assignment, and where its placeholder binds from",
    },
    Rule {
        code: "placeholder-reread",
        severity: Severity::Warning,
        summary: "a placeholder inside text a second parser reads again (sh -c, eval, ssh, awk/sed/SQL, xargs, watch)",
    },
    Rule {
        code: "no-steps",
        severity: Severity::Warning,
        summary: "a runbook without a single shell or query step",
    },
    Rule {
        code: "empty-section",
        severity: Severity::Warning,
        summary: "a heading with nothing under it",
    },
    Rule {
        code: "stand-down-without-checklist",
        severity: Severity::Warning,
        summary: "a stand-down section without checklist items",
    },
    Rule {
        code: "non-read-step-in-diagnosis",
        severity: Severity::Error,
        summary: "a step that changes state in a diagnosis or verification section",
    },
    Rule {
        code: "duplicate-alert-handler",
        severity: Severity::Warning,
        summary: "an alert handled by more than one runbook (directory check)",
    },
];

/// Codes of the diagnostics `parse` itself returns (import problems and repairs).
pub const IMPORT_RULES: &[Rule] = &[
    Rule {
        code: "front-matter",
        severity: Severity::Error,
        summary: "front matter that is not valid YAML, not a mapping, or has a wrongly typed key",
    },
    Rule {
        code: "param-type",
        severity: Severity::Error,
        summary: "a parameter type that cannot be used, or a default its own type refuses",
    },
    Rule {
        code: "attribute-syntax",
        severity: Severity::Error,
        summary: "step attributes that cannot be read (bad JSON, unterminated quote)",
    },
    Rule {
        code: "alert-rule-yaml",
        severity: Severity::Warning,
        summary: "a YAML block that looks like an alert rule but is broken or lacks `expr`",
    },
    Rule {
        code: "reference-block",
        severity: Severity::Info,
        summary: "an untagged block that is not shell, or queries at a database prompt: kept as a reference block or query, not a step",
    },
    Rule {
        code: "scrape-preamble",
        severity: Severity::Info,
        summary: "a file viewer's header or git commit header was skipped",
    },
    Rule {
        code: "scrape-pipe-lines",
        severity: Severity::Info,
        summary: "a scraper's `|` lines between every line were removed",
    },
    Rule {
        code: "recovered-markdown",
        severity: Severity::Info,
        summary: "the page lost its Markdown and was read line by line",
    },
    Rule {
        code: "recovered-heading",
        severity: Severity::Info,
        summary: "a plain line was read as a heading",
    },
    Rule {
        code: "recovered-commands",
        severity: Severity::Info,
        summary: "bare lines were read as shell commands",
    },
    Rule {
        code: "recovered-table-row",
        severity: Severity::Info,
        summary: "a broken table row was repaired",
    },
    Rule {
        code: "recovered-list",
        severity: Severity::Info,
        summary: "flattened list items were split apart",
    },
    Rule {
        code: "recovered-checklist",
        severity: Severity::Info,
        summary: "a stand-down section's plain list was read as checklist gates",
    },
];

/// Checks a runbook parsed from `text` against every single-file rule.
pub fn lint(runbook: &Runbook, text: &str) -> Vec<Diagnostic> {
    let idx = LineIndex::new(text);
    let mut out = Vec::new();
    let d = |code, sev, span: std::ops::Range<usize>, msg: String| idx.diag(code, sev, span, msg);

    for step in &runbook.steps {
        let a = &step.attributes;
        let aspan = a.span.clone().unwrap_or(step.span.clone());
        for (key, value) in &a.unknown {
            let (sev, why) = if script::RUNME_IGNORED.contains(&key.as_str()) {
                (Severity::Info, "a Runme key sitrep ignores")
            } else {
                (
                    Severity::Warning,
                    "not a sitrep or Runme attribute; kept but unused",
                )
            };
            out.push(d(
                "unknown-attribute",
                sev,
                aspan.clone(),
                format!(
                    "step `{}`: unknown attribute `{key}` = {value} ({why})",
                    step.id
                ),
            ));
        }
        for bad in &a.invalid {
            out.push(d(
                "bad-attribute-value",
                Severity::Error,
                aspan.clone(),
                format!(
                    "step `{}`: attribute `{}` = {}: {}",
                    step.id, bad.key, bad.value, bad.problem
                ),
            ));
        }
        if let Some((tag, what)) = crate::lint_query::query_in_shell(step) {
            out.push(d(
                "query-in-shell",
                Severity::Info,
                step.span.clone(),
                format!("step `{}` runs a query through {what}: a fenced `{tag}` block runs it as a query step (values bound as data, read-only, the result kept as evidence)", step.id),
            ));
        }
        if step.lang.as_deref() != Some("console")
            && let Some(what) = script::not_shell(&step.script)
        {
            let lang = step.lang.as_deref().unwrap_or("untagged");
            out.push(d(
                "not-shell",
                Severity::Error,
                step.span.clone(),
                format!("step `{}` is tagged `{lang}` but reads as {what}: tag it with its own language so it is not run as shell", step.id),
            ));
        }
        // `<artifact-id>` binds from `ARTIFACT_ID` and the other way round.
        let key = |s: &str| s.to_ascii_uppercase().replace('-', "_");
        let params: HashSet<String> = runbook
            .front_matter
            .iter()
            .flat_map(|f| f.params.keys())
            .map(|k| key(k))
            .collect();
        for p in &step.placeholders {
            if let Some(v) = &p.prose {
                out.push(prose_note(step, p, v, &idx));
                // The alert's label binds it: nothing for `params` to declare.
                if v.alert_label.is_some() {
                    continue;
                }
            }
            if params.contains(&key(&p.name)) {
                continue;
            }
            let span = p.spans.first().cloned().unwrap_or(step.span.clone());
            out.push(d(
                "unbound-placeholder",
                Severity::Warning,
                span,
                format!("step `{}` needs `{}`, which front matter `params` does not declare; it must come from the alert or the person running it", step.id, p.name),
            ));
        }
        out.extend(placeholder_reread(step, text, &idx));
        if matches!(step.role, Some(Role::Diagnosis | Role::Verification))
            && step.risk.level > Level::Read
        {
            // A command that writes stays an error when only a re-read placeholder
            // made it `unknown`.
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
            out.push(d(
                "non-read-step-in-diagnosis",
                sev,
                step.span.clone(),
                format!("step `{}` in a {role} section is `{}`{worst}: it will not run automatically; move it to a resolution section or make it read-only", step.id, step.risk.level),
            ));
        }
    }

    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, step) in runbook.steps.iter().enumerate() {
        if let Some(n) = step.attributes.name.as_deref() {
            if let Some(first) = names.get(n).and_then(|&j| runbook.steps.get(j)) {
                out.push(d(
                    "duplicate-step-name",
                    Severity::Error,
                    step.attributes.span.clone().unwrap_or(step.span.clone()),
                    format!("step name `{n}` is already used on line {}; names must be unique (this one is `{}`)", first.line, step.id),
                ));
            } else {
                names.insert(n, i);
            }
        }
    }

    for link in &runbook.links {
        if let LinkTarget::Anchor { anchor } = &link.target
            && !anchor.is_empty()
            && runbook.section_by_anchor(anchor).is_none()
        {
            out.push(d(
                "broken-link",
                Severity::Error,
                link.span.clone(),
                format!("link to `#{anchor}`: no heading has that anchor"),
            ));
        }
    }
    for rule in &runbook.alert_rules {
        if let Some(a) = rule.action.as_deref().and_then(|a| a.strip_prefix('#'))
            && runbook.section_by_anchor(a).is_none()
            && !runbook
                .links
                .iter()
                .any(|l| matches!(&l.target, LinkTarget::Anchor { anchor } if anchor == a))
        {
            out.push(d(
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

    if runbook.steps.is_empty() && runbook.queries.is_empty() {
        out.push(d(
            "no-steps",
            Severity::Warning,
            0..0,
            "no shell steps: nothing in this runbook can run".to_string(),
        ));
    }

    let parents: HashSet<usize> = runbook.sections.iter().filter_map(|s| s.parent).collect();
    for (i, s) in runbook.sections.iter().enumerate() {
        if !s.has_content && !parents.contains(&i) {
            out.push(d(
                "empty-section",
                Severity::Warning,
                s.span.clone(),
                format!("section \"{}\" is empty", s.heading),
            ));
        }
        if s.role == Some(Role::StandDown) {
            let has = runbook
                .checklist
                .iter()
                .any(|c| c.section.is_some_and(|cs| is_within(runbook, cs, i)));
            if !has {
                out.push(d(
                    "stand-down-without-checklist",
                    Severity::Warning,
                    s.span.clone(),
                    format!("\"{}\" has no checklist: write its conditions as `- [ ]` items so the incident can be gated on them", s.heading),
                ));
            }
        }
    }
    out.sort_by_key(|d| (d.span.start, d.code));
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
