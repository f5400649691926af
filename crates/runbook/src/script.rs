//! Reading a shell block: info-string attributes, commands with their descriptions,
//! placeholders, and spotting blocks tagged as shell that are something else.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use serde_json::Value;

use crate::model::{Attributes, Expect, InvalidAttribute, PlaceholderSyntax};

/// Keys we interpret (Runme's shared keys plus ours).
const KNOWN: &[&str] = &[
    "name",
    "id",
    "cwd",
    "interpreter",
    "excludeFromRunAll",
    "timeout",
    "confirm",
    "risk",
    "expect",
    "retry",
    "capture",
];

/// Runme keys sitrep has no use for; lint mentions them gently.
pub(crate) const RUNME_IGNORED: &[&str] = &[
    "interactive",
    "background",
    "closeTerminalOnSuccess",
    "promptEnv",
    "mimeType",
    "terminalRows",
    "category",
    "skipPrompts",
];

/// Splits an info string into its language word and the attribute text (from `{`).
pub(crate) fn split_info(info: &str) -> (Option<String>, Option<(usize, &str)>) {
    let brace = info.find('{');
    let head = brace.and_then(|b| info.get(..b)).unwrap_or(info);
    let lang = head.split_whitespace().next().map(str::to_ascii_lowercase);
    let attrs = brace.and_then(|b| info.get(b..).map(|t| (b, t.trim_end())));
    (lang, attrs)
}

/// Parses `{"json": ...}` or Runme's older `{ key=value }` form. `Err` for unreadable text.
pub(crate) fn parse_attributes(text: &str) -> Result<Attributes, String> {
    let map: BTreeMap<String, Value> = if text.trim_start_matches('{').trim_start().starts_with('"')
    {
        serde_json::from_str(text).map_err(|e| format!("attributes are not a JSON object: {e}"))?
    } else {
        legacy_attributes(text)?
    };
    let mut a = Attributes::default();
    for (key, value) in map {
        type_attribute(&mut a, key, value);
    }
    Ok(a)
}

fn legacy_attributes(text: &str) -> Result<BTreeMap<String, Value>, String> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| "attributes must be enclosed in `{ }`".to_string())?;
    let mut map = BTreeMap::new();
    let mut chars = inner.char_indices().peekable();
    while let Some(&(_, c)) = chars.peek() {
        if c.is_whitespace() || c == ',' {
            chars.next();
            continue;
        }
        let mut key = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.peek().map(|&(_, c)| c) != Some('=') {
            return Err(format!("attribute `{key}` has no `=value`"));
        }
        chars.next();
        let mut value = String::new();
        let quote = chars
            .peek()
            .map(|&(_, c)| c)
            .filter(|c| *c == '"' || *c == '\'');
        if let Some(q) = quote {
            chars.next();
            let mut closed = false;
            for (_, c) in chars.by_ref() {
                if c == q {
                    closed = true;
                    break;
                }
                value.push(c);
            }
            if !closed {
                return Err(format!("attribute `{key}` has an unterminated quote"));
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        let v = match value.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(value)),
        };
        map.insert(key, v);
    }
    Ok(map)
}

