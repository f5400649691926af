//! The incident timeline fragment, newest first, in sentences: "rita ran greet (read) ·
//! exit 0 · 96 ms" with the output's first and last lines, evidence folded into its run,
//! notes standing out, and a kind per line for the page's filters.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse};
use sitrep_app::store::Event;

use super::summary::span;
use super::{Page, UiError, user, utc};
use crate::ServerState;
use crate::auth::Caller;

/// Runs whose output the fragment reads for its inline lines (the newest); older runs
/// link to their page. Bounds the work of a refresh on a long incident.
const RUNS_WITH_OUTPUT: usize = 20;
/// Output lines shown inline at each end, and in the expanded view.
const PEEK_LINES: usize = 2;
const MORE_LINES: usize = 40;

/// One line of the timeline.
pub(super) struct Item {
    /// `note`, `run`, `alert`, `paging` or `other`: what the filters select.
    kind: &'static str,
    /// An ISO time for the script to show in local time, and the UTC text it starts with.
    iso: String,
    utc: String,
    actor: String,
    sentence: String,
    /// `pass`, `fail` or empty: the colour of a run's result.
    tone: &'static str,
    /// A note's text, shown whole.
    text: String,
    run: Option<RunLines>,
}

/// A run's output as the timeline shows it.
struct RunLines {
    id: String,
    /// The first and last lines; the middle is elided.
    peek: String,
    /// Up to [`MORE_LINES`] at each end, when there are more than the peek shows.
    more: String,
    /// Which stream the lines come from (stderr when stdout is empty), or empty.
    stream: &'static str,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelineTpl {
    items: Vec<Item>,
}

/// The timeline fragment of `events` (oldest first), and the newest ledger index in it.
pub(super) async fn timeline_html(
    st: &ServerState,
    events: Vec<Event>,
) -> Result<(String, u64), UiError> {
    let last = events.last().map_or(0, |e| e.index);
    let mut items = Vec::with_capacity(events.len());
    let mut read_left = RUNS_WITH_OUTPUT;
    for e in events.iter().rev() {
        let Some(mut item) = item(e) else { continue };
        if item.kind == "run" && read_left > 0 {
            read_left -= 1;
            item.run = run_lines(st, e).await;
        }
        items.push(item);
    }
    Ok((TimelineTpl { items }.render()?, last))
}

/// The sentence for one event; `None` for what is folded elsewhere (a run's evidence).
fn item(e: &Event) -> Option<Item> {
    let r = &e.record;
    let p = &r.payload;
    let get = |k: &str| p.get(k).map_or("", String::as_str);
    let mut tone = "";
    let (kind, sentence) = match r.event_type.as_str() {
        "evidence.captured" if p.contains_key("run") => return None,
        "incident.note" => ("note", "posted an update".to_owned()),
        "step.run" => {
            let (sentence, t) = run_sentence(p);
            tone = t;
            ("run", sentence)
        }
        "step.refused" => (
            "run",
            format!("was refused {}: {}", get("step"), get("reason")),
        ),
        "step.skipped" => ("run", format!("skipped {}: {}", get("step"), get("reason"))),
        "step.interrupted" => {
            tone = "fail";
            (
                "run",
                format!("{} was interrupted: {}", get("step"), get("reason")),
            )
        }
        "approval.requested" => (
            "run",
            format!("asked a second person to approve {}", get("step")),
        ),
        "approval.granted" => (
            "run",
            format!("approved {} for {}", get("step"), get("requested_by")),
        ),
        "alert.firing" | "alert.resolved" => ("alert", alerts_sentence(&r.event_type, p)),
        "silence.created" => (
            "alert",
            format!("silenced {} until {} UTC", get("matchers"), get("ends_at")),
        ),
        "page.attempt" | "page.delivered" | "page.failed" | "reminder.due" | "page.escalated"
        | "page.requested" => ("paging", paging(&r.event_type, p)),
        other => ("other", incident_sentence(other, p)),
    };
    let ms = i64::try_from(r.time_ms).unwrap_or(0);
    Some(Item {
        kind,
        iso: jiff::Timestamp::from_millisecond(ms)
            .map_or_else(|_| String::new(), |t| t.to_string()),
        utc: format!("{} UTC", utc(ms)),
        actor: r.actor.clone(),
        sentence,
        tone,
        text: if kind == "note" {
            get("text").to_owned()
        } else {
            String::new()
        },
        run: None,
    })
}

