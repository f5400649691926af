//! Alertmanager label matchers: `name="v"`, `!=`, `=~`, `!~`, and `{a="b", c=~"d.*"}` lists.

use std::fmt;

use regex_automata::meta::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Labels;

/// Longest matcher text accepted, in bytes; regexes beyond this are a configuration smell.
const MAX_MATCHER_BYTES: usize = 4_096;
/// Largest compiled regex (its NFA), so a hostile pattern cannot exhaust memory:
/// `\w{20}` (Unicode classes) is over it, `(?-u:\w){20}` and `Db.*|Api.*` far under.
pub const MAX_REGEX_BYTES: usize = 256 << 10;
/// Each regex's lazy-DFA cache, which grows while matching and is not part of its
/// compiled size; past it the regex runs on the slower, cache-free engine.
pub const REGEX_CACHE_BYTES: usize = 128 << 10;

/// A matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`: the value equals.
    Equal,
    /// `!=`: the value differs.
    NotEqual,
    /// `=~`: the whole value matches the regex.
    Regex,
    /// `!~`: the whole value does not match the regex.
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher. A label the alert lacks has the empty value, as in Alertmanager,
/// so `team!="x"` matches an alert without `team` and `team=""` matches only those.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    /// `^(?:value)$`, compiled once, for the regex operators.
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}
impl Eq for Matcher {}

/// A matcher that does not parse, with the byte offset where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {position}: {message}")]
pub struct MatcherError {
    /// Byte offset into the matcher text.
    pub position: usize,
    /// What was expected.
    pub message: String,
}

impl Matcher {
    /// Builds a matcher, compiling (fully anchored) regexes.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, MatcherError> {
        if name.is_empty() {
            return Err(MatcherError {
                position: 0,
                message: "empty label name".into(),
            });
        }
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(compile_anchored(value)?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }
    /// The value or regex source, unescaped.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Heap bytes of the compiled regex (0 for `=` and `!=`), for the regex budget.
    pub fn regex_bytes(&self) -> usize {
        self.regex.as_ref().map_or(0, Regex::memory_usage)
    }

    /// Whether this is a regex matcher (`=~`, `!~`).
    pub fn is_regex(&self) -> bool {
        self.regex.is_some()
    }

    /// Whether the labels satisfy this matcher (a missing label is the empty value).
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(r)) => r.is_match(v),
            (MatchOp::NotRegex, Some(r)) => !r.is_match(v),
            // `new` always compiles a regex for these operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether every matcher matches (an empty list matches everything).
    pub fn all(matchers: &[Matcher], labels: &Labels) -> bool {
        matchers.iter().all(|m| m.matches(labels))
    }
}

/// `^(?:value)$` with the size limits. The value must first parse on its own: `a)|(b`
/// would otherwise close the group early and become `^(?:a)|(b)$`, which matches every
/// value starting with `a` (Alertmanager has that hole; a silence should not).
fn compile_anchored(value: &str) -> Result<Regex, MatcherError> {
    let bad = |message: String| MatcherError {
        position: 0,
        message,
    };
    regex_automata::util::syntax::parse(value).map_err(|e| bad(format!("bad regex: {e}")))?;
    let config = Regex::config()
        .nfa_size_limit(Some(MAX_REGEX_BYTES))
        .hybrid_cache_capacity(REGEX_CACHE_BYTES);
    Regex::builder()
        .configure(config)
        .build(&format!("^(?:{value})$"))
        .map_err(|e| {
            if e.size_limit().is_some() {
                bad(format!(
                    "the regex compiles to more than {} KiB (Unicode classes such as \\w \
                     are large: use an ASCII class like (?-u:\\w) or [a-z0-9_], or fewer \
                     repetitions)",
                    MAX_REGEX_BYTES >> 10
                ))
            } else {
                bad(format!("bad regex: {e}"))
            }
        })
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_plain_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            write_quoted(f, &self.name)?;
        }
        f.write_str(self.op.as_str())?;
        write_quoted(f, &self.value)
    }
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    {
        f.write_str("\"")?;
        for c in s.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> MatcherError {
        MatcherError {
            position: self.pos,
            message: message.into(),
        }
    }
    fn peek(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|s| s.chars().next())
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }
    fn eat(&mut self, s: &str) -> bool {
        if self.text.get(self.pos..).is_some_and(|r| r.starts_with(s)) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> Result<String, MatcherError> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.bump();
        }
        let name = self.text.get(start..self.pos).unwrap_or_default();
        if name.is_empty() {
            return Err(self.err("expected a label name"));
        }
        Ok(name.to_owned())
    }

    fn op(&mut self) -> Result<MatchOp, MatcherError> {
        // Two-character operators first: "=~" must not read as "=" then "~".
        for (s, op) in [
            ("=~", MatchOp::Regex),
            ("!~", MatchOp::NotRegex),
            ("!=", MatchOp::NotEqual),
            ("=", MatchOp::Equal),
        ] {
            if self.eat(s) {
                return Ok(op);
            }
        }
        Err(self.err("expected one of =, !=, =~, !~"))
    }

    fn quoted(&mut self) -> Result<String, MatcherError> {
        let open = self.pos;
        self.bump(); // the opening quote
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(MatcherError {
                        position: open,
                        message: "unterminated quoted string".into(),
                    });
                }
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c @ ('\\' | '"')) => out.push(c),
                    // Regexes need their own escapes (`\d`, `\.`): keep them verbatim.
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => return Err(self.err("unterminated escape")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn value(&mut self) -> Result<String, MatcherError> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        // Unquoted values (Alertmanager's classic form) run to a comma or closing brace.
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c != ',' && c != '}' && c != '"')
        {
            self.bump();
        }
        Ok(self
            .text
            .get(start..self.pos)
            .unwrap_or_default()
            .trim_end()
            .to_owned())
    }

    fn matcher(&mut self) -> Result<Matcher, MatcherError> {
        self.skip_ws();
        let name = self.name()?;
        self.skip_ws();
        let op = self.op()?;
        self.skip_ws();
        let value_pos = self.pos;
        let value = self.value()?;
        Matcher::new(&name, op, &value).map_err(|e| MatcherError {
            position: value_pos,
            ..e
        })
    }
}

