//! Word-level classification of one simple command: wrappers looked through, tool-specific
//! handlers (HTTP, SQL, redis-cli, find, dd, tee, programs that run programs), then the rule
//! table, whose side-effect options apply to handled tools too.

use crate::table;
use crate::{Classifier, Level, Reason};

mod clients;
mod interpreters;
mod options;
mod sed;
mod wrappers;
use clients::{http, redis, sql_client};
pub(crate) use wrappers::value_reread;

/// A command's level and the reasons for it.
pub struct Outcome {
    pub level: Level,
    pub reasons: Vec<Reason>,
}

impl Outcome {
    fn new(reasons: Vec<Reason>) -> Outcome {
        let level = reasons.iter().map(|r| r.level).max().unwrap_or(Level::Read);
        Outcome { level, reasons }
    }
    fn one(rule: &str, matched: &str, level: Level) -> Outcome {
        Outcome::new(vec![reason(rule, matched, level)])
    }
}

fn reason(rule: &str, matched: &str, level: Level) -> Reason {
    Reason {
        rule: rule.to_string(),
        matched: matched.to_string(),
        level,
    }
}

fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

/// Index of the first word at or after `start` that is not an option; options listed in
/// `with_value` consume the next word too. `--` ends options.
fn skip_opts(words: &[String], start: usize, with_value: &[&str]) -> usize {
    let mut i = start;
    while let Some(w) = words.get(i) {
        if w == "--" {
            return i + 1;
        }
        if !w.starts_with('-') || w.len() < 2 {
            return i;
        }
        i += if with_value.contains(&w.as_str()) {
            2
        } else {
            1
        };
    }
    i
}

/// Classifies one simple command given as unquoted words; `stdin` is a heredoc/herestring.
pub fn classify_words(
    c: &Classifier,
    words: &[String],
    stdin: Option<&str>,
    depth: usize,
) -> Outcome {
    let Some(first) = words.first() else {
        return Outcome::new(Vec::new());
    };
    if depth > 12 {
        return Outcome::one("nesting too deep", &words.join(" "), Level::Unknown);
    }
    // `$(which rm)` / `` `command -v rm` `` name a command we can still see.
    let resolved = resolve_lookup(first);
    let name = basename(resolved.unwrap_or(first));
    // The words with the command name normalised (`/usr/bin/rm` -> `rm`); borrowed when
    // it already is.
    let norm: std::borrow::Cow<'_, [String]> = if name == first.as_str() {
        std::borrow::Cow::Borrowed(words)
    } else {
        let mut v = words.to_vec();
        if let Some(f) = v.first_mut() {
            *f = name.to_string();
        }
        std::borrow::Cow::Owned(v)
    };
    if let Some(l) = table::lookup(&c.custom, &norm[..]) {
        let matched = words.join(" ");
        return Outcome::new(
            l.rules
                .iter()
                .map(|r| reason(r, &matched, l.level))
                .collect(),
        );
    }
    if name.is_empty() || name.contains(['$', '`']) {
        return Outcome::one("dynamic command name", first, Level::Unknown);
    }
    let d = depth + 1;
    if let Some(o) = wrappers::wrappers(c, name, words, stdin, d) {
        return o;
    }
    match handler(c, name, words, &norm, stdin, d) {
        Some(o) => options::with_side_effect_options(c, &norm, o),
        None => by_table(c, &norm[..]),
    }
}