fn type_attribute(a: &mut Attributes, key: String, value: Value) {
    let bad = |a: &mut Attributes, key: &str, value: &Value, problem: &str| {
        a.invalid.push(InvalidAttribute {
            key: key.to_string(),
            value: value.to_string(),
            problem: problem.to_string(),
        });
    };
    let string = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let boolean = |v: &Value| match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    };
    match key.as_str() {
        "name" | "id" | "cwd" | "interpreter" => {
            match string(&value).filter(|s| !s.trim().is_empty()) {
                Some(s) => {
                    let slot = match key.as_str() {
                        "name" => &mut a.name,
                        "id" => &mut a.id,
                        "cwd" => &mut a.cwd,
                        _ => &mut a.interpreter,
                    };
                    *slot = Some(s);
                }
                None => bad(a, &key, &value, "expected a non-empty string"),
            }
        }
        "excludeFromRunAll" | "confirm" | "capture" => match boolean(&value) {
            Some(b) => {
                let slot = match key.as_str() {
                    "excludeFromRunAll" => &mut a.exclude_from_run_all,
                    "confirm" => &mut a.confirm,
                    _ => &mut a.capture,
                };
                *slot = Some(b);
            }
            None => bad(a, &key, &value, "expected true or false"),
        },
        "timeout" => {
            let d = match &value {
                Value::Number(n) => n.as_u64().map(std::time::Duration::from_secs),
                Value::String(s) => humantime::parse_duration(s.trim()).ok(),
                _ => None,
            };
            match d {
                Some(d) if !d.is_zero() => a.timeout = Some(d),
                _ => bad(
                    a,
                    &key,
                    &value,
                    "expected a positive duration such as \"30s\" or \"5m\"",
                ),
            }
        }
        "risk" => match string(&value).map(|s| s.to_ascii_lowercase()) {
            Some(s) if matches!(s.as_str(), "read" | "write" | "unknown" | "destructive") => {
                a.risk = Some(s)
            }
            _ => bad(
                a,
                &key,
                &value,
                "expected one of read, write, unknown, destructive",
            ),
        },
        "retry" => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n <= 100 => a.retry = Some(n),
            _ => bad(a, &key, &value, "expected a retry count from 0 to 100"),
        },
        "expect" => {
            let e = match &value {
                Value::Number(n) => n.as_i64().map(|c| Expect {
                    exit_code: Some(c),
                    contains: None,
                }),
                Value::String(s) => Some(Expect {
                    exit_code: None,
                    contains: Some(s.clone()),
                }),
                Value::Object(o) if o.keys().all(|k| k == "exit" || k == "contains") => {
                    let exit = o.get("exit").map(|v| v.as_i64());
                    let contains = o.get("contains").map(|v| v.as_str().map(str::to_string));
                    match (exit, contains) {
                        (Some(None), _) | (_, Some(None)) => None,
                        (exit, contains) => Some(Expect {
                            exit_code: exit.flatten(),
                            contains: contains.flatten(),
                        }),
                    }
                }
                _ => None,
            };
            match e {
                Some(e) => a.expect = Some(e),
                None => bad(
                    a,
                    &key,
                    &value,
                    "expected an exit code, a string the output contains, or {\"exit\":N,\"contains\":\"...\"}",
                ),
            }
        }
        _ => {
            debug_assert!(!KNOWN.contains(&key.as_str()));
            a.unknown.insert(key, value);
        }
    }
}

/// A command found in a script, with ranges relative to the script.
#[derive(Debug, Clone)]
pub(crate) struct RawCommand {
    pub(crate) text: String,
    pub(crate) description: Option<String>,
    pub(crate) range: Range<usize>,
    /// The script ranges holding command text (not comments), and
    /// whether each is a heredoc body line (read as if double-quoted).
    pub(crate) lines: Vec<(Range<usize>, bool)>,
}

