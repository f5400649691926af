//! Alert ingestion: a webhook payload becomes alert rows, timeline events and, for a new
//! group, one incident.
//!
//! ```text
//!  raw bytes ──► redact + parse ──► silence ──► route + group
//!     ──► under every group's lock (deliver.rs): one read of the stored alerts, diff,
//!         one read of the groups' open incidents (or declare one per new group)
//!     ──► one commit: raw payload + incidents + alert upserts + events
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
    Alert, Batch, Fingerprint, GroupKey, PayloadError, Routing, Silence, Source, Status, Timestamp,
};
use sitrep_runbook::Role;
use sitrep_store::RawPayload;

use crate::app::App;
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
pub(crate) const RETRIES: usize = 4;

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
    /// Bumped by every silence made or removed here, so a refresh that read the store
    /// before one of them does not drop it from memory (`silence_sync.rs`).
    pub(crate) silence_edits: std::sync::atomic::AtomicU64,
}

/// A stored silence not loaded at start: it does not parse, is over one silence's
/// caps, or would pass the server's regex budget (`[server.regex_budget]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedSilence {
    /// The stored silence's id.
    pub id: String,
    /// Why it was skipped.
    pub reason: String,
    /// The silence, when it parsed but did not fit the regex budget: a later refresh
    /// tries it again without parsing it again (it may fit once others are removed).
    #[serde(skip)]
    pub(crate) over_budget: Option<Silence>,
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

/// A delivery redacted, parsed and admitted under the byte cap, not yet stored.
pub(crate) struct PreparedPayload {
    /// The row to store; `None` for a rejected payload the cap leaves unstored.
    pub(crate) raw: Option<RawPayload>,
    /// The redacted bytes.
    pub(crate) body: Vec<u8>,
    /// The parsed payload, or the error to answer.
    pub(crate) batch: Result<Batch, AppError>,
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
pub(crate) fn from_row(row: &sitrep_store::Alert, fingerprint: Fingerprint) -> Alert {
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

pub(crate) fn cut_title(text: &str) -> String {
    events::cut(text, 400)
}

pub(crate) fn labels_text(labels: &BTreeMap<String, String>) -> String {
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
            silence_edits: std::sync::atomic::AtomicU64::new(0),
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
        let edits = ing.silence_edits.load(std::sync::atomic::Ordering::Acquire);
        ing.adopt_stored(edits, stored);
        Ok(ing)
    }

    pub(crate) fn silences_mut(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Silence>> {
        self.silences
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn skipped_mut(&self) -> std::sync::MutexGuard<'_, Vec<SkippedSilence>> {
        self.skipped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stored silences not in force (at start, or at the last refresh), and why.
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
        self.fits(&self.silences(), s)
    }

    /// Whether `s` fits one silence's caps and, beside `used`, the server's regex
    /// budget; else why not.
    pub(crate) fn fits(&self, used: &[Silence], s: &Silence) -> Result<(), String> {
        let cost = s.regex_cost();
        if let Some(why) = cost.over_silence_caps(s.matchers.len()) {
            return Err(format!("too costly: {why}"));
        }
        let budget = &self.app.config().server.regex_budget;
        let used = used
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
        self.silence_edited();
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
            Ok(_) => {
                self.silence_edited();
                Ok(self.remove_silence(id))
            }
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

    pub(crate) fn lock_for(&self, key: &GroupKey) -> Arc<tokio::sync::Mutex<()>> {
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

    /// Stores the raw payload durably, redacted, before it is interpreted. It is parsed
    /// first (parsing is pure) so the row says whether it was rejected, which decides
    /// how long it is kept and what the cap evicts first. Past `raw_max_bytes` older
    /// payloads are evicted; a rejected one that would need an accepted one evicted is
    /// not stored at all. ([`Ingestor::receive`] commits an accepted payload together
    /// with its ingestion instead.)
    pub async fn store_raw(&self, source: Source, body: &[u8]) -> Result<StoredPayload, AppError> {
        let prepared = self.prepare_raw(source, body).await?;
        if let Some(raw) = &prepared.raw {
            self.app.store().put_raw_payload(raw).await?;
        }
        Ok(StoredPayload {
            id: prepared.raw.map(|r| r.id),
            body: prepared.body,
            batch: prepared.batch,
        })
    }

    /// Redacts and parses a payload and makes room for it under the byte cap; the row
    /// to store is `raw`, `None` for a rejected payload the cap leaves unstored.
    pub(crate) async fn prepare_raw(
        &self,
        source: Source,
        body: &[u8],
    ) -> Result<PreparedPayload, AppError> {
        let body = self.redact_payload(body);
        let batch = parse(source, &body);
        let rejected = batch.is_err();
        let size = u64::try_from(body.len()).unwrap_or(u64::MAX);
        let store = self.app.store();
        if !self.raw_budget.admit(store, size, rejected).await? {
            return Ok(PreparedPayload {
                raw: None,
                body,
                batch,
            });
        }
        let raw = RawPayload {
            id: uuid::Uuid::now_v7().to_string(),
            source: source_name(source).to_owned(),
            received_ms: now_ms(),
            body: body.clone(),
            rejected,
        };
        Ok(PreparedPayload {
            raw: Some(raw),
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
        self.ingest_delivery(source, payload_id, batch, None).await
    }

    /// Ingests `batch`, committing `raw` (its stored payload, not yet committed) in the
    /// same one commit as everything the delivery changes (`deliver.rs`).
    pub(crate) async fn ingest_delivery(
        &self,
        source: Source,
        payload_id: &str,
        batch: &Batch,
        raw: Option<&RawPayload>,
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
        let done = self.deliver(source, &groups, raw).await?;
        report.changed = done.changed;
        report.unchanged = done.unchanged;
        report.opened = done.opened;
        report.updated = done.updated;
        Ok(report)
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
