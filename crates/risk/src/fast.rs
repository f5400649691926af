//! The fast path: scripts made only of simple commands are split into words by a small
//! hand-written lexer instead of tree-sitter-bash, then classified by the same word-level
//! code (`tools::classify_words`) and the same redirect rule.
//!
//! The lexer accepts a deliberately small subset of shell: plain words (`{}` inside
//! arguments, a lone `\;`), single quotes, double quotes with `$NAME`/`${NAME}` and
//! backslash escapes inside them, `NAME=value` prefixes, pipes, `&&`, `||`, `;`, `&`,
//! newlines (CRLF too), backslash-newline continuations, comments and file redirections at
//! the end of a command (prefixes are checked by `env`, as the walker checks them).
//! Anything else (substitutions, backticks, heredocs, here-strings,
//! brackets, other braces, parentheses, keywords, declarations, `!`...) makes it return
//! `None`, and the caller parses with tree-sitter.
//! For the subset it accepts, the result is exactly what the tree-sitter walk returns
//! (unit tests below compare both on the corpus and on generated scripts).

use std::ops::Range;

use crate::shell::{redirect_reason, unquote};
use crate::tools::{self, Outcome};
use crate::{Classifier, CommandRisk, Level, Reason};

/// Words that start something other than a simple command in bash (or in tree-sitter-bash's
/// grammar): never handled here.
const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "in", "function", "select", "coproc", "declare", "typeset", "export", "readonly", "local",
    "unset", "unsetenv", "time",
];

struct Redirect {
    range: Range<usize>,
    dest: Range<usize>,
}

#[derive(Default)]
struct Cmd {
    start: Option<usize>,
    end: usize,
    /// End of the last word or assignment: the command without its redirections.
    words_end: usize,
    /// Follows `|`, `&&` or `||`. tree-sitter-bash then attaches the command's
    /// redirections to the whole pipeline or list before it, not to the command.
    chained: bool,
    /// Follows `|`: the previous command's output is this one's input.
    piped: bool,
    words: Vec<Range<usize>>,
    /// `NAME=value` prefixes: the command's environment.
    assigns: Vec<Range<usize>>,
    redirects: Vec<Redirect>,
}

struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Characters allowed unquoted inside a word.
fn is_bare(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_'
                | b'.'
                | b'/'
                | b':'
                | b'='
                | b','
                | b'@'
                | b'%'
                | b'+'
                | b'~'
                | b'^'
                | b'*'
                | b'?'
        )
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    /// Spaces, tabs and backslash-newline continuations; true if it skipped a continuation.
    fn blanks(&mut self) -> bool {
        let mut joined = false;
        loop {
            match self.peek(0) {
                // tree-sitter-bash reads a carriage return as a blank (CRLF files).
                Some(b' ' | b'\t' | b'\r') => self.i += 1,
                Some(b'\\') if self.peek(1) == Some(b'\n') => {
                    self.i += 2;
                    joined = true;
                }
                Some(b'\\') if self.peek(1) == Some(b'\r') && self.peek(2) == Some(b'\n') => {
                    self.i += 3;
                    joined = true;
                }
                _ => return joined,
            }
        }
    }

    /// `$NAME` or `${NAME}` at the cursor; `None` for anything else after a `$`.
    fn dollar(&mut self) -> Option<()> {
        match self.peek(1)? {
            b'{' => {
                let mut j = self.i + 2;
                if !is_name_start(*self.b.get(j)?) {
                    return None;
                }
                while self.b.get(j).copied().is_some_and(is_name) {
                    j += 1;
                }
                if self.b.get(j) != Some(&b'}') {
                    return None;
                }
                self.i = j + 1;
                Some(())
            }
            c if is_name_start(c) => {
                let mut j = self.i + 1;
                while self.b.get(j).copied().is_some_and(is_name) {
                    j += 1;
                }
                self.i = j;
                Some(())
            }
            _ => None,
        }
    }

    /// One word at the cursor (the cursor is on a word character); its range. `braces`:
    /// `{}` may appear in it (an argument such as `{}` or `-I{}`).
    fn word(&mut self, braces: bool) -> Option<Range<usize>> {
        let start = self.i;
        while let Some(c) = self.peek(0) {
            match c {
                // Only an empty pair: tree-sitter-bash reads `{a,b}` and `{1..3}` as brace
                // expressions, with their own word boundaries.
                b'{' if braces && self.peek(1) == Some(b'}') => self.i += 2,
                // `find ... -exec cmd {} \;`: a whole word `\;` only.
                b'\\'
                    if self.i == start
                        && self.peek(1) == Some(b';')
                        && matches!(self.peek(2), None | Some(b' ' | b'\t' | b'\r' | b'\n')) =>
                {
                    self.i += 2;
                }
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' => break,
                b'\'' => {
                    let close = self.b.get(self.i + 1..)?.iter().position(|&x| x == b'\'')?;
                    let body = self.b.get(self.i + 1..self.i + 1 + close)?;
                    if body.contains(&b'\n') {
                        return None;
                    }
                    self.i += close + 2;
                }
                b'"' => {
                    self.i += 1;
                    loop {
                        match self.peek(0)? {
                            b'"' => {
                                self.i += 1;
                                break;
                            }
                            b'\\' => {
                                let n = self.peek(1)?;
                                if n == b'\n' || n == b'\r' {
                                    return None;
                                }
                                self.i += 2;
                            }
                            b'$' => self.dollar()?,
                            b'`' | b'\n' | b'\r' | b'!' => return None,
                            _ => self.i += 1,
                        }
                    }
                }
                b'$' => self.dollar()?,
                c if is_bare(c) => self.i += 1,
                _ => return None,
            }
        }
        if matches!(self.peek(0), Some(b'<' | b'>')) {
            // `a2>x`, `*2>x`: tree-sitter-bash splits such words its own way.
            return None;
        }
        let w = self.b.get(start..self.i)?;
        (!w.is_empty()).then_some(start..self.i)
    }

    /// A file redirection at the cursor (digits, then `<` or `>`), or `None` to give up.
    fn redirect(&mut self) -> Option<Redirect> {
        let start = self.i;
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        match (self.peek(0)?, self.peek(1)) {
            (b'&', Some(b'>')) if self.i == start => {
                self.i += 2;
                if self.peek(0) == Some(b'>') {
                    self.i += 1;
                }
            }
            (b'>', Some(b'>' | b'&')) | (b'<', Some(b'&')) => self.i += 2,
            (b'>', Some(b'|' | b'(')) => return None,
            (b'<', Some(b'<' | b'>' | b'(')) => return None,
            (b'>' | b'<', _) => self.i += 1,
            _ => return None,
        }
        if self.blanks() {
            return None;
        }
        match self.peek(0)? {
            b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'#' => return None,
            _ => {}
        }
        let dest = self.word(false)?;
        Some(Redirect {
            range: start..dest.end,
            dest,
        })
    }
}

