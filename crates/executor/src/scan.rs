//! Finding placeholders in step text: where each one sits (quoting, word start, after
//! `--`), and which names the script assigns itself.

use std::collections::BTreeSet;

use crate::bind::{Placeholder, PlaceholderKind};

/// The quoting a placeholder occurrence sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    None,
    Single,
    Double,
}

/// One occurrence of a placeholder in the script.
#[derive(Debug)]
pub(crate) struct Occurrence {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) name: String,
    pub(crate) kind: PlaceholderKind,
    pub(crate) quote: Quote,
    /// `${NAME:-x}` and friends carry their own default.
    pub(crate) has_default: bool,
    /// Nothing but quotes precedes it in its word: a value starting with `-` here is
    /// read as an option.
    pub(crate) word_start: bool,
    /// A `--` word came earlier in the same simple command: options have ended.
    pub(crate) after_dashdash: bool,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Unquoted bytes that end a simple command (and so forget an earlier `--`).
fn ends_command(c: u8) -> bool {
    b"\n;&|()`".contains(&c)
}

/// What the walker knows about the word it is in.
#[derive(Default)]
struct Word {
    /// Byte offset where the current word began, if inside one.
    start: Option<usize>,
    /// Literal (non-quote) bytes read in the current word.
    literal: usize,
    /// A `--` word has been seen in the current command.
    dashdash: bool,
}

impl Word {
    /// Called on an unquoted separator at `i`: closes the current word.
    fn close(&mut self, script: &str, i: usize, separator: u8) {
        if let Some(s) = self.start.take()
            && script.get(s..i) == Some("--")
        {
            self.dashdash = true;
        }
        self.literal = 0;
        if ends_command(separator) {
            self.dashdash = false;
        }
    }
    fn enter(&mut self, i: usize) {
        if self.start.is_none() {
            self.start = Some(i);
        }
    }
}

/// Walks the script once, tracking quotes, words and comments, and reports every
/// `<name>` and `$NAME`/`${NAME}` with its position, plus names assigned before use.
pub(crate) fn occurrences(script: &str) -> (Vec<Occurrence>, Vec<(usize, String)>) {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut assigned = Vec::new();
    let mut quote = Quote::None;
    let mut word = Word::default();
    let mut i = 0;
    let at_word_start =
        |i: usize| i == 0 || b.get(i - 1).is_some_and(|c| b" \t\n;&|(`".contains(c));
    while let Some(&c) = b.get(i) {
        if quote == Quote::None && (c == b' ' || c == b'\t' || ends_command(c)) {
            word.close(script, i, c);
            i += 1;
            continue;
        }
        word.enter(i);
        let here = |name: &str, start, end, kind, has_default, word: &Word, quote| Occurrence {
            start,
            end,
            name: name.to_owned(),
            kind,
            quote,
            has_default,
            word_start: word.literal == 0,
            after_dashdash: word.dashdash,
        };
        match (quote, c) {
            (Quote::Single, b'\'') | (Quote::Double, b'"') => quote = Quote::None,
            (Quote::None, b'\'') => quote = Quote::Single,
            (Quote::None, b'"') => quote = Quote::Double,
            (Quote::None | Quote::Double, b'\\') => {
                word.literal += 1;
                i += 1;
            }
            (Quote::None, b'#') if at_word_start(i) => {
                while b.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                word.start = None;
                continue;
            }
            (_, b'<') => {
                if let Some(j) = angle_end(b, i) {
                    out.push(here(
                        &script[i + 1..j - 1],
                        i,
                        j,
                        PlaceholderKind::Angle,
                        false,
                        &word,
                        quote,
                    ));
                    word.literal += j - i;
                    i = j;
                    continue;
                }
                word.literal += 1;
            }
            (Quote::None | Quote::Double, b'$') => {
                if let Some((s, j, end, has_default)) = var_end(script, i) {
                    out.push(here(
                        &script[s..j],
                        i,
                        end,
                        PlaceholderKind::Var,
                        has_default,
                        &word,
                        quote,
                    ));
                    word.literal += end - i;
                    i = end;
                    continue;
                }
                word.literal += 1;
            }
            (Quote::None, _) if is_name_start(c) && at_word_start(i) => {
                let j = assignment_scan(script, i, &mut assigned);
                word.literal += j - i;
                i = j;
                continue;
            }
            _ => word.literal += 1,
        }
        i += 1;
    }
    (out, assigned)
}

/// The end (exclusive) of a `<name>` placeholder starting at `i`.
fn angle_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if !b.get(j).is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    while b
        .get(j)
        .is_some_and(|&c| is_name_char(c) || c == b'-' || c == b'.')
    {
        j += 1;
    }
    (b.get(j) == Some(&b'>')).then_some(j + 1)
}

