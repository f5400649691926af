//! A Prometheus rule file from the alert rules of a directory of runbooks: one group per
//! runbook, each rule with a `runbook_url` annotation pointing at that runbook's page in
//! sitrep. Pure: the caller reads the files and writes the output.
//!
//! The link back needs no extra label: sitrep attaches to an alert's incident the first
//! runbook (by path) that handles its `alertname` ([`RunbookSet::handlers`]), so a rule
//! whose name another runbook handles first is refused rather than exported with a
//! `runbook_url` that would disagree with the incident.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::AlertRule;
use crate::set::{RunbookSet, SetEntry};

/// A Prometheus rule file (`promtool check rules` format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleFile {
    /// One group per runbook that has alert rules, in path order.
    pub groups: Vec<RuleGroup>,
}

/// One rule group: the alert rules of one runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleGroup {
    /// The runbook's path (unique in the file, as Prometheus requires).
    pub name: String,
    /// In document order.
    pub rules: Vec<PromRule>,
}

/// One alerting rule as Prometheus reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromRule {
    /// The alert name (`alertname` label of what fires).
    pub alert: String,
    /// PromQL, as written.
    pub expr: String,
    /// `for:` as written, when given.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// As written.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// As written, plus `runbook_url`; in-file `#anchor` links are dropped.
    pub annotations: BTreeMap<String, String>,
}

/// A rule that cannot be exported, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleProblem {
    /// The runbook's path, as given.
    pub path: String,
    /// 1-based line of the rule (its `alert:` line when found, else its block).
    pub line: usize,
    /// The rule's name, empty when it has none or the block is not YAML.
    pub alert: String,
    /// A sentence for a person.
    pub message: String,
}

impl std::fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: error: {}", self.path, self.line, self.message)
    }
}

/// What [`prometheus_rules`] made: the file, and the rules it left out and why. A caller
/// must not publish a file with problems: Prometheus would lack those alerts silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesOutput {
    /// The rule file, without the rules that have problems.
    pub file: RuleFile,
    /// Empty when every rule was exported.
    pub problems: Vec<RuleProblem>,
}

/// Why no rule file can be made at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The base URL is not an absolute `http(s)` URL without query or fragment.
    #[error("base URL `{0}`: expected http://host[:port][/path], without `?` or `#`")]
    BaseUrl(String),
}

/// Builds the rule file for `sources` (`(path relative to the runbook directory, text)`,
/// as sitrep's library names them) with `runbook_url`s under `base_url`.
pub fn prometheus_rules<P: Into<String>, T: AsRef<str>>(
    sources: impl IntoIterator<Item = (P, T)>,
    base_url: &str,
) -> Result<RulesOutput, RulesError> {
    let base = check_base(base_url)?;
    let sources: Vec<(String, T)> = sources.into_iter().map(|(p, t)| (p.into(), t)).collect();
    let set = RunbookSet::from_sources(sources.iter().map(|(p, t)| (p.clone(), t.as_ref())));
    let mut out = RulesOutput {
        file: RuleFile { groups: Vec::new() },
        problems: Vec::new(),
    };
    for (entry, (_, text)) in set.entries.iter().zip(&sources) {
        let text = text.as_ref();
        broken_blocks(entry, text, &mut out.problems);
        let url = format!("{base}/runbooks/{}", encode_path(&entry.path));
        let mut rules = Vec::new();
        for rule in &entry.runbook.alert_rules {
            let problems = check_rule(&set, entry, rule);
            if problems.is_empty() {
                rules.push(export(rule, &url));
            }
            let line = rule_line(text, rule);
            out.problems
                .extend(problems.into_iter().map(|message| RuleProblem {
                    path: entry.path.clone(),
                    line,
                    alert: rule.name.clone(),
                    message,
                }));
        }
        if !rules.is_empty() {
            out.file.groups.push(RuleGroup {
                name: entry.path.clone(),
                rules,
            });
        }
    }
    out.problems
        .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    Ok(out)
}

