//! The Markdown walk: pulldown-cmark events (with offsets) to sections, steps, tables,
//! checklists, alert rules and links.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::model::{ChecklistItem, Link, LinkTarget, Role, Runbook, Section, SectionKind, Table};
use crate::source::SourceMap;
use crate::{alertrules, tables, text};
use sitrep_risk::Classifier;

mod queries;
mod steps;

/// What the repair pass synthesised, so the walk can say "recovered".
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    /// Clean offsets of headings made from plain lines.
    pub(crate) headings: HashSet<usize>,
    /// Clean offsets of code fences made from bare command lines.
    pub(crate) fences: HashSet<usize>,
    /// Clean offsets of list items whose task marker was inserted.
    pub(crate) items: HashSet<usize>,
}

/// Everything the walk reads: the repaired text, its map to the original, the original's
/// line index, what the repair inserted, and the risk classifier for steps.
pub(crate) struct Input<'a> {
    pub(crate) clean: &'a str,
    pub(crate) map: &'a SourceMap,
    pub(crate) idx: &'a LineIndex<'a>,
    pub(crate) recovered: &'a Recovered,
    pub(crate) classifier: &'a Classifier,
}

/// Inline text being collected: a paragraph, or a tight list item's leading text.
#[derive(Default)]
struct Para {
    start: usize,
    /// `Some` once the first inline was `**strong**`; its text.
    strong: Option<String>,
    strong_open: bool,
    after_strong: String,
    text: String,
    first_link: Option<String>,
    seen_inline: bool,
}

/// An open list item.
struct Item {
    start: usize,
    text: Para,
    text_done: bool,
    task: Option<bool>,
    number: Option<u64>,
}

/// An open fenced block; `pieces` map script offsets to clean offsets.
struct CodeBuild {
    range: Range<usize>,
    info: Option<String>,
    text: String,
    pieces: Vec<(usize, usize, usize)>,
}

/// An open table.
#[derive(Default)]
struct TableBuild {
    range: Range<usize>,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Each body row in the original text.
    row_spans: Vec<Range<usize>>,
    row: Vec<String>,
    cell: Option<String>,
}

/// State of one walk over the events; `open` is the stack of open sections.
struct Walker<'a, 'b> {
    inp: &'b Input<'a>,
    rb: Runbook,
    diags: Vec<Diagnostic>,
    open: Vec<usize>,
    anchors: HashMap<String, usize>,
    heading: Option<(u8, usize, String)>,
    para: Option<Para>,
    lists: Vec<Option<u64>>,
    items: Vec<Item>,
    code: Option<CodeBuild>,
    table: Option<TableBuild>,
    link: Option<(String, usize, String)>,
    /// Text ending with ':' just before a block, and where it ended (a step's title).
    intro: Option<(String, usize)>,
    ordinals: HashMap<Option<usize>, usize>,
    /// List items in stand-down sections, in case the section has no task list.
    plain_gates: Vec<ChecklistItem>,
    /// The section whose heading is the document's title (left out of step ids).
    title_section: Option<usize>,
    /// Bold list item sections and the clean offset of their item: while that item is
    /// open, pseudo-headings in its nested lists sit below it.
    item_sections: HashMap<usize, usize>,
}

/// Walks the repaired text once and returns the model (without front matter) and notes.
pub(crate) fn walk(inp: &Input<'_>) -> (Runbook, Vec<Diagnostic>) {
    let mut w = Walker {
        inp,
        rb: Runbook {
            title: None,
            front_matter: None,
            sections: Vec::new(),
            steps: Vec::new(),
            references: Vec::new(),
            queries: Vec::new(),
            tables: Vec::new(),
            lists: Vec::new(),
            checklist: Vec::new(),
            alert_rules: Vec::new(),
            links: Vec::new(),
        },
        diags: Vec::new(),
        open: Vec::new(),
        anchors: HashMap::new(),
        heading: None,
        para: None,
        lists: Vec::new(),
        items: Vec::new(),
        code: None,
        table: None,
        link: None,
        intro: None,
        ordinals: HashMap::new(),
        plain_gates: Vec::new(),
        title_section: None,
        item_sections: HashMap::new(),
    };
    let opts = Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH;
    for (ev, range) in Parser::new_ext(inp.clean, opts).into_offset_iter() {
        w.event(ev, range);
    }
    w.finish()
}

impl Walker<'_, '_> {
    fn orig(&self, r: &Range<usize>) -> Range<usize> {
        self.inp.map.map_range(r)
    }