/// Classifies `script` if it is within the simple subset; `masked` is
/// [`crate::shell::mask_placeholders`]'s copy (same length, ASCII).
pub fn classify(
    c: &Classifier,
    script: &str,
    masked: &str,
    depth: usize,
) -> Option<Vec<CommandRisk>> {
    let b = masked.as_bytes();
    if b.len() != script.len() {
        return None;
    }
    let cmds = lex(b)?;
    if pipes_context(script, &cmds) {
        return None;
    }
    let mut out = Vec::with_capacity(cmds.len());
    for cmd in cmds {
        let Some(start) = cmd.start else { continue };
        if cmd.words.is_empty() {
            // Only assignments: refused by `lex`.
            return None;
        }
        let detached = cmd.chained && !cmd.redirects.is_empty();
        let span = start..if detached { cmd.words_end } else { cmd.end };
        let words: Vec<String> = cmd
            .words
            .iter()
            .map(|r| unquote(script.get(r.clone()).unwrap_or("")))
            .collect();
        let assigns: Vec<&str> = cmd
            .assigns
            .iter()
            .map(|r| script.get(r.clone()).unwrap_or(""))
            .collect();
        let mut reasons = crate::env::Scope { c, depth }.prefixes(&assigns, &words);
        let Outcome { reasons: more, .. } = tools::classify_words(c, &words, None, depth);
        reasons.extend(more);
        let mut loose = Vec::new();
        for r in &cmd.redirects {
            let text = script.get(r.range.clone()).unwrap_or("");
            let dest = unquote(script.get(r.dest.clone()).unwrap_or(""));
            if let Some(reason) = redirect_reason(text, &dest) {
                if detached {
                    loose.push(CommandRisk {
                        text: text.to_string(),
                        span: r.range.clone(),
                        level: reason.level,
                        reasons: vec![reason],
                    });
                } else {
                    reasons.push(reason);
                }
            }
        }
        if reasons.is_empty() {
            reasons.push(Reason {
                rule: "no rule".to_string(),
                matched: words.join(" "),
                level: Level::Unknown,
            });
        }
        let level = reasons.iter().map(|r| r.level).max().unwrap_or(Level::Read);
        out.push(CommandRisk {
            text: script.get(span.clone()).unwrap_or("").to_string(),
            span,
            level,
            reasons,
        });
        out.extend(loose);
    }
    Some(out)
}

/// Whether a command gets something from the stage before it that the tree-sitter walker
/// looks at: text from `echo`/`printf` (SQL or a script on stdin), or a value marker
/// flowing into it. Such scripts are left to tree-sitter; plain pipes stay here.
fn pipes_context(script: &str, cmds: &[Cmd]) -> bool {
    let marked = script.contains(crate::VALUE_MARKER);
    cmds.windows(2).any(|pair| {
        let (Some(prev), Some(cmd)) = (pair.first(), pair.get(1)) else {
            return false;
        };
        let prints = prev.words.first().is_some_and(|r| {
            let w = unquote(script.get(r.clone()).unwrap_or(""));
            w == "echo" || w == "printf"
        });
        cmd.piped && (marked || prints)
    })
}