/// "ran greet (read) · exit 0 · 96 ms", and its tone: `pass` for a passed check, `fail`
/// for anything but success, else none.
fn run_sentence(p: &BTreeMap<String, String>) -> (String, &'static str) {
    let get = |k: &str| p.get(k).map_or("", String::as_str);
    let check = match (p.get("verdict"), p.get("exit_code")) {
        (Some(v), _) => v.clone(),
        (None, Some(c)) => format!("exit {c}"),
        (None, None) => get("status").to_owned(),
    };
    let tone = match get("status") {
        "succeeded" if p.contains_key("verdict") => "pass",
        "succeeded" => "",
        _ => "fail",
    };
    let ms = get("duration_ms").parse::<i64>().unwrap_or(0);
    let took = if ms < 1000 {
        format!("{ms} ms")
    } else {
        span(ms)
    };
    // "timed-out" or "error" is said once, as the check when there is no exit code.
    let status = match get("status") {
        "succeeded" | "failed" => String::new(),
        s if s == check => String::new(),
        s => format!(" · {s}"),
    };
    let sentence = format!(
        "ran {} ({}){status} · {check} · {took}",
        get("step"),
        get("risk")
    );
    (sentence, tone)
}

fn paging(kind: &str, p: &BTreeMap<String, String>) -> String {
    let get = |k: &str| p.get(k).map_or("", String::as_str);
    match kind {
        "page.attempt" => format!("paging {} by {}", get("to"), get("channel")),
        "page.delivered" => format!("page to {} delivered by {}", get("to"), get("channel")),
        "page.failed" => format!("page to {} failed: {}", get("to"), get("reason")),
        "page.escalated" => format!("escalated to level {}: paged {}", get("level"), get("to")),
        "page.requested" => format!("paged {} as a responder", get("to")),
        _ => format!("reminder due: {}", get("what")),
    }
}

/// Lifecycle and bookkeeping events, said as what the actor did.
fn incident_sentence(kind: &str, p: &BTreeMap<String, String>) -> String {
    let get = |k: &str| p.get(k).map_or("", String::as_str);
    match kind {
        "incident.declared" => format!("declared the incident at {}", get("severity")),
        "incident.acknowledged" => "acknowledged".to_owned(),
        "incident.mitigated" => "marked it mitigated".to_owned(),
        "incident.resolved" => "resolved the incident".to_owned(),
        "incident.reopened" => format!("reopened it: {}", get("reason")),
        "incident.severity-changed" => {
            format!("changed the severity from {} to {}", get("from"), get("to"))
        }
        "incident.role-assigned" => format!("made {} {}", get("person"), get("role")),
        "incident.runbook-attached" => format!("attached the runbook {}", get("runbook")),
        "checklist.ticked" => format!("ticked “{}”", get("text")),
        "checklist.unticked" => format!("unticked “{}”", get("text")),
        "action.added" => format!("added the action item “{}”", get("title")),
        "action.done" => format!("finished the action item “{}”", get("title")),
        "thresholds.checked" if get("all_normal") == "true" => {
            format!("checked {} threshold(s): all normal", get("checks"))
        }
        "thresholds.checked" => format!(
            "checked {} threshold(s): not all normal ({})",
            get("checks"),
            get("results").replace('\n', "; ")
        ),
        "evidence.held" => format!("put the evidence under legal hold: {}", get("reason")),
        "evidence.released" => "released the legal hold".to_owned(),
        "evidence.expired" => "retention deleted old output; the records remain".to_owned(),
        other => other.replace(['.', '-'], " "),
    }
}

