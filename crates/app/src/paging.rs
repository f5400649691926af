//! Paging: turning escalation policies into durable page jobs.
//!
//! The sweeper asks the pure escalation engine what is due for every open incident and
//! enqueues each page or reminder as a job whose dedupe key is the engine's deterministic
//! id, so sweeping twice, on two replicas, or after a crash never pages twice and never
//! forgets one. Acknowledging or resolving cancels the incident's pending page jobs in the
//! same transaction (see `App::acknowledge`). Delivery is the job worker's business.

use serde::{Deserialize, Serialize};
use sitrep_escalation::{Timestamp, due};
use sitrep_store::{Change, IncidentFilter, NewJob, Write};

use crate::app::App;
use crate::error::AppError;
use crate::identity::Principal;

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

impl PageJob {
    /// The job that delivers the engine's page `p` (of kind `kind`, due at `due_ms`),
    /// keyed by the page's id.
    pub(crate) fn enqueue(
        p: &sitrep_escalation::Page,
        kind: &str,
        due_ms: i64,
    ) -> Result<Write, AppError> {
        let job = PageJob {
            page_id: p.id.0.clone(),
            incident_id: p.incident.clone(),
            person: p.person.clone(),
            method: p.contact.method.kind().to_owned(),
            to: p.contact.method.address().to_owned(),
            level: p.level,
            cycle: p.cycle,
            what: "page".to_owned(),
        };
        Ok(Write::EnqueueJob(NewJob {
            kind: kind.to_owned(),
            dedupe_key: p.id.0.clone(),
            incident_id: Some(p.incident.clone()),
            payload: serde_json::to_value(&job).map_err(|e| AppError::Internal(e.to_string()))?,
            due_ms,
        }))
    }
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
    pub async fn sweep_escalations(
        &self,
        now_ms: i64,
        fence: Option<&sitrep_store::Lease>,
    ) -> Result<SweepReport, AppError> {
        let Some(cfg) = self.escalation() else {
            return Ok(SweepReport::default());
        };
        let store = self.store();
        let open = store
            .incidents(&IncidentFilter {
                statuses: crate::lifecycle::Status::names(&crate::lifecycle::Status::OPEN),
                limit: 10_000,
                ..IncidentFilter::default()
            })
            .await?;
        let mut report = SweepReport {
            incidents: open.len(),
            ..SweepReport::default()
        };
        for inc in open {
            let Some(service) = inc.service.clone() else {
                report.unpaged += 1;
                continue;
            };
            let st = self.engine_state(&inc, &service).await?;
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
            for p in &d.pages {
                writes.push(PageJob::enqueue(p, PAGE_JOB, p.due_at.as_millisecond())?);
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
                        payload: serde_json::to_value(&job)
                            .map_err(|e| AppError::Internal(e.to_string()))?,
                        due_ms: r.due_at.as_millisecond(),
                    }));
                }
            }
            if !writes.is_empty() {
                report.enqueued += writes.len();
                // A sweeper that lost its lease must not enqueue: the fence fails the
                // whole change if another holder took over meanwhile.
                if let Some(l) = fence {
                    writes.push(Write::Fence {
                        lease: l.name.clone(),
                        holder: l.holder.clone(),
                        epoch: l.epoch,
                    });
                }
                store
                    .commit(Change {
                        writes,
                        events: Vec::new(),
                    })
                    .await?;
            }
        }
        Ok(report)
    }
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliverReport {
    /// Jobs claimed.
    pub claimed: usize,
    /// Delivered now.
    pub delivered: usize,
    /// Scheduled for another pass.
    pub retrying: usize,
    /// Failed for good (every channel refused permanently).
    pub failed: usize,
    /// Dropped because the incident was acknowledged or resolved meanwhile.
    pub cancelled: usize,
    /// Left locked after an error (another pass takes them when the lock expires).
    pub errors: usize,
    /// The first of those errors, for the log.
    pub first_error: Option<String>,
}

/// Deliveries in flight at once in one pass.
const DELIVERY_CONCURRENCY: usize = 64;

