//! Typed data written as headings and lists instead of tables: severity levels as
//! headings with bullet fields (`### SEV2 - High` + `- **Response Time**: 15 minutes`) or
//! as definition-style items (`- **SEV1 - Critical**: outage. Response: immediate`), and
//! escalation paths as numbered lists of bold roles with their scope
//! (`1. **Team lead** (P0, P1)`). One pass over the original lines after the walk, fenced
//! blocks skipped; the rows are the ones a table with a recognised header gives.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diag::LineIndex;
use crate::model::{Contact, ListData, Role, Runbook, SectionKind, SeverityLevel, TableData};
use crate::text;

/// What a list row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Severity,
    Contact,
}

/// A row being read: its head (level or role), what followed it, and its fields.
struct Build {
    kind: Kind,
    /// The section the row is grouped under.
    group: Option<usize>,
    /// Indent of the list marker; deeper list lines belong to the row.
    indent: usize,
    head: String,
    number: Option<u64>,
    /// Scope in parentheses (contacts).
    scope: Option<String>,
    /// Free text after the head.
    rest: Vec<String>,
    fields: Vec<(String, String)>,
    span: Range<usize>,
}

/// Reads every severity and contacts list of a walked runbook from its original text.
pub(crate) fn read(
    rb: &Runbook,
    text: &str,
    body_start: usize,
    idx: &LineIndex<'_>,
) -> Vec<ListData> {
    let mut r = Reader {
        rb,
        rows: Vec::new(),
        open: None,
        heading: None,
    };
    let mut section: Option<usize> = None;
    let mut next_section = 0;
    let mut fence: Option<&str> = None;
    let mut prev_line = ("", body_start);
    let mut offset = body_start;
    for line in text.get(body_start..).unwrap_or("").split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if let Some(f) = fence {
            if trimmed.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = trimmed.get(..3);
            r.flush_item();
            continue;
        }
        while let Some(s) = rb
            .sections
            .get(next_section)
            .filter(|s| s.span.start <= start)
        {
            if s.kind != SectionKind::BoldListItem {
                section = Some(next_section);
            }
            next_section += 1;
        }
        if r.heading.as_ref().map(|b| b.0) != Some(section) {
            r.flush_item();
            r.flush_heading();
            r.start_heading(section);
        }
        r.line(line, start..start + line.len(), section, prev_line);
        if !line.trim().is_empty() {
            prev_line = (line, start);
        }
    }
    r.flush_item();
    r.flush_heading();
    group(r.rows, idx)
}

/// Groups consecutive rows of one kind under one section into one list.
fn group(rows: Vec<Row>, idx: &LineIndex<'_>) -> Vec<ListData> {
    let mut out: Vec<ListData> = Vec::new();
    for (section, span, data) in rows {
        if let Some(last) = out.last_mut().filter(|l| l.section == section) {
            match (&mut last.data, data) {
                (TableData::Severity(a), TableData::Severity(b)) => {
                    a.extend(b);
                    last.span.end = span.end;
                    continue;
                }
                (TableData::Contacts(a), TableData::Contacts(b)) => {
                    a.extend(b);
                    last.span.end = span.end;
                    continue;
                }
                (_, data) => out.push(list(section, span, data, idx)),
            }
        } else {
            out.push(list(section, span, data, idx));
        }
    }
    out
}

fn list(
    section: Option<usize>,
    span: Range<usize>,
    data: TableData,
    idx: &LineIndex<'_>,
) -> ListData {
    ListData {
        section,
        data,
        line: idx.line(span.start),
        span,
    }
}

/// A finished row: the section it is grouped under, its span, its data (one row).
type Row = (Option<usize>, Range<usize>, TableData);

struct Reader<'r> {
    rb: &'r Runbook,
    rows: Vec<Row>,
    /// The list item being read.
    open: Option<Build>,
    /// The section being read and, when its heading is a severity level, its row.
    heading: Option<(Option<usize>, Option<Build>)>,
}

