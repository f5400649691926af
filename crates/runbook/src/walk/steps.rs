//! Step building for the walk: a shell code block becomes a [`Step`] with its
//! attributes, commands, placeholders, risk, title and heading-path id.

use std::ops::Range;

use super::{CodeBuild, Walker};
use crate::diag::Severity;
use crate::model::{Attributes, Command, Step};
use crate::model::{ProseValue, Reference};
use crate::source::SourceMap;
use crate::{landing, prose, reference, script, text, transcript};

/// A step's script, its map to the block's text, and each command's example output
/// (keyed by where the command starts in the script).
struct Derived {
    script: String,
    map: SourceMap,
    outputs: Vec<(usize, String)>,
}

impl Walker<'_, '_> {
    pub(super) fn finish_code(&mut self, mut c: CodeBuild) {
        let Some(info) = c.info.take() else { return };
        let (lang, attr_text) = script::split_info(&info);
        let span = self.orig(&c.range);
        let lang_s = lang.clone().unwrap_or_default();
        // Only blocks that mention `alert:` can hold alert rules: skip YAML parsing otherwise.
        let looks_alert = c.text.contains("alert:");
        if looks_alert && (matches!(lang_s.as_str(), "yaml" | "yml") || lang_s.is_empty()) {
            let found = self.alert_rules(&c.text, span.clone(), lang.is_some());
            if found || lang.is_some() {
                return;
            }
        }
        if let Some(language) = crate::query::QueryLanguage::from_tag(&lang_s) {
            self.finish_query(&c, language, &info, attr_text);
            return;
        }
        if !text::is_shell_lang(&lang_s) {
            return;
        }
        let Some(mut d) = self.shell_script(&mut c, &lang_s, &span) else {
            return;
        };
        let (raw, found, prose_map) = with_prose(&mut d);
        let Derived {
            script,
            map: derived,
            outputs,
        } = d;
        let script_map = SourceMap::from_pieces(c.pieces.iter().copied(), c.range.start);
        let block_orig = |r: &Range<usize>| self.inp.map.map_range(&script_map.map_range(r));
        let to_orig = |r: &Range<usize>| {
            let r = prose_map
                .as_ref()
                .map_or_else(|| r.clone(), |m| m.map_range(r));
            block_orig(&derived.map_range(&r))
        };

        let attributes = self.attributes(&c.range, &info, attr_text);

        let commands: Vec<Command> = raw
            .iter()
            .map(|r| Command {
                text: r.text.clone(),
                description: r.description.clone(),
                span: to_orig(&r.range),
                example_output: outputs
                    .iter()
                    .find(|(at, _)| *at == r.range.start)
                    .map(|(_, o)| o.clone()),
            })
            .collect();
        let (mut placeholders, places) = landing::placeholders(&script, &raw, to_orig);
        for p in &mut placeholders {
            p.prose = found
                .iter()
                .find(|f| f.name() == p.name)
                .map(|f| ProseValue {
                    variable: f.variable.clone(),
                    alert_label: f.label.clone(),
                    text: f.text.clone(),
                });
        }

        let section = self.current();
        let title = self.step_title(&c.range, &commands, section);
        let id = self.step_id(attributes.name.clone(), section);
        let risk = landing::step_risk(self.inp.classifier, &script, &places, to_orig);
        let line = self.inp.idx.line(span.start);
        let end_line = self
            .inp
            .idx
            .line(span.end.saturating_sub(1).max(span.start));
        self.rb.steps.push(Step {
            id,
            title,
            section,
            role: self.role(section),
            lang,
            attributes,
            script,
            commands,
            placeholders,
            risk,
            span,
            line,
            end_line,
            recovered: self.inp.recovered.fences.contains(&c.range.start),
        });
    }

    /// The `name` attribute, else the heading path plus the step's position in its section.
    fn step_id(&mut self, name: Option<String>, section: Option<usize>) -> String {
        let ordinal = {
            let n = self.ordinals.entry(section).or_insert(0);
            *n += 1;
            *n
        };
        name.unwrap_or_else(|| {
            let path = self.heading_path(section);
            if path.is_empty() {
                format!("step-{ordinal}")
            } else {
                format!("{path}/{ordinal}")
            }
        })
    }

    /// The info string's attributes; unreadable ones give an `attribute-syntax` error.
    pub(super) fn attributes(
        &mut self,
        block: &Range<usize>,
        info: &str,
        attr_text: Option<(usize, &str)>,
    ) -> Attributes {
        let mut attributes = Attributes::default();
        if let Some((brace, attr)) = attr_text {
            let fence_line = self.inp.clean.get(block.clone()).unwrap_or("");
            let at = fence_line.find(info).map_or(0, |i| i + brace);
            let aspan = self.orig(&(block.start + at..block.start + at + attr.len()));
            match script::parse_attributes(attr) {
                Ok(a) => attributes = a,
                Err(e) => self.diags.push(self.inp.idx.diag(
                    "attribute-syntax",
                    Severity::Error,
                    aspan.clone(),
                    e,
                )),
            }
            attributes.span = Some(aspan);
        }
        attributes
    }

