//! Post-incident follow-ups: runbook checklist items with a deadline after resolution
//! (`due`) become action items when the incident resolves, owned by the commander, due
//! that long after resolution, sealed with the resolution and reminded through the
//! reminder jobs the paging loop delivers.

use sitrep_store::{ActionItem, Incident, NewJob, Write};

use crate::events;
use crate::library::Library;
use crate::paging::{PageJob, REMINDER_JOB};

/// What the reminder of an action item says it is (the `what` of its job).
pub const ACTION_DUE: &str = "ActionItemDue";

/// A follow-up a runbook asks for: its text, its runbook, how long after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FollowUp {
    pub(crate) source: String,
    pub(crate) text: String,
    pub(crate) due_ms: i64,
}

/// The follow-ups of an incident's runbooks not already among its action items (a
/// second resolution after a reopen adds none twice), in runbook then document order.
pub(crate) fn pending(inc: &Incident, library: &Library, existing: &[ActionItem]) -> Vec<FollowUp> {
    let mut out: Vec<FollowUp> = Vec::new();
    for path in &inc.runbooks {
        let Some(entry) = library.get(path) else {
            continue;
        };
        for item in entry.runbook.checklist.iter().filter(|c| !c.checked) {
            let Some(due) = item.due else { continue };
            let taken = existing.iter().any(|a| a.title == item.text)
                || out.iter().any(|f| f.text == item.text);
            if taken {
                continue;
            }
            out.push(FollowUp {
                source: entry.path.clone(),
                text: item.text.clone(),
                due_ms: i64::try_from(due.as_millis()).unwrap_or(i64::MAX / 4),
            });
        }
    }
    out
}

/// The writes and records that open `follow` as action items at resolution time `now`,
/// with one reminder job each, due when the item is: to the owner's contacts when the
/// owner is a configured person (`contacts`), else a timeline entry.
pub(crate) fn open(
    inc: &Incident,
    follow: &[FollowUp],
    now: i64,
    actor: &crate::identity::Principal,
    contacts: &dyn Fn(&str) -> Vec<sitrep_escalation::Contact>,
) -> (Vec<Write>, Vec<sitrep_ledger::Record>) {
    let owner = inc.roles.get("commander").cloned();
    let mut writes = Vec::new();
    let mut records = Vec::new();
    for f in follow {
        let id = uuid::Uuid::now_v7().to_string();
        let due = now.saturating_add(f.due_ms);
        let item = ActionItem {
            id: id.clone(),
            incident_id: inc.id.clone(),
            title: f.text.clone(),
            owner: owner.clone(),
            due_ms: Some(due),
            status: "open".to_owned(),
            created_ms: now,
            updated_ms: now,
        };
        let mut payload = vec![
            ("action", id.clone()),
            ("title", f.text.clone()),
            ("due_ms", due.to_string()),
            ("source", f.source.clone()),
            (
                "due_after",
                sitrep_runbook::duration::format(std::time::Duration::from_millis(
                    u64::try_from(f.due_ms).unwrap_or(0),
                )),
            ),
        ];
        if let Some(o) = &owner {
            payload.push(("owner", o.clone()));
        }
        writes.push(Write::PutActionItem(item));
        records.push(events::record(
            events::ACTION_ADDED,
            &inc.id,
            now,
            actor,
            payload,
        ));
        let key = format!("{}:action-due:{id}", inc.id);
        let to = owner.as_deref().map(contacts).unwrap_or_default();
        if to.is_empty() {
            writes.push(Write::EnqueueJob(NewJob {
                kind: REMINDER_JOB.to_owned(),
                dedupe_key: key.clone(),
                incident_id: Some(inc.id.clone()),
                payload: serde_json::json!({ "incident_id": inc.id, "what": ACTION_DUE, "action": id }),
                due_ms: due,
            }));
        }
        for c in to {
            let job = PageJob {
                page_id: format!("{key}:{}", c.id),
                incident_id: inc.id.clone(),
                person: owner.clone(),
                method: c.method.kind().to_owned(),
                to: c.method.address().to_owned(),
                level: 0,
                cycle: 0,
                what: ACTION_DUE.to_owned(),
            };
            writes.push(Write::EnqueueJob(NewJob {
                kind: REMINDER_JOB.to_owned(),
                dedupe_key: job.page_id.clone(),
                incident_id: Some(inc.id.clone()),
                payload: serde_json::to_value(&job).unwrap_or_default(),
                due_ms: due,
            }));
        }
    }
    (writes, records)
}

/// Whether an action item is overdue at `now_ms`: still open and past its due time.
#[must_use]
pub fn is_overdue(a: &ActionItem, now_ms: i64) -> bool {
    a.status != "done" && a.due_ms.is_some_and(|d| d < now_ms)
}

impl crate::App {
    /// How many overdue action items each of `incidents` has at `now_ms` (incidents
    /// without any are left out), for the incident list.
    pub async fn overdue_actions(
        &self,
        incidents: &[String],
        now_ms: i64,
    ) -> Result<std::collections::BTreeMap<String, usize>, crate::AppError> {
        let mut out = std::collections::BTreeMap::new();
        for id in incidents {
            let n = self
                .store()
                .action_items(id)
                .await?
                .iter()
                .filter(|a| is_overdue(a, now_ms))
                .count();
            if n > 0 {
                out.insert(id.clone(), n);
            }
        }
        Ok(out)
    }
}

/// The action item a reminder job is about (`…:action-due:ID[:contact]`), if it is one.
#[must_use]
pub fn action_of(dedupe_key: &str) -> Option<&str> {
    let (_, rest) = dedupe_key.split_once(":action-due:")?;
    Some(rest.split(':').next().unwrap_or(rest))
}