/// How one claimed job ended, for the caller to finish it.
#[derive(Clone)]
enum Handled {
    /// Delivered (or nothing to deliver any more): complete the job.
    Done { delivered: bool },
    /// Try again at `next_due_ms`.
    Retry { next_due_ms: i64, reason: String },
    /// Every channel refused for good.
    Failed { reason: String },
}

impl App {
    /// The secret behind acknowledge links (created on first use, mode 0600).
    pub fn ack_key(&self) -> Result<Vec<u8>, AppError> {
        let path = self
            .config()
            .keys
            .ack
            .clone()
            .unwrap_or_else(|| self.data_dir().join(crate::keys::ACK_KEY_FILE));
        crate::keys::load_or_create_secret(&path)
    }

    /// A signed, expiring acknowledge link for the page `page_id` of an incident, when
    /// `server.base_url` is set. It names the escalation cycle it was sent in (its issue
    /// time): once the incident is reopened after that, the link is stale.
    pub fn ack_url(
        &self,
        incident_id: &str,
        page_id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, AppError> {
        let Some(base) = &self.config().server.base_url else {
            return Ok(None);
        };
        let key = self.ack_key()?;
        let expires = u64::try_from(now_ms).unwrap_or(0) + 24 * 3600 * 1000;
        let subject = crate::acklink::subject(incident_id, now_ms, page_id);
        let token = sitrep_notify::ack_token::issue(&key, &subject, expires);
        Ok(Some(format!("{}/ack/{token}", base.trim_end_matches('/'))))
    }

    /// Acknowledges the incident an acknowledge link names, as `visit.actor` (a logged-in
    /// person) or `ack-link`, recording the link's page, the client's address and user
    /// agent. A link from before the incident's last reopen is refused as stale.
    pub async fn acknowledge_by_link(
        &self,
        token: &str,
        now_ms: i64,
        visit: &crate::acklink::LinkVisit,
    ) -> Result<sitrep_store::Incident, AppError> {
        let key = self.ack_key()?;
        let subject =
            sitrep_notify::ack_token::verify(&key, token, u64::try_from(now_ms).unwrap_or(0))
                .map_err(|e| AppError::invalid("token", e.to_string()))?;
        let link = crate::acklink::Link::parse(&subject);
        let timeline = self.store().timeline(&link.incident, None).await?;
        if let Some(reopened) = link.stale_after(&timeline) {
            return Err(AppError::invalid(
                "token",
                format!(
                    "this acknowledge link is stale: it was sent for an earlier escalation, \
                     and the incident was reopened since (at {reopened} ms); acknowledge \
                     from the newest page or in sitrep"
                ),
            ));
        }
        let actor = visit.actor.clone().unwrap_or_else(Principal::ack_link);
        self.act_noting(
            &link.incident,
            crate::lifecycle::Action::Acknowledge,
            &actor,
            None,
            link.payload(visit),
        )
        .await
    }

    /// Claims due page and reminder jobs and delivers them through `notifier`; every
    /// attempt goes on the incident's timeline. Delivery is at least once: a worker that
    /// dies leaves its jobs locked for `notify.claim_lock` (a minute), then another worker delivers them again
    /// with the same delivery id.
    pub async fn deliver_due(
        &self,
        notifier: &sitrep_notify::Notifier,
        worker: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<DeliverReport, AppError> {
        let store = self.store();
        let lock_ms = i64::try_from(self.config().notify.claim_lock.as_millis()).unwrap_or(60_000);
        let jobs = store
            .claim_jobs(
                worker,
                &[PAGE_JOB, REMINDER_JOB, crate::oncall::MANUAL_PAGE_JOB],
                now_ms,
                limit,
                lock_ms,
            )
            .await?;
        let mut report = DeliverReport {
            claimed: jobs.len(),
            ..DeliverReport::default()
        };
        // Deliveries run concurrently (bounded): one slow receiver must not hold up the
        // pages behind it. Their events group-commit; completions are one batch.
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(DELIVERY_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        // Pages for one contact claimed in one pass go out as one digest: a storm must
        // not flood a phone or an inbox.
        let mut groups: std::collections::BTreeMap<String, Vec<sitrep_store::Job>> =
            std::collections::BTreeMap::new();
        for job in jobs {
            let key = serde_json::from_value::<PageJob>(job.payload.clone()).map_or_else(
                |_| format!("job:{}", job.id),
                |p| format!("{}:{}", p.method, p.to),
            );
            groups.entry(key).or_default().push(job);
        }
        for (contact, group) in groups {
            let (app, notifier, permits) = (self.clone(), notifier.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                app.deliver_group(&notifier, &contact, group, now_ms).await
            });
        }
        let mut done = Vec::new();
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(r) => results.extend(r),
                Err(e) => {
                    report.errors += 1;
                    report
                        .first_error
                        .get_or_insert(format!("delivery task: {e}"));
                }
            }
        }
        for (id, outcome) in results {
            match outcome {
                Ok(Handled::Done { delivered }) => {
                    if delivered {
                        report.delivered += 1;
                    } else {
                        report.cancelled += 1;
                    }
                    done.push(id);
                }
                Ok(Handled::Retry {
                    next_due_ms,
                    reason,
                }) => {
                    store.retry_job(&id, worker, next_due_ms, &reason).await?;
                    report.retrying += 1;
                }
                Ok(Handled::Failed { reason }) => {
                    store.fail_job(&id, worker, &reason).await?;
                    report.failed += 1;
                }
                // Left locked: another pass takes it when the lock expires.
                Err(e) => {
                    report.errors += 1;
                    report.first_error.get_or_insert(e.to_string());
                }
            }
        }
        if !done.is_empty() {
            store.complete_jobs(&done, worker).await?;
        }
        Ok(report)
    }