/// The run's output lines: stdout, or stderr when stdout is empty.
async fn run_lines(st: &ServerState, e: &Event) -> Option<RunLines> {
    let p = &e.record.payload;
    let id = p.get("run")?.clone();
    let mut stream = "";
    let mut text = String::new();
    for (key, name) in [("stdout_sha256", "stdout"), ("stderr_sha256", "stderr")] {
        let Some(h) = p
            .get(key)
            .and_then(|h| sitrep_ledger::Hash::from_hex(h).ok())
        else {
            continue;
        };
        // Output deleted by retention or not yet uploaded: the run page says so.
        let bytes = st.app().blob(&h).await.unwrap_or_default();
        if !bytes.is_empty() {
            text = String::from_utf8_lossy(&bytes).into_owned();
            stream = name;
            break;
        }
    }
    let (peek, more) = ends(&text);
    Some(RunLines {
        id,
        peek,
        more,
        stream,
    })
}

/// The first and last [`PEEK_LINES`] of `text` with the middle elided, and (when that
/// hides anything) up to [`MORE_LINES`] at each end.
fn ends(text: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let cut = |n: usize| {
        if lines.len() <= 2 * n {
            lines.join("\n")
        } else {
            let hidden = lines.len() - 2 * n;
            format!(
                "{}\n… {hidden} more line(s) …\n{}",
                lines[..n].join("\n"),
                lines[lines.len() - n..].join("\n")
            )
        }
    };
    let more = if lines.len() > 2 * PEEK_LINES {
        cut(MORE_LINES)
    } else {
        String::new()
    };
    (cut(PEEK_LINES), more)
}

pub(super) async fn timeline_fragment(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
) -> Page {
    user(c)?;
    let events = st.app().timeline(&n, None).await?;
    Ok(Html(timeline_html(&st, events).await?.0).into_response())
}

/// "alert DiskFull is firing", or "12 alerts are firing: DiskFull, HighLatency" for a
/// record listing several (`sitrep_app::alert_records`).
fn alerts_sentence(kind: &str, p: &BTreeMap<String, String>) -> String {
    let names = p.get("alertname").map_or("", String::as_str);
    let firing = kind == "alert.firing";
    match sitrep_app::alert_records::alert_count(p) {
        1 if firing => format!("alert {names} is firing"),
        1 => format!("alert {names} resolved"),
        n if firing => format!("{n} alerts are firing: {names}"),
        n => format!("{n} alerts resolved: {names}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_shown_by_its_ends() {
        assert_eq!(ends(""), (String::new(), String::new()));
        assert_eq!(ends("a\nb\nc"), ("a\nb\nc".to_owned(), String::new()));
        let text: String = (1..=100).map(|i| format!("{i}\n")).collect();
        let (peek, more) = ends(&text);
        assert_eq!(peek, "1\n2\n… 96 more line(s) …\n99\n100");
        assert!(more.starts_with("1\n2\n"), "{more}");
        assert!(more.contains("… 20 more line(s) …\n61\n"), "{more}");
        assert!(more.ends_with("\n100"), "{more}");
    }

    #[test]
    fn alert_records_read_as_one_alert_or_as_a_list() {
        let old = BTreeMap::from([("alertname".to_owned(), "DiskFull".to_owned())]);
        assert_eq!(
            alerts_sentence("alert.firing", &old),
            "alert DiskFull is firing"
        );
        assert_eq!(
            alerts_sentence("alert.resolved", &old),
            "alert DiskFull resolved"
        );
        let mut list = old.clone();
        list.insert("alerts".into(), "12".into());
        list.insert("alertname".into(), "DiskFull, HighLatency".into());
        assert_eq!(
            alerts_sentence("alert.firing", &list),
            "12 alerts are firing: DiskFull, HighLatency"
        );
        assert_eq!(
            alerts_sentence("alert.resolved", &list),
            "12 alerts resolved: DiskFull, HighLatency"
        );
    }
}
