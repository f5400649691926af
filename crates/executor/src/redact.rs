//! Secret redaction for streamed output: line-wise patterns, PEM blocks across lines.
//!
//! The patterns are a data table (`redact/patterns.tsv`, applied by `redact/table.rs`);
//! this file holds the literal values, the stream and the PEM state.

use std::sync::Arc;

mod table;

/// The set of rules: built-in shapes plus literal values (e.g. secret parameters).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    literals: Arc<Vec<Vec<u8>>>,
}

impl Redactor {
    /// Shortest literal replaced wherever it occurs. A shorter one would be masked inside
    /// every word that contains it, and the masks would spell out where (and so what) it
    /// is; `[executor] redact` refuses such values, and a shorter secret parameter is
    /// replaced only where it stands alone as a whole token.
    pub const MIN_LITERAL_CHARS: usize = 4;

    /// Built-in rules plus these literal values (empty strings are ignored).
    pub fn new(literals: &[String]) -> Self {
        let mut lits: Vec<Vec<u8>> = literals
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        lits.sort_by_key(|l| std::cmp::Reverse(l.len()));
        lits.dedup();
        Self {
            literals: Arc::new(lits),
        }
    }

    /// Redacts complete lines (no PEM state): for single values such as a display text.
    pub fn redact_text(&self, text: &str) -> String {
        let mut s = self.stream(usize::MAX);
        let mut out = s.push(text.as_bytes());
        out.extend(s.finish());
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A stateful redactor for one output stream. Lines longer than `max_line` bytes are
    /// cut into pieces so memory stays bounded; a secret straddling such a cut is only
    /// caught if each piece still matches.
    pub fn stream(&self, max_line: usize) -> StreamRedactor {
        StreamRedactor {
            rules: self.clone(),
            pending: Vec::new(),
            in_pem: false,
            max_line,
        }
    }

    fn redact_lines(&self, block: &[u8]) -> Vec<u8> {
        // Literals first: a pattern replacing part of a known secret must not leave the
        // rest of it for the literal pass to miss.
        let mut cur = block.to_vec();
        for lit in self.literals.iter() {
            let short = String::from_utf8_lossy(lit).chars().count() < Self::MIN_LITERAL_CHARS;
            cur = replace_literal(&cur, lit, short, b"[REDACTED:param]");
        }
        table::apply_all(&cur)
    }
}

/// Replaces every occurrence of `needle`, or with `whole_token` only those not touching
/// a letter, digit or `_` on either side.
fn replace_literal(hay: &[u8], needle: &[u8], whole_token: bool, with: &[u8]) -> Vec<u8> {
    let word = |i: Option<usize>| {
        i.and_then(|i| hay.get(i))
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    let mut out = Vec::with_capacity(hay.len());
    let (mut done, mut from) = (0, 0);
    while let Some(at) = hay.get(from..).and_then(|rest| find(rest, needle)) {
        let (start, end) = (from + at, from + at + needle.len());
        if whole_token && (word(start.checked_sub(1)) || word(Some(end))) {
            from = start + 1;
            continue;
        }
        out.extend_from_slice(hay.get(done..start).unwrap_or_default());
        out.extend_from_slice(with);
        (done, from) = (end, end);
    }
    out.extend_from_slice(hay.get(done..).unwrap_or_default());
    out
}

const PEM_BEGIN: &[u8] = b"-----BEGIN ";
fn is_pem_begin(line: &[u8]) -> bool {
    find(line, PEM_BEGIN).is_some() && find(line, b"PRIVATE KEY-----").is_some()
}
fn is_pem_end(line: &[u8]) -> bool {
    find(line, b"-----END ").is_some()
}
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Redacts one stream fed in arbitrary chunks; output is released a whole line at a time.
#[derive(Debug)]
pub struct StreamRedactor {
    rules: Redactor,
    pending: Vec<u8>,
    in_pem: bool,
    max_line: usize,
}

impl StreamRedactor {
    /// Feeds a chunk; returns the redacted complete lines it finished (maybe empty).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        let cut = match self.pending.iter().rposition(|&b| b == b'\n') {
            Some(nl) => nl + 1,
            None if self.pending.len() > self.max_line => self.pending.len(),
            None => return Vec::new(),
        };
        let rest = self.pending.split_off(cut);
        let block = std::mem::replace(&mut self.pending, rest);
        self.process(&block)
    }

    /// Flushes whatever is left (a last line without a newline).
    pub fn finish(&mut self) -> Vec<u8> {
        let block = std::mem::take(&mut self.pending);
        let out = self.process(&block);
        if self.in_pem {
            // A key that never ended: its start was already replaced; nothing else leaks.
            self.in_pem = false;
        }
        out
    }

    fn process(&mut self, block: &[u8]) -> Vec<u8> {
        // Fast path: no PEM state involved, redact the whole block at once.
        if !self.in_pem && find(block, PEM_BEGIN).is_none() {
            return self.rules.redact_lines(block);
        }
        let mut out = Vec::with_capacity(block.len());
        for line in block.split_inclusive(|&b| b == b'\n') {
            if self.in_pem {
                if is_pem_end(line) {
                    self.in_pem = false;
                }
            } else if is_pem_begin(line) {
                self.in_pem = !is_pem_end(line);
                out.extend_from_slice(b"[REDACTED:private-key]");
                if line.ends_with(b"\n") {
                    out.push(b'\n');
                }
            } else {
                out.extend(self.rules.redact_lines(line));
            }
        }
        out
    }
}