/// Tools whose risk lives in their arguments; `None` sends the command to the rule table.
fn handler(
    c: &Classifier,
    name: &str,
    words: &[String],
    norm: &[String],
    stdin: Option<&str>,
    d: usize,
) -> Option<Outcome> {
    Some(match name {
        "ssh" => wrappers::ssh(c, words, stdin, d),
        "curl" | "wget" | "http" | "https" | "xh" | "xhs" => http(name, words),
        "psql" | "sqlite3" | "mysql" | "mariadb" | "clickhouse-client" | "cqlsh" => {
            sql_client(name, words, stdin)
        }
        "redis-cli" | "valkey-cli" => redis(c, words),
        "find" => find(c, norm, d),
        "dd" => dd(words),
        "tee" => tee(words),
        "awk" | "gawk" | "mawk" | "nawk" => interpreters::awk(words),
        "sed" | "gsed" => sed::sed(words),
        "source" | "." => interpreters::source(words),
        "mongosh" | "mongo" => interpreters::mongosh(words),
        "gdb" => interpreters::gdb(words),
        "date" => options::date(words),
        "uniq" => options::uniq(words),
        n if interpreters::is_interpreter(n) => interpreters::program(c, n, norm),
        // `mount` alone lists mounts; with arguments it mounts (table rule).
        "mount" if words.len() == 1 => Outcome::one("mount (list)", "mount", Level::Read),
        // Declarations reached through a wrapper; with nothing raised the table decides.
        "export" | "declare" | "typeset" | "local" | "readonly" => {
            let scope = crate::env::Scope { c, depth: d };
            let reasons = scope.declaration_words(words).filter(|r| !r.is_empty())?;
            Outcome::new(reasons)
        }
        _ => return None,
    })
}

/// `$(which X)`, `$(command -v X)` and their backtick forms resolve to `X`.
fn resolve_lookup(w: &str) -> Option<&str> {
    let inner = w
        .strip_prefix("$(")
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| w.strip_prefix('`').and_then(|r| r.strip_suffix('`')))?;
    let inner = inner.trim();
    let name = inner
        .strip_prefix("which ")
        .or_else(|| inner.strip_prefix("command -v "))?
        .trim();
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// The first positional word at or after `start` (skipping `-x value` pairs conservatively is
/// not possible without knowing the tool, so this only skips flags).
fn positional(words: &[String], start: usize) -> Option<String> {
    words
        .iter()
        .skip(start)
        .find(|w| !w.starts_with('-'))
        .cloned()
}

fn by_table(c: &Classifier, words: &[String]) -> Outcome {
    match table::lookup(&c.builtin, words) {
        Some(l) => {
            let matched = words.join(" ");
            Outcome::new(
                l.rules
                    .iter()
                    .map(|r| reason(r, &matched, l.level))
                    .collect(),
            )
        }
        None => Outcome::one(
            "no rule",
            words.first().map_or("", String::as_str),
            Level::Unknown,
        ),
    }
}

fn find(c: &Classifier, words: &[String], depth: usize) -> Outcome {
    let mut reasons = by_table(c, words).reasons;
    let mut i = 0;
    while let Some(w) = words.get(i) {
        if matches!(w.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            let start = i + 1;
            let mut end = start;
            while words
                .get(end)
                .is_some_and(|x| x != ";" && x != "+" && x != "\\;")
            {
                end += 1;
            }
            let inner = words.get(start..end).unwrap_or(&[]);
            reasons.push(reason(&format!("find {w}"), &inner.join(" "), Level::Read));
            reasons.extend(classify_words(c, inner, None, depth).reasons);
            i = end;
        }
        i += 1;
    }
    Outcome::new(reasons)
}

fn dd(words: &[String]) -> Outcome {
    let mut reasons = vec![reason("dd", "dd", Level::Read)];
    for w in words {
        if let Some(of) = w.strip_prefix("of=")
            && of != "/dev/null"
        {
            reasons.push(reason("dd of=", w, Level::Destructive));
        }
    }
    Outcome::new(reasons)
}

fn tee(words: &[String]) -> Outcome {
    let mut reasons = vec![reason("tee", "tee", Level::Read)];
    for w in words.iter().skip(1) {
        if !w.starts_with('-') && !matches!(w.as_str(), "/dev/null" | "/dev/stdout" | "/dev/stderr")
        {
            reasons.push(reason("tee FILE", w, Level::Write));
        }
    }
    Outcome::new(reasons)
}
