//! Paging by hand and the on-call view: escalate an incident to the next level of its
//! policy now, page one person now (adding them as a responder), and who is on call in
//! each rotation with the next hand-offs and overrides. The pages are durable jobs the
//! pager delivers like any other, sealed with the event that asked for them.

use serde::Serialize;
use sitrep_escalation::{IncidentState, ManualError, Page, Timestamp};
use sitrep_store::{Change, Incident};

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::paging::PageJob;
use crate::stamp::now_ms;

/// Job kind of a page asked for by hand: delivered even after acknowledgement (the
/// person asking wants that help now), unlike the policy's own pages.
pub const MANUAL_PAGE_JOB: &str = "page.manual";

/// Hand-offs shown per rotation.
const HANDOVERS: usize = 3;

/// Who was paged by hand, for the caller to say so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paged {
    /// The level escalated to, counted from 1 as on the timeline (`page.escalated`)
    /// and in the 409 `no_level_left` message, when escalating.
    pub level: Option<usize>,
    /// People paged (a channel is named `channel:ID`).
    pub to: Vec<String>,
    /// Page jobs enqueued (one per contact method).
    pub pages: usize,
}

/// One rotation now: who is on call, who is scheduled, the coming hand-offs and the
/// overrides in force or to come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationNow {
    /// The rotation id.
    pub id: String,
    /// The person on call now (an override wins), with their display name.
    pub on_call: Option<(String, String)>,
    /// Whether an override put them there.
    pub overridden: bool,
    /// Its hand-off time zone.
    pub time_zone: String,
    /// The next hand-offs: when (ms) and to whom.
    pub handovers: Vec<(i64, String)>,
    /// Overrides in force or to come: start and end (ms) and who.
    pub overrides: Vec<(i64, i64, String)>,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn manual_error(e: ManualError) -> AppError {
    match e {
        ManualError::UnknownPerson(_) | ManualError::NoContact(_) => {
            AppError::invalid("person", e.to_string())
        }
        // The incident's state, not a rule, is why: escalating is used up (409).
        ManualError::NoLevelLeft { policy, levels } => AppError::NoLevelLeft { policy, levels },
        ManualError::Policy(_) => AppError::Denied {
            reason: e.to_string(),
        },
    }
}

impl App {
    /// The engine's view of `inc`, with every page and reminder already enqueued as sent.
    /// A reminder's job key is the engine's id plus the contact (`…:update:…:carol-hook`);
    /// contact ids have no `:`, so the engine's id is the key without its last segment.
    pub(crate) async fn engine_state(
        &self,
        inc: &Incident,
        service: &str,
    ) -> Result<IncidentState, AppError> {
        let mut st = IncidentState::declared(&inc.id, service, &inc.severity, ts(inc.created_ms));
        st.acknowledged_at = inc.acknowledged_ms.map(ts);
        st.resolved_at = inc.resolved_ms.map(ts);
        st.commander = inc.roles.get("commander").cloned();
        st.last_update_at = inc.last_update_ms.map(ts);
        // The runbook's scale for this level wins over the config's (docs/incidents.md).
        let library = self.library();
        st.severity_settings = crate::severity::runbook_settings(
            inc.runbooks
                .iter()
                .filter_map(|p| library.get(p))
                .map(|e| &e.runbook),
            &inc.severity,
            self.escalation()
                .and_then(|cfg| cfg.severity(&inc.severity))
                .as_ref(),
        );
        st.sent = self
            .store()
            .jobs_for(&inc.id)
            .await?
            .into_iter()
            .flat_map(|j| {
                let engine_id = (j.kind == crate::paging::REMINDER_JOB)
                    .then(|| j.dedupe_key.rsplit_once(':').map(|(id, _)| id.to_owned()))
                    .flatten();
                std::iter::once(j.dedupe_key).chain(engine_id)
            })
            .collect();
        Ok(st)
    }

