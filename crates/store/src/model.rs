//! The rows the store keeps and the writes it accepts: plain data, no SQL.
//!
//! Times are Unix milliseconds (`i64`), ids are UUIDv7 strings, and enumerations the
//! store does not interpret (status, severity, risk, job kind) are strings: the meaning
//! lives in the crates above (`app`), the store only keeps and indexes them.

use serde::{Deserialize, Serialize};
use sitrep_ledger::Record;

/// An incident as stored. `version` is the optimistic-concurrency counter: every update
/// names the version it read and the store bumps it by one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    /// Short human number, 1, 2, 3... assigned by the store on insert (0 in a new row).
    pub number: i64,
    pub title: String,
    pub severity: String,
    /// `triggered`, `acknowledged`, `mitigated`, `resolved` (interpreted by `app`).
    pub status: String,
    pub service: Option<String>,
    /// Runbook paths relative to the runbook directory, in the order they were attached.
    pub runbooks: Vec<String>,
    /// Role name (`commander`, `scribe`, `communications`, ...) to person.
    pub roles: std::collections::BTreeMap<String, String>,
    /// The alert group this incident was opened for, if any (one open incident per group).
    pub group_key: Option<String>,
    pub created_ms: i64,
    pub acknowledged_ms: Option<i64>,
    pub mitigated_ms: Option<i64>,
    pub resolved_ms: Option<i64>,
    /// The last status update (a note), which the update-cadence reminders count from.
    #[serde(default)]
    pub last_update_ms: Option<i64>,
    pub updated_ms: i64,
    pub version: i64,
}

/// One timeline event: a ledger leaf that belongs to an incident (or to none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The leaf index in the ledger.
    pub index: u64,
    pub record: Record,
}

/// An alert, one row per fingerprint (payloads are snapshots, upserted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Prometheus fingerprint as 16 lower-case hex digits.
    pub fingerprint: String,
    pub source: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub annotations: std::collections::BTreeMap<String, String>,
    pub starts_ms: i64,
    pub ends_ms: Option<i64>,
    pub incident_id: Option<String>,
    pub updated_ms: i64,
}

/// A raw webhook payload, kept before it is interpreted so nothing received is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPayload {
    pub id: String,
    pub source: String,
    pub received_ms: i64,
    pub body: Vec<u8>,
    /// Answered 4xx (it did not parse): kept for less time, evicted first.
    pub rejected: bool,
}

/// One execution of one step in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRun {
    pub id: String,
    pub incident_id: String,
    pub runbook: String,
    pub step_id: String,
    /// The command as displayed and confirmed (placeholders as `"${SITREP_P_X}"`).
    pub command: String,
    /// Bound values, already redacted where secret.
    pub bound: std::collections::BTreeMap<String, String>,
    /// `read`, `write`, `unknown`, `destructive`.
    pub risk: String,
    pub actor: String,
    pub approver: Option<String>,
    /// `running`, `succeeded`, `failed`, `timed-out`, `refused`, `error`, `interrupted`
    /// (its process died before recording a result).
    pub status: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub exit_code: Option<i32>,
    pub verdict: Option<String>,
    /// SHA-256 hex of the redacted stdout / stderr blobs in the blob store.
    pub stdout_sha256: Option<String>,
    pub stderr_sha256: Option<String>,
}

/// A checklist item of an incident (from a runbook's stand-down section or policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub incident_id: String,
    /// Runbook path, or `policy` for items from configuration.
    pub source: String,
    /// Stable item id within its source.
    pub item_id: String,
    pub text: String,
    /// True when the item gates resolution.
    pub required: bool,
    pub checked: bool,
    pub checked_by: Option<String>,
    pub checked_ms: Option<i64>,
}

/// A follow-up action item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    pub id: String,
    pub incident_id: String,
    pub title: String,
    pub owner: Option<String>,
    pub due_ms: Option<i64>,
    /// `open` or `done`.
    pub status: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A durable job (a page to deliver, a reminder, a sweep). At least once: a claimed job
/// whose worker dies becomes claimable again when its lock expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub kind: String,
    /// Unique among jobs: enqueueing an existing key is a no-op (de-duplication).
    pub dedupe_key: String,
    pub incident_id: Option<String>,
    pub payload: serde_json::Value,
    pub due_ms: i64,
    pub attempts: i32,
    /// `pending`, `running`, `done`, `failed`, `cancelled`.
    pub state: String,
    pub locked_by: Option<String>,
    pub locked_until_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A new job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: String,
    pub dedupe_key: String,
    pub incident_id: Option<String>,
    pub payload: serde_json::Value,
    pub due_ms: i64,
}

/// A named lease held by one process at a time; `epoch` grows with every new holder and
/// fences writes made by a holder that lost the lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub epoch: i64,
    pub expires_ms: i64,
}

/// An API token. Only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    /// `viewer`, `responder`, `commander`, `admin`.
    pub role: String,
    /// SHA-256 of the secret, lower-case hex.
    pub secret_sha256: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// A run approval as stored. `body` is the app's JSON; `version` is bumped by every
