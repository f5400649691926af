//! What the incident page's header and runs table say at a glance, computed from the
//! incident, its events and its runs: severity colour, ages, who acknowledged and when,
//! and each run's verdict apart from its exit code.

use sitrep_app::store::{Alert, Event, Incident, StepRun};

/// A moment, shown as "12 min ago" with the UTC time on hover; the page's script keeps
/// the text current from `ms`.
pub(super) struct Ago {
    pub ms: i64,
    pub utc: String,
    pub text: String,
}

impl Ago {
    pub fn new(ms: i64, now: i64) -> Ago {
        Ago {
            ms,
            utc: format!("{} UTC", super::utc(ms)),
            text: format!("{} ago", span((now - ms).max(0))),
        }
    }

    /// A moment to come: "in 3 h 5 min".
    pub fn ahead(ms: i64, now: i64) -> Ago {
        Ago {
            ms,
            utc: format!("{} UTC", super::utc(ms)),
            text: format!("in {}", span((ms - now).max(0))),
        }
    }
}

/// A duration in the largest units that matter at a glance ("45 s", "12 min",
/// "3 h 5 min", "2 d 4 h").
pub(super) fn span(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The incident page's header line.
pub(super) struct Summary {
    /// `sev-0` (worst) to `sev-3` (and below): the colour of the severity.
    pub sev_class: String,
    pub declared: Ago,
    /// The last status update (a note), which update reminders count from.
    pub last_update: Option<Ago>,
    pub commander: Option<String>,
    /// Who acknowledged, and when.
    pub acked: Option<(String, Ago)>,
    pub alerts_firing: usize,
    pub alerts_total: usize,
    /// People paged by hand (added as responders), in the order they were.
    pub responders: Vec<String>,
}

/// The header of `inc`, given its `events` (oldest first), its alerts, its severity's
/// rank (0 = worst) and the time now.
pub(super) fn summary(
    inc: &Incident,
    events: &[Event],
    alerts: &[Alert],
    rank: usize,
    now: i64,
) -> Summary {
    // The last acknowledgement counts (a reopened incident is acknowledged again).
    let acked = inc.acknowledged_ms.and_then(|_| {
        events
            .iter()
            .rev()
            .find(|e| e.record.event_type == "incident.acknowledged")
            .map(|e| {
                let ms = i64::try_from(e.record.time_ms).unwrap_or(0);
                (e.record.actor.clone(), Ago::new(ms, now))
            })
    });
    Summary {
        sev_class: format!("sev-{}", rank.min(3)),
        declared: Ago::new(inc.created_ms, now),
        last_update: inc.last_update_ms.map(|ms| Ago::new(ms, now)),
        commander: inc.roles.get("commander").cloned(),
        acked,
        alerts_firing: alerts.iter().filter(|a| a.status == "firing").count(),
        alerts_total: alerts.len(),
        responders: events
            .iter()
            .filter(|e| e.record.event_type == "page.requested")
            .filter_map(|e| e.record.payload.get("person"))
            .fold(Vec::new(), |mut v, p| {
                if !v.contains(p) {
                    v.push(p.clone());
                }
                v
            }),
    }
}

/// One row of the runs table.
pub(super) struct RunView {
    pub run: StepRun,
    /// `running`, `ok` or `failed`: the row's colour.
    pub state: &'static str,
    /// The runbook's `expect` check ("pass: …", "fail: …"), else "exit N".
    pub check: String,
    /// `pass`, `fail` or empty.
    pub check_class: &'static str,
}

impl RunView {
    pub fn new(run: StepRun) -> RunView {
        let state = match run.status.as_str() {
            "running" => "running",
            "succeeded" => "ok",
            _ => "failed",
        };
        let (check, check_class) = match (&run.verdict, run.exit_code) {
            (Some(v), _) if v.starts_with("pass") => (v.clone(), "pass"),
            (Some(v), _) => (v.clone(), "fail"),
            (None, Some(c)) => (format!("exit {c}"), if c == 0 { "" } else { "fail" }),
            (None, None) if state == "running" => (String::new(), ""),
            // A query step has no exit code: its success is no failed check.
            (None, None) if state == "ok" => (run.status.clone(), ""),
            (None, None) => (run.status.clone(), "fail"),
        };
        RunView {
            run,
            state,
            check,
            check_class,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, exit: Option<i32>, verdict: Option<&str>) -> StepRun {
        StepRun {
            id: "r".into(),
            incident_id: "i".into(),
            runbook: "rb.md".into(),
            step_id: "s".into(),
            command: "curl".into(),
            bound: Default::default(),
            risk: "read".into(),
            actor: "rita".into(),
            approver: None,
            status: status.into(),
            started_ms: 0,
            ended_ms: None,
            exit_code: exit,
            verdict: verdict.map(str::to_owned),
            stdout_sha256: None,
            stderr_sha256: None,
        }
    }

    #[test]
    fn a_verdict_is_told_apart_from_the_exit_code() {
        let cases = [
            // exit 0 but the output said 503: the check fails, the row is red.
            (
                run("failed", Some(0), Some("fail: output lacks 200")),
                "failed",
                "fail: output lacks 200",
                "fail",
            ),
            (
                run("succeeded", Some(0), Some("pass: output contains 200")),
                "ok",
                "pass: output contains 200",
                "pass",
            ),
            (run("succeeded", Some(0), None), "ok", "exit 0", ""),
            (run("failed", Some(3), None), "failed", "exit 3", "fail"),
            (run("timed-out", None, None), "failed", "timed-out", "fail"),
            (run("running", None, None), "running", "", ""),
            (run("succeeded", None, None), "ok", "succeeded", ""),
            (run("error", None, None), "failed", "error", "fail"),
        ];
        for (r, state, check, class) in cases {
            let v = RunView::new(r);
            assert_eq!(
                (v.state, v.check.as_str(), v.check_class),
                (state, check, class)
            );
        }
    }

    #[test]
    fn spans_read_at_a_glance() {
        assert_eq!(span(0), "0 s");
        assert_eq!(span(59_999), "59 s");
        assert_eq!(span(60_000), "1 min");
        assert_eq!(span(3_599_000), "59 min");
        assert_eq!(span(3_660_000), "1 h 1 min");
        assert_eq!(span(90_000_000), "1 d 1 h");
    }
}
