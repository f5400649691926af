//! Untagged blocks that are not shell: what a block without a language reads as (YAML,
//! JSON, PromQL, LogQL, SQL, a table, log or command output), so it becomes a reference
//! block (or a query) instead of a shell step. Tagged blocks keep their steps: lint's
//! `not-shell` speaks about those.

/// What an untagged block was taken for: its kind, the words a diagnostic uses, and
/// whether it is a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    pub(crate) kind: &'static str,
    pub(crate) what: &'static str,
    pub(crate) query: bool,
}

const fn taken(kind: &'static str, what: &'static str, query: bool) -> Taken {
    Taken { kind, what, query }
}

/// What an untagged block reads as, when it is clearly not shell.
pub(crate) fn untagged(text: &str) -> Option<Taken> {
    if let Some(what) = crate::script::not_shell(text) {
        return Some(match what {
            "a LogQL query" => taken("logql", what, true),
            "a LogQL or PromQL selector" | "a PromQL expression" => taken("promql", what, true),
            "SQL" => taken("sql", what, true),
            "JSON" => taken("json", what, false),
            _ => taken("yaml", what, false),
        });
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let first = *lines.first()?;
    let last = *lines.last()?;
    if (first == "{" && last.starts_with('}')) || (first == "[" && last.starts_with(']')) {
        return Some(taken("json", "JSON", false));
    }
    if lower_sql(first) {
        return Some(taken("sql", "SQL", true));
    }
    if lines.iter().all(|l| l.starts_with('|')) {
        return Some(taken("table", "a table", false));
    }
    if header_row(first) {
        return Some(taken("table", "a table of command output", false));
    }
    let logs = lines.iter().filter(|l| log_line(l)).count();
    if log_line(first) && logs * 2 >= lines.len() {
        return Some(taken("log", "log lines", false));
    }
    let outputs = lines.iter().filter(|l| output_line(l)).count();
    if output_line(first) && outputs * 2 >= lines.len() {
        return Some(taken("output", "command output", false));
    }
    None
}

/// `select ... from ...` written in lower case (the upper-case forms are `not_shell`'s).
fn lower_sql(first: &str) -> bool {
    let l = first.to_ascii_lowercase();
    (l.starts_with("select ") && (l.contains(" from ") || l.ends_with(';')))
        || l.starts_with("explain analyze ")
        || l.starts_with("show ") && l.ends_with(';')
}

/// `NAME   READY   STATUS`: two or more upper-case words, as command output prints them.
fn header_row(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.len() >= 2
        && words.iter().all(|w| {
            w.chars().any(|c| c.is_ascii_uppercase())
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "-_%()/".contains(c))
        })
}

/// A line that starts like a log record: a date, a time, a klog or syslog header, a level.
fn log_line(l: &str) -> bool {
    let b = l.trim_start_matches(['[', '(']).as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let date = digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7);
    let time = digits(0..2) && b.get(2) == Some(&b':') && digits(3..5);
    let klog = matches!(b.first(), Some(b'I' | b'W' | b'E' | b'F'))
        && digits(1..5)
        && b.get(5) == Some(&b' ');
    const MONTHS: &[&str] = &[
        "Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ", "Oct ", "Nov ",
        "Dec ",
    ];
    let syslog = MONTHS.iter().any(|m| l.starts_with(m))
        && l.get(4..6)
            .is_some_and(|d| d.trim().chars().all(|c| c.is_ascii_digit()));
    const LEVELS: &[&str] = &["ERROR", "WARN", "INFO", "DEBUG", "FATAL", "level=", "ts="];
    date || time || klog || syslog || LEVELS.iter().any(|p| l.starts_with(p))
}

/// A line of printed output: `ls -l` modes, `total N`, bare numbers.
fn output_line(l: &str) -> bool {
    let mode = l.len() >= 10
        && l.as_bytes().first().is_some_and(|c| b"-dlcbps".contains(c))
        && l.get(1..10)
            .is_some_and(|m| m.chars().all(|c| "rwxsStT-".contains(c)));
    let number = l
        .split_whitespace()
        .all(|w| w.trim_end_matches(['%', ',']).parse::<f64>().is_ok());
    mode || number || l.starts_with("total ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<&'static str> {
        untagged(text).map(|t| t.kind)
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("apiVersion: v1\nkind: Pod\n"), Some("yaml"));
        assert_eq!(kind("{\n  \"a\": 1\n}\n"), Some("json"));
        assert_eq!(
            kind("histogram_quantile(0.99, sum(rate(x[5m])) by (le))"),
            Some("promql")
        );
        assert_eq!(kind("select * from pg_locks;"), Some("sql"));
        assert_eq!(kind("| a | b |\n|---|---|\n"), Some("table"));
        assert_eq!(
            kind("NAME    READY   STATUS\napi-1   1/1  Running"),
            Some("table")
        );
        assert_eq!(
            kind("2024-01-02T10:00:00Z error: x\n2024-01-02T10:00:01Z error: y"),
            Some("log")
        );
        assert_eq!(kind("E1207 10:00:00.1 1 x.go:1] boom"), Some("log"));
        assert_eq!(kind("-rw-r--r-- 1 a b 0 x\ntotal 0"), Some("output"));
        assert_eq!(kind("42\n"), Some("output"));
    }

    #[test]
    fn shell_stays_shell() {
        for s in [
            "kubectl get pods",
            "sum /etc/hosts",
            "echo hi\nls -la",
            "export FOO=1",
            "select-editor",
            "date",
            "FOO=bar ./run",
            "time curl -s x",
        ] {
            assert_eq!(kind(s), None, "{s}");
        }
    }
}
