//! Column lists and row decoding for every table, plus the conversions the portable
//! schema needs (JSON as TEXT, booleans as 0/1, `u64` sizes as BIGINT).

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::model::{
    ActionItem, Alert, ApiToken, ApprovalRow, ChecklistItem, Incident, Job, Lease, SessionRow,
    StepRun, StoredCheckpoint,
};

/// Unix time in milliseconds from the system clock (for `updated_ms` of rows the store
/// itself touches; times that mean something to the caller are always passed in).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A ledger size or index as a BIGINT. Sizes are below 2^62 (the ledger's maximum),
/// so this only fails on a caller passing nonsense.
pub(crate) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} does not fit a BIGINT")))
}

/// A BIGINT read back as a size or index; negative values mean a damaged row.
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} is negative ({v})")))
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: bad JSON: {e}")))
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(StoreError::Database)
}

fn get_i32(row: &AnyRow, col: &str) -> Result<Option<i32>, StoreError> {
    get::<Option<i64>>(row, col)?
        .map(|v| i32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} out of range"))))
        .transpose()
}

pub(crate) const INCIDENT_COLS: &str = "id, number, title, severity, status, service, runbooks, \
    roles, group_key, created_ms, acknowledged_ms, mitigated_ms, resolved_ms, last_update_ms, \
    updated_ms, version";

pub(crate) fn incident(row: &AnyRow) -> Result<Incident, StoreError> {
    Ok(Incident {
        id: get(row, "id")?,
        number: get(row, "number")?,
        title: get(row, "title")?,
        severity: get(row, "severity")?,
        status: get(row, "status")?,
        service: get(row, "service")?,
        runbooks: from_json(&get::<String>(row, "runbooks")?, "incident runbooks")?,
        roles: from_json(&get::<String>(row, "roles")?, "incident roles")?,
        group_key: get(row, "group_key")?,
        created_ms: get(row, "created_ms")?,
        acknowledged_ms: get(row, "acknowledged_ms")?,
        mitigated_ms: get(row, "mitigated_ms")?,
        resolved_ms: get(row, "resolved_ms")?,
        last_update_ms: get(row, "last_update_ms")?,
        updated_ms: get(row, "updated_ms")?,
        version: get(row, "version")?,
    })
}

pub(crate) const ALERT_COLS: &str = "fingerprint, source, status, labels, annotations, starts_ms, \
    ends_ms, incident_id, updated_ms";

pub(crate) fn alert(row: &AnyRow) -> Result<Alert, StoreError> {
    Ok(Alert {
        fingerprint: get(row, "fingerprint")?,
        source: get(row, "source")?,
        status: get(row, "status")?,
        labels: from_json(&get::<String>(row, "labels")?, "alert labels")?,
        annotations: from_json(&get::<String>(row, "annotations")?, "alert annotations")?,
        starts_ms: get(row, "starts_ms")?,
        ends_ms: get(row, "ends_ms")?,
        incident_id: get(row, "incident_id")?,
        updated_ms: get(row, "updated_ms")?,
    })
}

pub(crate) const RUN_COLS: &str = "id, incident_id, runbook, step_id, command, bound, risk, actor, \
    approver, status, started_ms, ended_ms, exit_code, verdict, stdout_sha256, stderr_sha256";

pub(crate) fn run(row: &AnyRow) -> Result<StepRun, StoreError> {
    Ok(StepRun {
        id: get(row, "id")?,
        incident_id: get(row, "incident_id")?,
        runbook: get(row, "runbook")?,
        step_id: get(row, "step_id")?,
        command: get(row, "command")?,
        bound: from_json(&get::<String>(row, "bound")?, "run bound values")?,
        risk: get(row, "risk")?,
        actor: get(row, "actor")?,
        approver: get(row, "approver")?,
        status: get(row, "status")?,
        started_ms: get(row, "started_ms")?,
        ended_ms: get(row, "ended_ms")?,
        exit_code: get_i32(row, "exit_code")?,
        verdict: get(row, "verdict")?,
        stdout_sha256: get(row, "stdout_sha256")?,
        stderr_sha256: get(row, "stderr_sha256")?,
    })
}

pub(crate) const CHECKLIST_COLS: &str =
    "incident_id, source, item_id, text, required, checked, checked_by, checked_ms";

pub(crate) fn checklist_item(row: &AnyRow) -> Result<ChecklistItem, StoreError> {
    Ok(ChecklistItem {
        incident_id: get(row, "incident_id")?,
        source: get(row, "source")?,
        item_id: get(row, "item_id")?,
        text: get(row, "text")?,
        required: get::<i64>(row, "required")? != 0,
        checked: get::<i64>(row, "checked")? != 0,
        checked_by: get(row, "checked_by")?,
        checked_ms: get(row, "checked_ms")?,
    })
}