    fn current(&self) -> Option<usize> {
        self.open.last().copied()
    }

    fn mark_content(&mut self) {
        if let Some(s) = self.current().and_then(|i| self.rb.sections.get_mut(i)) {
            s.has_content = true;
        }
    }

    fn role(&self, section: Option<usize>) -> Option<Role> {
        section.and_then(|s| self.rb.effective_role(s))
    }

    fn push_section(&mut self, heading: String, level: u8, kind: SectionKind, clean: Range<usize>) {
        let span = self.orig(&clean);
        while let Some(&top) = self.open.last() {
            match self.rb.sections.get_mut(top) {
                Some(s) if s.level >= level => {
                    s.range.end = span.start.max(s.range.start);
                    self.open.pop();
                }
                _ => break,
            }
        }
        let anchor = matches!(kind, SectionKind::Heading | SectionKind::Recovered).then(|| {
            let base = text::anchor(&heading);
            let n = self.anchors.entry(base.clone()).or_insert(0);
            let a = if *n == 0 { base } else { format!("{base}-{n}") };
            *n += 1;
            a
        });
        let line = self.inp.idx.line(span.start);
        let heading = heading.trim().trim_end_matches(':').trim().to_string();
        self.rb.sections.push(Section {
            role: text::role_of(&heading),
            heading,
            level,
            kind,
            parent: self.current(),
            anchor,
            span: span.clone(),
            range: span.start..span.end,
            line,
            has_content: false,
        });
        let idx = self.rb.sections.len() - 1;
        self.open.push(idx);
        // The title is the document's first level-1 heading; scraped pages sometimes
        // start with empty ones (`# Sprint: ...`, `# Task: ...`), so the title moves on
        // to the next level-1 heading while the previous one is still empty.
        if level == 1 && matches!(kind, SectionKind::Heading | SectionKind::Recovered) {
            let previous_empty =
                |t: usize| t + 1 == idx && self.rb.sections.get(t).is_some_and(|s| !s.has_content);
            match self.title_section {
                None if idx == 0 => self.title_section = Some(idx),
                Some(t) if previous_empty(t) => self.title_section = Some(idx),
                _ => {}
            }
        }
    }

    /// Level for a pseudo-heading: one below the innermost real heading (paragraphs) or
    /// the innermost section that is not a bold list item, or is one whose item encloses
    /// this one (list items: `- **Response**:` with nested `- **Immediate**:` items).
    fn pseudo_level(&self, kind: SectionKind) -> u8 {
        let enclosing = |i: usize| {
            self.item_sections.get(&i).is_some_and(|start| {
                let outer = self.items.len().saturating_sub(1);
                self.items
                    .get(..outer)
                    .is_some_and(|o| o.iter().any(|it| it.start == *start))
            })
        };
        let base = self
            .open
            .iter()
            .rev()
            .filter_map(|&i| Some((i, self.rb.sections.get(i)?)))
            .find(|(i, s)| match kind {
                SectionKind::BoldParagraph => {
                    matches!(s.kind, SectionKind::Heading | SectionKind::Recovered)
                }
                _ => s.kind != SectionKind::BoldListItem || enclosing(*i),
            })
            .map(|(_, s)| s);
        base.map_or(1, |s| s.level.saturating_add(1)).min(12)
    }

    fn inline_text(&mut self, t: &str) {
        if let Some((_, _, buf)) = self.heading.as_mut() {
            buf.push_str(t);
        }
        if let Some(c) = self.table.as_mut().and_then(|t| t.cell.as_mut()) {
            c.push_str(t);
        }
        if let Some((_, _, buf)) = self.link.as_mut() {
            buf.push_str(t);
        }
        let para = match self.para.as_mut() {
            Some(p) => Some(p),
            None => self
                .items
                .last_mut()
                .filter(|i| !i.text_done)
                .map(|i| &mut i.text),
        };
        if let Some(p) = para {
            p.seen_inline = true;
            p.text.push_str(t);
            if p.strong_open {
                if let Some(s) = p.strong.as_mut() {
                    s.push_str(t);
                }
            } else if p.strong.is_some() {
                p.after_strong.push_str(t);
            }
        }
    }

    /// The inline run being collected (a paragraph, or a tight list item's text).
    fn inline_mut(&mut self) -> Option<&mut Para> {
        match self.para.as_mut() {
            Some(p) => Some(p),
            None => self
                .items
                .last_mut()
                .filter(|i| !i.text_done)
                .map(|i| &mut i.text),
        }
    }

