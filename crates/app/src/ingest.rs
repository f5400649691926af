//! Alert ingestion: a webhook payload becomes alert rows, timeline events and, for a new
//! group, one incident.
//!
//! ```text
//!  raw bytes ──► store_raw (durable first) ──► parse ──► silence ──► route + group
//!     ──► per group, under the group's lock: diff against stored alerts
//!     ──► open incident of the group (or declare one) ──► upsert alerts + events
//! ```
//!
//! Repeats and duplicates change nothing (the alerts crate's `diff` is idempotent and
//! only changes make events), so a sender retrying or re-sending its snapshot every
//! minute adds nothing to the timeline. One group has at most one open incident: within
//! a process a per-group lock serialises deliveries, and across processes the store's
//! one-open-incident-per-group rule turns a lost race into a conflict we retry.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use sitrep_alerts::{
    Alert, Batch, ChangeKind, Fingerprint, GroupKey, PayloadError, Routing, Silence, Source,
    Status, Timestamp,
};
use sitrep_runbook::Role;
use sitrep_store::{Change, Incident, RawPayload, StoreError, Write};

use crate::app::{App, NewIncident};
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::payloads::RawBudget;
use crate::runs::RunReport;
use crate::stamp::now_ms;

/// The actor auto-triage runs are recorded under.
pub const AUTO_TRIAGE_ACTOR: &str = "auto-triage";

/// Sections auto-triage runs the read steps of.
pub const AUTO_TRIAGE_ROLES: [Role; 2] = [Role::Diagnosis, Role::Symptoms];

/// Times a group is retried after losing a race to another process.
const RETRIES: usize = 4;

/// What one delivery did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// The stored raw payload's id.
    pub payload_id: String,
    /// Alerts in the payload.
    pub alerts: usize,
    /// Alerts muted by a silence (not stored, no events).
    pub silenced: usize,
    /// Alerts that changed something (new, fired again, resolved, updated).
    pub changed: usize,
    /// Repeats and stale deliveries: nothing to do.
    pub unchanged: usize,
    /// Alert groups in the payload.
    pub groups: usize,
    /// Incidents opened by this delivery (auto-triage is due for these).
    pub opened: Vec<String>,
    /// Existing incidents that got alerts or events.
    pub updated: Vec<String>,
}

/// Ingests payloads for one [`App`]: holds the per-group locks and the silences made
/// through the API (configured silences are added at construction).
pub struct Ingestor {
    app: App,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    silences: RwLock<Vec<Silence>>,
    raw_budget: RawBudget,
    skipped: Mutex<Vec<SkippedSilence>>,
}

/// A stored silence not loaded at start: it does not parse, is over one silence's
/// caps, or would pass the server's regex budget (`[server.regex_budget]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedSilence {
    /// The stored silence's id.
    pub id: String,
    /// Why it was skipped.
    pub reason: String,
}

/// A delivery as stored: its id, the redacted bytes, and the parsed batch or why it
/// does not parse.
pub struct StoredPayload {
    /// The raw payload's id; `None` for a rejected payload the cap left unstored.
    pub id: Option<String>,
    /// The redacted bytes, which are what ingestion reads.
    pub body: Vec<u8>,
    /// The parsed payload, or the error to answer (400, naming the field).
    pub batch: Result<Batch, AppError>,
}

/// The name a source is stored and labelled under.
#[must_use]
pub fn source_name(source: Source) -> &'static str {
    match source {
        Source::Alertmanager => "alertmanager",
        Source::Grafana => "grafana",
        Source::Generic => "generic",
    }
}

fn parse_source(name: &str) -> Source {
    match name {
        "alertmanager" => Source::Alertmanager,
        "grafana" => Source::Grafana,
        _ => Source::Generic,
    }
}

/// The field a payload error is about, for the API's `field`.
fn payload_field(e: &PayloadError) -> String {
    match e {
        PayloadError::Json { path, .. }
        | PayloadError::TooManyLabels { path, .. }
        | PayloadError::TooLong { path, .. }
        | PayloadError::Fingerprint { path, .. }
        | PayloadError::NoLabels { path } => path.clone(),
        PayloadError::Version { .. } => "version".to_owned(),
        PayloadError::TooManyAlerts { .. } => "alerts".to_owned(),
    }
}