pub(crate) const ACTION_COLS: &str =
    "id, incident_id, title, owner, due_ms, status, created_ms, updated_ms";

pub(crate) fn action_item(row: &AnyRow) -> Result<ActionItem, StoreError> {
    Ok(ActionItem {
        id: get(row, "id")?,
        incident_id: get(row, "incident_id")?,
        title: get(row, "title")?,
        owner: get(row, "owner")?,
        due_ms: get(row, "due_ms")?,
        status: get(row, "status")?,
        created_ms: get(row, "created_ms")?,
        updated_ms: get(row, "updated_ms")?,
    })
}

pub(crate) const JOB_COLS: &str = "id, kind, dedupe_key, incident_id, payload, due_ms, attempts, \
    state, locked_by, locked_until_ms, last_error, created_ms, updated_ms";

pub(crate) fn job(row: &AnyRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: get(row, "id")?,
        kind: get(row, "kind")?,
        dedupe_key: get(row, "dedupe_key")?,
        incident_id: get(row, "incident_id")?,
        payload: from_json(&get::<String>(row, "payload")?, "job payload")?,
        due_ms: get(row, "due_ms")?,
        attempts: get_i32(row, "attempts")?.unwrap_or(0),
        state: get(row, "state")?,
        locked_by: get(row, "locked_by")?,
        locked_until_ms: get(row, "locked_until_ms")?,
        last_error: get(row, "last_error")?,
        created_ms: get(row, "created_ms")?,
        updated_ms: get(row, "updated_ms")?,
    })
}

pub(crate) const LEASE_COLS: &str = "name, holder, epoch, expires_ms";

pub(crate) fn lease(row: &AnyRow) -> Result<Lease, StoreError> {
    Ok(Lease {
        name: get(row, "name")?,
        holder: get(row, "holder")?,
        epoch: get(row, "epoch")?,
        expires_ms: get(row, "expires_ms")?,
    })
}

pub(crate) const TOKEN_COLS: &str = "id, name, role, secret_sha256, created_ms, revoked_ms";

pub(crate) fn token(row: &AnyRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: get(row, "id")?,
        name: get(row, "name")?,
        role: get(row, "role")?,
        secret_sha256: get(row, "secret_sha256")?,
        created_ms: get(row, "created_ms")?,
        revoked_ms: get(row, "revoked_ms")?,
    })
}

pub(crate) const APPROVAL_COLS: &str =
    "id, incident_id, body, requested_ms, expires_ms, used_run, version";

pub(crate) fn approval(row: &AnyRow) -> Result<ApprovalRow, StoreError> {
    Ok(ApprovalRow {
        id: get(row, "id")?,
        incident_id: get(row, "incident_id")?,
        body: get(row, "body")?,
        requested_ms: get(row, "requested_ms")?,
        expires_ms: get(row, "expires_ms")?,
        used_run: get(row, "used_run")?,
        version: get(row, "version")?,
    })
}

pub(crate) const SESSION_COLS: &str =
    "id_sha256, name, role, token_sha256, csrf, created_ms, expires_ms";

pub(crate) fn session(row: &AnyRow) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id_sha256: get(row, "id_sha256")?,
        name: get(row, "name")?,
        role: get(row, "role")?,
        token_sha256: get(row, "token_sha256")?,
        csrf: get(row, "csrf")?,
        created_ms: get(row, "created_ms")?,
        expires_ms: get(row, "expires_ms")?,
    })
}

pub(crate) const CHECKPOINT_COLS: &str = "size, root, signed_note, created_ms";

pub(crate) fn checkpoint(row: &AnyRow) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: to_u64(get(row, "size")?, "checkpoint size")?,
        root: get(row, "root")?,
        signed_note: get(row, "signed_note")?,
        created_ms: get(row, "created_ms")?,
    })
}

/// `$first, $first+1, ...`: `n` numbered placeholders for an `IN (...)` list or a
/// multi-row `VALUES`, in the one syntax both SQLite and PostgreSQL accept.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('$');
        s.push_str(&(first + i).to_string());
    }
    s
}

/// `($1, $2, $3), ($4, $5, $6), ...`: `rows` tuples of `cols` placeholders.
pub(crate) fn value_rows(rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        s.push_str(&placeholders(1 + r * cols, cols));
        s.push(')');
    }
    s
}