    /// Delivers the jobs of one contact (see [`App::deliver_jobs`]), or later when the
    /// contact's rate limit is spent (the jobs stay durable and are bundled by a later
    /// pass).
    async fn deliver_group(
        &self,
        notifier: &sitrep_notify::Notifier,
        contact: &str,
        group: Vec<sitrep_store::Job>,
        now_ms: i64,
    ) -> Vec<(String, Result<Handled, AppError>)> {
        let limited = match self.rate_limited(contact, now_ms).await {
            Ok(l) => l,
            Err(e) => {
                // Left locked: another pass takes them when the lock expires.
                let msg = e.to_string();
                return group
                    .into_iter()
                    .map(|j| (j.id, Err(AppError::Internal(msg.clone()))))
                    .collect();
            }
        };
        if let Some(wait_until) = limited {
            return group
                .into_iter()
                .map(|j| {
                    let h = Handled::Retry {
                        next_due_ms: wait_until,
                        reason: format!("rate limit for {contact}: held to be bundled"),
                    };
                    (j.id, Ok(h))
                })
                .collect();
        }
        match self.deliver_jobs(notifier, &group, now_ms).await {
            Ok(results) => results.into_iter().map(|(id, h)| (id, Ok(h))).collect(),
            Err(e) => {
                let msg = e.to_string();
                group
                    .into_iter()
                    .map(|j| (j.id, Err(AppError::Internal(msg.clone()))))
                    .collect()
            }
        }
    }

    /// `Some(when)` if `contact` may not be sent to now; otherwise records a send. The
    /// window is in the store, so it holds across restarts and replicas.
    async fn rate_limited(&self, contact: &str, now_ms: i64) -> Result<Option<i64>, AppError> {
        let limit = self.config().notify.rate_limit;
        let window = i64::try_from(limit.per.as_millis()).unwrap_or(i64::MAX);
        if limit.burst == 0 || window == 0 {
            return Ok(None);
        }
        Ok(self
            .store()
            .take_send(contact, limit.burst, window, now_ms)
            .await?)
    }

