//! One delivery, one commit: a delivery's stored alerts are read in one query, its
//! groups' open incidents in another, and everything it changes (its raw payload, new
//! incidents with their checklists, alert rows, events, auto-triage jobs) is committed
//! as one `Change`. So an incident is never visible without the alerts that opened it,
//! and a delivery costs a fixed number of round trips to the database, not a few per
//! alert; its alert changes are sealed as one record per incident (alert_records.rs).
//! See docs/benchmarks.md, "Ingest side by side with Alertmanager".

use std::collections::{BTreeMap, HashMap};

use sitrep_alerts::{Alert, ChangeKind, GroupKey, Routing, Source, Status};
use sitrep_store::{Change, RawPayload, StoreError, Write};

use crate::alert_records::{AlertRecords, Entry};
use crate::app::NewIncident;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::ingest::{Ingestor, RETRIES, cut_title, from_row, labels_text, source_name};
use crate::stamp::now_ms;

/// A delivery's groups: each group's alerts with their routes, in key order.
pub(crate) type Groups = BTreeMap<GroupKey, Vec<(Alert, Routing)>>;

/// What one committed delivery did.
#[derive(Default)]
pub(crate) struct Delivered {
    pub(crate) changed: usize,
    pub(crate) unchanged: usize,
    pub(crate) opened: Vec<String>,
    pub(crate) updated: Vec<String>,
}

/// Stored alert rows of a delivery, by fingerprint text.
type Rows = HashMap<String, sitrep_store::Alert>;

/// One group of a delivery with changes: its alerts and routes, what changed, and the
/// group's open incident when it has one.
struct Group<'a> {
    source: Source,
    key: &'a GroupKey,
    items: &'a [(Alert, Routing)],
    changed: &'a [sitrep_alerts::Change],
    open: Option<String>,
}