    /// A block starts inside the innermost item (`nested`), or the item ends: its
    /// leading text is complete. A bold item with nothing nested under it is a list
    /// item, not a pseudo-heading (`1. **Team lead** (P0, P1)` in an escalation path).
    fn close_item_text(&mut self, at: usize, nested: bool) {
        let Some(item) = self.items.last_mut() else {
            return;
        };
        if item.text_done {
            return;
        }
        item.text_done = true;
        let p = std::mem::take(&mut item.text);
        if !p.seen_inline {
            return;
        }
        let start = item.start;
        if let Some(h) = pseudo_heading(&p).filter(|_| nested) {
            let level = self.pseudo_level(SectionKind::BoldListItem);
            self.push_section(h, level, SectionKind::BoldListItem, start..at.max(start));
            let idx = self.rb.sections.len() - 1;
            self.item_sections.insert(idx, start);
        } else {
            self.mark_content();
        }
        if let Some(i) = self.items.last_mut() {
            i.text = p;
        }
    }

    fn event(&mut self, ev: Event<'_>, range: Range<usize>) {
        match ev {
            Event::Start(tag) => self.start(tag, range),
            Event::End(tag) => self.end(tag, range),
            Event::Text(t) => {
                if let Some(c) = self.code.as_mut() {
                    let clean_piece = self.inp.clean.get(range.clone());
                    if clean_piece == Some(&*t) {
                        c.pieces.push((c.text.len(), range.start, t.len()));
                    }
                    c.text.push_str(&t);
                } else {
                    self.inline_text(&t);
                }
            }
            Event::Code(t) => self.inline_text(&t),
            Event::SoftBreak | Event::HardBreak => self.inline_text(" "),
            Event::TaskListMarker(checked) => {
                if let Some(i) = self.items.last_mut() {
                    i.task = Some(checked);
                }
            }
            Event::Html(_) | Event::Rule => {}
            Event::InlineHtml(_)
            | Event::FootnoteReference(_)
            | Event::InlineMath(_)
            | Event::DisplayMath(_) => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>, range: Range<usize>) {
        let block = matches!(
            tag,
            Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::BlockQuote(_)
                | Tag::CodeBlock(_)
                | Tag::List(_)
                | Tag::Table(_)
        ) || matches!(tag, Tag::HtmlBlock);
        if block {
            self.close_item_text(range.start, true);
        }
        match tag {
            Tag::Heading { level, .. } => {
                self.heading = Some((level as u8, range.start, String::new()))
            }
            Tag::Paragraph if self.heading.is_none() => {
                self.para = Some(Para {
                    start: range.start,
                    ..Para::default()
                });
            }
            Tag::Strong => {
                if let Some(p) = self.inline_mut()
                    && !p.seen_inline
                    && p.strong.is_none()
                {
                    p.strong = Some(String::new());
                    p.strong_open = true;
                    p.seen_inline = true;
                }
            }
            Tag::List(start) => self.lists.push(start),
            Tag::Item => {
                let number = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let v = *n;
                        *n = n.saturating_add(1);
                        Some(v)
                    }
                    _ => None,
                };
                self.items.push(Item {
                    start: range.start,
                    text: Para {
                        start: range.start,
                        ..Para::default()
                    },
                    text_done: false,
                    task: None,
                    number,
                });
            }
            Tag::CodeBlock(kind) => {
                self.mark_content();
                let info = match kind {
                    CodeBlockKind::Fenced(i) => Some(i.to_string()),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some(CodeBuild {
                    range,
                    info,
                    text: String::new(),
                    pieces: Vec::new(),
                });
            }
            Tag::Table(_) => {
                self.mark_content();
                self.table = Some(TableBuild {
                    range,
                    ..TableBuild::default()
                });
            }
            Tag::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    t.cell = Some(String::new());
                }
            }
            Tag::Link { dest_url, .. } => {
                self.link = Some((dest_url.to_string(), range.start, String::new()))
            }
            Tag::BlockQuote(_) | Tag::HtmlBlock => self.mark_content(),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd, range: Range<usize>) {
        match tag {
            TagEnd::Heading(_) => {
                if let Some((level, start, text)) = self.heading.take() {
                    let kind = if self.inp.recovered.headings.contains(&start) {
                        SectionKind::Recovered
                    } else {
                        SectionKind::Heading
                    };
                    self.push_section(text, level, kind, start..range.end);
                }
            }
            TagEnd::Strong => {
                if let Some(p) = self.inline_mut() {
                    p.strong_open = false;
                }
            }
            TagEnd::Paragraph => {
                let Some(p) = self.para.take() else { return };
                let in_item_first = self.items.last().is_some_and(|i| !i.text_done);
                if in_item_first {
                    // A loose list item's first paragraph is the item's text.
                    if let Some(i) = self.items.last_mut() {
                        i.text = p;
                    }
                    self.close_item_text(range.end, true);
                    if let Some((t, link)) = self
                        .items
                        .last()
                        .map(|i| (i.text.text.clone(), i.text.first_link.clone()))
                    {
                        self.note_intro(&t, range.end);
                        self.note_action(&t, link);
                    }
                    return;
                }
                if let Some(h) = pseudo_heading(&p) {
                    let level = self.pseudo_level(SectionKind::BoldParagraph);
                    self.push_section(h, level, SectionKind::BoldParagraph, p.start..range.end);
                } else {
                    self.mark_content();
                    self.note_intro(&p.text, range.end);
                    self.note_action(&p.text, p.first_link);
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            TagEnd::Item => {
                self.close_item_text(range.end, false);
                if let Some(item) = self.items.pop() {
                    self.note_intro(&item.text.text, range.end);
                    self.note_action(&item.text.text, item.text.first_link.clone());
                    self.finish_item(item, range);
                }
            }
            TagEnd::CodeBlock => {
                if let Some(c) = self.code.take() {
                    self.finish_code(c);
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = self.table.as_mut()
                    && let Some(c) = t.cell.take()
                {
                    t.row.push(c.trim().to_string());
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.header = std::mem::take(&mut t.row);
                }
            }
            TagEnd::TableRow => {
                let span = self.orig(&range);
                if let Some(t) = self.table.as_mut() {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                    t.row_spans.push(span);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    let data = tables::classify(&t.header, &t.rows, &t.row_spans);
                    let span = self.orig(&t.range);
                    self.rb.tables.push(Table {
                        section: self.current(),
                        header: t.header,
                        rows: t.rows,
                        data,
                        span,
                    });
                }
            }
            TagEnd::Link => {
                if let Some((dest, start, text)) = self.link.take() {
                    if let Some(p) = self.inline_mut()
                        && p.first_link.is_none()
                    {
                        p.first_link = Some(dest.clone());
                    }
                    let span = self.orig(&(start..range.end));
                    self.rb.links.push(Link {
                        text: text.trim().to_string(),
                        target: link_target(&dest),
                        section: self.current(),
                        span,
                    });
                }
            }
            _ => {}
        }
    }

    fn note_intro(&mut self, text: &str, end: usize) {
        let t = text.trim();
        if t.ends_with(':') && t.len() > 1 {
            self.intro = Some((t.trim_end_matches(':').trim().to_string(), end));
        }
    }

    /// "Action: see [Disk full](#disk-full)" after an alert rule names its handler.
    fn note_action(&mut self, text: &str, link: Option<String>) {
        let Some(link) = link else { return };
        let t = text.trim_start().to_ascii_lowercase();
        if !(t.starts_with("action:") || t.starts_with("action -") || t.starts_with("action ")) {
            return;
        }
        let section = self.current();
        // A note naming rules (`for IngestionLagHigh`) is about those rules only.
        let named = self
            .rb
            .alert_rules
            .iter()
            .any(|r| r.action.is_none() && text.contains(&r.name));
        let target = self
            .rb
            .alert_rules
            .iter_mut()
            .filter(|r| r.action.is_none() && r.section == section)
            .filter(|r| !named || text.contains(&r.name))
            .collect::<Vec<_>>();
        if target.is_empty() {
            if let Some(r) = self
                .rb
                .alert_rules
                .iter_mut()
                .rev()
                .find(|r| r.action.is_none())
            {
                r.action = Some(link);
            }
        } else {
            for r in target {
                r.action = Some(link.clone());
            }
        }
    }

    fn finish_item(&mut self, item: Item, range: Range<usize>) {
        let section = self.current();
        let gate = self.role(section) == Some(Role::StandDown);
        let text = item.text.text.trim().to_string();
        let span = self.orig(&(item.start..range.end));
        match item.task {
            Some(checked) => self.rb.checklist.push(ChecklistItem {
                text,
                checked,
                section,
                gate,
                number: item.number,
                recovered: self.inp.recovered.items.contains(&item.start),
                due: None,
                span,
            }),
            None if gate && self.items.is_empty() && !text.is_empty() => {
                self.plain_gates.push(ChecklistItem {
                    text,
                    checked: false,
                    section,
                    gate,
                    number: item.number,
                    recovered: true,
                    due: None,
                    span,
                })
            }
            None => {}
        }
    }

    /// Reads alert rules from a YAML block; true when any were found.
    fn alert_rules(&mut self, yaml: &str, span: Range<usize>, tagged: bool) -> bool {
        let section = self.current();
        let found = alertrules::read(yaml, span, tagged, section, self.inp.idx, &mut self.diags);
        let n = found.len();
        self.rb.alert_rules.extend(found);
        n > 0
    }

    fn finish(mut self) -> (Runbook, Vec<Diagnostic>) {
        self.rb.title = self
            .title_section
            .and_then(|t| self.rb.sections.get(t))
            .map(|s| s.heading.clone());
        let end = self.inp.map.map(self.inp.clean.len());
        for &i in &self.open {
            if let Some(s) = self.rb.sections.get_mut(i) {
                s.range.end = end.max(s.range.start);
            }
        }
        // Stand-down sections written as plain lists: their items are the gates.
        let with_tasks: HashSet<Option<usize>> =
            self.rb.checklist.iter().map(|c| c.section).collect();
        let mut noted = HashSet::new();
        for item in std::mem::take(&mut self.plain_gates) {
            if with_tasks.contains(&item.section) {
                continue;
            }
            if noted.insert(item.section) {
                let heading = item
                    .section
                    .and_then(|s| self.rb.sections.get(s))
                    .map_or("", |s| s.heading.as_str());
                self.diags.push(self.inp.idx.diag(
                    "recovered-checklist",
                    Severity::Info,
                    item.span.clone(),
                    format!("\"{heading}\" has a plain list, not a task list: its items were read as checklist gates"),
                ));
            }
            self.rb.checklist.push(item);
        }
        self.rb.checklist.sort_by_key(|c| c.span.start);
        // Unique step ids: a repeated id gets `~2`, `~3` (lint reports duplicate names).
        let mut seen: HashMap<String, usize> = HashMap::new();
        for s in &mut self.rb.steps {
            let n = seen.entry(s.id.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                s.id = format!("{}~{n}", s.id);
            }
        }
        for i in 0..self.rb.alert_rules.len() {
            let handler = self.rb.alert_rules.get(i).and_then(|r| {
                r.action
                    .as_deref()
                    .and_then(|a| a.strip_prefix('#'))
                    .and_then(|a| self.rb.section_by_anchor(a))
            });
            if let Some(r) = self.rb.alert_rules.get_mut(i) {
                r.handler = handler.or(r.section);
            }
        }
        (self.rb, self.diags)
    }
}

/// The heading a bold-led paragraph or list item stands for, if it is one:
/// `**Diagnosis:**`, `**Response**:`, `**Immediate** (< 5 min):`. Not a field such as
/// `**Frequency:** daily` or `**Severity: P1**`.
fn pseudo_heading(p: &Para) -> Option<String> {
    let strong = p.strong.as_deref()?.trim();
    if strong.is_empty() || strong.chars().count() > 60 {
        return None;
    }
    if let Some((_, value)) = strong.split_once(':')
        && !value.trim().is_empty()
    {
        return None;
    }
    let rest = p.after_strong.trim();
    let rest_ok = rest.is_empty()
        || rest == ":"
        || (rest.starts_with('(')
            && (rest.ends_with(')') || rest.ends_with("):"))
            && rest.len() <= 40);
    if !rest_ok {
        return None;
    }
    let mut h = strong.trim_end_matches(':').trim().to_string();
    if rest.starts_with('(') {
        h = format!("{h} {}", rest.trim_end_matches(':'));
    }
    Some(h)
}

fn link_target(dest: &str) -> LinkTarget {
    if let Some(a) = dest.strip_prefix('#') {
        return LinkTarget::Anchor {
            anchor: a.to_string(),
        };
    }
    let lower = dest.to_ascii_lowercase();
    if lower.contains("://")
        || lower.starts_with("mailto:")
        || lower.starts_with("tel:")
        || dest.starts_with('/')
    {
        return LinkTarget::External {
            url: dest.to_string(),
        };
    }
    match dest.split_once('#') {
        Some((p, a)) => LinkTarget::File {
            path: p.to_string(),
            anchor: Some(a.to_string()),
        },
        None => LinkTarget::File {
            path: dest.to_string(),
            anchor: None,
        },
    }
}
