//! The post-mortem, written from the record: a pure function from an incident's rows and
//! timeline to Markdown. What only people know (root cause, impact, lessons) gets headed
//! blanks to fill in.

use std::fmt::Write as _;

use jiff::Timestamp;
use sitrep_store::Event;

use crate::app::IncidentView;

/// Renders the post-mortem of `view` with its `timeline`, in the zone UTC.
#[must_use]
pub fn render(view: &IncidentView, timeline: &[Event]) -> String {
    let inc = &view.incident;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Post-mortem: {} (incident #{})\n",
        inc.title, inc.number
    );
    let _ = writeln!(md, "## Summary\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| Incident | #{} `{}` |", inc.number, inc.id);
    let _ = writeln!(md, "| Severity | {} |", inc.severity);
    let _ = writeln!(md, "| Status | {} |", inc.status);
    if let Some(s) = &inc.service {
        let _ = writeln!(md, "| Service | {} |", cell(s));
    }
    for (role, person) in &inc.roles {
        let _ = writeln!(md, "| {} | {} |", title_case(role), cell(person));
    }
    if !inc.runbooks.is_empty() {
        let rbs: Vec<String> = inc.runbooks.iter().map(|r| format!("`{r}`")).collect();
        let _ = writeln!(md, "| Runbooks | {} |", rbs.join(", "));
    }
    let _ = writeln!(md, "| Declared | {} |", ts(inc.created_ms));
    let _ = writeln!(
        md,
        "| Time to acknowledge | {} |",
        since(inc.created_ms, inc.acknowledged_ms)
    );
    let _ = writeln!(
        md,
        "| Time to mitigate | {} |",
        since(inc.created_ms, inc.mitigated_ms)
    );
    let _ = writeln!(
        md,
        "| Time to resolve | {} |",
        since(inc.created_ms, inc.resolved_ms)
    );
    let _ = writeln!(md);

    let _ = writeln!(
        md,
        "## Impact\n\n_To be written: who was affected, how, and for how long._\n"
    );
    let _ = writeln!(md, "## Root cause\n\n_To be written._\n");

    let _ = writeln!(md, "## Timeline (UTC)\n");
    if timeline.is_empty() {
        let _ = writeln!(md, "_No events._");
    }
    for e in timeline {
        let r = &e.record;
        let _ = writeln!(
            md,
            "- {} **{}** by {}{} (ledger #{})",
            ts(i64::try_from(r.time_ms).unwrap_or(i64::MAX)),
            r.event_type,
            r.actor,
            describe(e),
            e.index
        );
    }
    let _ = writeln!(md);

    let _ = writeln!(md, "## Steps run\n");
    if view.runs.is_empty() {
        let _ = writeln!(md, "_No steps were run._\n");
    } else {
        let _ = writeln!(
            md,
            "| Started | Step | Risk | By | Status | Exit | Output (SHA-256) |\n|---|---|---|---|---|---|---|"
        );
        for r in &view.runs {
            let exit = r.exit_code.map_or("–".to_owned(), |c| c.to_string());
            let out = r.stdout_sha256.as_deref().map_or("–".to_owned(), |h| {
                format!("`{}…`", &h[..h.len().min(16)])
            });
            let by = match &r.approver {
                Some(a) => format!("{} (approved by {})", r.actor, a),
                None => r.actor.clone(),
            };
            let _ = writeln!(
                md,
                "| {} | `{}` `{}` | {} | {} | {} | {} | {} |",
                ts(r.started_ms),
                r.runbook,
                r.step_id,
                r.risk,
                cell(&by),
                r.status,
                exit,
                out
            );
        }
        let _ = writeln!(md);
        for r in &view.runs {
            let _ = writeln!(
                md,
                "<details><summary><code>{}</code> command</summary>\n\n```bash\n{}\n```\n</details>\n",
                r.step_id,
                r.command.replace("```", "` ` `")
            );
        }
    }

    let _ = writeln!(md, "## Stand-down checklist\n");
    if view.checklist.is_empty() {
        let _ = writeln!(md, "_No checklist._\n");
    }
    for c in &view.checklist {
        let who = match (&c.checked_by, c.checked_ms) {
            (Some(p), Some(t)) => format!(" — {} at {}", p, ts(t)),
            _ => String::new(),
        };
        let _ = writeln!(
            md,
            "- [{}] {}{}",
            if c.checked { "x" } else { " " },
            c.text,
            who
        );
    }
    if !view.checklist.is_empty() {
        let _ = writeln!(md);
    }

    let _ = writeln!(md, "## Action items\n");
    if view.actions.is_empty() {
        let _ = writeln!(md, "_None yet._\n");
    } else {
        let _ = writeln!(md, "| Status | Action | Owner | Due |\n|---|---|---|---|");
        for a in &view.actions {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                a.status,
                cell(&a.title),
                a.owner.as_deref().map_or("–".to_owned(), cell),
                a.due_ms.map_or("–".to_owned(), |d| ts(d)[..10].to_owned())
            );
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "## Lessons learned\n\n### What went well\n\n_To be written._\n\n### What went wrong\n\n_To be written._\n\n### Where we got lucky\n\n_To be written._\n"
    );
    let _ = writeln!(
        md,
        "---\n_Generated by sitrep from {} ledger events. Verify with `sitrep evidence export {}` and `sitrep verify`._",
        timeline.len(),
        inc.number
    );
    md
}