impl Ingestor {
    /// Ingests `groups` (and commits `raw` with them) under every group's lock. The
    /// locks are taken in key order, so two deliveries sharing groups cannot deadlock.
    /// A conflict (another process opened one of the groups' incidents first) redoes
    /// the whole delivery from fresh reads; nothing of a failed try was committed.
    pub(crate) async fn deliver(
        &self,
        source: Source,
        groups: &Groups,
        raw: Option<&RawPayload>,
    ) -> Result<Delivered, AppError> {
        let locks: Vec<_> = groups.keys().map(|k| self.lock_for(k)).collect();
        let mut held = Vec::with_capacity(locks.len());
        for lock in &locks {
            held.push(lock.lock().await);
        }
        let mut tries = 0;
        loop {
            match self.deliver_once(source, groups, raw).await {
                Err(AppError::Store(StoreError::Conflict { .. })) if tries < RETRIES => {
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    async fn deliver_once(
        &self,
        source: Source,
        groups: &Groups,
        raw: Option<&RawPayload>,
    ) -> Result<Delivered, AppError> {
        let store = self.app().store();
        let mut fingerprints: Vec<String> = groups
            .values()
            .flatten()
            .map(|(a, _)| a.fingerprint.to_string())
            .collect();
        fingerprints.sort_unstable();
        fingerprints.dedup();
        let rows: Rows = if fingerprints.is_empty() {
            Rows::new()
        } else {
            store
                .alerts_by_fingerprint(&fingerprints)
                .await?
                .into_iter()
                .map(|r| (r.fingerprint.clone(), r))
                .collect()
        };
        let mut done = Delivered::default();
        let mut changed_groups = Vec::new();
        for (key, items) in groups {
            let changes = group_diff(items, &rows);
            let (changed, unchanged): (Vec<_>, Vec<_>) =
                changes.into_iter().partition(|c| c.kind.changes_state());
            done.unchanged += unchanged.len();
            if !changed.is_empty() {
                changed_groups.push((key, items, changed));
            }
        }
        let keys: Vec<String> = changed_groups.iter().map(|(k, ..)| k.0.clone()).collect();
        let mut open: HashMap<String, String> = if keys.is_empty() {
            HashMap::new()
        } else {
            store
                .open_incidents_for_groups(&keys)
                .await?
                .into_iter()
                .filter_map(|i| Some((i.group_key?, i.id)))
                .collect()
        };
        let mut change = Change::default();
        if let Some(raw) = raw {
            change.writes.push(Write::PutRawPayload(raw.clone()));
        }
        for (key, items, changed) in &changed_groups {
            let group = Group {
                source,
                key,
                items,
                changed,
                open: open.remove(&key.0),
            };
            self.group_change(group, &rows, &mut change, &mut done)?;
            done.changed += changed.len();
        }
        if !change.writes.is_empty() || !change.events.is_empty() {
            store.commit(change).await?;
        }
        Ok(done)
    }

    /// Adds one group's writes and events to the delivery's change: the incident it
    /// opens (when none is open and an alert fires), then its alerts and their events.
    fn group_change(
        &self,
        group: Group<'_>,
        rows: &Rows,
        change: &mut Change,
        done: &mut Delivered,
    ) -> Result<(), AppError> {
        let Group {
            source,
            key,
            items,
            changed,
            mut open,
        } = group;
        let fires = |k: ChangeKind, a: &Alert| {
            matches!(k, ChangeKind::New | ChangeKind::Refired) && a.status == Status::Firing
        };
        if open.is_none() {
            if let Some(first) = changed.iter().find(|c| fires(c.kind, &c.alert)) {
                let routing = items
                    .iter()
                    .find(|(a, _)| a.fingerprint == first.fingerprint)
                    .map(|(_, r)| r);
                let (id, declared) = self.declaration_for(source, key, &first.alert, routing)?;
                change.writes.extend(declared.writes);
                change.events.extend(declared.events);
                // Auto-triage is asked for durably, with the alerts (unattended.rs).
                change.writes.push(crate::unattended::triage_job(&id));
                done.opened.push(id.clone());
                open = Some(id);
            }
        }
        let now = now_ms();
        let actor = Principal::sitrep(&format!("alerts:{}", source_name(source)));
        let mut records = AlertRecords::default();
        for c in changed {
            let a = &c.alert;
            let fp = a.fingerprint.to_string();
            let previous = rows.get(&fp).and_then(|r| r.incident_id.clone());
            // Firing alerts belong to the group's open incident; a resolution stays with
            // the incident its alert was attached to.
            let incident_id = if a.status == Status::Firing {
                open.clone().or(previous)
            } else {
                previous.or_else(|| open.clone())
            };
            change.writes.push(Write::UpsertAlert(alert_row(
                a,
                &fp,
                incident_id.clone(),
                now,
            )));
            let kind = match (c.kind, a.status) {
                (ChangeKind::New | ChangeKind::Refired, Status::Firing) => events::ALERT_FIRING,
                (ChangeKind::Resolved, _) => events::ALERT_RESOLVED,
                _ => continue,
            };
            let Some(inc) = incident_id else { continue };
            if !done.updated.contains(&inc) && !done.opened.contains(&inc) {
                done.updated.push(inc.clone());
            }
            records.push(kind, &inc, self.entry(a, fp));
        }
        change.events.extend(records.records(&key.0, now, &actor));
        Ok(())
    }

    /// How a record lists alert `a` (its summary redacted).
    fn entry(&self, a: &Alert, fingerprint: String) -> Entry {
        Entry {
            fingerprint,
            labels: labels_text(&a.labels),
            alertname: a.labels.get("alertname").cloned(),
            summary: a.annotations.get("summary").map(|s| self.app().redact(s)),
        }
    }

    /// The declaration of a new group's incident, uncommitted (its id and change):
    /// runbook from the route or the runbooks handling the alert's name, severity from
    /// the route, the `severity` label or the runbook, service from the route or the
    /// runbook.
    fn declaration_for(
        &self,
        source: Source,
        key: &GroupKey,
        alert: &Alert,
        routing: Option<&Routing>,
    ) -> Result<(String, Change), AppError> {
        let app = self.app();
        let library = app.library();
        let alertname = alert.labels.get("alertname").cloned();
        let runbook = routing
            .and_then(|r| r.runbook.as_deref())
            .and_then(|r| library.get(r))
            .or_else(|| {
                alertname
                    .as_deref()
                    .and_then(|n| library.handlers(n).first().and_then(|p| library.get(p)))
            });
        let front = runbook.and_then(|e| e.runbook.front_matter.as_ref());
        let scale = app.scale();
        let severity = [
            routing.and_then(|r| r.severity.clone()),
            alert.labels.get("severity").cloned(),
            front.and_then(|f| f.severity.clone()),
        ]
        .into_iter()
        .flatten()
        .find_map(|s| scale.normalize(&s).ok());
        let service = routing
            .and_then(|r| r.service.clone())
            .or_else(|| front.and_then(|f| f.service.clone()));
        let summary = alert
            .annotations
            .get("summary")
            .or_else(|| alert.annotations.get("title"));
        let title = match (&alertname, summary) {
            (Some(n), Some(s)) => format!("{n}: {s}"),
            (Some(n), None) => n.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => format!("alert {}", labels_text(&alert.labels)),
        };
        let new = NewIncident {
            title: cut_title(&title),
            severity,
            service,
            runbooks: runbook.map(|e| vec![e.path.clone()]).unwrap_or_default(),
            commander: None,
            group_key: Some(key.0.clone()),
        };
        let actor = Principal::sitrep(&format!("alerts:{}", source_name(source)));
        let (incident, change) = app.declaration(new, &actor)?;
        Ok((incident.id, change))
    }
}

/// The group's changes against its stored alerts.
fn group_diff(items: &[(Alert, Routing)], rows: &Rows) -> Vec<sitrep_alerts::Change> {
    let mut known = BTreeMap::new();
    for (a, _) in items {
        if let Some(row) = rows.get(&a.fingerprint.to_string()) {
            known.insert(a.fingerprint, from_row(row, a.fingerprint));
        }
    }
    let incoming: Vec<Alert> = items.iter().map(|(a, _)| a.clone()).collect();
    sitrep_alerts::diff(&known, &incoming)
}

/// The stored row of an alert.
fn alert_row(a: &Alert, fp: &str, incident_id: Option<String>, now: i64) -> sitrep_store::Alert {
    sitrep_store::Alert {
        fingerprint: fp.to_owned(),
        source: source_name(a.source).to_owned(),
        status: match a.status {
            Status::Firing => "firing".to_owned(),
            Status::Resolved => "resolved".to_owned(),
        },
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        starts_ms: a.starts_at.map_or(now, |t| t.as_millisecond()),
        ends_ms: a.ends_at.map(|t| t.as_millisecond()),
        incident_id,
        updated_ms: now,
    }
}
