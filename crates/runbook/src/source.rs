//! The text actually parsed and its map back to the original bytes.
//!
//! Scraped pages are repaired before Markdown parsing (a commit header skipped, scraper
//! `|` lines removed, lost Markdown re-inserted). Every repair copies pieces of the
//! original and inserts a little synthetic text; [`SourceMap`] remembers which is which,
//! so every range in the model still points into the text the user gave us.

use std::ops::Range;

use crate::diag::{Diagnostic, LineIndex, Severity};

/// One copied run: `len` bytes at `clean` in the parsed text came from `orig` in the input.
#[derive(Debug, Clone, Copy)]
struct Seg {
    clean: usize,
    orig: usize,
    len: usize,
}

/// Piecewise map from offsets in a derived text to offsets in the original text.
/// Offsets inside inserted (synthetic) text map to the end of the preceding copied run.
#[derive(Debug, Clone)]
pub(crate) struct SourceMap {
    segs: Vec<Seg>,
    /// Original offset for derived offsets before the first copied run.
    origin: usize,
}

impl SourceMap {
    /// The identity on `len` bytes starting at `base` in the original.
    pub(crate) fn identity(base: usize, len: usize) -> Self {
        Self {
            segs: vec![Seg {
                clean: 0,
                orig: base,
                len,
            }],
            origin: base,
        }
    }

    fn find(&self, off: usize) -> Option<&Seg> {
        let i = self.segs.partition_point(|s| s.clean <= off);
        i.checked_sub(1).and_then(|i| self.segs.get(i))
    }

    /// Maps a derived offset to the original.
    pub(crate) fn map(&self, off: usize) -> usize {
        match self.find(off) {
            Some(s) if off < s.clean + s.len => s.orig + (off - s.clean),
            Some(s) => s.orig + s.len,
            None => self.origin,
        }
    }

    /// Maps a derived range; the end is mapped from the last byte it covers, so a range
    /// ending just before dropped text does not swallow it.
    pub(crate) fn map_range(&self, r: &Range<usize>) -> Range<usize> {
        let start = self.map(r.start);
        let end = if r.end > r.start {
            match self.find(r.end - 1) {
                Some(s) if r.end - 1 < s.clean + s.len => s.orig + (r.end - s.clean),
                _ => self.map(r.end),
            }
        } else {
            start
        };
        start..end.max(start)
    }

    /// A map from pieces: `(derived offset, original offset, length)`, sorted.
    pub(crate) fn from_pieces(
        pieces: impl IntoIterator<Item = (usize, usize, usize)>,
        origin: usize,
    ) -> Self {
        let segs = pieces
            .into_iter()
            .map(|(clean, orig, len)| Seg { clean, orig, len })
            .collect();
        Self { segs, origin }
    }
}

/// Builds a derived text from pieces of an input text (itself mapped to the original).
pub(crate) struct Builder {
    pub(crate) out: String,
    segs: Vec<Seg>,
    origin: usize,
}

impl Builder {
    pub(crate) fn new(origin: usize, capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
            segs: Vec::new(),
            origin,
        }
    }

    /// Appends `input[r]`, remembering where each byte came from through `map`.
    /// `r` must lie on char boundaries of `input` (callers cut at lines or ASCII bytes).
    pub(crate) fn copy(&mut self, input: &str, r: Range<usize>, map: &SourceMap) {
        let Some(piece) = input.get(r.clone()) else {
            return;
        };
        let mut pos = r.start;
        while pos < r.end {
            let i = map.segs.partition_point(|s| s.clean <= pos);
            let here = i
                .checked_sub(1)
                .and_then(|i| map.segs.get(i))
                .filter(|s| pos < s.clean + s.len);
            let stop = match here {
                Some(s) => (s.clean + s.len).min(r.end),
                None => map.segs.get(i).map_or(r.end, |s| s.clean.min(r.end)),
            };
            if let Some(s) = here {
                let clean = self.out.len() + (pos - r.start);
                self.segs.push(Seg {
                    clean,
                    orig: s.orig + (pos - s.clean),
                    len: stop - pos,
                });
            }
            pos = stop.max(pos + 1);
        }
        self.out.push_str(piece);
    }

    /// Appends synthetic text that has no original bytes.
    pub(crate) fn insert(&mut self, s: &str) {
        self.out.push_str(s);
    }

    pub(crate) fn finish(self) -> (String, SourceMap) {
        let origin = self.segs.first().map_or(self.origin, |s| s.orig);
        (
            self.out,
            SourceMap {
                segs: self.segs,
                origin,
            },
        )
    }
}

/// Lines of `text` as byte ranges including their `\n`.
pub(crate) fn line_ranges(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut pos = 0;
    text.split_inclusive('\n').map(move |l| {
        let r = pos..pos + l.len();
        pos += l.len();
        r
    })
}

/// Text of a line without its line ending.
pub(crate) fn line_text<'t>(text: &'t str, r: &Range<usize>) -> &'t str {
    text.get(r.clone())
        .unwrap_or("")
        .trim_end_matches(['\n', '\r'])
}