/// Parses exactly one matcher, like `severity=~"critical|page"`.
pub fn parse_matcher(text: &str) -> Result<Matcher, MatcherError> {
    if text.len() > MAX_MATCHER_BYTES {
        return Err(MatcherError {
            position: MAX_MATCHER_BYTES,
            message: "matcher too long".into(),
        });
    }
    let mut p = Parser { text, pos: 0 };
    let m = p.matcher()?;
    p.skip_ws();
    if p.peek().is_some() {
        return Err(p.err("unexpected text after the matcher"));
    }
    Ok(m)
}

/// Parses a comma-separated list, with or without braces: `{a="b", c=~"d.*"}`.
/// A trailing comma is allowed; `{}` is the empty list.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, MatcherError> {
    if text.len() > MAX_MATCHER_BYTES {
        return Err(MatcherError {
            position: MAX_MATCHER_BYTES,
            message: "matchers too long".into(),
        });
    }
    let mut p = Parser { text, pos: 0 };
    p.skip_ws();
    let braced = p.eat("{");
    let mut out = Vec::new();
    loop {
        p.skip_ws();
        match p.peek() {
            None if !braced => return Ok(out),
            None => return Err(p.err("expected }")),
            Some('}') if braced => {
                p.bump();
                p.skip_ws();
                if p.peek().is_some() {
                    return Err(p.err("unexpected text after }"));
                }
                return Ok(out);
            }
            Some(_) => {}
        }
        out.push(p.matcher()?);
        p.skip_ws();
        if !p.eat(",") && !matches!(p.peek(), None | Some('}')) {
            return Err(p.err("expected , between matchers"));
        }
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_matcher(&s).map_err(|e| serde::de::Error::custom(format!("matcher {s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn operators_and_anchoring() {
        let l = labels(&[("severity", "critical"), ("job", "api-server")]);
        let ok = |t: &str| parse_matcher(t).map(|m| m.matches(&l));
        assert_eq!(ok(r#"severity="critical""#), Ok(true));
        assert_eq!(ok(r#"severity!="critical""#), Ok(false));
        assert_eq!(ok(r#"job=~"api""#), Ok(false), "regexes are fully anchored");
        assert_eq!(ok(r#"job=~"api.*""#), Ok(true));
        assert_eq!(ok(r#"job!~"api.*""#), Ok(false));
        assert_eq!(
            ok(r#"team!="x""#),
            Ok(true),
            "missing label is the empty value"
        );
        assert_eq!(ok(r#"team="""#), Ok(true));
        assert_eq!(ok("severity=critical"), Ok(true), "unquoted value");
    }

    #[test]
    fn lists_and_errors() {
        let ms = parse_matchers(r#"{alertname="Disk \"full\"", instance=~"db-\d+" ,}"#);
        let ms = ms.as_deref().unwrap_or_default();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms.first().map(Matcher::value), Some("Disk \"full\""));
        assert_eq!(ms.get(1).map(Matcher::value), Some(r"db-\d+"));
        assert_eq!(parse_matchers("{}"), Ok(vec![]));
        assert_eq!(
            parse_matchers(r#"a="b" c="d""#).map_err(|e| e.position),
            Err(6)
        );
        assert_eq!(parse_matchers(r#"{a="b""#).map_err(|e| e.position), Err(6));
        assert_eq!(parse_matcher(r#"a~"b""#).map_err(|e| e.position), Err(1));
        assert_eq!(parse_matcher(r#"a="b"#).map_err(|e| e.position), Err(2));
        assert_eq!(parse_matcher(r#"a=~"(""#).map_err(|e| e.position), Err(3));
        assert_eq!(parse_matcher(r#"="b""#).map_err(|e| e.position), Err(0));
    }
}
