//! `App`: opening a data dir and the incident use cases (declare, acknowledge, assign,
//! note, severity, mitigate, resolve, reopen); the checklist and action items are in
//! `checklist`, the ledger key and its rotation in `rotation`.
//!
//! Each use case reads the incident, checks the rule, and commits the new row together
//! with the event that records it; a concurrent change makes the commit fail on the
//! incident's version, and the use case re-reads and tries again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use sitrep_evidence::BlobStore;
use sitrep_executor::Redactor;
use sitrep_ledger::{Record, Verifier};
use sitrep_store::{
    ActionItem, Alert, Change, ChecklistItem, Event, Incident, IncidentFilter, StepRun, Store,
    StoreError, Write,
};

use crate::config::Config;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::keys;
use crate::library::Library;
use crate::lifecycle::{Action, Status, transition};
use crate::rotation::{ledger_key_path, open_store};
use crate::severity::SeverityScale;
use crate::stamp::{check_actor, now_ms};

/// Times a use case retries after losing a race on the incident's version.
const RETRIES: usize = 8;

/// The application: a store, a blob store, the runbook library and the rules.
#[derive(Clone)]
pub struct App {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) blobs: BlobStore,
    /// The last outcome of writing a blob to the data dir (for `/readyz`, `/metrics`).
    pub(crate) blob_health: sitrep_store::Tracker,
    /// The global cap and coalescing of unattended runs.
    pub(crate) unattended: crate::unattended::Unattended,
    /// The shared bucket the blobs are mirrored to, when configured.
    pub(crate) remote: Option<sitrep_evidence::remote::RemoteBlobs>,
    /// This data dir's replica id (names its upload jobs).
    pub(crate) replica: String,
    pub(crate) config: Config,
    pub(crate) data_dir: PathBuf,
    pub(crate) scale: SeverityScale,
    pub(crate) library: RwLock<Arc<Library>>,
    pub(crate) redactor: Redactor,
    pub(crate) verifier: Verifier,
    pub(crate) escalation: Option<sitrep_escalation::Config>,
}

/// What a new incident starts with.
#[derive(Debug, Clone, Default)]
pub struct NewIncident {
    /// Short description.
    pub title: String,
    /// Severity as typed (normalized against the scale); the lowest when absent.
    pub severity: Option<String>,
    /// Service affected.
    pub service: Option<String>,
    /// Runbook paths to attach (the service's runbooks are attached when empty).
    pub runbooks: Vec<String>,
    /// Incident commander, if known.
    pub commander: Option<String>,
    /// The alert group it is opened for.
    pub group_key: Option<String>,
}

/// An incident with everything attached to it.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    /// The incident row.
    pub incident: Incident,
    /// Alerts attached.
    pub alerts: Vec<Alert>,
    /// Step runs, oldest first.
    pub runs: Vec<StepRun>,
    /// Checklist items.
    pub checklist: Vec<ChecklistItem>,
    /// Action items.
    pub actions: Vec<ActionItem>,
}

/// The default data dir: `$XDG_DATA_HOME/sitrep`, else `~/.local/share/sitrep`, else
/// `./sitrep-data`.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("sitrep");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/sitrep");
    }
    PathBuf::from("sitrep-data")
}

/// Lease name prefix each serving replica renews (`serving:<replica id>`): how a tool
/// that must not run beside a server (a key rotation) knows one is up.
pub const SERVING_LEASE: &str = "serving:";