/// update, which names the version it read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRow {
    pub id: String,
    pub incident_id: String,
    pub body: String,
    pub requested_ms: i64,
    pub expires_ms: i64,
    /// The run that used the approval up.
    pub used_run: Option<String>,
    pub version: i64,
}

/// A browser session. The cookie value is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// SHA-256 of the cookie value, lower-case hex.
    pub id_sha256: String,
    /// The token's name (the caller).
    pub name: String,
    /// The token's role when the session opened.
    pub role: String,
    /// The token's secret hash, to notice a revocation while the session lives.
    pub token_sha256: String,
    /// The session's CSRF token.
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// A legal hold on an incident's evidence: retention keeps its bytes while it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceHold {
    pub incident_id: String,
    pub reason: String,
    pub held_by: String,
    pub held_ms: i64,
}

/// A stored signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    pub size: u64,
    /// Root hash, lower-case hex.
    pub root: String,
    /// The C2SP signed note text.
    pub signed_note: String,
    pub created_ms: i64,
}

/// One key of the log's key history (see `sitrep key history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEpoch {
    /// The verifier key (`name+keyid+base64`), what an auditor pins.
    pub verifier_key: String,
    /// Its key id, 8 hex digits.
    pub key_id: String,
    /// The ledger entry of the rotation that introduced it (none for the first key).
    pub since_index: Option<u64>,
    /// Who rotated to it.
    pub rotated_by: Option<String>,
    /// When, Unix milliseconds.
    pub rotated_ms: Option<u64>,
    /// Whether it is the key this store signs with.
    pub current: bool,
}

/// One write inside a [`Change`].
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Inserts a new incident; the store assigns `number` and sets `version` to 1.
    InsertIncident(Incident),
    /// Replaces an incident if its stored version is `expected_version`; the stored
    /// version becomes `expected_version + 1`. Otherwise the whole change fails with
    /// [`crate::StoreError::Conflict`].
    UpdateIncident {
        incident: Incident,
        expected_version: i64,
    },
    /// Inserts or replaces the alert with this fingerprint.
    UpsertAlert(Alert),
    /// Inserts or replaces a step run by id.
    PutRun(StepRun),
    /// Sets the status and end time of a run that is still `running`; a run that is not
    /// (ended meanwhile, or missing) fails the whole change with
    /// [`crate::StoreError::Conflict`], so its events are never sealed twice.
    EndRun {
        id: String,
        status: String,
        ended_ms: i64,
    },
    /// Inserts or replaces a checklist item by (incident, source, item id).
    PutChecklistItem(ChecklistItem),
    /// Inserts or replaces an action item by id.
    PutActionItem(ActionItem),
    /// Enqueues a job unless one with the same dedupe key exists.
    EnqueueJob(NewJob),
    /// Cancels every pending job of this incident whose kind is `kind`.
    CancelJobs { incident_id: String, kind: String },
    /// Cancels one job, pending or running (its worker is known to be gone).
    CancelJob { id: String },
    /// Keeps a raw webhook payload (ignored if its id is already stored). Through the
    /// group commit, concurrent deliveries share one fsync.
    PutRawPayload(RawPayload),
    /// Keeps a silence (`body` is its JSON); an existing id is a conflict.
    PutSilence {
        id: String,
        body: String,
        created_ms: i64,
    },
    /// Removes a silence; a missing id fails the change with `NotFound`.
    DeleteSilence { id: String },
    /// Inserts a new approval (`version` 1); an existing id is a conflict.
    InsertApproval(ApprovalRow),
    /// Replaces an unused approval's body if its stored version is `expected_version`;
    /// otherwise (or when it was used meanwhile) the change fails with `Conflict`.
    UpdateApproval {
        id: String,
        body: String,
        expected_version: i64,
    },
    /// Puts a legal hold on an incident's evidence; one already held is a conflict.
    PutHold(EvidenceHold),
    /// Releases a hold; none is `NotFound`.
    DeleteHold { incident_id: String },
    /// Records that retention deleted an incident's evidence bytes; twice is a conflict.
    MarkExpired {
        incident_id: String,
        expired_ms: i64,
        blobs_deleted: i64,
    },
    /// Marks an approval used by `run`; an approval already used (by another replica,
    /// say) fails the whole change with `Conflict`, so it is never used twice.
    UseApproval { id: String, run: String },
    /// Fails the whole change unless `lease` is held by `holder` at `epoch` (fencing).
    Fence {
        lease: String,
        holder: String,
        epoch: i64,
    },
}

/// Writes and the events that record them, committed atomically together: either every
/// write is applied and every event is a ledger leaf, or nothing is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub writes: Vec<Write>,
    pub events: Vec<Record>,
}

/// What a committed change got: the ledger index of each event, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub indexes: Vec<u64>,
    /// The tree size after the group commit this change was part of.
    pub tree_size: u64,
}

/// Filter for listing incidents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only these statuses (empty: all).
    pub statuses: Vec<String>,
    pub severity: Option<String>,
    pub service: Option<String>,
    /// At most this many, newest first (0: a default of 100).
    pub limit: u32,
}
