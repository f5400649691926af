//! Paging: turning escalation policies into durable page jobs.
//!
//! The sweeper asks the pure escalation engine what is due for every open incident and
//! enqueues each page or reminder as a job whose dedupe key is the engine's deterministic
//! id, so sweeping twice, on two replicas, or after a crash never pages twice and never
//! forgets one. Acknowledging or resolving cancels the incident's pending page jobs in the
//! same transaction (see `App::acknowledge`). Delivery is the job worker's business.

use serde::{Deserialize, Serialize};
use sitrep_escalation::{IncidentState, Timestamp, due};
use sitrep_store::{Change, IncidentFilter, NewJob, Write};

use crate::app::App;
use crate::error::AppError;

/// Job kind of a page to one contact method.
pub const PAGE_JOB: &str = "page";
/// Job kind of a reminder to the commander.
pub const REMINDER_JOB: &str = "reminder";

/// What a page job carries: enough to deliver it without the escalation config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageJob {
    /// The engine's page id (also the job's dedupe key and the delivery id).
    pub page_id: String,
    /// The incident.
    pub incident_id: String,
    /// Person paged, if a person.
    pub person: Option<String>,
    /// `email`, `webhook` or `slack_webhook`.
    pub method: String,
    /// Address or URL.
    pub to: String,
    /// Escalation level (0-based) and repeat cycle, for the message.
    pub level: usize,
    /// Repeat cycle.
    pub cycle: u32,
    /// `page` or the reminder kind.
    pub what: String,
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Open incidents looked at.
    pub incidents: usize,
    /// Jobs enqueued (new pages and reminders).
    pub enqueued: usize,
    /// Incidents whose service has no policy (nothing to page).
    pub unpaged: usize,
    /// Earliest instant something else becomes due, in ms.
    pub next_wakeup_ms: Option<i64>,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl App {
    /// Enqueues every page and reminder due at `now_ms` for open incidents. Idempotent.
    pub async fn sweep_escalations(&self, now_ms: i64) -> Result<SweepReport, AppError> {
        let Some(cfg) = self.escalation() else {
            return Ok(SweepReport::default());
        };
        let store = self.store();
        let open = store
            .incidents(&IncidentFilter {
                statuses: vec!["triggered".into(), "acknowledged".into(), "mitigated".into()],
                limit: 10_000,
                ..IncidentFilter::default()
            })
            .await?;
        let mut report = SweepReport { incidents: open.len(), ..SweepReport::default() };
        for inc in open {
            let Some(service) = inc.service.clone() else {
                report.unpaged += 1;
                continue;
            };
            let mut st = IncidentState::declared(&inc.id, &service, &inc.severity, ts(inc.created_ms));
            st.acknowledged_at = inc.acknowledged_ms.map(ts);
            st.resolved_at = inc.resolved_ms.map(ts);
            st.commander = inc.roles.get("commander").cloned();
            st.sent = store
                .jobs_for(&inc.id)
                .await?
                .into_iter()
                .map(|j| j.dedupe_key)
                .collect();
            let d = match due(cfg, &st, ts(now_ms)) {
                Ok(d) => d,
                Err(_) => {
                    report.unpaged += 1;
                    continue;
                }
            };
            if let Some(w) = d.next_wakeup {
                let w = w.as_millisecond();
                report.next_wakeup_ms = Some(report.next_wakeup_ms.map_or(w, |x| x.min(w)));
            }
            let mut writes = Vec::new();
            for p in d.pages {
                let job = PageJob {
                    page_id: p.id.0.clone(),
                    incident_id: inc.id.clone(),
                    person: p.person.clone(),
                    method: p.contact.method.kind().to_owned(),
                    to: p.contact.method.address().to_owned(),
                    level: p.level,
                    cycle: p.cycle,
                    what: "page".to_owned(),
                };
                writes.push(Write::EnqueueJob(NewJob {
                    kind: PAGE_JOB.to_owned(),
                    dedupe_key: p.id.0,
                    incident_id: Some(inc.id.clone()),
                    payload: serde_json::to_value(&job).map_err(|e| AppError::Internal(e.to_string()))?,
                    due_ms: p.due_at.as_millisecond(),
                }));
            }
            for r in d.reminders {
                // A reminder goes to the commander's contacts when the commander is a
                // configured person; otherwise it is only a timeline entry.
                let contacts: Vec<_> = r
                    .commander
                    .as_deref()
                    .and_then(|c| cfg.person(c))
                    .map(|p| p.contacts.clone())
                    .unwrap_or_default();
                if contacts.is_empty() {
                    writes.push(Write::EnqueueJob(NewJob {
                        kind: REMINDER_JOB.to_owned(),
                        dedupe_key: r.id.clone(),
                        incident_id: Some(inc.id.clone()),
                        payload: serde_json::json!({ "incident_id": inc.id, "what": format!("{:?}", r.kind) }),
                        due_ms: r.due_at.as_millisecond(),
                    }));
                }
                for c in contacts {
                    let job = PageJob {
                        page_id: format!("{}:{}", r.id, c.id),
                        incident_id: inc.id.clone(),
                        person: r.commander.clone(),
                        method: c.method.kind().to_owned(),
                        to: c.method.address().to_owned(),
                        level: 0,
                        cycle: 0,
                        what: format!("{:?}", r.kind),
                    };
                    writes.push(Write::EnqueueJob(NewJob {
                        kind: REMINDER_JOB.to_owned(),
                        dedupe_key: job.page_id.clone(),
                        incident_id: Some(inc.id.clone()),
                        payload: serde_json::to_value(&job).map_err(|e| AppError::Internal(e.to_string()))?,
                        due_ms: r.due_at.as_millisecond(),
                    }));
                }
            }
            if !writes.is_empty() {
                report.enqueued += writes.len();
                store.commit(Change { writes, events: Vec::new() }).await?;
            }
        }
        Ok(report)
    }
}