/// Parses a payload of `source`; errors name the field.
pub fn parse(source: Source, body: &[u8]) -> Result<Batch, AppError> {
    let parsed = match source {
        Source::Alertmanager => sitrep_alerts::parse_alertmanager(body),
        Source::Grafana => sitrep_alerts::parse_grafana(body),
        Source::Generic => sitrep_alerts::parse_generic(body),
    };
    parsed.map_err(|e| AppError::Invalid {
        field: payload_field(&e),
        message: e.to_string(),
    })
}

fn ms_to_ts(ms: i64) -> Option<Timestamp> {
    (ms != 0)
        .then(|| Timestamp::from_millisecond(ms).ok())
        .flatten()
}

/// Millisecond precision: the store keeps milliseconds, so a comparison with a stored
/// alert must not see a difference in nanoseconds as a change.
fn truncate(ts: Option<Timestamp>) -> Option<Timestamp> {
    ts.and_then(|t| Timestamp::from_millisecond(t.as_millisecond()).ok())
}

/// The stored row as the alerts crate sees it (the generator URL is not stored).
fn from_row(row: &sitrep_store::Alert, fingerprint: Fingerprint) -> Alert {
    Alert {
        source: parse_source(&row.source),
        fingerprint,
        status: if row.status == "resolved" {
            Status::Resolved
        } else {
            Status::Firing
        },
        labels: row.labels.clone(),
        annotations: row.annotations.clone(),
        starts_at: ms_to_ts(row.starts_ms),
        ends_at: row.ends_ms.and_then(ms_to_ts),
        generator_url: None,
    }
}

fn cut_title(text: &str) -> String {
    events::cut(text, 400)
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(","))
}

impl Ingestor {
    /// An ingestor for `app`, muting with the configured silences.
    #[must_use]
    pub fn new(app: App) -> Ingestor {
        let silences = app.config().server.silences.clone();
        let raw_budget = RawBudget::new(app.config().server.receivers.raw_max_bytes);
        Ingestor {
            app,
            locks: Mutex::new(HashMap::new()),
            silences: RwLock::new(silences),
            raw_budget,
            skipped: Mutex::new(Vec::new()),
        }
    }

    /// The app it ingests into.
    #[must_use]
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Every silence, configured and API-made, expired ones included.
    #[must_use]
    pub fn silences(&self) -> Vec<Silence> {
        self.silences
            .read()
            .map_or_else(|p| p.into_inner().clone(), |s| s.clone())
    }

    /// An ingestor with the configured silences and those stored through the API. A
    /// stored silence that does not parse, is over one silence's caps or would pass the
    /// server's regex budget is skipped with a log line and listed in
    /// [`Ingestor::skipped_silences`]: it can never stop the start.
    pub async fn load(app: App) -> Result<Ingestor, AppError> {
        let stored = app.store().silences().await?;
        let ing = Ingestor::new(app);
        for (id, body) in stored {
            if let Err(reason) = ing.load_stored(&body) {
                tracing::warn!(silence = %id, %reason, "stored silence skipped");
                ing.skipped
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(SkippedSilence { id, reason });
            }
        }
        Ok(ing)
    }

    fn load_stored(&self, body: &str) -> Result<(), String> {
        // Parsing compiles at most one silence's capped regexes (`capped_matchers`).
        let s: Silence = serde_json::from_str(body).map_err(|e| format!("does not parse: {e}"))?;
        self.within_budget(&s)?;
        let mut all = self
            .silences
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !all.iter().any(|x| x.id == s.id) {
            all.push(s);
        }
        Ok(())
    }