    /// Pages the next level of the incident's escalation policy now (the first level not
    /// yet fired or escalated to; see `sitrep_escalation::escalate_now`), sealed as a
    /// `page.escalated` event. The sweeper will not page that level again.
    ///
    /// # Errors
    /// No escalation config, an incident without a service or resolved, or a policy with
    /// no level left.
    pub async fn escalate_now(&self, id: &str, actor: &Principal) -> Result<Paged, AppError> {
        actor.check()?;
        let inc = self.open_incident(id).await?;
        let cfg = self.escalation_config()?;
        let service = inc.service.clone().ok_or_else(|| AppError::Denied {
            reason: "the incident has no service, so no escalation policy".into(),
        })?;
        let st = self.engine_state(&inc, &service).await?;
        let now = now_ms();
        let pages = sitrep_escalation::escalate_now(cfg, &st, ts(now)).map_err(manual_error)?;
        // The engine counts levels from 0; people (and every output) from 1.
        let level = pages.first().map(|p| p.level + 1);
        let policy = pages.first().map(|p| p.policy.clone()).unwrap_or_default();
        let extra = vec![
            ("level", level.unwrap_or(0).to_string()),
            ("policy", policy),
        ];
        self.enqueue_pages(&inc, pages, events::PAGE_ESCALATED, extra, actor, now)
            .await
            .map(|p| Paged { level, ..p })
    }

    /// Pages `person` (an escalation config person id) now on every contact method,
    /// adding them as a responder, sealed as a `page.requested` event.
    ///
    /// # Errors
    /// No escalation config, a resolved incident, or an unknown person or one without a
    /// contact method.
    pub async fn page_person(
        &self,
        id: &str,
        person: &str,
        actor: &Principal,
    ) -> Result<Paged, AppError> {
        actor.check()?;
        let inc = self.open_incident(id).await?;
        let cfg = self.escalation_config()?;
        let now = now_ms();
        let tag = uuid::Uuid::now_v7().simple().to_string();
        let pages = sitrep_escalation::page_person(cfg, &inc.id, person.trim(), &tag, ts(now))
            .map_err(manual_error)?;
        let payload = vec![("person", person.trim().to_owned())];
        self.enqueue_pages(&inc, pages, events::PAGE_REQUESTED, payload, actor, now)
            .await
    }

    /// Who is on call now in every rotation, with the next hand-offs and overrides.
    /// Empty without an escalation config.
    #[must_use]
    pub fn on_call_now(&self, now: i64) -> Vec<RotationNow> {
        let Some(cfg) = self.escalation() else {
            return Vec::new();
        };
        let at = ts(now);
        let name = |id: &str| {
            cfg.person(id)
                .map_or_else(|| id.to_owned(), |p| p.name.clone())
        };
        cfg.rotations
            .iter()
            .map(|r| {
                let on_call = r.on_call(at).map(str::to_owned);
                RotationNow {
                    id: r.id.clone(),
                    overridden: on_call.as_deref() != r.scheduled(at),
                    on_call: on_call.map(|p| (name(&p), p)),
                    time_zone: r.time_zone.name.clone(),
                    handovers: r
                        .handovers(at, HANDOVERS)
                        .into_iter()
                        .map(|h| (h.at.as_millisecond(), name(&h.to)))
                        .collect(),
                    overrides: r
                        .overrides_after(at)
                        .into_iter()
                        .map(|o| {
                            (
                                o.start.as_millisecond(),
                                o.end.as_millisecond(),
                                name(&o.person),
                            )
                        })
                        .collect(),
                }
            })
            .collect()
    }

    fn escalation_config(&self) -> Result<&sitrep_escalation::Config, AppError> {
        self.escalation().ok_or_else(|| AppError::Denied {
            reason: "paging is not configured (no escalation config)".into(),
        })
    }

    async fn open_incident(&self, id: &str) -> Result<Incident, AppError> {
        let inc = self.incident(id).await?;
        if inc.resolved_ms.is_some() {
            return Err(AppError::Denied {
                reason: format!("incident #{} is resolved; reopen it to page", inc.number),
            });
        }
        Ok(inc)
    }

    /// Enqueues `pages` as manual page jobs due now, with one `kind` event naming who.
    async fn enqueue_pages(
        &self,
        inc: &Incident,
        pages: Vec<Page>,
        kind: &str,
        mut payload: Vec<(&'static str, String)>,
        actor: &Principal,
        now: i64,
    ) -> Result<Paged, AppError> {
        let mut to: Vec<String> = Vec::new();
        let mut writes = Vec::new();
        for p in &pages {
            let who = p.person.clone().unwrap_or_else(|| p.target.to_string());
            if !to.contains(&who) {
                to.push(who);
            }
            writes.push(PageJob::enqueue(p, MANUAL_PAGE_JOB, now)?);
        }
        payload.push(("to", to.join(", ")));
        payload.push(("pages", pages.len().to_string()));
        self.store()
            .commit(Change {
                writes,
                events: vec![events::record(kind, &inc.id, now, actor, payload)],
            })
            .await?;
        Ok(Paged {
            level: None,
            to,
            pages: pages.len(),
        })
    }
}