/// For a `$NAME`/`${NAME...}` at `i`: name start, name end, expansion end, and whether
/// the expansion carries its own default.
fn var_end(script: &str, i: usize) -> Option<(usize, usize, usize, bool)> {
    let b = script.as_bytes();
    let braced = b.get(i + 1) == Some(&b'{');
    let s = if braced { i + 2 } else { i + 1 };
    if !b.get(s).is_some_and(|&c| is_name_start(c)) {
        return None;
    }
    let mut j = s;
    while b.get(j).is_some_and(|&c| is_name_char(c)) {
        j += 1;
    }
    if !braced {
        return Some((s, j, j, false));
    }
    Some(match b.get(j) {
        Some(b'}') => (s, j, j + 1, false),
        // `${NAME:-x}`, `${NAME#x}`...: find the closing brace.
        Some(_) => {
            let close = script[j..].find('}').map_or(b.len(), |k| j + k + 1);
            let op = &script[j..close.min(b.len())];
            let defaults = ["-", ":-", "=", ":=", "+", ":+"]
                .iter()
                .any(|p| op.starts_with(p));
            (s, j, close, defaults)
        }
        None => (s, j, j, false),
    })
}

/// Reads the word at `i` (a command position); records names it assigns. Returns the
/// end of the word.
fn assignment_scan(script: &str, i: usize, assigned: &mut Vec<(usize, String)>) -> usize {
    let b = script.as_bytes();
    let mut j = i;
    while b.get(j).is_some_and(|&c| is_name_char(c)) {
        j += 1;
    }
    let word = &script[i..j];
    if b.get(j) == Some(&b'=') {
        assigned.push((i, word.to_owned()));
    } else if matches!(
        word,
        "for" | "read" | "local" | "export" | "declare" | "readonly"
    ) {
        // The names that follow are assigned by the shell itself.
        let rest = &script[j..];
        let line = rest.split(['\n', ';', '|', '&']).next().unwrap_or("");
        for w in line.split_whitespace() {
            if w == "in" || w == "do" {
                break;
            }
            let n = w.split('=').next().unwrap_or("");
            if !n.starts_with('-') && n.bytes().all(is_name_char) && !n.is_empty() {
                assigned.push((i, n.to_owned()));
            }
        }
    }
    j
}

/// Names the shell or the OS provide; never a runbook parameter.
fn is_ambient(name: &str) -> bool {
    matches!(
        name,
        "HOME"
            | "PATH"
            | "USER"
            | "PWD"
            | "OLDPWD"
            | "HOSTNAME"
            | "RANDOM"
            | "LINENO"
            | "SECONDS"
            | "IFS"
            | "UID"
            | "EUID"
            | "PPID"
            | "SHELL"
            | "LANG"
            | "TERM"
            | "TMPDIR"
            | "REPLY"
    ) || name.starts_with("BASH")
        || name.starts_with("SITREP_")
}

/// Whether the occurrence is a placeholder (not a script-local or ambient variable).
pub(crate) fn is_placeholder(o: &Occurrence, assigned: &[(usize, String)]) -> bool {
    o.kind == PlaceholderKind::Angle
        || !(o.has_default
            || is_ambient(&o.name)
            || assigned
                .iter()
                .any(|(pos, n)| *pos < o.start && *n == o.name))
}

/// Lists the placeholders a script needs, in first-use order: `<name>` everywhere, and
/// `$NAME`/`${NAME}` unless assigned earlier in the script, given a default
/// (`${NAME:-x}`), or provided by the shell (`$?`, `$1`, `$@`, `$HOME`...).
pub fn scan_placeholders(script: &str) -> Vec<Placeholder> {
    let (occ, assigned) = occurrences(script);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for o in occ {
        if is_placeholder(&o, &assigned)
            && seen.insert((o.kind == PlaceholderKind::Angle, o.name.clone()))
        {
            out.push(Placeholder {
                name: o.name,
                kind: o.kind,
                secret: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(script: &str) -> Occurrence {
        occurrences(script).0.remove(0)
    }

    #[test]
    fn word_start_and_dashdash_are_tracked() {
        assert!(first("find <dir> -name x").word_start);
        assert!(first("find \"<dir>\" -name x").word_start);
        assert!(!first("kubectl -n=<ns> get pods").word_start);
        assert!(!first("curl http://$HOST/health").word_start);
        assert!(first("grep -- $PATTERN f").after_dashdash);
        assert!(!first("grep -- x; grep $PATTERN f").after_dashdash);
        assert!(!first("grep x -- y | grep $PATTERN f").after_dashdash);
        assert!(!first("grep --x $PATTERN").after_dashdash);
    }

    #[test]
    fn quoting_is_tracked() {
        assert_eq!(first("echo '<x>'").quote, Quote::Single);
        assert_eq!(first("echo \"$X\"").quote, Quote::Double);
        assert_eq!(first("echo $X").quote, Quote::None);
        assert!(occurrences("echo '$X'").0.is_empty());
        assert!(occurrences("# $X\n").0.is_empty());
    }
}
