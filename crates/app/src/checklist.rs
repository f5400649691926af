//! Checklist and action-item use cases: ticking checklist items, adding and completing
//! action items.

use sitrep_store::{ActionItem, Change, ChecklistItem, Write};

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::stamp::now_ms;

impl App {
    /// Ticks (or unticks) a checklist item, named by its number in `checklist` order
    /// (1-based) or by a unique piece of its text.
    pub async fn tick(
        &self,
        id: &str,
        item: &str,
        checked: bool,
        actor: &Principal,
    ) -> Result<ChecklistItem, AppError> {
        actor.check()?;
        let incident = self.incident(id).await?;
        let items = self.inner.store.checklist(&incident.id).await?;
        let found = find_item(&items, item)?;
        if checked && !found.checked && crate::thresholds::is_thresholds_gate(&found.text) {
            self.thresholds_gate(&incident.id, actor).await?;
        }
        let mut row = found.clone();
        let now = now_ms();
        row.checked = checked;
        row.checked_by = checked.then(|| actor.name.clone());
        row.checked_ms = checked.then_some(now);
        let kind = if checked {
            events::CHECK
        } else {
            events::UNCHECK
        };
        let payload = vec![
            ("source", row.source.clone()),
            ("item", row.item_id.clone()),
            ("text", row.text.clone()),
        ];
        self.inner
            .store
            .commit(Change {
                writes: vec![Write::PutChecklistItem(row.clone())],
                events: vec![events::record(kind, &incident.id, now, actor, payload)],
            })
            .await?;
        Ok(row)
    }

    /// Adds an action item.
    pub async fn add_action(
        &self,
        id: &str,
        title: &str,
        owner: Option<&str>,
        due_ms: Option<i64>,
        actor: &Principal,
    ) -> Result<ActionItem, AppError> {
        actor.check()?;
        let title = self.redact(title.trim());
        if title.is_empty() {
            return Err(AppError::invalid("title", "must not be empty"));
        }
        let incident = self.incident(id).await?;
        let now = now_ms();
        let item = ActionItem {
            id: uuid::Uuid::now_v7().to_string(),
            incident_id: incident.id.clone(),
            title: title.clone(),
            owner: owner.map(str::to_owned),
            due_ms,
            status: "open".to_owned(),
            created_ms: now,
            updated_ms: now,
        };
        let mut payload = vec![("action", item.id.clone()), ("title", title)];
        if let Some(o) = owner {
            payload.push(("owner", o.to_owned()));
        }
        if let Some(d) = due_ms {
            payload.push(("due_ms", d.to_string()));
        }
        self.inner
            .store
            .commit(Change {
                writes: vec![Write::PutActionItem(item.clone())],
                events: vec![events::record(
                    events::ACTION_ADDED,
                    &incident.id,
                    now,
                    actor,
                    payload,
                )],
            })
            .await?;
        Ok(item)
    }

    /// Marks an action item done; `action` is its id or a unique id prefix.
    pub async fn complete_action(
        &self,
        id: &str,
        action: &str,
        actor: &Principal,
    ) -> Result<ActionItem, AppError> {
        actor.check()?;
        let incident = self.incident(id).await?;
        let items = self.inner.store.action_items(&incident.id).await?;
        let matches: Vec<_> = items
            .iter()
            .enumerate()
            .filter(|(n, a)| a.id.starts_with(action) || (n + 1).to_string() == action)
            .collect();
        let [(_, found)] = matches.as_slice() else {
            return Err(if matches.is_empty() {
                AppError::NotFound {
                    what: "action item",
                    id: action.to_owned(),
                }
            } else {
                AppError::invalid(
                    "action",
                    format!("{action:?} matches {} action items", matches.len()),
                )
            });
        };
        let mut item = (*found).clone();
        let now = now_ms();
        item.status = "done".to_owned();
        item.updated_ms = now;
        let payload = vec![("action", item.id.clone()), ("title", item.title.clone())];
        self.inner
            .store
            .commit(Change {
                writes: vec![Write::PutActionItem(item.clone())],
                events: vec![events::record(
                    events::ACTION_DONE,
                    &incident.id,
                    now,
                    actor,
                    payload,
                )],
            })
            .await?;
        Ok(item)
    }
}

/// The checklist item `key` names: its 1-based number or a unique piece of its text.
fn find_item<'a>(items: &'a [ChecklistItem], key: &str) -> Result<&'a ChecklistItem, AppError> {
    if let Ok(n) = key.trim().parse::<usize>() {
        return n
            .checked_sub(1)
            .and_then(|i| items.get(i))
            .ok_or_else(|| AppError::NotFound {
                what: "checklist item",
                id: key.to_owned(),
            });
    }
    let needle = key.trim().to_lowercase();
    let hits: Vec<_> = items
        .iter()
        .filter(|i| i.text.to_lowercase().contains(&needle))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(AppError::NotFound {
            what: "checklist item",
            id: key.to_owned(),
        }),
        many => Err(AppError::invalid(
            "item",
            format!("{key:?} matches {} items; use its number", many.len()),
        )),
    }
}
