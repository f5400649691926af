//! Prometheus alerting rules found in YAML blocks of a runbook.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::model::AlertRule;

/// Reads alert rules from a YAML block (a rule, a list, `rules:` or `groups:`), noting
/// broken ones in `diags`. `tagged`: the block says it is YAML (an untagged block that
/// is not YAML is just a shell step, not worth a note).
pub(crate) fn read(
    yaml: &str,
    span: Range<usize>,
    tagged: bool,
    section: Option<usize>,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<AlertRule> {
    let value: serde_yaml_ng::Value = match serde_yaml_ng::from_str(yaml) {
        Ok(v) => v,
        Err(e) => {
            // An untagged block that fails as YAML is just a shell step.
            if tagged {
                diags.push(idx.diag(
                    "alert-rule-yaml",
                    Severity::Warning,
                    span,
                    format!("this YAML block looks like an alert rule but is not valid YAML: {e}"),
                ));
            }
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    collect_rules(&value, None, &mut found, 0);
    let mut out = Vec::with_capacity(found.len());
    for (group, rule) in found {
        let get = |k: &str| rule.get(k).and_then(scalar);
        let name = get("alert").unwrap_or_default();
        let expr = get("expr").unwrap_or_default();
        if expr.is_empty() {
            diags.push(idx.diag(
                "alert-rule-yaml",
                Severity::Warning,
                span.clone(),
                format!("alert rule `{name}` has no `expr`"),
            ));
        }
        let annotations = string_map(rule, "annotations", &name, &span, idx, diags);
        let labels = string_map(rule, "labels", &name, &span, idx, diags);
        let action = ["runbook", "runbook_url"]
            .iter()
            .filter_map(|k| annotations.get(*k))
            .find(|v| v.starts_with('#'))
            .cloned();
        out.push(AlertRule {
            name,
            expr,
            for_: get("for"),
            group,
            labels,
            annotations,
            section,
            action,
            handler: None,
            span: span.clone(),
        });
    }
    out
}

/// A rule's `labels` or `annotations` (`field`) as strings. Prometheus takes only
/// strings there, so a list or map value is dropped with a note naming it rather than
/// silently (`promtool` would refuse the rule).
fn string_map(
    rule: &serde_yaml_ng::Mapping,
    field: &str,
    name: &str,
    span: &Range<usize>,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let Some(m) = rule.get(field).and_then(|v| v.as_mapping()) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let Some(key) = scalar(k) else { continue };
        match scalar(v) {
            Some(v) => {
                out.insert(key, v);
            }
            None => diags.push(idx.diag(
                "alert-rule-yaml",
                Severity::Warning,
                span.clone(),
                format!(
                    "alert rule `{name}`: {field} `{key}` is not a string, number or \
                     boolean (a list or map); Prometheus takes strings only, so it is dropped"
                ),
            )),
        }
    }
    out
}

fn scalar(v: &serde_yaml_ng::Value) -> Option<String> {
    match v {
        serde_yaml_ng::Value::String(s) => Some(s.trim_end().to_string()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

type Rule<'v> = (Option<String>, &'v serde_yaml_ng::Mapping);

/// Alerting rules in a YAML value: a rule, a list of rules, `rules:`, or `groups:`.
fn collect_rules<'v>(
    v: &'v serde_yaml_ng::Value,
    group: Option<String>,
    out: &mut Vec<Rule<'v>>,
    depth: u8,
) {
    if depth > 4 {
        return;
    }
    match v {
        serde_yaml_ng::Value::Mapping(m) => {
            if m.get("alert").is_some() {
                out.push((group, m));
                return;
            }
            if let Some(groups) = m.get("groups").and_then(|g| g.as_sequence()) {
                for g in groups {
                    let name = g.get("name").and_then(scalar);
                    if let Some(rules) = g.get("rules") {
                        collect_rules(rules, name, out, depth + 1);
                    }
                }
            } else if let Some(rules) = m.get("rules") {
                collect_rules(rules, group, out, depth + 1);
            }
        }
        serde_yaml_ng::Value::Sequence(s) => {
            for r in s {
                collect_rules(r, group.clone(), out, depth + 1);
            }
        }
        _ => {}
    }
}