    /// Delivers the jobs of one contact in one message: the page itself when one is
    /// live, a digest when several are; every job shares the outcome, and every attempt
    /// goes on each incident's timeline. Jobs that no longer need sending (a reminder
    /// without a contact, a page whose incident was acknowledged) just finish.
    async fn deliver_jobs(
        &self,
        notifier: &sitrep_notify::Notifier,
        group: &[sitrep_store::Job],
        now_ms: i64,
    ) -> Result<Vec<(String, Handled)>, AppError> {
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut live = Vec::new();
        for job in group {
            // An action item's reminder is moot once the item is done.
            if let (Some(action), Some(inc)) = (
                crate::followups::action_of(&job.dedupe_key),
                job.incident_id.as_deref(),
            ) && self
                .store()
                .action_items(inc)
                .await?
                .iter()
                .any(|a| a.id == action && a.status == "done")
            {
                out.push((job.id.clone(), Handled::Done { delivered: false }));
                continue;
            }
            let Ok(page) = serde_json::from_value::<PageJob>(job.payload.clone()) else {
                // A reminder with nobody to send it to: it only goes on the timeline.
                if let Some(inc) = &job.incident_id {
                    let what = job
                        .payload
                        .get("what")
                        .and_then(|v| v.as_str())
                        .unwrap_or("");
                    events.push(crate::events::record(
                        "reminder.due",
                        inc,
                        now_ms,
                        &Principal::sitrep("escalation"),
                        [("what", what.to_owned())],
                    ));
                }
                out.push((job.id.clone(), Handled::Done { delivered: false }));
                continue;
            };
            let inc = self.incident(&page.incident_id).await?;
            if job.kind == PAGE_JOB && (inc.acknowledged_ms.is_some() || inc.resolved_ms.is_some())
            {
                out.push((job.id.clone(), Handled::Done { delivered: false }));
                continue;
            }
            let mut message = self.message_for(&inc, &page, now_ms)?;
            message.diagnostics = self.first_diagnostics(&inc.id).await;
            live.push((job, page, inc, message));
        }
        if let Some((_, first_page, _, first_message)) = live.first() {
            let route = self.route_for(first_page)?;
            let message = if live.len() == 1 {
                first_message.clone()
            } else {
                let messages: Vec<_> = live.iter().map(|(_, _, _, m)| m.clone()).collect();
                let contact = format!("{}:{}", first_page.method, first_page.to);
                sitrep_notify::Message::digest(&contact, &messages)
            };
            let pass = live
                .iter()
                .map(|(j, _, _, _)| u32::try_from(j.attempts.max(1) - 1).unwrap_or(0))
                .max()
                .unwrap_or(0);
            let delivery = notifier
                .deliver(&route, &message, u64::try_from(now_ms).unwrap_or(0), pass)
                .await;
            let handled = match &delivery.result {
                sitrep_notify::DeliveryResult::Delivered { .. } => {
                    Handled::Done { delivered: true }
                }
                sitrep_notify::DeliveryResult::RetryLater { after, reason } => Handled::Retry {
                    next_due_ms: now_ms + i64::try_from(after.as_millis()).unwrap_or(i64::MAX / 2),
                    reason: reason.clone(),
                },
                sitrep_notify::DeliveryResult::Failed { reason } => Handled::Failed {
                    reason: reason.clone(),
                },
            };
            for (job, page, inc, _) in &live {
                let common = |mut extra: Vec<(&'static str, String)>| {
                    let mut p = vec![
                        ("delivery", page.page_id.clone()),
                        ("to", page.person.clone().unwrap_or_default()),
                        ("what", page.what.clone()),
                    ];
                    if live.len() > 1 {
                        p.push(("digest", message.delivery_id.clone()));
                        p.push(("bundled", live.len().to_string()));
                    }
                    p.append(&mut extra);
                    p
                };
                for a in &delivery.attempts {
                    let (outcome, reason) = match &a.outcome {
                        sitrep_notify::Outcome::Delivered => ("delivered", String::new()),
                        sitrep_notify::Outcome::Retry { reason, .. } => ("retry", reason.clone()),
                        sitrep_notify::Outcome::Permanent { reason } => {
                            ("permanent", reason.clone())
                        }
                    };
                    events.push(crate::events::record(
                        "page.attempt",
                        &inc.id,
                        now_ms,
                        &Principal::sitrep("escalation"),
                        common(vec![
                            ("channel", a.channel.clone()),
                            ("outcome", outcome.to_owned()),
                            ("reason", reason),
                            ("attempt", a.attempt.to_string()),
                            ("duration_ms", a.duration.as_millis().to_string()),
                        ]),
                    ));
                }
                match &delivery.result {
                    sitrep_notify::DeliveryResult::Delivered { channel } => {
                        events.push(crate::events::record(
                            "page.delivered",
                            &inc.id,
                            now_ms,
                            &Principal::sitrep("escalation"),
                            common(vec![("channel", channel.clone())]),
                        ))
                    }
                    sitrep_notify::DeliveryResult::Failed { reason } => {
                        events.push(crate::events::record(
                            "page.failed",
                            &inc.id,
                            now_ms,
                            &Principal::sitrep("escalation"),
                            common(vec![("reason", reason.clone())]),
                        ))
                    }
                    sitrep_notify::DeliveryResult::RetryLater { .. } => {}
                }
                out.push((job.id.clone(), handled.clone()));
            }
        }
        if !events.is_empty() {
            self.store()
                .commit(Change {
                    writes: Vec::new(),
                    events,
                })
                .await?;
        }
        Ok(out)
    }