impl Reader<'_> {
    fn start_heading(&mut self, section: Option<usize>) {
        let build = section
            .and_then(|i| self.rb.sections.get(i))
            .filter(|s| matches!(s.kind, SectionKind::Heading | SectionKind::Recovered))
            .filter(|s| is_level(&s.heading))
            .map(|s| {
                let (head, paren) = split_paren(&s.heading);
                Build {
                    kind: Kind::Severity,
                    group: s.parent,
                    indent: 0,
                    head: head.to_string(),
                    number: None,
                    scope: None,
                    rest: Vec::new(),
                    fields: paren.map(inline_fields).unwrap_or_default(),
                    span: s.span.clone(),
                }
            });
        self.heading = Some((section, build));
    }

    fn flush_heading(&mut self) {
        if let Some((_, Some(b))) = self.heading.take() {
            self.finish(b);
        }
    }

    fn flush_item(&mut self) {
        if let Some(b) = self.open.take() {
            self.finish(b);
        }
    }

    fn finish(&mut self, b: Build) {
        let data = match b.kind {
            Kind::Severity => TableData::Severity(vec![severity_row(&b)]),
            Kind::Contact => TableData::Contacts(vec![contact_row(&b)]),
        };
        self.rows.push((b.group, b.span, data));
    }

    fn line(
        &mut self,
        line: &str,
        span: Range<usize>,
        section: Option<usize>,
        prev: (&str, usize),
    ) {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('|') {
            return;
        }
        let Some((indent, number, body)) = list_item(line) else {
            self.plain_line(line, trimmed, span, section, prev);
            return;
        };
        if let Some(b) = self.open.as_mut().filter(|b| indent > b.indent) {
            b.span.end = span.end;
            match field(body, false) {
                Some(f) => b.fields.push(f),
                None => b.rest.push(strip_markup(body)),
            }
            return;
        }
        self.flush_item();
        if let Some((_, Some(b))) = self.heading.as_mut()
            && let Some(f) = field(body, true)
        {
            b.span.end = span.end;
            b.fields.push(f);
            return;
        }
        let Some((bold, rest)) = bold_lead(body) else {
            return;
        };
        if is_level(bold) {
            let (desc, fields) = definition(rest);
            self.open = Some(Build {
                kind: Kind::Severity,
                group: section,
                indent,
                head: bold.trim().trim_end_matches(':').trim().to_string(),
                number,
                scope: None,
                rest: desc.into_iter().collect(),
                fields,
                span,
            });
        } else if number.is_some() && self.escalation(section) {
            let rest = rest.trim();
            let (scope, note) = match rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
                Some((scope, note)) => (Some(scope.trim().to_string()), note),
                None => (None, rest),
            };
            let note = note.trim().trim_start_matches([':', '-', '—', '–']).trim();
            self.open = Some(Build {
                kind: Kind::Contact,
                group: section,
                indent,
                head: bold.trim().trim_end_matches(':').trim().to_string(),
                number,
                scope,
                rest: (!note.is_empty())
                    .then(|| strip_markup(note))
                    .into_iter()
                    .collect(),
                fields: Vec::new(),
                span,
            });
        }
    }

    /// A line that is not a list item: a field of the open row, the end of a list, or
    /// the definition of the level on the line before (`SEV1` / `: Complete outage`).
    fn plain_line(
        &mut self,
        line: &str,
        trimmed: &str,
        span: Range<usize>,
        section: Option<usize>,
        (prev, prev_start): (&str, usize),
    ) {
        let indented = line.len() - line.trim_start().len() >= 2;
        if let Some(b) = self.open.as_mut() {
            if indented {
                if let Some(f) = field(trimmed, false) {
                    b.fields.push(f);
                    b.span.end = span.end;
                }
                return;
            }
            self.flush_item();
        }
        if let Some(def) = trimmed.strip_prefix(": ") {
            let level = prev.trim();
            if is_level(level) && list_item(prev).is_none() {
                let (desc, fields) = definition(def);
                self.finish(Build {
                    kind: Kind::Severity,
                    group: section,
                    indent: 0,
                    head: strip_markup(level),
                    number: None,
                    scope: None,
                    rest: desc.into_iter().collect(),
                    fields,
                    span: prev_start..span.end,
                });
            }
            return;
        }
        if let Some((_, Some(b))) = self.heading.as_mut()
            && let Some(f) = field(trimmed, true)
        {
            b.span.end = span.end;
            b.fields.push(f);
        }
    }

    /// Whether a section holds an escalation path: its role, or its heading says contacts.
    fn escalation(&self, section: Option<usize>) -> bool {
        let Some(s) = section else { return false };
        if self.rb.effective_role(s) == Some(Role::Escalation) {
            return true;
        }
        self.rb.sections.get(s).is_some_and(|s| {
            let h = s.heading.to_lowercase();
            ["escalat", "contact", "on-call", "on call", "who to call"]
                .iter()
                .any(|w| h.contains(w))
        })
    }
}

