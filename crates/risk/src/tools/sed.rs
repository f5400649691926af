//! sed: read only when its script is inline and every command in it only reads. `w`/`W` and
//! the `w` flag of `s` write files, `e` and the `e` flag run commands, `-i` edits in place.

use super::wrappers::value_reread;
use super::{Outcome, reason};
use crate::{Level, Reason};

/// Short options that take a value (attached or as the next word).
const WITH_VALUE: &[u8] = b"efl";

pub(super) fn sed(words: &[String]) -> Outcome {
    let mut reasons: Vec<Reason> = Vec::new();
    let mut scripts: Vec<&str> = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') || w.len() < 2 {
            break;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, value) = long.split_once('=').unwrap_or((long, ""));
            match name {
                "expression" | "file" => {
                    let v = if long.contains('=') {
                        value
                    } else {
                        i += 1;
                        words.get(i).map_or("", String::as_str)
                    };
                    option(name == "file", v, &mut scripts, &mut reasons);
                }
                "in-place" => reasons.push(reason("sed --in-place", w, Level::Write)),
                "line-length" if !long.contains('=') => i += 1,
                _ => {}
            }
            i += 1;
            continue;
        }
        i += short_cluster(words, i, &mut scripts, &mut reasons);
    }
    if scripts.is_empty() && !reasons.iter().any(|r| r.rule == "sed script from a file") {
        match words.get(i) {
            Some(s) => scripts.push(s),
            None => reasons.push(reason("sed without a script", "sed", Level::Unknown)),
        }
    }
    for s in scripts {
        reasons.extend(value_reread(s));
        let (level, why) = script_level(s);
        reasons.push(reason(why, s, level));
    }
    Outcome::new(reasons)
}

/// One `-nE`-style cluster at `words[i]`; returns how many words it used.
fn short_cluster<'w>(
    words: &'w [String],
    i: usize,
    scripts: &mut Vec<&'w str>,
    reasons: &mut Vec<Reason>,
) -> usize {
    let w = words.get(i).map_or("", String::as_str);
    for (k, ch) in w.bytes().enumerate().skip(1) {
        let rest = w.get(k + 1..).unwrap_or("");
        if ch == b'i' {
            // `-i[SUFFIX]`: the rest of the cluster is the backup suffix.
            reasons.push(reason("sed -i", w, Level::Write));
            return 1;
        }
        if WITH_VALUE.contains(&ch) {
            let (v, used) = if rest.is_empty() {
                (words.get(i + 1).map_or("", String::as_str), 2)
            } else {
                (rest, 1)
            };
            if ch != b'l' {
                option(ch == b'f', v, scripts, reasons);
            }
            return used;
        }
    }
    1
}

fn option<'w>(file: bool, v: &'w str, scripts: &mut Vec<&'w str>, reasons: &mut Vec<Reason>) {
    if file {
        reasons.push(reason("sed script from a file", v, Level::Unknown));
        reasons.extend(value_reread(v));
    } else {
        scripts.push(v);
    }
}

/// The worst level among the script's commands; a script we cannot parse is `unknown`.
fn script_level(s: &str) -> (Level, &'static str) {
    let mut p = Parser {
        b: s.as_bytes(),
        i: 0,
        worst: (Level::Read, "sed script (read-only)"),
    };
    if p.script().is_none() {
        p.raise(Level::Unknown, "sed script not understood");
    }
    p.worst
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    worst: (Level, &'static str),
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn raise(&mut self, l: Level, why: &'static str) {
        if l > self.worst.0 {
            self.worst = (l, why);
        }
    }

    fn skip_while(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }

    /// To the end of the line: file names, text of `a`/`i`/`c` (with `\` continuations).
    fn rest_of_line(&mut self) {
        while let Some(c) = self.peek() {
            self.i += if c == b'\\' { 2 } else { 1 };
            if c == b'\n' {
                break;
            }
        }
    }

    fn script(&mut self) -> Option<()> {
        loop {
            self.skip_while(|c| c.is_ascii_whitespace() || c == b';');
            let Some(c) = self.peek() else {
                return Some(());
            };
            if c == b'#' {
                self.rest_of_line();
                continue;
            }
            self.address()?;
            self.skip_while(|c| c == b' ' || c == b'\t');
            if self.peek() == Some(b',') {
                self.i += 1;
                self.skip_while(|c| c == b' ' || c == b'\t');
                self.address()?;
            }
            self.skip_while(|c| matches!(c, b' ' | b'\t' | b'!'));
            let cmd = self.peek()?;
            self.i += 1;
            self.command(cmd)?;
        }
    }

    fn address(&mut self) -> Option<()> {
        match self.peek() {
            Some(b'/') => self.delimited(b'/')?,
            Some(b'\\') => {
                let d = *self.b.get(self.i + 1)?;
                self.i += 1;
                self.delimited(d)?;
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'$' | b'+' | b'~') => {
                self.i += 1;
                self.skip_while(|c| c.is_ascii_digit() || c == b'~');
            }
            _ => return Some(()),
        }
        self.skip_while(|c| c == b'I' || c == b'M');
        Some(())
    }

    /// Skips a `d...d` part at the cursor (on the opening delimiter), escapes honoured.
    fn delimited(&mut self, d: u8) -> Option<()> {
        self.i += 1;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                c if c == d => {
                    self.i += 1;
                    return Some(());
                }
                _ => self.i += 1,
            }
        }
    }

    fn command(&mut self, cmd: u8) -> Option<()> {
        match cmd {
            b'{' | b'}' | b'=' | b'd' | b'D' | b'g' | b'G' | b'h' | b'H' | b'x' | b'n' | b'N'
            | b'p' | b'P' | b'z' | b'F' => {}
            b'l' | b'L' | b'q' | b'Q' => self.skip_while(|c| c.is_ascii_digit() || c == b' '),
            b':' | b'b' | b't' | b'T' | b'v' => {
                self.skip_while(|c| !matches!(c, b';' | b'\n' | b'}'));
            }
            b'a' | b'i' | b'c' | b'r' | b'R' => self.rest_of_line(),
            b'w' | b'W' => {
                self.raise(Level::Write, "sed writes a file");
                self.rest_of_line();
            }
            b'e' => {
                self.raise(Level::Unknown, "sed e runs a command");
                self.rest_of_line();
            }
            b'y' => {
                let d = self.peek()?;
                self.delimited(d)?;
                self.i -= 1;
                self.delimited(d)?;
            }
            b's' => self.substitute()?,
            _ => return None,
        }
        Some(())
    }

    /// `s/re/replacement/flags`: `w FILE` writes, `e` runs the pattern space as a command.
    fn substitute(&mut self) -> Option<()> {
        let d = self.peek()?;
        if d == b'\n' || d == b'\\' {
            return None;
        }
        self.delimited(d)?;
        self.i -= 1;
        self.delimited(d)?;
        while let Some(f) = self.peek() {
            match f {
                b'g' | b'p' | b'i' | b'I' | b'm' | b'M' => self.i += 1,
                c if c.is_ascii_digit() => self.i += 1,
                b'e' => {
                    self.raise(Level::Unknown, "sed s///e runs a command");
                    self.i += 1;
                }
                b'w' => {
                    self.raise(Level::Write, "sed s///w writes a file");
                    self.rest_of_line();
                    return Some(());
                }
                b';' | b'\n' | b'}' | b' ' | b'\t' | b'#' => return Some(()),
                _ => return None,
            }
        }
        Some(())
    }
}