/// Skips a file viewer's header ("339 lines / 8.3 KiB / Markdown", possibly after a git
/// commit header) that a scraper saved before the Markdown.
pub(crate) fn strip_preamble(
    input: &str,
    map: &SourceMap,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(String, SourceMap)> {
    // Cheap test first: this runs on every file, and real headers say "N lines".
    let head = input
        .get(..crate::diag::floor_char_boundary(input, 8192))
        .unwrap_or("");
    if !head.contains(" lines\n") && !head.contains(" lines\r\n") && !head.contains(" line\n") {
        return None;
    }
    let lines: Vec<Range<usize>> = line_ranges(input).take(80).collect();
    let mut cut = None;
    for (i, r) in lines.iter().enumerate() {
        if !is_line_count(line_text(input, r)) {
            continue;
        }
        let Some(size) = lines.get(i + 1).filter(|r| is_size(line_text(input, r))) else {
            continue;
        };
        let mut end = size.end;
        if let Some(lang) = lines.get(i + 2) {
            let t = line_text(input, lang).trim();
            if !t.is_empty()
                && t.len() < 20
                && t.chars().all(|c| c.is_ascii_alphabetic() || c == ' ')
            {
                end = lang.end;
            }
        }
        cut = Some(end);
    }
    let cut = cut?;
    let skipped = input.get(..cut).unwrap_or("");
    let commit = skipped.split_whitespace().find(|w| looks_like_commit(w));
    let what = match commit {
        Some(c) => format!("a git commit header (commit {c}) and a file viewer's header"),
        None => "a file viewer's header (line count, size, language)".to_string(),
    };
    let span = map.map_range(&(0..cut));
    diags.push(idx.diag(
        "scrape-preamble",
        Severity::Info,
        span,
        format!("skipped {what} before the Markdown: it is page chrome, not runbook content"),
    ));
    let mut b = Builder::new(map.map(cut), input.len());
    b.copy(input, cut..input.len(), map);
    Some(b.finish())
}

fn is_line_count(t: &str) -> bool {
    let t = t.trim();
    let Some(n) = t.strip_suffix(" lines").or_else(|| t.strip_suffix(" line")) else {
        return false;
    };
    !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == ',')
}

fn is_size(t: &str) -> bool {
    let t = t.trim();
    let unit_at = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(unit_at);
    !num.is_empty()
        && matches!(
            unit.trim(),
            "B" | "Bytes" | "bytes" | "KB" | "KiB" | "MB" | "MiB" | "kB"
        )
}

fn looks_like_commit(w: &str) -> bool {
    (7..=40).contains(&w.len())
        && w.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && w.chars().any(|c| c.is_ascii_digit())
        && w.chars().any(|c| c.is_ascii_alphabetic())
}

/// Removes a scraper's `|` lines (one or more between every real line). Runs of three or
/// more become one blank line, which is how the pages we have seen encode paragraph breaks.
pub(crate) fn strip_pipe_lines(
    input: &str,
    map: &SourceMap,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(String, SourceMap)> {
    if !input.contains("\n|\n") && !input.contains("\n|\r\n") {
        return None;
    }
    let lines: Vec<Range<usize>> = line_ranges(input).collect();
    let is_pipe = |r: &Range<usize>| line_text(input, r).trim() == "|";
    let pipes = lines.iter().filter(|r| is_pipe(r)).count();
    if pipes < 6 || pipes * 4 < lines.len() {
        return None;
    }
    let first = lines.iter().find(|r| is_pipe(r)).cloned().unwrap_or(0..0);
    let mut b = Builder::new(map.map(0), input.len());
    let mut run = 0usize;
    for r in &lines {
        if is_pipe(r) {
            run += 1;
            continue;
        }
        if run >= 3 {
            b.insert("\n");
        }
        run = 0;
        b.copy(input, r.clone(), map);
    }
    diags.push(idx.diag(
        "scrape-pipe-lines",
        Severity::Info,
        map.map_range(&first),
        format!(
            "removed {pipes} lines holding only `|` (a web scraper's artifact between every \
             line); runs of three or more were read as a blank line"
        ),
    ));
    Some(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_maps_copied_and_inserted_text() {
        let orig = "abc\n|\n|\ndef\n";
        let id = SourceMap::identity(0, orig.len());
        let mut b = Builder::new(0, 16);
        b.copy(orig, 0..4, &id);
        b.insert("XX");
        b.copy(orig, 8..12, &id);
        let (text, map) = b.finish();
        assert_eq!(text, "abc\nXXdef\n");
        assert_eq!(map.map(6), 8); // 'd'
        assert_eq!(map.map(4), 4); // inserted -> end of previous run
        assert_eq!(map.map_range(&(0..4)), 0..4);
        assert_eq!(map.map_range(&(6..9)), 8..11);
    }

    #[test]
    fn preamble_triad_is_recognised() {
        assert!(is_line_count("339 lines"));
        assert!(is_size("8.3 KiB"));
        assert!(!is_size("Markdown"));
        assert!(looks_like_commit("2e081ead8e"));
        assert!(!looks_like_commit("deadbeef_"));
    }
}