/// Splits a script into commands: comment lines become the next command's description,
/// backslash / pipe / `&&` continuations are joined, heredoc bodies stay with their command.
/// Transcripts are taken apart first (`transcript::split`): this reads plain shell.
pub(crate) fn commands(script: &str) -> Vec<RawCommand> {
    let mut out = Vec::new();
    let mut desc: Vec<String> = Vec::new();
    let mut cur: Option<RawCommand> = None;
    let mut heredoc: Option<(String, bool)> = None;
    let mut cont = false;
    for r in crate::source::line_ranges(script) {
        let line = crate::source::line_text(script, &r);
        let end = r.start + line.len();
        if let Some((term, strip_tabs)) = &heredoc {
            if let Some(c) = cur.as_mut() {
                c.text.push('\n');
                c.text.push_str(line);
                c.range.end = end;
                c.lines.push((r.start..end, true));
            }
            let l = if *strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if l.trim_end() == term {
                heredoc = None;
                if !cont && let Some(c) = cur.take() {
                    out.push(c);
                }
            }
            continue;
        }
        let trimmed = line.trim();
        let body_start = r.start + (line.len() - line.trim_start().len());
        let body = trimmed;
        if cur.is_none() {
            if trimmed.is_empty() {
                desc.clear();
                continue;
            }
            if trimmed.starts_with('#') && !trimmed.starts_with("#!") {
                desc.push(trimmed.trim_start_matches('#').trim().to_string());
                continue;
            }
            let description = (!desc.is_empty()).then(|| desc.join("\n"));
            desc.clear();
            cur = Some(RawCommand {
                text: String::new(),
                description,
                range: body_start..end,
                lines: Vec::new(),
            });
        }
        let Some(c) = cur.as_mut() else { continue };
        let mut piece = body;
        cont = false;
        if let Some(p) = piece.strip_suffix('\\') {
            piece = p.trim_end();
            cont = true;
        } else if piece.ends_with('|') || piece.ends_with("&&") || piece.ends_with("||") {
            cont = true;
        }
        if !c.text.is_empty() && !piece.is_empty() {
            c.text.push(' ');
        }
        c.text.push_str(piece);
        c.range.end = end;
        c.lines.push((body_start..end, false));
        if let Some(h) = heredoc_terminator(body) {
            heredoc = Some(h);
            continue;
        }
        if !cont && let Some(c) = cur.take() {
            out.push(c);
        }
    }
    out.extend(cur);
    out
}