    /// Stored silences not loaded at start, and why.
    #[must_use]
    pub fn skipped_silences(&self) -> Vec<SkippedSilence> {
        self.skipped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether `s` fits one silence's caps and, with the silences in force, the
    /// server's regex budget; else why not.
    fn within_budget(&self, s: &Silence) -> Result<(), String> {
        let cost = s.regex_cost();
        if let Some(why) = cost.over_silence_caps(s.matchers.len()) {
            return Err(format!("too costly: {why}"));
        }
        let budget = &self.app.config().server.regex_budget;
        let used = self
            .silences()
            .iter()
            .fold(sitrep_alerts::RegexCost::default(), |c, x| {
                c.plus(x.regex_cost())
            });
        let total = used.plus(cost);
        if total.regexes > budget.max_regexes {
            return Err(format!(
                "the server's silences would hold {} regex matchers, over its budget of {} \
                 ([server.regex_budget] max_regexes); remove silences or use = matchers",
                total.regexes, budget.max_regexes
            ));
        }
        if total.bytes > budget.max_bytes {
            return Err(format!(
                "the server's silences' regexes would compile to {} KiB, over its budget of \
                 {} KiB ([server.regex_budget] max_bytes)",
                total.bytes >> 10,
                budget.max_bytes >> 10
            ));
        }
        Ok(())
    }

    /// Adds a silence by `actor` (who it records as `created_by`): stored durably with
    /// a `silence.created` ledger event (who, what, when), then in force.
    pub async fn create_silence(
        &self,
        silence: Silence,
        actor: &Principal,
    ) -> Result<Silence, AppError> {
        self.create_silence_for(silence, actor, None).await
    }

    /// [`Ingestor::create_silence`], its event on `incident`'s timeline when given.
    pub(crate) async fn create_silence_for(
        &self,
        mut silence: Silence,
        actor: &Principal,
        incident: Option<&str>,
    ) -> Result<Silence, AppError> {
        actor.check()?;
        silence.created_by.clone_from(&actor.name);
        self.check_silence(&silence)?;
        silence.comment = self.app.redact(&silence.comment);
        let body =
            serde_json::to_string(&silence).map_err(|e| AppError::Internal(e.to_string()))?;
        let now = now_ms();
        let matchers: Vec<String> = silence.matchers.iter().map(ToString::to_string).collect();
        let mut rec = events::unattached("silence.created", now, actor);
        rec.incident = incident.map(str::to_owned);
        rec.payload = [
            ("silence".to_owned(), silence.id.clone()),
            (
                "matchers".to_owned(),
                crate::events::cut(&matchers.join(", "), 4096),
            ),
            ("starts_at".to_owned(), silence.starts_at.to_string()),
            ("ends_at".to_owned(), silence.ends_at.to_string()),
            (
                "comment".to_owned(),
                crate::events::cut(&silence.comment, 4096),
            ),
        ]
        .into_iter()
        .collect();
        self.app
            .store()
            .commit(sitrep_store::Change {
                writes: vec![sitrep_store::Write::PutSilence {
                    id: silence.id.clone(),
                    body,
                    created_ms: now,
                }],
                events: vec![rec],
            })
            .await
            .map_err(|e| match e {
                sitrep_store::StoreError::Conflict { .. } => {
                    AppError::invalid("id", "a silence with this id exists")
                }
                e => e.into(),
            })?;
        self.add_silence(silence)
    }

    /// Removes a stored silence, with a `silence.removed` ledger event; false when there
    /// was none. Configured silences cannot be removed here (edit the config).
    pub async fn delete_silence(&self, id: &str, actor: &Principal) -> Result<bool, AppError> {
        actor.check()?;
        let mut rec = events::unattached("silence.removed", now_ms(), actor);
        rec.payload = [("silence".to_owned(), id.to_owned())]
            .into_iter()
            .collect();
        match self
            .app
            .store()
            .commit(sitrep_store::Change {
                writes: vec![sitrep_store::Write::DeleteSilence { id: id.to_owned() }],
                events: vec![rec],
            })
            .await
        {
            Ok(_) => Ok(self.remove_silence(id)),
            Err(sitrep_store::StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn check_silence(&self, silence: &Silence) -> Result<(), AppError> {
        if silence.matchers.is_empty() {
            return Err(AppError::invalid(
                "matchers",
                "a silence needs at least one matcher",
            ));
        }
        if silence.ends_at <= silence.starts_at {
            return Err(AppError::invalid("ends_at", "must be after starts_at"));
        }
        self.within_budget(silence)
            .map_err(|why| AppError::invalid("matchers", why))
    }

    /// Adds a silence in memory only (tests; the API uses [`Ingestor::create_silence`]).
    pub fn add_silence(&self, silence: Silence) -> Result<Silence, AppError> {
        if silence.matchers.is_empty() {
            return Err(AppError::invalid(
                "matchers",
                "a silence needs at least one matcher",
            ));
        }
        if silence.ends_at <= silence.starts_at {
            return Err(AppError::invalid("ends_at", "must be after starts_at"));
        }
        let mut all = self
            .silences
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if all.iter().any(|s| s.id == silence.id) {
            return Err(AppError::invalid("id", "a silence with this id exists"));
        }
        all.push(silence.clone());
        Ok(silence)
    }

    /// Removes a silence by id; true when there was one.
    pub fn remove_silence(&self, id: &str) -> bool {
        let mut all = self
            .silences
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = all.len();
        all.retain(|s| s.id != id);
        all.len() != before
    }

    fn lock_for(&self, key: &GroupKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget locks nobody holds, so the map does not grow with every group ever seen.
        if map.len() > 4096 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(key.0.clone()).or_default().clone()
    }

    /// Redacts secrets in a payload before it is stored anywhere (an annotation with a
    /// password in a URL, a bearer token in a label). The result stays valid JSON: if
    /// redacting the text would break it, the string values are redacted one by one.
    #[must_use]
    pub fn redact_payload(&self, body: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(body);
        let red = self.app.redact(&text);
        if red == text {
            return body.to_vec();
        }
        let parses = |t: &str| serde_json::from_str::<serde_json::Value>(t).is_ok();
        if parses(&red) || !parses(&text) {
            return red.into_bytes();
        }
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        redact_strings(&mut value, &|s| self.app.redact(s));
        serde_json::to_vec(&value).unwrap_or_else(|_| red.into_bytes())
    }

    /// Stores the raw payload durably, redacted, before it is interpreted: nothing
    /// accepted is lost even when ingestion fails later. It is parsed first (parsing is
    /// pure) so the row says whether it was rejected, which decides how long it is kept
    /// and what the cap evicts first. Past `raw_max_bytes` older payloads are evicted;
    /// a rejected one that would need an accepted one evicted is not stored at all.
    pub async fn store_raw(&self, source: Source, body: &[u8]) -> Result<StoredPayload, AppError> {
        let body = self.redact_payload(body);
        let batch = parse(source, &body);
        let rejected = batch.is_err();
        let size = u64::try_from(body.len()).unwrap_or(u64::MAX);
        let store = self.app.store();
        if !self.raw_budget.admit(store, size, rejected).await? {
            return Ok(StoredPayload {
                id: None,
                body,
                batch,
            });
        }
        let id = uuid::Uuid::now_v7().to_string();
        store
            .put_raw_payload(&RawPayload {
                id: id.clone(),
                source: source_name(source).to_owned(),
                received_ms: now_ms(),
                body: body.clone(),
                rejected,
            })
            .await?;
        Ok(StoredPayload {
            id: Some(id),
            body,
            batch,
        })
    }

    /// Interprets a stored payload: parse, silence, route, group, and per group update
    /// the alerts and the group's incident.
    pub async fn ingest(
        &self,
        source: Source,
        payload_id: &str,
        body: &[u8],
    ) -> Result<IngestReport, AppError> {
        let batch = parse(source, body)?;
        self.ingest_batch(source, payload_id, &batch).await
    }

    /// [`Ingestor::ingest`] of a payload already parsed (by [`Ingestor::store_raw`]).
    pub async fn ingest_batch(
        &self,
        source: Source,
        payload_id: &str,
        batch: &Batch,
    ) -> Result<IngestReport, AppError> {
        let now = now_ms();
        let now_ts = Timestamp::from_millisecond(now).unwrap_or(Timestamp::UNIX_EPOCH);
        let silences = self.silences();
        let config = &self.app.config().alerts;
        let mut report = IngestReport {
            payload_id: payload_id.to_owned(),
            alerts: batch.alerts.len(),
            ..IngestReport::default()
        };
        let mut groups: BTreeMap<GroupKey, Vec<(Alert, Routing)>> = BTreeMap::new();
        for mut alert in batch.alerts.iter().cloned() {
            if sitrep_alerts::is_silenced(&alert, &silences, now_ts) {
                report.silenced += 1;
                continue;
            }
            alert.starts_at = truncate(alert.starts_at);
            alert.ends_at = truncate(alert.ends_at);
            alert.generator_url = None;
            let routing = sitrep_alerts::route(config, &alert.labels);
            let key = sitrep_alerts::group_key(batch, &alert, &routing);
            groups.entry(key).or_default().push((alert, routing));
        }
        report.groups = groups.len();
        for (key, items) in groups {
            let lock = self.lock_for(&key);
            let _held = lock.lock().await;
            let mut tries = 0;
            loop {
                match self.ingest_group(source, &key, &items, &mut report).await {
                    Err(AppError::Store(StoreError::Conflict { .. })) if tries < RETRIES => {
                        tries += 1;
                    }
                    other => break other?,
                }
            }
        }
        Ok(report)
    }

    async fn ingest_group(
        &self,
        source: Source,
        key: &GroupKey,
        items: &[(Alert, Routing)],
        report: &mut IngestReport,
    ) -> Result<(), AppError> {
        let store = self.app.store();
        let mut known = BTreeMap::new();
        let mut rows = HashMap::new();
        for (a, _) in items {
            if rows.contains_key(&a.fingerprint) {
                continue;
            }
            if let Some(row) = store.alert(&a.fingerprint.to_string()).await? {
                known.insert(a.fingerprint, from_row(&row, a.fingerprint));
                rows.insert(a.fingerprint, row);
            }
        }
        let incoming: Vec<Alert> = items.iter().map(|(a, _)| a.clone()).collect();
        let changes = sitrep_alerts::diff(&known, &incoming);
        let routing_of: HashMap<Fingerprint, &Routing> =
            items.iter().map(|(a, r)| (a.fingerprint, r)).collect();
        let mut changed = Vec::new();
        let mut unchanged = 0;
        for c in changes {
            if c.kind.changes_state() {
                changed.push(c);
            } else {
                unchanged += 1;
            }
        }
        if changed.is_empty() {
            report.unchanged += unchanged;
            return Ok(());
        }
        let fires = |k: ChangeKind, a: &Alert| {
            matches!(k, ChangeKind::New | ChangeKind::Refired) && a.status == Status::Firing
        };
        let mut open = store.open_incident_for_group(&key.0).await?;
        if open.is_none() {
            if let Some(first) = changed.iter().find(|c| fires(c.kind, &c.alert)) {
                let routing = routing_of.get(&first.fingerprint).copied();
                let incident = self.declare_for(source, key, &first.alert, routing).await?;
                report.opened.push(incident.id.clone());
                open = Some(incident);
            }
        }
        let now = now_ms();
        let actor = Principal::sitrep(&format!("alerts:{}", source_name(source)));
        let mut writes = Vec::with_capacity(changed.len() + 1);
        // Auto-triage is asked for durably, with the alerts (unattended.rs).
        writes.extend(
            report
                .opened
                .iter()
                .filter(|id| open.as_ref().is_some_and(|o| &o.id == *id))
                .map(|id| crate::unattended::triage_job(id)),
        );
        let mut records = Vec::new();
        for c in &changed {
            let a = &c.alert;
            let fp = a.fingerprint.to_string();
            let previous = rows.get(&a.fingerprint).and_then(|r| r.incident_id.clone());
            // Firing alerts belong to the group's open incident; a resolution stays with
            // the incident its alert was attached to.
            let incident_id = if a.status == Status::Firing {
                open.as_ref().map(|i| i.id.clone()).or(previous)
            } else {
                previous.or_else(|| open.as_ref().map(|i| i.id.clone()))
            };
            writes.push(Write::UpsertAlert(sitrep_store::Alert {
                fingerprint: fp.clone(),
                source: source_name(a.source).to_owned(),
                status: match a.status {
                    Status::Firing => "firing".to_owned(),
                    Status::Resolved => "resolved".to_owned(),
                },
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_ms: a.starts_at.map_or(now, |t| t.as_millisecond()),
                ends_ms: a.ends_at.map(|t| t.as_millisecond()),
                incident_id: incident_id.clone(),
                updated_ms: now,
            }));
            let kind = match (c.kind, a.status) {
                (ChangeKind::New | ChangeKind::Refired, Status::Firing) => events::ALERT_FIRING,
                (ChangeKind::Resolved, _) => events::ALERT_RESOLVED,
                _ => continue,
            };
            let Some(inc) = incident_id else { continue };
            let mut payload = vec![
                ("fingerprint", fp),
                ("labels", labels_text(&a.labels)),
                ("group", key.0.clone()),
            ];
            if let Some(n) = a.labels.get("alertname") {
                payload.push(("alertname", n.clone()));
            }
            if let Some(s) = a.annotations.get("summary") {
                payload.push(("summary", self.app.redact(s)));
            }
            if !report.updated.contains(&inc) && !report.opened.contains(&inc) {
                report.updated.push(inc.clone());
            }
            records.push(events::record(kind, &inc, now, &actor, payload));
        }
        store
            .commit(Change {
                writes,
                events: records,
            })
            .await?;
        // Counted after the commit, so a retried group is not counted twice.
        report.changed += changed.len();
        report.unchanged += unchanged;
        Ok(())
    }

    /// Declares the incident of a new group: runbook from the route or the runbooks
    /// handling the alert's name, severity from the route, the `severity` label or the
    /// runbook, service from the route or the runbook.
    async fn declare_for(
        &self,
        source: Source,
        key: &GroupKey,
        alert: &Alert,
        routing: Option<&Routing>,
    ) -> Result<Incident, AppError> {
        let library = self.app.library();
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
        let scale = self.app.scale();
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
        self.app
            .declare(
                new,
                &Principal::sitrep(&format!("alerts:{}", source_name(source))),
            )
            .await
    }
}

impl App {
    /// Runs the read steps of the incident's diagnosis and symptoms sections unattended
    /// (the executor refuses anything but read steps in this mode), as `auto-triage`.
    pub async fn auto_triage(
        &self,
        incident_id: &str,
        sink: Arc<dyn sitrep_executor::RunSink>,
    ) -> Result<Vec<Result<RunReport, AppError>>, AppError> {
        self.run_sections(
            incident_id,
            &AUTO_TRIAGE_ROLES,
            &Principal::sitrep(AUTO_TRIAGE_ACTOR),
            sitrep_executor::Mode::Automatic,
            sink,
        )
        .await
    }
}

/// Applies `f` to every string (keys excepted) in a JSON value.
fn redact_strings(v: &mut serde_json::Value, f: &dyn Fn(&str) -> String) {
    match v {
        serde_json::Value::String(s) => *s = f(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| redact_strings(x, f)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| redact_strings(x, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_errors_name_their_field() {
        let e = parse(Source::Alertmanager, br#"{"version":"3","alerts":[]}"#).unwrap_err();
        assert!(
            matches!(&e, AppError::Invalid { field, .. } if field == "version"),
            "{e}"
        );
        let e = parse(Source::Generic, br#"{"alerts":[{"labels":{}}]}"#).unwrap_err();
        assert!(
            matches!(&e, AppError::Invalid { field, .. } if field == "alerts[0].labels"),
            "{e}"
        );
        let e = parse(Source::Grafana, b"{").unwrap_err();
        assert!(matches!(&e, AppError::Invalid { .. }), "{e}");
    }

    #[test]
    fn timestamps_round_trip_through_milliseconds() {
        let t: Timestamp = "2026-11-22T10:00:00.123456789Z".parse().unwrap();
        let cut = truncate(Some(t)).unwrap();
        assert_eq!(ms_to_ts(cut.as_millisecond()), Some(cut));
        assert_eq!(ms_to_ts(0), None);
    }
}