    /// One line per diagnosis run so far (auto-triage runs first): what the responder
    /// would look at first, in the page itself.
    async fn first_diagnostics(&self, incident_id: &str) -> Vec<String> {
        let runs = self.store().runs_for(incident_id).await.unwrap_or_default();
        let mut lines = Vec::new();
        for r in runs.iter().take(5) {
            // Output may have been captured on another replica: `blob` fetches it.
            let hash = r
                .stdout_sha256
                .as_deref()
                .and_then(|h| sitrep_ledger::Hash::from_hex(h).ok());
            let out = match hash {
                Some(h) => self.blob(&h).await.ok(),
                None => None,
            }
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default();
            let exit = r
                .exit_code
                .map_or_else(|| "-".to_owned(), |c| c.to_string());
            lines.push(crate::events::cut(
                &format!("{}: {} (exit {exit}) {out}", r.step_id, r.status),
                200,
            ));
        }
        lines
    }

    fn message_for(
        &self,
        inc: &sitrep_store::Incident,
        page: &PageJob,
        now_ms: i64,
    ) -> Result<sitrep_notify::Message, AppError> {
        use sitrep_notify::MessageKind;
        let kind = match page.what.as_str() {
            "page" => MessageKind::Page,
            "FinalUpdate" => MessageKind::Resolved,
            _ => MessageKind::Reminder,
        };
        let incident_url = self
            .config()
            .server
            .base_url
            .as_ref()
            .map(|b| format!("{}/incidents/{}", b.trim_end_matches('/'), inc.number));
        Ok(sitrep_notify::Message {
            delivery_id: page.page_id.clone(),
            kind,
            incident_id: inc.id.clone(),
            incident_number: u64::try_from(inc.number).unwrap_or(0),
            title: inc.title.clone(),
            severity: inc.severity.clone(),
            status: inc.status.clone(),
            service: inc.service.clone(),
            runbook: inc.runbooks.first().cloned(),
            diagnostics: Vec::new(),
            ack_url: self.ack_url(&inc.id, &page.page_id, now_ms)?,
            incident_url,
            digest: Vec::new(),
        })
    }

    fn route_for(&self, page: &PageJob) -> Result<sitrep_notify::Route, AppError> {
        let n = &self.config().notify;
        let defaults = n.channel_defaults();
        let method = match page.method.as_str() {
            "email" => sitrep_escalation::ContactMethod::Email(page.to.clone()),
            "slack_webhook" => sitrep_escalation::ContactMethod::SlackWebhook(page.to.clone()),
            _ => sitrep_escalation::ContactMethod::Webhook(page.to.clone()),
        };
        let contact = sitrep_escalation::Contact {
            id: page
                .page_id
                .rsplit(':')
                .next()
                .unwrap_or("contact")
                .to_owned(),
            method,
        };
        let primary = sitrep_notify::Channel::from_contact(&contact, &defaults)
            .map_err(|e| AppError::invalid("notify", e.to_string()))?;
        let mut route = sitrep_notify::Route::to(primary);
        if let (Some(fb), Some(cfg)) = (&n.fallback, self.escalation()) {
            if let Some(ch) = cfg.channel(fb) {
                if let Ok(c) = sitrep_notify::Channel::from_escalation_channel(ch, &defaults) {
                    route = route.with_fallback(c);
                }
            }
        }
        Ok(route)
    }
}
