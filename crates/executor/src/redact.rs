//! Secret redaction for streamed output: line-wise patterns, PEM blocks across lines.

use std::sync::{Arc, LazyLock};

use regex::bytes::{Captures, Regex};

/// `(kind, pattern)`. Group `p` (prefix) and `s` (suffix) are kept; the rest is replaced.
/// Patterns never cross a newline, so redacting whole lines is as good as redacting the
/// stream. Order matters: specific shapes before the generic `key=value` rule.
const PATTERNS: &[(&str, &str)] = &[
    (
        "authorization",
        r#"(?i)(?P<p>authorization["']?\s*[:=]\s*["']?(?:bearer|basic|token)?\s*)[^\s"']+"#,
    ),
    ("bearer", r"(?i)(?P<p>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    (
        "url-password",
        r"(?P<p>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?P<s>@)",
    ),
    ("aws-access-key-id", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    (
        "aws-secret-key",
        r#"(?i)(?P<p>aws_secret_access_key["']?\s*[=:]\s*["']?)[A-Za-z0-9/+=]{20,}"#,
    ),
    (
        "github-token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    ("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    (
        "assignment",
        // `DB_PASSWORD=`, `redis.auth-token:`: `_` is a word character, so prefixes are
        // matched explicitly rather than relying on `\b` before the secret-ish word.
        r#"(?i)(?P<p>\b(?:[a-z0-9]+[_.-])*(?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?token|client[_-]?secret)["']?\s*[=:]\s*["']?)[^\s"'&,;\[]+"#,
    ),
];

static COMPILED: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .filter_map(|(kind, re)| Regex::new(re).ok().map(|r| (*kind, r)))
        .collect()
});

/// The set of rules: built-in shapes plus literal values (e.g. secret parameters).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    literals: Arc<Vec<Vec<u8>>>,
}

impl Redactor {
    /// Built-in rules plus these literal values (empty strings are ignored).
    pub fn new(literals: &[String]) -> Self {
        let mut lits: Vec<Vec<u8>> = literals
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        lits.sort_by_key(|l| std::cmp::Reverse(l.len()));
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
        let mut cur = block.to_vec();
        for (kind, re) in COMPILED.iter() {
            if !re.is_match(&cur) {
                continue;
            }
            cur = re
                .replace_all(&cur, |c: &Captures<'_>| {
                    let mut r = c.name("p").map_or(Vec::new(), |m| m.as_bytes().to_vec());
                    r.extend_from_slice(format!("[REDACTED:{kind}]").as_bytes());
                    r.extend_from_slice(c.name("s").map_or(&[][..], |m| m.as_bytes()));
                    r
                })
                .into_owned();
        }
        for lit in self.literals.iter() {
            cur = replace_literal(&cur, lit, b"[REDACTED:param]");
        }
        cur
    }
}

fn replace_literal(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay.get(i..i + needle.len()) == Some(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.extend_from_slice(hay.get(i..i + 1).unwrap_or(&[]));
            i += 1;
        }
    }
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
