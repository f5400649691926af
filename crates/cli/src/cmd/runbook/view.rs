//! `sitrep runbook show`'s human view: one section per part of the model.

use std::fmt::Write as _;

use sitrep_runbook::{Diagnostic, LinkTarget, Runbook, SectionKind, TableData};

fn badge(level: impl std::fmt::Display) -> String {
    format!("[{level}]")
}

/// The human view of one runbook.
pub(super) fn render(path: &str, rb: &Runbook, diags: &[Diagnostic]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{path}");
    header(&mut o, rb);
    sections(&mut o, rb);
    steps(&mut o, rb);
    tables(&mut o, rb);
    checklist_and_rules(&mut o, rb);
    links_and_notes(&mut o, rb, diags);
    o
}

/// Title, front matter and the alerts it handles.
fn header(o: &mut String, rb: &Runbook) {
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
}

/// The section tree with roles.
fn sections(o: &mut String, rb: &Runbook) {
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
}

/// Every step with its risk badge, commands and placeholders.
fn steps(o: &mut String, rb: &Runbook) {
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
                meta.push(format!("timeout {}", sitrep_runbook::duration::format(t)));
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
}

/// Typed tables, then the same rows written as headings and lists, one line per row.
fn tables(o: &mut String, rb: &Runbook) {
    if !rb.tables.is_empty() {
        let _ = writeln!(o, "\nTables");
        for t in &rb.tables {
            let (kind, rows) = table_rows(&t.data, &t.header);
            let _ = writeln!(o, "  {kind} ({} rows)", t.rows.len());
            for r in rows {
                let _ = writeln!(o, "    - {r}");
            }
        }
    }
    if !rb.lists.is_empty() {
        let _ = writeln!(o, "\nLists");
        for l in &rb.lists {
            let (kind, rows) = table_rows(&l.data, &[]);
            let _ = writeln!(o, "  {kind} (line {}, {} rows)", l.line, rows.len());
            for r in rows {
                let _ = writeln!(o, "    - {r}");
            }
        }
    }
}

/// A table's (or list's) kind and one line per row.
fn table_rows(data: &TableData, header: &[String]) -> (&'static str, Vec<String>) {
    match data {
        TableData::Severity(r) => (
            "severity levels",
            r.iter()
                .map(|l| {
                    let resp = match (&l.response_time, l.response) {
                        (Some(w), Some(d)) => {
                            format!(" — respond {w} ({})", sitrep_runbook::duration::format(d))
                        }
                        (Some(w), None) => format!(" — respond {w}"),
                        _ => String::new(),
                    };
                    let fmt = sitrep_runbook::duration::format;
                    let esc = l
                        .escalate_after
                        .map_or(String::new(), |d| format!(", escalate after {}", fmt(d)));
                    let upd = l
                        .update_every
                        .map_or(String::new(), |d| format!(", update every {}", fmt(d)));
                    format!("{}{resp}{esc}{upd}", l.level)
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
        TableData::Generic => ("table", vec![header.join(" | ")]),
    }
}

/// The checklist and the alert rules.
fn checklist_and_rules(o: &mut String, rb: &Runbook) {
    if !rb.checklist.is_empty() {
        let _ = writeln!(o, "\nChecklist");
        for c in &rb.checklist {
            let mark = if c.checked { "[x]" } else { "[ ]" };
            let gate = if c.gate { "  (gate)" } else { "" };
            let due = c.due.map_or(String::new(), |d| {
                format!(
                    "  (due {} after resolution)",
                    sitrep_runbook::duration::format(d)
                )
            });
            let _ = writeln!(o, "  {mark} {}{gate}{due}", c.text);
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
}

/// Links to other runbooks, then the diagnostics.
fn links_and_notes(o: &mut String, rb: &Runbook, diags: &[Diagnostic]) {
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
