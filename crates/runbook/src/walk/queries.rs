//! Query step building for the walk: a fenced `promql`, `logql` or `sql` block becomes a
//! [`QueryStep`] with its datasource, window, placeholders and level.

use std::ops::Range;
use std::time::Duration;

use super::{CodeBuild, Walker};
use crate::diag::Severity;
use crate::model::{Attributes, Placeholder};
use crate::query::{QueryLanguage, QueryStep, query_level, scan_query_placeholders};
use crate::source::SourceMap;

/// Longest range window a query step may ask for: a runbook step looks at recent data.
const MAX_RANGE: Duration = Duration::from_secs(31 * 24 * 3600);

impl Walker<'_, '_> {
    /// Builds the query step for a block tagged with a query language.
    pub(super) fn finish_query(
        &mut self,
        c: &CodeBuild,
        language: QueryLanguage,
        info: &str,
        attr_text: Option<(usize, &str)>,
    ) {
        let span = self.orig(&c.range);
        let mut attributes = self.attributes(&c.range, info, attr_text);
        let datasource = take_string(&mut attributes, "datasource");
        let range = self.take_duration(&mut attributes, "range", &span);
        let step = self.take_duration(&mut attributes, "step", &span);
        let script_map = SourceMap::from_pieces(c.pieces.iter().copied(), c.range.start);
        let mut placeholders: Vec<Placeholder> = Vec::new();
        for p in scan_query_placeholders(&c.text) {
            let at = self.inp.map.map_range(&script_map.map_range(&p.range));
            match placeholders.iter_mut().find(|q| q.name == p.name) {
                Some(q) => q.spans.push(at),
                None => placeholders.push(Placeholder {
                    name: p.name,
                    syntax: p.syntax,
                    spans: vec![at],
                    after_double_dash: false,
                    prose: None,
                }),
            }
        }
        let section = self.current();
        let title = self.step_title(&c.range, &[], section);
        let ordinal = 1 + self
            .rb
            .queries
            .iter()
            .filter(|q| q.section == section)
            .count();
        let id = attributes.name.clone().unwrap_or_else(|| {
            let path = self.heading_path(section);
            if path.is_empty() {
                format!("query-{ordinal}")
            } else {
                format!("{path}/query-{ordinal}")
            }
        });
        let (level, reasons) = query_level(language, &c.text);
        let line = self.inp.idx.line(span.start);
        self.rb.queries.push(QueryStep {
            id,
            title,
            section,
            role: self.role(section),
            language,
            datasource,
            query: c.text.clone(),
            range: range.filter(|_| language != QueryLanguage::Sql),
            step,
            placeholders,
            level,
            reasons,
            attributes,
            span,
            line,
        });
    }

    /// A duration attribute (`range=1h`); a bad or too long one is an
    /// `attribute-syntax` error and left out.
    fn take_duration(
        &mut self,
        attributes: &mut Attributes,
        key: &str,
        span: &Range<usize>,
    ) -> Option<Duration> {
        let text = take_string(attributes, key)?;
        match crate::duration::parse(&text) {
            Some(d) if !d.is_zero() && d <= MAX_RANGE => Some(d),
            _ => {
                let at = attributes.span.clone().unwrap_or_else(|| span.clone());
                self.diags.push(self.inp.idx.diag(
                    "attribute-syntax",
                    Severity::Error,
                    at,
                    format!("`{key}={text}` is not a duration between 1s and 31d"),
                ));
                None
            }
        }
    }
}

/// Removes a query attribute from the unknown keys (they are known to query steps).
fn take_string(attributes: &mut Attributes, key: &str) -> Option<String> {
    match attributes.unknown.remove(key)? {
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}
