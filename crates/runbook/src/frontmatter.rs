//! YAML front matter, recognised only at byte 0 (a later `---` is a thematic break).

use std::collections::BTreeMap;
use std::ops::Range;

use serde_yaml_ng::Value;

use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::model::{FrontMatter, Param};
use crate::paramdecl;

/// Splits off front matter: `(model, where the Markdown starts)`. Broken YAML still
/// hides the block from the Markdown (it is clearly not prose) and says why.
pub(crate) fn split(
    text: &str,
    idx: &LineIndex<'_>,
    diags: &mut Vec<Diagnostic>,
) -> (Option<FrontMatter>, usize) {
    let Some(first) = text.split_inclusive('\n').next() else {
        return (None, 0);
    };
    if first.trim_end() != "---" {
        return (None, 0);
    }
    let yaml_start = first.len();
    let mut pos = yaml_start;
    let mut close = None;
    for line in text.get(yaml_start..).unwrap_or("").split_inclusive('\n') {
        let t = line.trim_end();
        if t == "---" || t == "..." {
            close = Some((pos, pos + line.len()));
            break;
        }
        pos += line.len();
    }
    let Some((yaml_end, body)) = close else {
        diags.push(idx.diag(
            "front-matter",
            Severity::Warning,
            0..first.len(),
            "the file starts with `---` but no closing `---` follows: read as Markdown, not front matter",
        ));
        return (None, 0);
    };
    let yaml = text.get(yaml_start..yaml_end).unwrap_or("");
    let span = 0..body;
    let value: Value = if yaml.trim().is_empty() {
        Value::Mapping(Default::default())
    } else {
        match serde_yaml_ng::from_str(yaml) {
            Ok(v) => v,
            Err(e) => {
                let at = e.location().map_or(yaml_start, |l| yaml_start + l.index());
                diags.push(idx.diag(
                    "front-matter",
                    Severity::Error,
                    at..at,
                    format!("front matter is not valid YAML: {e}"),
                ));
                return (None, body);
            }
        }
    };
    let Value::Mapping(map) = value else {
        diags.push(idx.diag(
            "front-matter",
            Severity::Error,
            span,
            "front matter must be a YAML mapping (`key: value`)",
        ));
        return (None, body);
    };
    let mut fm = FrontMatter {
        service: None,
        owners: Vec::new(),
        alerts: Vec::new(),
        severity: None,
        params: BTreeMap::new(),
        tags: Vec::new(),
        risk: Vec::new(),
        extra: BTreeMap::new(),
        span: span.clone(),
    };
    for (k, v) in map {
        let Some(key) = scalar(&k) else { continue };
        let mut wrong = |what: &str| {
            diags.push(idx.diag(
                "front-matter",
                Severity::Warning,
                key_span(text, &key, &span),
                format!("front matter `{key}` should be {what}; ignored"),
            ));
        };
        match key.as_str() {
            "service" => match scalar(&v) {
                Some(s) => fm.service = Some(s),
                None => wrong("a string"),
            },
            "severity" => match scalar(&v) {
                Some(s) => fm.severity = Some(s),
                None => wrong("a string"),
            },
            "owners" | "alerts" | "tags" => match strings(&v) {
                Some(list) => match key.as_str() {
                    "owners" => fm.owners = list,
                    "alerts" => fm.alerts = list,
                    _ => fm.tags = list,
                },
                None => wrong("a string or a list of strings"),
            },
            "params" => match params(&v) {
                Some((p, problems)) => {
                    fm.params = p;
                    for (name, why) in problems {
                        diags.push(idx.diag(
                            "param-type",
                            Severity::Error,
                            param_span(text, &name, &span),
                            format!("param `{name}`: {why}"),
                        ));
                    }
                }
                None => wrong(
                    "a mapping of NAME: default (or NAME: {default, description}) or a list of names",
                ),
            },
            "risk" => match serde_yaml_ng::from_value::<Vec<sitrep_risk::CustomRule>>(v) {
                Ok(r) => fm.risk = r,
                Err(e) => wrong(&format!("a list of {{match, level, reason}} rules ({e})")),
            },
            _ => {
                let j = serde_json::to_value(&v).unwrap_or(serde_json::Value::Null);
                fm.extra.insert(key, j);
            }
        }
    }
    (Some(fm), body)
}

fn key_span(text: &str, key: &str, within: &Range<usize>) -> Range<usize> {
    let block = text.get(within.clone()).unwrap_or("");
    let needle = format!("{key}:");
    block.find(&needle).map_or(within.start..within.start, |i| {
        within.start + i..within.start + i + key.len()
    })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Sequence(s) => s.iter().map(scalar).collect(),
        Value::Null => Some(Vec::new()),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Params and the problems of their declarations: `(name, why)`.
type Params = (BTreeMap<String, Param>, Vec<(String, String)>);

fn params(v: &Value) -> Option<Params> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    let untyped = |default| Param {
        default,
        description: None,
        ty: None,
    };
    match v {
        Value::Sequence(s) => {
            for n in s {
                out.insert(scalar(n)?, untyped(None));
            }
        }
        Value::Mapping(m) => {
            for (k, v) in m {
                let name = scalar(k)?;
                let p = match v {
                    Value::Null => untyped(None),
                    Value::Mapping(m) => {
                        let ty = paramdecl::declared_type(m).unwrap_or_else(|why| {
                            problems
                                .push((name.clone(), format!("{why}; the default rule applies")));
                            None
                        });
                        Param {
                            default: m.get("default").and_then(scalar),
                            description: m.get("description").and_then(scalar),
                            ty,
                        }
                    }
                    other => untyped(Some(scalar(other)?)),
                };
                // A default its own type refuses would fail every run that relies on it.
                if let Some(d) = &p.default
                    && let Err(why) = crate::check_value(p.ty.as_ref(), d)
                {
                    let rule = if p.ty.is_some() {
                        "its type"
                    } else {
                        "the default rule (declare a `type`)"
                    };
                    problems.push((
                        name.clone(),
                        format!("default `{d}` is refused by {rule}: {why}"),
                    ));
                }
                out.insert(name, p);
            }
        }
        Value::Null => {}
        _ => return None,
    }
    Some((out, problems))
}

/// Where parameter `name` is declared: its name on a line under `params:`, else the
/// `params` key, else the block's start.
fn param_span(text: &str, name: &str, within: &Range<usize>) -> Range<usize> {
    let block = text.get(within.clone()).unwrap_or("");
    let Some(params_at) = block.find("params:") else {
        return within.start..within.start;
    };
    let after = block.get(params_at..).unwrap_or("");
    let mut line_start = params_at;
    for line in after.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let unquoted = trimmed.trim_start_matches(['"', '\'']);
        let quote = trimmed.len() - unquoted.len();
        if line_start > params_at
            && unquoted.starts_with(name)
            && unquoted
                .get(name.len()..)
                .is_some_and(|r| r.trim_start_matches(['"', '\'']).starts_with(':'))
        {
            let at = within.start + line_start + indent + quote;
            return at..at + name.len();
        }
        line_start += line.len();
    }
    let at = within.start + params_at;
    at..at + "params".len()
}
