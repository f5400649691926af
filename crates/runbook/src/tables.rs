//! Typed tables, recognised by their headers: severity levels, triage matrix, metric
//! thresholds, contacts / escalation path. Anything else stays generic.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::model::{Contact, SeverityLevel, TableData, Threshold, TriageRow};
use crate::text;

fn norm(h: &str) -> String {
    h.trim()
        .trim_end_matches(':')
        .to_lowercase()
        .replace(['_', '-'], " ")
}

/// Index of the first (normalized) header cell equal to one of `names`, else the first
/// containing one of the longer names.
fn col(h: &[String], names: &[&str]) -> Option<usize> {
    h.iter()
        .position(|c| names.contains(&c.as_str()))
        .or_else(|| {
            h.iter()
                .position(|c| names.iter().any(|n| n.len() > 4 && c.contains(n)))
        })
}

fn cell(row: &[String], i: Option<usize>) -> Option<String> {
    i.and_then(|i| row.get(i))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Reads a table by its header; `row_spans` are the body rows in the original text.
pub(crate) fn classify(
    header: &[String],
    rows: &[Vec<String>],
    row_spans: &[Range<usize>],
) -> TableData {
    let normalized: Vec<String> = header.iter().map(|c| norm(c)).collect();
    let h = normalized.as_slice();
    let symptom = col(h, &["symptom", "symptoms"]);
    let cause = col(
        h,
        &["likely cause", "cause", "probable cause", "possible cause"],
    );
    let action = col(h, &["first action", "action", "first step", "what to do"]);
    if let (Some(_), Some(_), Some(_)) = (symptom, cause, action) {
        return TableData::Triage(
            rows.iter()
                .map(|r| TriageRow {
                    symptom: cell(r, symptom).unwrap_or_default(),
                    likely_cause: cell(r, cause),
                    first_action: cell(r, action),
                })
                .collect(),
        );
    }
    let metric = col(h, &["metric", "signal", "indicator"]);
    let warning = col(h, &["warning", "warn"]);
    let critical = col(h, &["critical", "crit"]);
    if let (Some(_), Some(_), Some(_)) = (metric, warning, critical) {
        let normal = col(h, &["normal", "healthy", "ok", "baseline"]);
        let query = col(h, &["promql", "query", "expression", "expr"]);
        return TableData::Thresholds(
            rows.iter()
                .map(|r| Threshold {
                    metric: cell(r, metric).unwrap_or_default(),
                    normal: cell(r, normal),
                    warning: cell(r, warning),
                    critical: cell(r, critical),
                    query: cell(r, query).map(|q| q.trim_matches('`').trim().to_owned()),
                })
                .collect(),
        );
    }
    let reach = col(
        h,
        &[
            "contact",
            "email",
            "phone",
            "slack",
            "pager",
            "pagerduty",
            "channel",
            "how to reach",
        ],
    );
    let who = col(
        h,
        &[
            "name",
            "team",
            "role",
            "who",
            "owner",
            "person",
            "level",
            "tier",
            "escalate to",
        ],
    );
    if let (Some(_), Some(w)) = (reach, who) {
        return TableData::Contacts(
            rows.iter()
                .map(|r| Contact {
                    who: cell(r, Some(w)).unwrap_or_default(),
                    fields: header
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != w)
                        .filter_map(|(i, h)| Some((norm(h), cell(r, Some(i))?)))
                        .collect::<BTreeMap<_, _>>(),
                })
                .collect(),
        );
    }
    let level = col(h, &["level", "severity", "sev", "priority"]);
    let response = col(
        h,
        &[
            "response time",
            "response",
            "time to respond",
            "ack time",
            "sla",
        ],
    );
    let description = col(
        h,
        &["description", "meaning", "definition", "impact", "criteria"],
    );
    let examples = col(h, &["examples", "example"]);
    let escalation = col(h, &["escalate after", "escalation", "escalate"]);
    let updates = col(
        h,
        &["update cadence", "updates", "update every", "communication"],
    );
    if let Some(l) = level
        && (response.is_some() || description.is_some() || examples.is_some())
    {
        return TableData::Severity(
            rows.iter()
                .enumerate()
                .map(|(i, r)| {
                    let response_time = cell(r, response);
                    let escalation = cell(r, escalation);
                    SeverityLevel {
                        level: cell(r, Some(l)).unwrap_or_default(),
                        description: cell(r, description),
                        response: response_time.as_deref().and_then(text::duration),
                        response_time,
                        escalate_after: escalation.as_deref().and_then(text::first_duration),
                        escalation,
                        update_every: cell(r, updates).as_deref().and_then(text::first_duration),
                        examples: cell(r, examples),
                        span: row_spans.get(i).cloned().unwrap_or_default(),
                    }
                })
                .collect(),
        );
    }
    TableData::Generic
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_pick_the_kind() {
        let sev = classify(
            &s(&["Level", "Description", "Response Time", "Examples"]),
            &[s(&["P1", "down", "Immediate", "x"])],
            std::slice::from_ref(&(7..30)),
        );
        match sev {
            TableData::Severity(rows) => {
                assert_eq!(rows[0].response, Some(std::time::Duration::ZERO));
                assert_eq!(rows[0].span, 7..30);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(&s(&["Symptom", "Likely cause", "First action"]), &[], &[]),
            TableData::Triage(_)
        ));
        assert!(matches!(
            classify(&s(&["Metric", "Normal", "Warning", "Critical"]), &[], &[]),
            TableData::Thresholds(_)
        ));
        assert!(matches!(
            classify(&s(&["Role", "Name", "Slack"]), &[], &[]),
            TableData::Contacts(_)
        ));
        assert!(matches!(
            classify(&s(&["Column", "Other"]), &[], &[]),
            TableData::Generic
        ));
    }
}