/// `<<EOF`, `<<'EOF'`, `<<-"EOF"` -> (terminator, strip leading tabs). Not `<<<`.
pub(crate) fn heredoc_terminator(line: &str) -> Option<(String, bool)> {
    let mut search = line;
    while let Some(i) = search.find("<<") {
        let rest = search.get(i + 2..).unwrap_or("");
        if rest.starts_with('<') {
            search = rest.trim_start_matches('<');
            continue;
        }
        let (rest, strip) = match rest.strip_prefix('-') {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let rest = rest.trim_start();
        let word: String = rest
            .trim_start_matches(['\'', '"'])
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() {
            return Some((word, strip));
        }
        search = rest;
    }
    None
}

/// Variables the environment always has: never placeholders.
const ENVIRONMENT: &[&str] = &[
    "HOME", "PATH", "USER", "PWD", "OLDPWD", "SHELL", "HOSTNAME", "TMPDIR", "LANG", "RANDOM",
    "SECONDS", "EUID", "UID", "IFS", "LINENO", "PPID", "TERM", "LOGNAME",
];

/// Finds placeholders in the command lines of a script, in order. Variables the script
/// assigns before using them (`X=`, `export X=`, `for x in`, `read x`) and shell specials
/// are not placeholders; nor is `${X:-default}`, which has its own fallback.
pub(crate) fn placeholders(
    script: &str,
    cmds: &[RawCommand],
) -> Vec<(String, PlaceholderSyntax, Range<usize>)> {
    let mut defined: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for c in cmds {
        for (r, heredoc) in &c.lines {
            let Some(line) = script.get(r.clone()) else {
                continue;
            };
            scan_line(line, r.start, *heredoc, &mut defined, &mut out);
        }
    }
    out
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}
fn is_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn scan_line(
    line: &str,
    base: usize,
    heredoc: bool,
    defined: &mut HashSet<String>,
    out: &mut Vec<(String, PlaceholderSyntax, Range<usize>)>,
) {
    let b = line.as_bytes();
    let mut i = 0;
    let mut single = false;
    let mut double = false;
    let mut word_start = true;
    let mut prev_word = String::new();
    let mut reading = false; // after `read`: following plain words are variable names
    while i < b.len() {
        let c = b[i];
        if single {
            // `<name>` is a placeholder even in single quotes: the executor binds it
            // there too (closing the quotes around a quoted expansion).
            if let Some(end) = angle_end(b, i) {
                let name = line.get(i + 1..end - 1).unwrap_or("").to_string();
                out.push((name, PlaceholderSyntax::Angle, base + i..base + end));
                i = end;
                continue;
            }
            if c == b'\'' {
                single = false;
            }
            i += 1;
            continue;
        }
        if word_start && is_name_start(c) {
            let mut j = i;
            while j < b.len() && is_name(b[j]) {
                j += 1;
            }
            let word = line.get(i..j).unwrap_or("");
            if b.get(j) == Some(&b'=') || reading || prev_word == "for" {
                defined.insert(word.to_string());
            }
            if word == "read" {
                reading = true;
            }
            prev_word = word.to_string();
            word_start = false;
            i = j;
            continue;
        }
        word_start = false;
        match c {
            b'\\' => {
                i += 2;
                continue;
            }
            b'\'' if !double && !heredoc => single = true,
            b'"' => double = !double,
            b' ' | b'\t' => word_start = true,
            b';' | b'|' | b'&' | b'(' | b')' | b'`' => {
                word_start = true;
                reading = false;
                prev_word.clear();
            }
            b'<' => {
                if let Some(end) = angle_end(b, i) {
                    let name = line.get(i + 1..end - 1).unwrap_or("").to_string();
                    out.push((name, PlaceholderSyntax::Angle, base + i..base + end));
                    i = end;
                    continue;
                }
            }
            b'$' => {
                if let Some((name, syntax, end)) = dollar(b, i, line)
                    && !defined.contains(&name)
                    && !ENVIRONMENT.contains(&name.as_str())
                {
                    out.push((name, syntax, base + i..base + end));
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The end (exclusive) of a `<name>` placeholder at `i` (not the `<<` of a heredoc).
fn angle_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'<')
        || !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
        || (i > 0 && b[i - 1] == b'<')
    {
        return None;
    }
    let mut j = i + 1;
    while j < b.len() && (is_name(b[j]) || b[j] == b'-' || b[j] == b'.') {
        j += 1;
    }
    (b.get(j) == Some(&b'>')).then_some(j + 1)
}

/// `$NAME` or `${NAME}` at `i`; `None` for specials, `$(`, `${#X}`, `${X:-d}`.
fn dollar(b: &[u8], i: usize, line: &str) -> Option<(String, PlaceholderSyntax, usize)> {
    let next = *b.get(i + 1)?;
    if next == b'{' {
        let s = i + 2;
        if !b.get(s).copied().is_some_and(is_name_start) {
            return None;
        }
        let mut j = s;
        while j < b.len() && is_name(b[j]) {
            j += 1;
        }
        if b.get(j) != Some(&b'}') {
            return None;
        }
        Some((
            line.get(s..j)?.to_string(),
            PlaceholderSyntax::Braced,
            j + 1,
        ))
    } else if is_name_start(next) {
        let mut j = i + 1;
        while j < b.len() && is_name(b[j]) {
            j += 1;
        }
        Some((
            line.get(i + 1..j)?.to_string(),
            PlaceholderSyntax::Dollar,
            j,
        ))
    } else {
        None
    }
}

/// What a block tagged as shell really is, when it is clearly not shell.
pub(crate) fn not_shell(script: &str) -> Option<&'static str> {
    let lines: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let first = *lines.first()?;
    let fb = first.as_bytes();
    if fb.first() == Some(&b'{')
        && fb.get(1).is_some_and(|c| c.is_ascii_alphabetic())
        && first.contains('=')
    {
        return Some(
            if first.contains("|=")
                || first.contains("|~")
                || first.contains("| json")
                || first.contains("| logfmt")
            {
                "a LogQL query"
            } else {
                "a LogQL or PromQL selector"
            },
        );
    }
    if first.starts_with("{\"") || first.starts_with("[{") {
        return Some("JSON");
    }
    let word: String = first
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    const AGGREGATIONS: &[&str] = &[
        "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "stddev", "stdvar",
        "group",
    ];
    let rest = first.get(word.len()..).unwrap_or("");
    if AGGREGATIONS.contains(&word.as_str())
        && (rest.starts_with(" by (") || rest.starts_with(" without ("))
    {
        return Some("a PromQL expression");
    }
    if !word.is_empty()
        && first
            .get(word.len()..)
            .is_some_and(|r| r.starts_with('(') && !r.starts_with("()"))
    {
        return Some("a PromQL expression");
    }
    if !word.is_empty()
        && first.get(word.len()..).is_some_and(|r| r.starts_with('{'))
        && first.contains('=')
    {
        return Some("a PromQL expression");
    }
    let upper = [
        "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "WITH",
    ];
    if upper.contains(&word.as_str()) {
        return Some("SQL");
    }
    let yamlish = |l: &&str| {
        l.starts_with("- ") || {
            let k: String = l
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .collect();
            !k.is_empty()
                && l.get(k.len()..)
                    .is_some_and(|r| r == ":" || r.starts_with(": "))
        }
    };
    if lines.len() >= 2 && lines.iter().all(yamlish) {
        return Some("YAML");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(script: &str) -> Vec<String> {
        let cmds = commands(script);
        placeholders(script, &cmds)
            .into_iter()
            .map(|p| p.0)
            .collect()
    }

    #[test]
    fn placeholders_skip_assigned_and_special_variables() {
        assert_eq!(names("TS=$(date)\nmkdir /x/${TS} $EV\n"), vec!["EV"]);
        assert_eq!(
            names("for f in a b; do echo $f $1 $? $@ $$; done"),
            Vec::<String>::new()
        );
        assert_eq!(
            names("read -r host\nping $host <server-ip>"),
            vec!["server-ip"]
        );
        assert_eq!(names("awk '{print $NF}' f; echo \"$X ${Y:-d}\""), vec!["X"]);
        assert_eq!(
            names("# $NOT_ME in a comment\ncat <<EOF\n$HEREDOC\nEOF"),
            vec!["HEREDOC"]
        );
        assert_eq!(
            names("export TOKEN=x\necho $TOKEN $HOME"),
            Vec::<String>::new()
        );
        assert_eq!(
            names("sqlite3 db <<'EOF'\nPRAGMA key = '${DB_KEY}';\nEOF"),
            vec!["DB_KEY"]
        );
    }

    #[test]
    fn commands_join_continuations_and_heredocs() {
        let s =
            "# first\ncurl -s \\\n  http://x\nsqlite3 db <<'EOF'\nVACUUM;\nEOF\nls |\n  wc -l\n";
        let c = commands(s);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].text, "curl -s http://x");
        assert_eq!(c[0].description.as_deref(), Some("first"));
        assert_eq!(c[1].text, "sqlite3 db <<'EOF'\nVACUUM;\nEOF");
        assert_eq!(c[2].text, "ls | wc -l");
    }

    #[test]
    fn both_attribute_syntaxes() {
        let a = parse_attributes(r#"{"name":"liveness","timeout":"30s","confirm":true,"x":1}"#)
            .unwrap();
        assert_eq!(a.name.as_deref(), Some("liveness"));
        assert_eq!(a.timeout, Some(std::time::Duration::from_secs(30)));
        assert!(a.unknown.contains_key("x"));
        let b = parse_attributes(r#"{ name=restart confirm=true timeout="2 minutes" retry=x }"#)
            .unwrap();
        assert_eq!(b.name.as_deref(), Some("restart"));
        assert_eq!(b.timeout, Some(std::time::Duration::from_secs(120)));
        assert_eq!(b.invalid.len(), 1);
        assert!(parse_attributes("{ name }").is_err());
    }

    #[test]
    fn not_shell_detection() {
        assert_eq!(
            not_shell("{app=\"api\"} |= \"error\""),
            Some("a LogQL query")
        );
        assert_eq!(
            not_shell("rate(http_requests_total[5m])"),
            Some("a PromQL expression")
        );
        assert_eq!(
            not_shell("sum by (route) (rate(x[5m]))"),
            Some("a PromQL expression")
        );
        assert_eq!(not_shell("sum /etc/hosts"), None);
        assert_eq!(not_shell("SELECT * FROM t;"), Some("SQL"));
        assert_eq!(not_shell("curl -s http://x | jq ."), None);
        assert_eq!(not_shell("systemctl status x"), None);
    }
}