impl App {
    /// Takes or renews this replica's serving lease until `now_ms + ttl_ms`; a `ttl_ms`
    /// of 0 gives it up. `None` when another process serves with the same replica id
    /// (the same data dir) right now.
    pub async fn announce_serving(
        &self,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<sitrep_store::Lease>, AppError> {
        let name = format!("{SERVING_LEASE}{}", self.inner.replica);
        Ok(self
            .inner
            .store
            .acquire_lease(&name, holder, now_ms, ttl_ms)
            .await?)
    }

    /// The serving leases not expired at `now_ms`: the replicas up right now.
    pub async fn serving_replicas(
        &self,
        now_ms: i64,
    ) -> Result<Vec<sitrep_store::Lease>, AppError> {
        Ok(self.inner.store.live_leases(SERVING_LEASE, now_ms).await?)
    }

    /// Opens (creating if needed) the data dir of `config`: the signing key, the
    /// database (checking the ledger against its last checkpoint), the blob store and
    /// the runbook library.
    pub async fn open(config: Config) -> Result<App, AppError> {
        let data_dir = config.data_dir.clone().unwrap_or_else(default_data_dir);
        crate::datadir::prepare(&data_dir)?;
        let key_path = ledger_key_path(&config, &data_dir);
        let signer = keys::load_or_create(&key_path, &config.origin)?;
        let url = match config.database_url.clone() {
            Some(url) => url,
            None => {
                crate::datadir::prepare_db_file(&data_dir.join(sitrep_store::SQLITE_FILE))?;
                sitrep_store::sqlite_url(&data_dir)
            }
        };
        let tuning = crate::rotation::StoreTuning {
            verify_in_background_above: config.ledger.verify_in_background_above,
            acquire_timeout: config.store.acquire_timeout,
            commit_timeout: config.store.commit_timeout,
        };
        let (store, verifier) = open_store(&url, &key_path, signer, &tuning).await?;
        crate::datadir::prepare_blobs(&data_dir.join("blobs"))?;
        let blobs = BlobStore::open(data_dir.join("blobs"))?;
        let remote = crate::blobs::remote(&config.evidence)?;
        let replica = hex::encode(
            keys::load_or_create_secret(&data_dir.join(crate::blobs::REPLICA_FILE))?
                .get(..8)
                .unwrap_or_default(),
        );
        let library = match &config.runbooks {
            Some(dir) => Library::load(dir, &config.risk)?,
            None => Library::empty(),
        };
        let escalation = match &config.escalation {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| AppError::io(path, e))?;
                let cfg = sitrep_escalation::Config::from_toml(&text)
                    .map_err(|e| AppError::invalid(&path.display().to_string(), e.to_string()))?;
                // Pages to loopback, link-local or metadata addresses: warned, not
                // refused (a local relay can be meant; `allow_targets` says so).
                for f in sitrep_escalation::outbound_targets(&cfg) {
                    tracing::warn!(config = %path.display(), key = %f.path, code = f.code, "{}", f.message);
                }
                Some(cfg)
            }
            None => None,
        };
        let scale = match &escalation {
            Some(e) => SeverityScale::from_table(e.severities()),
            None => SeverityScale::new(config.severity_scheme),
        };
        let redactor = Redactor::new(&config.executor.redact);
        let app = App {
            inner: Arc::new(Inner {
                store,
                blobs,
                blob_health: sitrep_store::Tracker::default(),
                unattended: crate::unattended::Unattended::new(&config.unattended),
                remote,
                replica,
                config,
                data_dir,
                scale,
                library: RwLock::new(Arc::new(library)),
                redactor,
                verifier,
                escalation,
            }),
        };
        app.interrupt_overdue_runs_at_open().await;
        Ok(app)
    }

    /// Flushes pending writes and a final checkpoint, then closes the database.
    pub async fn close(&self) {
        self.inner.store.close().await;
    }

    /// The store itself, for tests that look under the use cases. The faces never call
    /// it (crates/cli/tests/layering.rs checks their sources): what they need is a use
    /// case or a read on `App` (`status.rs`).
    #[doc(hidden)]
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The blob store.
    #[must_use]
    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// The configuration in use.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The data dir in use.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The severity scale.
    #[must_use]
    pub fn scale(&self) -> &SeverityScale {
        &self.inner.scale
    }

    /// The public key checkpoints are signed with (`name+id+base64`), to pin when verifying.
    #[must_use]
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// The escalation config, when one is configured.
    #[must_use]
    pub fn escalation(&self) -> Option<&sitrep_escalation::Config> {
        self.inner.escalation.as_ref()
    }

    /// The runbook library as loaded now.
    #[must_use]
    pub fn library(&self) -> Arc<Library> {
        self.inner
            .library
            .read()
            .map_or_else(|p| p.into_inner().clone(), |l| l.clone())
    }

    /// Replaces the library (after the directory changed).
    pub fn set_library(&self, library: Library) {
        let mut guard = self
            .inner
            .library
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = Arc::new(library);
    }

    /// Re-reads the configured runbook directory.
    pub fn reload_library(&self) -> Result<Arc<Library>, AppError> {
        let lib = match &self.inner.config.runbooks {
            Some(dir) => Library::load(dir, &self.inner.config.risk)?,
            None => Library::empty(),
        };
        self.set_library(lib);
        Ok(self.library())
    }

    /// Redacts configured literals and known secret shapes from `text`.
    #[must_use]
    pub fn redact(&self, text: &str) -> String {
        self.inner.redactor.redact_text(text)
    }

    /// An incident by id or number.
    pub async fn incident(&self, id: &str) -> Result<Incident, AppError> {
        let key = id.trim().trim_start_matches('#');
        self.inner
            .store
            .incident(key)
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "incident",
                id: id.to_owned(),
            })
    }

    /// An incident with its alerts, runs, checklist and action items.
    pub async fn view(&self, id: &str) -> Result<IncidentView, AppError> {
        let incident = self.incident(id).await?;
        let s = &self.inner.store;
        Ok(IncidentView {
            alerts: s.alerts_for(&incident.id).await?,
            runs: s.runs_for(&incident.id).await?,
            checklist: s.checklist(&incident.id).await?,
            actions: s.action_items(&incident.id).await?,
            incident,
        })
    }

    /// Incidents matching `filter`, newest first.
    pub async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, AppError> {
        Ok(self.inner.store.incidents(filter).await?)
    }

    /// The timeline of an incident, oldest first.
    pub async fn timeline(&self, id: &str, after: Option<u64>) -> Result<Vec<Event>, AppError> {
        let incident = self.incident(id).await?;
        Ok(self.inner.store.timeline(&incident.id, after).await?)
    }

    /// Declares an incident: the row, its checklist (the stand-down items of its
    /// runbooks and of policy) and the `incident.declared` event, in one commit.
    pub async fn declare(&self, new: NewIncident, actor: &Principal) -> Result<Incident, AppError> {
        let (incident, change) = self.declaration(new, actor)?;
        self.inner.store.commit(change).await?;
        self.incident(&incident.id).await
    }

    /// What [`App::declare`] commits, uncommitted, with the incident as it will be
    /// inserted (its `number` is assigned by the store), so alert ingestion can commit
    /// an incident and its alerts together.
    pub(crate) fn declaration(
        &self,
        new: NewIncident,
        actor: &Principal,
    ) -> Result<(Incident, Change), AppError> {
        let title = self.redact(new.title.trim());
        if title.is_empty() {
            return Err(AppError::invalid("title", "must not be empty"));
        }
        if title.len() > 500 {
            return Err(AppError::invalid("title", "longer than 500 bytes"));
        }
        actor.check()?;
        let severity = match new.severity.as_deref() {
            Some(s) => self
                .inner
                .scale
                .normalize(s)
                .map_err(|e| AppError::invalid("severity", e.to_string()))?,
            None => self.inner.scale.lowest().to_owned(),
        };
        let library = self.library();
        let mut runbooks = Vec::new();
        for r in &new.runbooks {
            let entry = library.get(r).ok_or_else(|| AppError::NotFound {
                what: "runbook",
                id: r.clone(),
            })?;
            if !runbooks.contains(&entry.path) {
                runbooks.push(entry.path.clone());
            }
        }
        if runbooks.is_empty() {
            if let Some(service) = &new.service {
                runbooks.extend(library.for_service(service).into_iter().map(str::to_owned));
            }
        }
        let now = now_ms();
        let id = uuid::Uuid::now_v7().to_string();
        let mut roles = std::collections::BTreeMap::new();
        if let Some(c) = &new.commander {
            check_actor(c)?;
            roles.insert("commander".to_owned(), c.clone());
        }
        let incident = Incident {
            id: id.clone(),
            number: 0,
            title: title.clone(),
            severity: severity.clone(),
            status: Status::Triggered.as_str().to_owned(),
            service: new.service.clone(),
            runbooks: runbooks.clone(),
            roles,
            group_key: new.group_key.clone(),
            created_ms: now,
            acknowledged_ms: None,
            mitigated_ms: None,
            resolved_ms: None,
            last_update_ms: None,
            updated_ms: now,
            version: 1,
        };
        let mut writes = vec![Write::InsertIncident(incident.clone())];
        for item in self.checklist_for(&id, &runbooks, &library) {
            writes.push(Write::PutChecklistItem(item));
        }
        let mut payload = vec![
            ("title", title),
            ("severity", severity),
            ("runbooks", runbooks.join(",")),
        ];
        if let Some(s) = &new.service {
            payload.push(("service", s.clone()));
        }
        if let Some(c) = &new.commander {
            payload.push(("commander", c.clone()));
        }
        let events = vec![events::record(events::DECLARED, &id, now, actor, payload)];
        Ok((incident, Change { writes, events }))
    }

    /// The checklist a new incident gets: every gate of its runbooks, then policy's.
    fn checklist_for(
        &self,
        id: &str,
        runbooks: &[String],
        library: &Library,
    ) -> Vec<ChecklistItem> {
        let mut out = Vec::new();
        for path in runbooks {
            let Some(entry) = library.get(path) else {
                continue;
            };
            for (n, item) in entry.runbook.resolution_gates().enumerate() {
                out.push(ChecklistItem {
                    incident_id: id.to_owned(),
                    source: entry.path.clone(),
                    item_id: format!("{}", n + 1),
                    text: item.text.clone(),
                    required: true,
                    checked: false,
                    checked_by: None,
                    checked_ms: None,
                });
            }
        }
        for (n, text) in self.inner.config.policy.stand_down.iter().enumerate() {
            out.push(ChecklistItem {
                incident_id: id.to_owned(),
                source: "policy".to_owned(),
                item_id: format!("{}", n + 1),
                text: text.clone(),
                required: true,
                checked: false,
                checked_by: None,
                checked_ms: None,
            });
        }
        out
    }

    /// Reads the incident, lets `f` build the new row and events, and commits with the
    /// version check, retrying when someone else changed the incident in between.
    pub(crate) async fn update<F>(&self, id: &str, f: F) -> Result<Incident, AppError>
    where
        F: FnMut(&mut Incident, i64) -> Result<(Vec<Write>, Vec<Record>), AppError>,
    {
        Ok(self.update_committed(id, f).await?.0)
    }

    /// [`App::update`], also returning what the commit got (the events' indexes).
    pub(crate) async fn update_committed<F>(
        &self,
        id: &str,
        mut f: F,
    ) -> Result<(Incident, sitrep_store::Committed), AppError>
    where
        F: FnMut(&mut Incident, i64) -> Result<(Vec<Write>, Vec<Record>), AppError>,
    {
        for _ in 0..RETRIES {
            let mut incident = self.incident(id).await?;
            let version = incident.version;
            let now = now_ms();
            let (extra, events) = f(&mut incident, now)?;
            incident.updated_ms = now;
            let real_id = incident.id.clone();
            let mut writes = vec![Write::UpdateIncident {
                incident,
                expected_version: version,
            }];
            writes.extend(extra);
            match self.inner.store.commit(Change { writes, events }).await {
                Ok(c) => return Ok((self.incident(&real_id).await?, c)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Busy { id: id.to_owned() })
    }

    /// Applies a lifecycle action (not resolve: see [`App::resolve`]).
    async fn act(
        &self,
        id: &str,
        action: Action,
        actor: &Principal,
        reason: Option<&str>,
    ) -> Result<Incident, AppError> {
        self.act_noting(id, action, actor, reason, Vec::new()).await
    }

    /// [`App::act`] with more payload on its event (how an acknowledge link was used).
    pub(crate) async fn act_noting(
        &self,
        id: &str,
        action: Action,
        actor: &Principal,
        reason: Option<&str>,
        extra: Vec<(&'static str, String)>,
    ) -> Result<Incident, AppError> {
        actor.check()?;
        let reason = reason.map(|r| self.redact(r));
        let extra: Vec<(&'static str, String)> = extra
            .into_iter()
            .map(|(k, v)| (k, self.redact(&v)))
            .collect();
        self.update(id, |inc, now| {
            let from: Status = inc
                .status
                .parse()
                .map_err(|e: crate::lifecycle::UnknownStatus| AppError::Internal(e.to_string()))?;
            let to = transition(from, action)?;
            inc.status = to.as_str().to_owned();
            let kind = match action {
                Action::Acknowledge => {
                    inc.acknowledged_ms.get_or_insert(now);
                    events::ACKNOWLEDGED
                }
                Action::Mitigate => {
                    inc.mitigated_ms = Some(now);
                    events::MITIGATED
                }
                Action::Reopen => {
                    inc.resolved_ms = None;
                    inc.mitigated_ms = None;
                    events::REOPENED
                }
                Action::Resolve => events::RESOLVED,
            };
            let mut payload = vec![("from", from.as_str().to_owned())];
            if let Some(r) = &reason {
                payload.push(("reason", r.clone()));
            }
            payload.extend(extra.iter().cloned());
            let mut writes = Vec::new();
            if action == Action::Acknowledge {
                // Acknowledgement stops escalation: pending pages are cancelled in the
                // same commit, so none can fire after the ack is recorded.
                writes.push(Write::CancelJobs {
                    incident_id: inc.id.clone(),
                    kind: "page".to_owned(),
                });
            }
            Ok((
                writes,
                vec![events::record(kind, &inc.id, now, actor, payload)],
            ))
        })
        .await
    }

    /// Someone owns the incident; paging stops.
    pub async fn acknowledge(&self, id: &str, actor: &Principal) -> Result<Incident, AppError> {
        self.act(id, Action::Acknowledge, actor, None).await
    }

    /// The impact has ended.
    pub async fn mitigate(&self, id: &str, actor: &Principal) -> Result<Incident, AppError> {
        self.act(id, Action::Mitigate, actor, None).await
    }

    /// Opens a resolved incident again; a reason is required.
    pub async fn reopen(
        &self,
        id: &str,
        actor: &Principal,
        reason: &str,
    ) -> Result<Incident, AppError> {
        if reason.trim().is_empty() {
            return Err(AppError::invalid("reason", "reopening needs a reason"));
        }
        self.act(id, Action::Reopen, actor, Some(reason)).await
    }

    /// Resolves the incident once every required checklist item is ticked. With
    /// `force = Some(reason)` it resolves anyway and records the reason and the items
    /// that were still open.
    pub async fn resolve(
        &self,
        id: &str,
        actor: &Principal,
        force: Option<&str>,
    ) -> Result<Incident, AppError> {
        actor.check()?;
        if let Some(r) = force {
            if r.trim().is_empty() {
                return Err(AppError::invalid("reason", "--force needs a reason"));
            }
        }
        let incident = self.incident(id).await?;
        let open: Vec<String> = self
            .inner
            .store
            .checklist(&incident.id)
            .await?
            .into_iter()
            .filter(|c| c.required && !c.checked)
            .map(|c| c.text)
            .collect();
        if !open.is_empty() && force.is_none() {
            return Err(AppError::ChecklistOpen { open });
        }
        let reason = force.map(|r| self.redact(r));
        // Post-incident follow-ups of its runbooks open as action items with it.
        let existing = self.inner.store.action_items(&incident.id).await?;
        let follow = crate::followups::pending(&incident, &self.library(), &existing);
        let escalation = self.escalation();
        let contacts = |person: &str| -> Vec<sitrep_escalation::Contact> {
            escalation
                .and_then(|c| c.person(person))
                .map(|p| p.contacts.clone())
                .unwrap_or_default()
        };
        self.update(&incident.id, |inc, now| {
            let from: Status = inc
                .status
                .parse()
                .map_err(|e: crate::lifecycle::UnknownStatus| AppError::Internal(e.to_string()))?;
            transition(from, Action::Resolve)?;
            inc.status = Status::Resolved.as_str().to_owned();
            inc.resolved_ms = Some(now);
            let mut payload = vec![("from", from.as_str().to_owned())];
            if let Some(r) = &reason {
                payload.push(("forced", "true".to_owned()));
                payload.push(("reason", r.clone()));
                if !open.is_empty() {
                    payload.push(("open_items", open.join("; ")));
                }
            }
            let mut writes = vec![Write::CancelJobs {
                incident_id: inc.id.clone(),
                kind: "page".to_owned(),
            }];
            let mut records = vec![events::record(
                events::RESOLVED,
                &inc.id,
                now,
                actor,
                payload,
            )];
            let (w, r) = crate::followups::open(inc, &follow, now, actor, &contacts);
            writes.extend(w);
            records.extend(r);
            Ok((writes, records))
        })
        .await
    }

    /// Gives `person` a role (`commander`, `scribe`, `communications`, or another word).
    pub async fn assign(
        &self,
        id: &str,
        role: &str,
        person: &str,
        actor: &Principal,
    ) -> Result<Incident, AppError> {
        actor.check()?;
        let role = role.trim().to_ascii_lowercase();
        if role.is_empty()
            || role.len() > 40
            || !role
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_')
        {
            return Err(AppError::invalid(
                "role",
                "a word of letters, '-' or '_' (commander, scribe, communications)",
            ));
        }
        check_actor(person).map_err(|_| {
            AppError::invalid(
                "person",
                "must be a non-empty name without control characters",
            )
        })?;
        self.update(id, |inc, now| {
            let previous = inc.roles.insert(role.clone(), person.to_owned());
            let mut payload = vec![("role", role.clone()), ("person", person.to_owned())];
            if let Some(p) = previous {
                payload.push(("previous", p));
            }
            Ok((
                Vec::new(),
                vec![events::record(events::ROLE, &inc.id, now, actor, payload)],
            ))
        })
        .await
    }

    /// Changes the severity.
    pub async fn set_severity(
        &self,
        id: &str,
        severity: &str,
        actor: &Principal,
    ) -> Result<Incident, AppError> {
        actor.check()?;
        let to = self
            .inner
            .scale
            .normalize(severity)
            .map_err(|e| AppError::invalid("severity", e.to_string()))?;
        self.update(id, |inc, now| {
            if inc.severity == to {
                return Err(AppError::invalid(
                    "severity",
                    format!("the incident is already {to}"),
                ));
            }
            let from = std::mem::replace(&mut inc.severity, to.clone());
            let payload = vec![("from", from), ("to", to.clone())];
            Ok((
                Vec::new(),
                vec![events::record(
                    events::SEVERITY,
                    &inc.id,
                    now,
                    actor,
                    payload,
                )],
            ))
        })
        .await
    }

    /// Adds a note to the timeline (redacted). A note is a status update: the
    /// update-cadence reminders count from the latest one.
    pub async fn note(&self, id: &str, text: &str, actor: &Principal) -> Result<Event, AppError> {
        actor.check()?;
        let text = self.redact(text.trim());
        if text.is_empty() {
            return Err(AppError::invalid("text", "a note must not be empty"));
        }
        let mut recorded = None;
        let (_, committed) = self
            .update_committed(id, |inc, now| {
                inc.last_update_ms = Some(now);
                let record =
                    events::record(events::NOTE, &inc.id, now, actor, [("text", text.clone())]);
                recorded = Some(record.clone());
                Ok((Vec::new(), vec![record]))
            })
            .await?;
        let record = recorded.ok_or_else(|| AppError::Internal("note not recorded".into()))?;
        Ok(Event {
            index: committed.indexes.first().copied().unwrap_or_default(),
            record,
        })
    }
}