/// A severity row from a heading or item and its fields; durations as a table's.
fn severity_row(b: &Build) -> SeverityLevel {
    let mut row = SeverityLevel {
        level: b.head.clone(),
        description: None,
        response_time: None,
        response: None,
        escalation: None,
        escalate_after: None,
        update_every: None,
        examples: None,
        span: b.span.clone(),
    };
    let set = |slot: &mut Option<String>, v: &str| {
        if slot.is_none() {
            *slot = Some(v.to_string());
        }
    };
    for (k, v) in &b.fields {
        match classify(k) {
            Some(Field::Response) => set(&mut row.response_time, v),
            Some(Field::Escalation) => set(&mut row.escalation, v),
            Some(Field::Updates) => {
                row.update_every = row.update_every.or_else(|| text::first_duration(v))
            }
            Some(Field::Description) => set(&mut row.description, v),
            Some(Field::Examples) => set(&mut row.examples, v),
            None => {}
        }
    }
    if row.description.is_none() && !b.rest.is_empty() {
        row.description = Some(b.rest.join(" "));
    }
    row.response = row
        .response_time
        .as_deref()
        .and_then(|r| text::duration(r).or_else(|| text::first_duration(r)));
    row.escalate_after = row.escalation.as_deref().and_then(text::first_duration);
    row
}

/// A contacts row: the role, its place in the path, its scope, and its fields by key.
fn contact_row(b: &Build) -> Contact {
    let mut out = BTreeMap::new();
    if let Some(n) = b.number {
        out.insert("order".to_string(), n.to_string());
    }
    if let Some(s) = &b.scope {
        out.insert("scope".to_string(), s.clone());
    }
    if !b.rest.is_empty() {
        out.insert("notes".to_string(), b.rest.join("; "));
    }
    for (k, v) in &b.fields {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Contact {
        who: b.head.clone(),
        fields: out,
    }
}

/// What a field of a severity level says.
enum Field {
    Response,
    Escalation,
    Updates,
    Description,
    Examples,
}

fn classify(key: &str) -> Option<Field> {
    let k = key.to_lowercase();
    let has = |w: &[&str]| w.iter().any(|w| k.contains(w));
    if has(&["escalat"]) {
        Some(Field::Escalation)
    } else if has(&["communicat", "update", "cadence", "status page"]) {
        Some(Field::Updates)
    } else if has(&["response", "respond", "ack", "sla"]) {
        Some(Field::Response)
    } else if has(&["example"]) {
        Some(Field::Examples)
    } else if has(&[
        "description",
        "impact",
        "definition",
        "criteria",
        "meaning",
        "when",
    ]) {
        Some(Field::Description)
    } else {
        None
    }
}

/// `- ` / `* ` / `+ ` / `1. ` / `1) ` items: indent, number, the text after the marker.
fn list_item(line: &str) -> Option<(usize, Option<u64>, &str)> {
    let body = line.trim_start();
    let indent = line.len() - body.len();
    if let Some(rest) = body
        .strip_prefix("- ")
        .or_else(|| body.strip_prefix("* "))
        .or_else(|| body.strip_prefix("+ "))
    {
        return Some((indent, None, rest.trim()));
    }
    let digits = body.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 || digits > 9 {
        return None;
    }
    let rest = body.get(digits..)?;
    let rest = rest
        .strip_prefix(". ")
        .or_else(|| rest.strip_prefix(") "))?;
    let n = body.get(..digits)?.parse().ok()?;
    Some((indent, Some(n), rest.trim()))
}

/// `**bold** rest`: the bold text and what follows it.
fn bold_lead(body: &str) -> Option<(&str, &str)> {
    let inner = body
        .strip_prefix("**")
        .or_else(|| body.strip_prefix("__"))?;
    let close = inner.find("**").or_else(|| inner.find("__"))?;
    let bold = inner.get(..close)?;
    (!bold.trim().is_empty()).then_some((bold, inner.get(close + 2..).unwrap_or("")))
}

/// `**Key**: value`, `**Key:** value`, and (for keys a severity level knows, or when
/// `plain` is false) `Key: value`.
fn field(body: &str, known_only: bool) -> Option<(String, String)> {
    let body = body.trim();
    let (key, value) = match bold_lead(body) {
        Some((bold, rest)) => match bold.trim().strip_suffix(':') {
            Some(k) => (k.to_string(), rest.trim().to_string()),
            None => {
                let v = rest.trim().strip_prefix(':')?;
                (bold.trim().to_string(), v.trim().to_string())
            }
        },
        None => {
            let (k, v) = body.split_once(": ")?;
            let plain = k.split_whitespace().count() <= 3
                && k.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '-');
            if !plain || (known_only && classify(k).is_none()) {
                return None;
            }
            (k.to_string(), v.trim().to_string())
        }
    };
    if key.is_empty() || value.is_empty() || key.chars().count() > 40 {
        return None;
    }
    Some((key.trim().to_lowercase(), strip_markup(&value)))
}