impl RuleFile {
    /// The file as YAML, with a header saying where it came from.
    #[must_use]
    pub fn to_yaml(&self) -> String {
        let mut s = String::from(
            "# Generated by `sitrep runbook rules` from the runbooks' alert rules.\n\
             # Edit the runbooks, not this file.\n",
        );
        // Plain strings, maps and lists: serializing them cannot fail.
        let body = serde_yaml_ng::to_string(self).unwrap_or_default();
        let _ = write!(s, "{body}");
        s
    }
}

/// The base URL without a trailing `/`.
fn check_base(base: &str) -> Result<&str, RulesError> {
    let bad = || RulesError::BaseUrl(base.chars().take(200).collect());
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || base.len() > 2048
        || base.contains(['?', '#'])
        || base.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    Ok(base.trim_end_matches('/'))
}

/// Percent-encodes a runbook path for the page route (`/runbooks/{*path}`), keeping `/`.
fn encode_path(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

/// Blocks that read as alert rules but are not valid YAML: they give no rule, so they
/// would vanish from the file without a word.
fn broken_blocks(entry: &SetEntry, text: &str, problems: &mut Vec<RuleProblem>) {
    for d in &entry.diagnostics {
        let parsed = entry.runbook.alert_rules.iter().any(|r| r.span == d.span);
        if d.code == "alert-rule-yaml" && !parsed {
            problems.push(RuleProblem {
                path: entry.path.clone(),
                line: line_of(text, d.span.start),
                alert: String::new(),
                message: d.message.clone(),
            });
        }
    }
}

fn export(rule: &AlertRule, url: &str) -> PromRule {
    let mut annotations: BTreeMap<String, String> = rule
        .annotations
        .iter()
        .filter(|(k, v)| !(matches!(k.as_str(), "runbook" | "runbook_url") && v.starts_with('#')))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    annotations.insert("runbook_url".to_owned(), url.to_owned());
    PromRule {
        alert: rule.name.clone(),
        expr: rule.expr.clone(),
        for_: rule.for_.clone(),
        labels: rule.labels.clone(),
        annotations,
    }
}

/// Everything Prometheus (or sitrep's alert routing) would refuse in one rule.
fn check_rule(set: &RunbookSet, entry: &SetEntry, rule: &AlertRule) -> Vec<String> {
    let mut out = refused(rule);
    let name = &rule.name;
    if !name.trim().is_empty() {
        if let Some(first) = set.handlers(name).first().filter(|p| **p != entry.path) {
            out.push(format!(
                "alert `{name}` is handled first by `{first}` (by path): sitrep would \
                 attach that runbook to its incident, not this one; rename the alert or \
                 remove it from one of the runbooks"
            ));
        }
    }
    out
}

/// What Prometheus would refuse in one rule, on its own (no name or `expr`, an
/// unbalanced `expr`, a bad `for`, label or annotation names, broken templates); lint's
/// `alert-rule-refused` reports the same sentences.
pub(crate) fn refused(rule: &AlertRule) -> Vec<String> {
    let mut out = Vec::new();
    let name = &rule.name;
    if name.trim().is_empty() {
        out.push("alert rule without a name (`alert:`)".to_owned());
    }
    if rule.expr.trim().is_empty() {
        out.push(format!("alert rule `{name}` has no `expr`"));
    } else if let Some(why) = unbalanced(&rule.expr) {
        out.push(format!("`expr` of `{name}`: {why}"));
    }
    if let Some(f) = &rule.for_ {
        if !is_prom_duration(f) {
            out.push(format!(
                "`for: {f}` of `{name}` is not a Prometheus duration (like 0s, 5m, 1h30m)"
            ));
        }
    }
    for (kind, map) in [("label", &rule.labels), ("annotation", &rule.annotations)] {
        for (k, v) in map {
            if !is_label_name(k) || k == "__name__" {
                out.push(format!(
                    "{kind} name `{k}` of `{name}`: expected letters, digits and `_`, \
                     not starting with a digit"
                ));
            }
            if let Some(why) = template_problem(v) {
                out.push(format!("{kind} `{k}` of `{name}`: {why}"));
            }
        }
    }
    out
}

/// A Prometheus duration: `0`, or units in order `y w d h m s ms`, each at most once.
fn is_prom_duration(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let mut rest = s;
    let mut last = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 18 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "y", "w", "d", "h", "m", "s"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        let Some(unit) = unit else { return false };
        let rank = match unit {
            "y" => 1,
            "w" => 2,
            "d" => 3,
            "h" => 4,
            "m" => 5,
            "s" => 6,
            _ => 7,
        };
        if rank <= last {
            return false;
        }
        last = rank;
        rest = &rest[unit.len()..];
    }
    last > 0
}

fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An unclosed quote or bracket in PromQL: the one mistake copying a rule out of a page
/// makes most, and one that makes Prometheus refuse the whole file.
fn unbalanced(expr: &str) -> Option<String> {
    let mut stack = Vec::new();
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Some(format!("unclosed {c}"));
                }
            }
            '#' => {
                // A comment runs to the end of the line.
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return Some(format!("unexpected `{c}`"));
                }
            }
            _ => {}
        }
    }
    stack.last().map(|c| format!("unclosed `{c}`"))
}

/// `{{` without its `}}` (or the reverse): Prometheus refuses the file over a broken
/// template in a label or annotation.
fn template_problem(v: &str) -> Option<String> {
    let mut open = false;
    let mut i = 0;
    let b = v.as_bytes();
    while i + 1 < b.len() {
        match (b[i], b[i + 1], open) {
            (b'{', b'{', false) => (open, i) = (true, i + 2),
            (b'}', b'}', true) => (open, i) = (false, i + 2),
            (b'{', b'{', true) => return Some("`{{` inside `{{ }}`".to_owned()),
            _ => i += 1,
        }
    }
    open.then(|| "template `{{` without its `}}`".to_owned())
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line of a rule's `alert:` key inside its block, else the block's first line.
fn rule_line(text: &str, rule: &AlertRule) -> usize {
    line_of(text, rule_start(text, rule))
}

/// Where the line of a rule's `alert:` key starts inside its block, else the block's
/// start.
pub(crate) fn rule_start(text: &str, rule: &AlertRule) -> usize {
    let start = rule.span.start.min(text.len());
    let block = text.get(start..rule.span.end.min(text.len())).unwrap_or("");
    let mut offset = start;
    for l in block.split_inclusive('\n') {
        let key = l.trim_start().trim_start_matches("- ").trim_start();
        let named = key.strip_prefix("alert:").is_some_and(|v| {
            v.trim().trim_matches(|c| c == '"' || c == '\'') == rule.name && !rule.name.is_empty()
        });
        if named {
            return offset;
        }
        offset += l.len();
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        for ok in [
            "0",
            "0s",
            "5m",
            "1h30m",
            "1d",
            "2w",
            "1y",
            "100ms",
            "1m30s500ms",
        ] {
            assert!(is_prom_duration(ok), "{ok}");
        }
        for bad in [
            "",
            "5",
            "10 minutes",
            "5M",
            "1m1h",
            "1h1h",
            "m",
            "-5m",
            "1.5h",
        ] {
            assert!(!is_prom_duration(bad), "{bad}");
        }
    }

    #[test]
    fn brackets_and_quotes() {
        assert_eq!(unbalanced(r#"sum(rate(x{a="b)"}[5m])) > 0"#), None);
        assert_eq!(unbalanced("rate(x[5m]"), Some("unclosed `(`".into()));
        assert_eq!(unbalanced("x{a=\"b}"), Some("unclosed \"".into()));
        assert_eq!(unbalanced("x)"), Some("unexpected `)`".into()));
        assert_eq!(unbalanced("x # (comment\n> 1"), None);
    }

    #[test]
    fn templates() {
        assert_eq!(
            template_problem("{{ $labels.instance }} is {{ $value }}"),
            None
        );
        assert!(template_problem("disk {{ $labels.instance is full").is_some());
        assert!(template_problem("{{ {{ }}").is_some());
    }

    #[test]
    fn base_urls_and_paths() {
        assert_eq!(
            check_base("https://sitrep.example/"),
            Ok("https://sitrep.example")
        );
        assert_eq!(check_base("http://h:8080/sub"), Ok("http://h:8080/sub"));
        for bad in [
            "sitrep.example",
            "ftp://x",
            "http://",
            "http://x/?a",
            "http://x y",
        ] {
            assert!(check_base(bad).is_err(), "{bad}");
        }
        assert_eq!(encode_path("db/disk full#1.md"), "db/disk%20full%231.md");
    }
}