/// Splits the script into simple commands, or `None` when it holds anything else.
fn lex(b: &[u8]) -> Option<Vec<Cmd>> {
    let mut lx = Lexer { b, i: 0 };
    let mut cmds = Vec::new();
    let mut cur = Cmd::default();
    // After `|`, `&&`, `||`: a command must follow (newlines may come first).
    let mut need = false;
    // Commands joined by `|`, `&&`, `||` so far in this chain; whether a chain of three or
    // more has ended. tree-sitter-bash 0.25 misparses such a chain when a redirection comes
    // on a later line: `a | b | c\nd > out` comes out as `c d` (the newline swallowed),
    // with no error node. Those scripts go to tree-sitter so the result stays identical.
    let mut chain = 0usize;
    let mut long_chain_ended = false;
    loop {
        let joined = lx.blanks();
        let Some(ch) = lx.peek(0) else {
            if joined {
                return None;
            }
            break;
        };
        if joined && (cur.start.is_none() || matches!(ch, b'\n' | b'#')) {
            // A continuation must join two parts of one command.
            return None;
        }
        match ch {
            b'\n' => {
                lx.i += 1;
                if cur.start.is_some() {
                    cmds.push(std::mem::take(&mut cur));
                    long_chain_ended |= chain + 1 >= 3;
                    chain = 0;
                }
            }
            b'#' => {
                if need {
                    return None;
                }
                if cur.start.is_some() {
                    cmds.push(std::mem::take(&mut cur));
                    long_chain_ended |= chain + 1 >= 3;
                    chain = 0;
                }
                while lx.peek(0).is_some_and(|c| c != b'\n') {
                    lx.i += 1;
                }
            }
            b';' | b'&' | b'|' => {
                let two = lx.peek(1);
                let op: &[u8] = match (ch, two) {
                    (b'&', Some(b'&')) | (b'|', Some(b'|')) => b"&&",
                    (b'&', Some(b'>')) => b">",
                    (b';', Some(b';' | b'&')) | (b'|', Some(b'&')) => return None,
                    (b'&', _) => b"&",
                    (b'|', _) => b"|",
                    _ => b";",
                };
                if op == b">" {
                    // `&>` / `&>>`.
                    if cur.words.is_empty() {
                        return None;
                    }
                    let r = lx.redirect()?;
                    if long_chain_ended {
                        return None;
                    }
                    cur.end = r.range.end;
                    cur.redirects.push(r);
                    continue;
                }
                if cur.words.is_empty() || need {
                    return None;
                }
                lx.i += if op == b"&&" { 2 } else { 1 };
                cmds.push(std::mem::take(&mut cur));
                need = matches!(op, b"&&" | b"|");
                cur.chained = need;
                cur.piped = op == b"|";
                chain += 1;
                if !need {
                    long_chain_ended |= chain >= 3;
                    chain = 0;
                }
                if need {
                    // Newlines (and blank continuations) may follow a pipe or `&&`.
                    loop {
                        if lx.blanks() {
                            return None;
                        }
                        if lx.peek(0) == Some(b'\n') {
                            lx.i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            b'<' | b'>' => {
                if cur.words.is_empty() {
                    return None;
                }
                let r = lx.redirect()?;
                if long_chain_ended {
                    return None;
                }
                cur.end = r.range.end;
                cur.redirects.push(r);
            }
            _ => {
                if ch.is_ascii_digit() {
                    let mut j = lx.i;
                    while b.get(j).is_some_and(u8::is_ascii_digit) {
                        j += 1;
                    }
                    if matches!(b.get(j), Some(b'<' | b'>')) {
                        if cur.words.is_empty() {
                            return None;
                        }
                        let r = lx.redirect()?;
                        if long_chain_ended {
                            return None;
                        }
                        cur.end = r.range.end;
                        cur.redirects.push(r);
                        continue;
                    }
                }
                if !cur.redirects.is_empty() {
                    // A word after a redirection: tree-sitter reads it as a second
                    // destination; not ours to imitate.
                    return None;
                }
                let w = lx.word(!cur.words.is_empty())?;
                let text = b.get(w.clone())?;
                if cur.words.is_empty() {
                    if let Some(eq) = text.iter().position(|&x| x == b'=') {
                        let name = text.get(..eq)?;
                        let name = name.strip_suffix(b"+").unwrap_or(name);
                        let value = text.get(eq + 1..)?;
                        let ok = name.first().copied().is_some_and(is_name_start)
                            && name.iter().all(|&x| is_name(x))
                            && !value.is_empty()
                            && !value.contains(&b'\\');
                        if !ok {
                            return None;
                        }
                        // An assignment prefix.
                        cur.start.get_or_insert(w.start);
                        cur.assigns.push(w.clone());
                        cur.end = w.end;
                        cur.words_end = w.end;
                        need = false;
                        continue;
                    }
                    // tree-sitter-bash reads some names oddly (`2%s`, `a:b` after an
                    // assignment): only plain names are taken here.
                    let plain = text.first().is_some_and(|&x| {
                        x.is_ascii_alphabetic() || matches!(x, b'_' | b'.' | b'/')
                    }) && text.iter().all(|&x| {
                        x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'/' | b'-')
                    });
                    let s = std::str::from_utf8(text).ok()?;
                    if !plain || KEYWORDS.contains(&s) {
                        return None;
                    }
                } else if text.first() == Some(&b'=') {
                    return None;
                }
                if text == b"-" {
                    // tree-sitter-bash drops a `-` that a number follows (`x - 2>&1`).
                    let mut j = lx.i;
                    while matches!(b.get(j), Some(b' ' | b'\t' | b'\r')) {
                        j += 1;
                    }
                    if b.get(j).is_some_and(u8::is_ascii_digit) {
                        return None;
                    }
                }
                cur.start.get_or_insert(w.start);
                cur.end = w.end;
                cur.words_end = w.end;
                cur.words.push(w);
                need = false;
            }
        }
    }
    if need {
        return None;
    }
    if cur.start.is_some() {
        cmds.push(cur);
    }
    Some(cmds)
}

#[cfg(test)]
mod tests;