/// A short description of an event for the timeline line.
fn describe(e: &Event) -> String {
    let p = &e.record.payload;
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let s = match e.record.event_type.as_str() {
        "incident.declared" => format!("\"{}\" at {}", get("title"), get("severity")),
        "incident.severity-changed" => format!("{} → {}", get("from"), get("to")),
        "incident.role-assigned" => format!("{} is {}", get("person"), get("role")),
        "incident.note" => format!("“{}”", one_line(get("text"))),
        "incident.resolved" if p.contains_key("forced") => {
            format!("FORCED: {}", one_line(get("reason")))
        }
        "incident.reopened" => format!("reason: {}", one_line(get("reason"))),
        "step.run" => format!(
            "`{}` {} (exit {}, {} ms)",
            get("step"),
            get("status"),
            p.get("exit_code").map_or("–", String::as_str),
            get("duration_ms")
        ),
        "step.refused" | "step.skipped" => format!("`{}`: {}", get("step"), get("reason")),
        "step.interrupted" => format!("`{}` interrupted: {}", get("step"), one_line(get("reason"))),
        "approval.requested" => format!(
            "`{}` held for a second person: {}",
            get("step"),
            get("reason")
        ),
        "evidence.held" => format!("legal hold: {}", one_line(get("reason"))),
        "evidence.expired" => format!(
            "retention deleted {} output blob(s); their records remain",
            get("blobs_deleted")
        ),
        "evidence.lost" => format!(
            "output blob `{}…` lost: {}; its record remains",
            get("sha256").get(..12).unwrap_or(""),
            one_line(get("reason"))
        ),
        "approval.granted" => format!(
            "`{}` approved (asked by {})",
            get("step"),
            get("requested_by")
        ),
        "evidence.captured" => match &e.record.evidence {
            Some(ev) => format!(
                "{} of run {} ({} bytes, sha256 `{}…`)",
                get("stream"),
                short(get("run")),
                ev.size,
                &ev.sha256.to_string()[..16]
            ),
            None => String::new(),
        },
        "checklist.ticked" | "checklist.unticked" => format!("“{}”", get("text")),
        "action.added" | "action.done" => format!("“{}”", get("title")),
        "alert.firing" | "alert.resolved" => get("alertname").to_owned(),
        _ => String::new(),
    };
    if s.is_empty() { s } else { format!(": {s}") }
}

fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.len() < s.len() {
        format!("{line} …")
    } else {
        line.to_owned()
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// `2026-11-22 21:54:06`: UTC, second precision.
fn ts(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// `1h 5m 7s` from `start` to `end`, or `–` when it has not happened.
fn since(start: i64, end: Option<i64>) -> String {
    let Some(end) = end else {
        return "–".to_owned();
    };
    let secs = u64::try_from((end - start).max(0) / 1000).unwrap_or(0);
    sitrep_runbook::duration::format(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(since(0, None), "–");
        assert_eq!(since(0, Some(4_999)), "4s");
        assert_eq!(since(0, Some(65_000)), "1m 5s");
        assert_eq!(since(0, Some(3_907_000)), "1h 5m 7s");
        assert_eq!(ts(0), "1970-01-01 00:00:00");
    }
}