/// What follows a level in a definition-style item: its description, and fields
/// written inline (`Response: 15 minutes.`, `(Response: immediate)`).
fn definition(rest: &str) -> (Option<String>, Vec<(String, String)>) {
    let rest = rest.trim().trim_start_matches([':', '-', '—', '–']).trim();
    let (rest, paren) = split_paren(rest);
    let mut fields = paren.map(inline_fields).unwrap_or_default();
    let mut words = Vec::new();
    for sentence in rest.split_inclusive(['.', ';']) {
        let s = sentence.trim().trim_end_matches(['.', ';']);
        match field(s, true) {
            Some(f) => fields.push(f),
            None if !s.is_empty() => words.push(sentence.trim()),
            None => {}
        }
    }
    let desc = strip_markup(words.join(" ").trim_end_matches(';'));
    ((!desc.is_empty()).then_some(desc), fields)
}

/// `Response: 15 minutes, Escalation: 30m` inside parentheses.
fn inline_fields(paren: &str) -> Vec<(String, String)> {
    paren
        .split([',', ';'])
        .filter_map(|p| field(p, true))
        .collect()
}

/// `SEV2 - High (Response: 15 minutes)` to its text and the last parenthesis' content.
fn split_paren(s: &str) -> (&str, Option<&str>) {
    let t = s.trim().trim_end_matches(':').trim_end();
    if let Some(body) = t.strip_suffix(')')
        && let Some(open) = body.rfind('(')
    {
        let inner = body.get(open + 1..).unwrap_or("");
        if inner.contains(':') {
            return (body.get(..open).unwrap_or("").trim(), Some(inner));
        }
    }
    (t, None)
}

/// Whether text names a severity level: `SEV2`, `SEV-1`, `Sev 1`, `P0`, `Severity 3`,
/// `Priority 1`, followed by anything.
pub(crate) fn is_level(text: &str) -> bool {
    level_name(text).is_some()
}

/// The level a severity row names, squashed: `SEV-1 - Critical` and `Sev 1` are `SEV1`,
/// `P0 (Critical)` is `P0`, `Severity 2` is `SEV2`, `Priority 1` is `P1`.
#[must_use]
pub(crate) fn level_name(text: &str) -> Option<String> {
    let t = strip_markup(text.trim());
    let mut words = t
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | '(' | ')' | ',' | '—' | '–'))
        .filter(|w| !w.is_empty() && *w != "-");
    let first = words.next()?.to_uppercase();
    let (prefix, digits) = match first.find(|c: char| c.is_ascii_digit()) {
        Some(i) => (first.get(..i)?.trim_end_matches('-'), first.get(i..)?),
        None => {
            let d = words.next()?;
            (first.as_str(), d)
        }
    };
    if digits.is_empty() || digits.len() > 2 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let prefix = match prefix {
        "SEV" | "SEVERITY" => "SEV",
        "P" | "PRIORITY" => "P",
        _ => return None,
    };
    Some(format!("{prefix}{digits}"))
}

/// Inline markup people put in values: bold, italics by underscores, code ticks.
fn strip_markup(s: &str) -> String {
    s.replace("**", "")
        .replace("__", "")
        .replace('`', "")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names() {
        for (t, n) in [
            ("SEV2 - High (Response: 15 minutes)", Some("SEV2")),
            ("SEV-1", Some("SEV1")),
            ("Sev 1: outage", Some("SEV1")),
            ("P0 (Critical)", Some("P0")),
            ("Severity 3", Some("SEV3")),
            ("Priority 1", Some("P1")),
            ("S3 bucket errors", None),
            ("P2P mesh", None),
            ("Performance", None),
            ("Severity levels", None),
        ] {
            assert_eq!(level_name(t).as_deref(), n, "{t}");
        }
    }

    #[test]
    fn fields_and_definitions() {
        assert_eq!(
            field("**Response Time**: 15 minutes", true),
            Some(("response time".into(), "15 minutes".into()))
        );
        assert_eq!(
            field("**Escalation:** After 30 minutes", true),
            Some(("escalation".into(), "After 30 minutes".into()))
        );
        assert_eq!(field("Complete outage: all users", true), None);
        let (d, f) = definition(": Complete outage. Response: immediate. Updates: every 15 min");
        assert_eq!(d.as_deref(), Some("Complete outage."));
        assert_eq!(f.len(), 2);
        assert_eq!(
            split_paren("SEV2 - High (Response: 15 minutes)"),
            ("SEV2 - High", Some("Response: 15 minutes"))
        );
        assert_eq!(
            split_paren("Team lead (P0, P1)"),
            ("Team lead (P0, P1)", None)
        );
    }
}