    /// The script a shell block runs: a transcript's commands (its queries kept as
    /// references), the block as written, or `None` when it is not shell after all.
    fn shell_script(
        &mut self,
        c: &mut CodeBuild,
        lang: &str,
        span: &Range<usize>,
    ) -> Option<Derived> {
        if !transcript::is_transcript(lang, &c.text) {
            if lang.is_empty()
                && let Some(taken) = reference::untagged(&c.text)
            {
                let text = std::mem::take(&mut c.text);
                self.reference(taken.kind, taken.query, text, &c.range, taken.what, span);
                return None;
            }
            let len = c.text.len();
            return Some(Derived {
                script: std::mem::take(&mut c.text),
                map: SourceMap::identity(0, len),
                outputs: Vec::new(),
            });
        }
        let t = transcript::split(&c.text);
        let script_map = SourceMap::from_pieces(c.pieces.iter().copied(), c.range.start);
        for q in &t.queries {
            let what = format!("a query at a {} prompt", q.dialect.name());
            let at = self.inp.map.map_range(&script_map.map_range(&q.range));
            self.reference(q.dialect.kind(), true, q.text.clone(), &c.range, &what, &at);
        }
        if t.script.trim().is_empty() {
            if t.queries.is_empty() {
                let text = std::mem::take(&mut c.text);
                let what = "a transcript without commands";
                self.reference("output", false, text, &c.range, what, span);
            }
            return None;
        }
        Some(Derived {
            script: t.script,
            map: SourceMap::from_pieces(t.pieces, 0),
            outputs: t.outputs,
        })
    }

    /// Keeps a block that is not shell as a reference, with an info diagnostic naming
    /// what it was taken for.
    fn reference(
        &mut self,
        kind: &str,
        query: bool,
        text: String,
        block: &Range<usize>,
        what: &str,
        at: &Range<usize>,
    ) {
        let span = self.orig(block);
        let line = self.inp.idx.line(span.start);
        let role = if query {
            "a query"
        } else {
            "a reference block"
        };
        let tag = match kind {
            "table" | "log" | "output" => "text",
            k => k,
        };
        self.diags.push(self.inp.idx.diag(
            "reference-block",
            Severity::Info,
            at.clone(),
            format!("block at line {line} reads as {what}: kept as {role}, not a shell step (tag it `{tag}` to say so)"),
        ));
        self.rb.references.push(Reference {
            kind: kind.to_string(),
            query,
            text,
            section: self.current(),
            span,
            line,
        });
    }

    pub(super) fn step_title(
        &self,
        block: &Range<usize>,
        commands: &[Command],
        section: Option<usize>,
    ) -> String {
        // A title is a label: no trailing colon, and no full stop (but keep "..." and "?").
        let clean_title = |s: &str| {
            let t = s.trim().trim_end_matches(':').trim();
            let t = match t.strip_suffix('.') {
                Some(u) if !u.ends_with('.') => u,
                _ => t,
            };
            t.trim().to_string()
        };
        if let Some(i) = self.items.last() {
            let t = clean_title(&i.text.text);
            if !t.is_empty() {
                return t;
            }
        }
        if let Some((t, end)) = &self.intro
            && self
                .inp
                .clean
                .get(*end..block.start)
                .is_some_and(|g| g.trim().is_empty())
        {
            return t.clone();
        }
        if let Some(d) = commands
            .first()
            .and_then(|c| c.description.as_deref())
            .and_then(|d| d.lines().next())
        {
            return clean_title(strip_numbering(d));
        }
        section
            .and_then(|s| self.rb.sections.get(s))
            .map_or_else(|| "Untitled step".to_string(), |s| s.heading.clone())
    }

    /// Slugged heading path of a section, without the document title.
    pub(super) fn heading_path(&self, section: Option<usize>) -> String {
        let mut parts = Vec::new();
        let mut cur = section;
        let mut guard = 0;
        while let Some(i) = cur {
            let Some(s) = self.rb.sections.get(i) else {
                break;
            };
            let is_title = self.title_section == Some(i);
            if !is_title {
                parts.push(text::slug(&s.heading));
            }
            cur = s.parent;
            guard += 1;
            if guard > self.rb.sections.len() {
                break;
            }
        }
        parts.reverse();
        parts.retain(|p| !p.is_empty());
        parts.join("/")
    }
}

/// Replaces prose values in assignments by the placeholders they stand for: the script's
/// commands (split once, again only after a rewrite), the prose found, and the map from the
/// rewritten script back to the one before.
fn with_prose(
    d: &mut Derived,
) -> (
    Vec<script::RawCommand>,
    Vec<prose::Prose>,
    Option<SourceMap>,
) {
    let raw = script::commands(&d.script);
    let found = prose::find(&d.script, &raw);
    if found.is_empty() {
        return (raw, found, None);
    }
    let (text, pieces) = prose::rewrite(&d.script, &found);
    for (at, _) in &mut d.outputs {
        *at = prose::remap(&pieces, *at);
    }
    d.script = text;
    let raw = script::commands(&d.script);
    (raw, found, Some(SourceMap::from_pieces(pieces, 0)))
}

/// `1. Liveness` -> `Liveness`: the number is the comment's position, not its title.
fn strip_numbering(s: &str) -> &str {
    let t = s.trim_start();
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    match t.get(digits..) {
        Some(r) if digits > 0 && (r.starts_with(". ") || r.starts_with(") ")) => {
            r.get(2..).unwrap_or(r)
        }
        _ => s,
    }
}
