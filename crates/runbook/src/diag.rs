//! Diagnostics (import notes and lint findings) and the byte-offset to line/column index.

use std::ops::Range;

use serde::Serialize;

/// How much a diagnostic matters. `Error` makes `sitrep runbook lint` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something was guessed or recovered; worth knowing, nothing to fix.
    Info,
    /// Probably a mistake; the runbook still works.
    Warning,
    /// The runbook is wrong in a way that breaks a feature (a step, a link, a rule).
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One finding about a runbook, anchored to a place in the original text.
///
/// `code` is a stable kebab-case name (see docs/lint-rules.md); scripts may match on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable kebab-case code, e.g. `unknown-attribute`.
    pub code: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// A sentence for a person.
    pub message: String,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column of `span.start`, in characters.
    pub column: usize,
    /// Byte range in the original text (always within it, on char boundaries).
    pub span: Range<usize>,
}

/// Line starts of a text, built once, so offsets turn into line/column cheaply.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, starts }
    }

    /// 1-based (line, column); the column counts characters. Offsets past the end or
    /// inside a character are clamped, never a panic.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset);
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        (line, column)
    }

    /// 1-based line of an offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.line_col(offset).0
    }

    /// Builds a diagnostic at `span` (clamped into the text).
    pub(crate) fn diag(
        &self,
        code: &'static str,
        severity: Severity,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let start = floor_char_boundary(self.text, span.start);
        let end = floor_char_boundary(self.text, span.end).max(start);
        let (line, column) = self.line_col(start);
        Diagnostic {
            code,
            severity,
            message: message.into(),
            line,
            column,
            span: start..end,
        }
    }
}

/// The largest char boundary `<= i` (clamped to the text's length).
pub(crate) fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
