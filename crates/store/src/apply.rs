//! `apply_write`: applies one [`Write`] of a change inside the group-commit
//! transaction, mapping constraint violations to typed errors.

use sqlx::AnyConnection;
use sqlx::error::ErrorKind;

use crate::error::StoreError;
use crate::model::{
    ActionItem, Alert, ApprovalRow, ChecklistItem, EvidenceHold, Incident, NewJob, RawPayload,
    StepRun, Write,
};
use crate::rows::{to_json, value_rows};

/// Maps a constraint violation of one write to a typed error.
fn constraint(e: sqlx::Error, unique: StoreError, foreign: StoreError) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        match db.kind() {
            ErrorKind::UniqueViolation => return unique,
            ErrorKind::ForeignKeyViolation => return foreign,
            _ => {}
        }
    }
    StoreError::Database(e)
}

fn conflict(what: &'static str, id: &str) -> StoreError {
    StoreError::Conflict {
        what,
        id: id.to_owned(),
    }
}

/// Deletes the one row `sql` names by `key`; no such row fails the change.
async fn delete_one(
    tx: &mut AnyConnection,
    sql: &str,
    key: &str,
    what: &'static str,
) -> Result<(), StoreError> {
    let r = sqlx::query(sql).bind(key).execute(&mut *tx).await?;
    if r.rows_affected() != 1 {
        return Err(StoreError::NotFound {
            what,
            id: key.to_owned(),
        });
    }
    Ok(())
}

fn incident_missing(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "incident",
        id: id.to_owned(),
    }
}

fn open_group_conflict(group_key: Option<&str>, id: &str) -> StoreError {
    match group_key {
        Some(g) => StoreError::Conflict {
            what: "open incident for group",
            id: g.to_owned(),
        },
        None => StoreError::Conflict {
            what: "incident",
            id: id.to_owned(),
        },
    }
}

/// Alert rows per multi-row upsert (9 columns each; kept small, see `ENTRY_ROWS` in
/// writer.rs on sqlx's quadratic binding of SQLite parameters).
const ALERT_ROWS: usize = 16;

/// Applies one change's writes in order. A run of alert upserts (a delivery's alerts)
/// goes in multi-row statements: each statement is a round trip to the database's
/// worker thread, which is what ingestion's time goes to (docs/benchmarks.md).
pub(crate) async fn apply_writes(
    tx: &mut AnyConnection,
    writes: &[Write],
    now: i64,
) -> Result<(), StoreError> {
    let mut i = 0;
    while i < writes.len() {
        let mut run: Vec<&Alert> = Vec::new();
        // One statement may not touch a row twice (PostgreSQL refuses that), so a
        // repeated fingerprint ends the run.
        while let Some(Write::UpsertAlert(a)) = writes.get(i) {
            if run.len() == ALERT_ROWS || run.iter().any(|r| r.fingerprint == a.fingerprint) {
                break;
            }
            run.push(a);
            i += 1;
        }
        match run.as_slice() {
            [] => {
                apply_write(tx, &writes[i], now).await?;
                i += 1;
            }
            [one] => upsert_alert(tx, one).await?,
            _ => upsert_alerts(tx, &run).await?,
        }
    }
    Ok(())
}

/// [`upsert_alert`] of several alerts with distinct fingerprints, in one statement.
async fn upsert_alerts(tx: &mut AnyConnection, alerts: &[&Alert]) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO alerts (fingerprint, source, status, labels, annotations, \
         starts_ms, ends_ms, incident_id, updated_ms) VALUES {} \
         ON CONFLICT (fingerprint) DO UPDATE SET source = excluded.source, \
         status = excluded.status, labels = excluded.labels, \
         annotations = excluded.annotations, starts_ms = excluded.starts_ms, \
         ends_ms = excluded.ends_ms, incident_id = excluded.incident_id, \
         updated_ms = excluded.updated_ms",
        value_rows(alerts.len(), 9)
    );
    let mut q = sqlx::query(&sql);
    for a in alerts {
        q = q
            .bind(a.fingerprint.as_str())
            .bind(a.source.as_str())
            .bind(a.status.as_str())
            .bind(to_json(&a.labels)?)
            .bind(to_json(&a.annotations)?)
            .bind(a.starts_ms)
            .bind(a.ends_ms)
            .bind(a.incident_id.as_deref())
            .bind(a.updated_ms);
    }
    // Full-size statements are cached per connection; a remainder's text varies.
    let persistent = alerts.len() == ALERT_ROWS;
    q.persistent(persistent)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            let first = alerts[0];
            let incident = alerts.iter().find_map(|a| a.incident_id.as_deref());
            constraint(
                e,
                conflict("alert", &first.fingerprint),
                incident_missing(incident.unwrap_or("")),
            )
        })?;
    Ok(())
}

/// Applies one write inside the group-commit transaction: one function per write below.
pub(crate) async fn apply_write(
    tx: &mut AnyConnection,
    write: &Write,
    now: i64,
) -> Result<(), StoreError> {
    match write {
        Write::InsertIncident(i) => insert_incident(tx, i).await,
        Write::UpdateIncident {
            incident: i,
            expected_version,
        } => update_incident(tx, i, expected_version).await,
        Write::UpsertAlert(a) => upsert_alert(tx, a).await,
        Write::PutRun(r) => put_run(tx, r).await,
        Write::EndRun {
            id,
            status,
            ended_ms,
        } => crate::runs::end_run(tx, id, status, *ended_ms).await,
        Write::PutChecklistItem(c) => put_checklist_item(tx, c).await,
        Write::PutActionItem(a) => put_action_item(tx, a).await,
        Write::EnqueueJob(j) => enqueue_job(tx, j, now).await,
        Write::PutSilence {
            id,
            body,
            created_ms,
        } => put_silence(tx, id, body, created_ms).await,
        Write::InsertApproval(a) => insert_approval(tx, a).await,
        Write::UpdateApproval {
            id,
            body,
            expected_version,
        } => update_approval(tx, id, body, expected_version).await,
        Write::UseApproval { id, run } => use_approval(tx, id, run).await,
        Write::PutHold(h) => put_hold(tx, h).await,
        Write::DeleteHold { incident_id } => delete_hold(tx, incident_id).await,
        Write::MarkExpired {
            incident_id,
            expired_ms,
            blobs_deleted,
        } => mark_expired(tx, incident_id, expired_ms, blobs_deleted).await,
        Write::DeleteSilence { id } => delete_silence(tx, id).await,
        Write::PutRawPayload(p) => put_raw_payload(tx, p).await,
        Write::CancelJobs { incident_id, kind } => cancel_jobs(tx, incident_id, kind, now).await,
        Write::CancelJob { id } => cancel_job(tx, id, now).await,
        Write::Fence {
            lease,
            holder,
            epoch,
        } => fence(tx, lease, holder, epoch).await,
    }
}

async fn insert_incident(tx: &mut AnyConnection, i: &Incident) -> Result<(), StoreError> {
    // A taken id and a taken open group are both unique violations; look for
    // the id first (PostgreSQL allows no query after a failed statement).
    let taken: Option<i64> = sqlx::query_scalar("SELECT 1 FROM incidents WHERE id = $1")
        .bind(i.id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(StoreError::Conflict {
            what: "incident",
            id: i.id.clone(),
        });
    }
    // The number is MAX + 1 inside the group-commit transaction, which holds
    // the ledger head: no other writer can pick the same number.
    let sql = "INSERT INTO incidents (id, number, title, severity, status, service, \
        runbooks, roles, group_key, created_ms, acknowledged_ms, mitigated_ms, \
        resolved_ms, updated_ms, last_update_ms, version) \
        SELECT $1, COALESCE(MAX(number), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
        $11, $12, $13, $14, 1 FROM incidents";
    sqlx::query(sql)
        .bind(i.id.as_str())
        .bind(i.title.as_str())
        .bind(i.severity.as_str())
        .bind(i.status.as_str())
        .bind(i.service.as_deref())
        .bind(to_json(&i.runbooks)?)
        .bind(to_json(&i.roles)?)
        .bind(i.group_key.as_deref())
        .bind(i.created_ms)
        .bind(i.acknowledged_ms)
        .bind(i.mitigated_ms)
        .bind(i.resolved_ms)
        .bind(i.updated_ms)
        .bind(i.last_update_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            constraint(
                e,
                open_group_conflict(i.group_key.as_deref(), &i.id),
                incident_missing(&i.id),
            )
        })?;
    Ok(())
}

async fn update_incident(
    tx: &mut AnyConnection,
    i: &Incident,
    expected_version: &i64,
) -> Result<(), StoreError> {
    let sql = "UPDATE incidents SET title = $1, severity = $2, status = $3, service = $4, \
        runbooks = $5, roles = $6, group_key = $7, created_ms = $8, \
        acknowledged_ms = $9, mitigated_ms = $10, resolved_ms = $11, updated_ms = $12, \
        version = $13, last_update_ms = $16 WHERE id = $14 AND version = $15";
    let r = sqlx::query(sql)
        .bind(i.title.as_str())
        .bind(i.severity.as_str())
        .bind(i.status.as_str())
        .bind(i.service.as_deref())
        .bind(to_json(&i.runbooks)?)
        .bind(to_json(&i.roles)?)
        .bind(i.group_key.as_deref())
        .bind(i.created_ms)
        .bind(i.acknowledged_ms)
        .bind(i.mitigated_ms)
        .bind(i.resolved_ms)
        .bind(i.updated_ms)
        .bind(expected_version + 1)
        .bind(i.id.as_str())
        .bind(*expected_version)
        .bind(i.last_update_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            constraint(
                e,
                open_group_conflict(i.group_key.as_deref(), &i.id),
                incident_missing(&i.id),
            )
        })?;
    if r.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            what: "incident",
            id: i.id.clone(),
        });
    }
    Ok(())
}

async fn upsert_alert(tx: &mut AnyConnection, a: &Alert) -> Result<(), StoreError> {
    let sql = "INSERT INTO alerts (fingerprint, source, status, labels, annotations, \
        starts_ms, ends_ms, incident_id, updated_ms) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
        ON CONFLICT (fingerprint) DO UPDATE SET source = excluded.source, \
        status = excluded.status, labels = excluded.labels, \
        annotations = excluded.annotations, starts_ms = excluded.starts_ms, \
        ends_ms = excluded.ends_ms, incident_id = excluded.incident_id, \
        updated_ms = excluded.updated_ms";
    sqlx::query(sql)
        .bind(a.fingerprint.as_str())
        .bind(a.source.as_str())
        .bind(a.status.as_str())
        .bind(to_json(&a.labels)?)
        .bind(to_json(&a.annotations)?)
        .bind(a.starts_ms)
        .bind(a.ends_ms)
        .bind(a.incident_id.as_deref())
        .bind(a.updated_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            constraint(
                e,
                StoreError::Conflict {
                    what: "alert",
                    id: a.fingerprint.clone(),
                },
                incident_missing(a.incident_id.as_deref().unwrap_or("")),
            )
        })?;
    Ok(())
}

async fn put_run(tx: &mut AnyConnection, r: &StepRun) -> Result<(), StoreError> {
    let sql = "INSERT INTO step_runs (id, incident_id, runbook, step_id, command, bound, \
        risk, actor, approver, status, started_ms, ended_ms, exit_code, verdict, \
        stdout_sha256, stderr_sha256) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
        ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, \
        runbook = excluded.runbook, step_id = excluded.step_id, \
        command = excluded.command, bound = excluded.bound, risk = excluded.risk, \
        actor = excluded.actor, approver = excluded.approver, \
        status = excluded.status, started_ms = excluded.started_ms, \
        ended_ms = excluded.ended_ms, exit_code = excluded.exit_code, \
        verdict = excluded.verdict, stdout_sha256 = excluded.stdout_sha256, \
        stderr_sha256 = excluded.stderr_sha256";
    sqlx::query(sql)
        .bind(r.id.as_str())
        .bind(r.incident_id.as_str())
        .bind(r.runbook.as_str())
        .bind(r.step_id.as_str())
        .bind(r.command.as_str())
        .bind(to_json(&r.bound)?)
        .bind(r.risk.as_str())
        .bind(r.actor.as_str())
        .bind(r.approver.as_deref())
        .bind(r.status.as_str())
        .bind(r.started_ms)
        .bind(r.ended_ms)
        .bind(r.exit_code.map(i64::from))
        .bind(r.verdict.as_deref())
        .bind(r.stdout_sha256.as_deref())
        .bind(r.stderr_sha256.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            constraint(
                e,
                StoreError::Conflict {
                    what: "run",
                    id: r.id.clone(),
                },
                incident_missing(&r.incident_id),
            )
        })?;
    Ok(())
}

async fn put_checklist_item(tx: &mut AnyConnection, c: &ChecklistItem) -> Result<(), StoreError> {
    // `position` is the insertion order: MAX + 1 on first insert, kept by the
    // update branch. (The WHERE keeps SQLite's parser from reading the
    // upsert's ON as a join constraint.)
    let sql = "INSERT INTO checklist_items (incident_id, source, item_id, position, \
        text, required, checked, checked_by, checked_ms) \
        SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1, $4, $5, $6, $7, $8 \
        FROM checklist_items WHERE incident_id = $1 \
        ON CONFLICT (incident_id, source, item_id) DO UPDATE SET text = excluded.text, \
        required = excluded.required, checked = excluded.checked, \
        checked_by = excluded.checked_by, checked_ms = excluded.checked_ms";
    sqlx::query(sql)
        .bind(c.incident_id.as_str())
        .bind(c.source.as_str())
        .bind(c.item_id.as_str())
        .bind(c.text.as_str())
        .bind(i64::from(c.required))
        .bind(i64::from(c.checked))
        .bind(c.checked_by.as_deref())
        .bind(c.checked_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            constraint(
                e,
                StoreError::Conflict {
                    what: "checklist item",
                    id: c.item_id.clone(),
                },
                incident_missing(&c.incident_id),
            )
        })?;
    Ok(())
}

async fn put_action_item(tx: &mut AnyConnection, a: &ActionItem) -> Result<(), StoreError> {
    let sql = "INSERT INTO action_items (id, incident_id, title, owner, due_ms, status, \
        created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
        ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, \
        title = excluded.title, owner = excluded.owner, due_ms = excluded.due_ms, \
        status = excluded.status, created_ms = excluded.created_ms, \
        updated_ms = excluded.updated_ms";
    sqlx::query(sql)
        .bind(a.id.as_str())
        .bind(a.incident_id.as_str())
        .bind(a.title.as_str())
        .bind(a.owner.as_deref())
        .bind(a.due_ms)
        .bind(a.status.as_str())
        .bind(a.created_ms)
        .bind(a.updated_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            constraint(
                e,
                StoreError::Conflict {
                    what: "action item",
                    id: a.id.clone(),
                },
                incident_missing(&a.incident_id),
            )
        })?;
    Ok(())
}

async fn enqueue_job(tx: &mut AnyConnection, j: &NewJob, now: i64) -> Result<(), StoreError> {
    let sql = "INSERT INTO jobs (id, kind, dedupe_key, incident_id, payload, due_ms, \
        attempts, state, created_ms, updated_ms) \
        VALUES ($1, $2, $3, $4, $5, $6, 0, 'pending', $7, $7) \
        ON CONFLICT (dedupe_key) DO NOTHING";
    sqlx::query(sql)
        .bind(crate::new_id())
        .bind(j.kind.as_str())
        .bind(j.dedupe_key.as_str())
        .bind(j.incident_id.as_deref())
        .bind(to_json(&j.payload)?)
        .bind(j.due_ms)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            constraint(
                e,
                StoreError::Conflict {
                    what: "job",
                    id: j.dedupe_key.clone(),
                },
                incident_missing(j.incident_id.as_deref().unwrap_or("")),
            )
        })?;
    Ok(())
}

async fn put_silence(
    tx: &mut AnyConnection,
    id: &str,
    body: &str,
    created_ms: &i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO silences (id, body, created_ms) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(body)
        .bind(*created_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            constraint(
                e,
                StoreError::Conflict {
                    what: "silence",
                    id: id.to_owned(),
                },
                StoreError::Conflict {
                    what: "silence",
                    id: id.to_owned(),
                },
            )
        })?;
    Ok(())
}

async fn insert_approval(tx: &mut AnyConnection, a: &ApprovalRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO approvals (id, incident_id, body, requested_ms, expires_ms, \
         used_run, version) VALUES ($1, $2, $3, $4, $5, NULL, 1)",
    )
    .bind(a.id.as_str())
    .bind(a.incident_id.as_str())
    .bind(a.body.as_str())
    .bind(a.requested_ms)
    .bind(a.expires_ms)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        constraint(
            e,
            conflict("approval", &a.id),
            incident_missing(&a.incident_id),
        )
    })?;
    Ok(())
}

async fn update_approval(
    tx: &mut AnyConnection,
    id: &str,
    body: &str,
    expected_version: &i64,
) -> Result<(), StoreError> {
    let r = sqlx::query(
        "UPDATE approvals SET body = $1, version = version + 1 \
         WHERE id = $2 AND version = $3 AND used_run IS NULL",
    )
    .bind(body)
    .bind(id)
    .bind(*expected_version)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(conflict("approval", id));
    }
    Ok(())
}

async fn use_approval(tx: &mut AnyConnection, id: &str, run: &str) -> Result<(), StoreError> {
    let r = sqlx::query(
        "UPDATE approvals SET used_run = $1, version = version + 1 \
         WHERE id = $2 AND used_run IS NULL",
    )
    .bind(run)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(conflict("approval", id));
    }
    Ok(())
}

async fn put_hold(tx: &mut AnyConnection, h: &EvidenceHold) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO evidence_holds (incident_id, reason, held_by, held_ms) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(h.incident_id.as_str())
    .bind(h.reason.as_str())
    .bind(h.held_by.as_str())
    .bind(h.held_ms)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        constraint(
            e,
            conflict("evidence hold", &h.incident_id),
            incident_missing(&h.incident_id),
        )
    })?;
    Ok(())
}

async fn delete_hold(tx: &mut AnyConnection, incident_id: &str) -> Result<(), StoreError> {
    let sql = "DELETE FROM evidence_holds WHERE incident_id = $1";
    delete_one(tx, sql, incident_id, "evidence hold").await
}

async fn mark_expired(
    tx: &mut AnyConnection,
    incident_id: &str,
    expired_ms: &i64,
    blobs_deleted: &i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO evidence_expiry (incident_id, expired_ms, blobs_deleted) \
         VALUES ($1, $2, $3)",
    )
    .bind(incident_id)
    .bind(*expired_ms)
    .bind(*blobs_deleted)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        constraint(
            e,
            conflict("evidence expiry", incident_id),
            incident_missing(incident_id),
        )
    })?;
    Ok(())
}

async fn delete_silence(tx: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    delete_one(tx, "DELETE FROM silences WHERE id = $1", id, "silence").await
}

async fn put_raw_payload(tx: &mut AnyConnection, p: &RawPayload) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO raw_payloads (id, source, received_ms, body, outcome, size) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(p.id.as_str())
    .bind(p.source.as_str())
    .bind(p.received_ms)
    .bind(p.body.as_slice())
    .bind(crate::payloads::outcome(p.rejected))
    .bind(i64::try_from(p.body.len()).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn cancel_jobs(
    tx: &mut AnyConnection,
    incident_id: &str,
    kind: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET state = 'cancelled', updated_ms = $1 \
         WHERE incident_id = $2 AND kind = $3 AND state = 'pending'",
    )
    .bind(now)
    .bind(incident_id)
    .bind(kind)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn cancel_job(tx: &mut AnyConnection, id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET state = 'cancelled', locked_by = NULL, locked_until_ms = NULL, \
         updated_ms = $1 WHERE id = $2 AND state IN ('pending', 'running')",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn fence(
    tx: &mut AnyConnection,
    lease: &str,
    holder: &str,
    epoch: &i64,
) -> Result<(), StoreError> {
    // A no-op UPDATE rather than a SELECT: on PostgreSQL it locks the lease row
    // until COMMIT, so a new holder cannot take the lease (and bump the epoch)
    // between this check and the commit of the fenced writes.
    let r = sqlx::query(
        "UPDATE leases SET epoch = epoch WHERE name = $1 AND holder = $2 AND epoch = $3",
    )
    .bind(lease)
    .bind(holder)
    .bind(*epoch)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(StoreError::Fenced {
            lease: lease.to_owned(),
        });
    }
    Ok(())
}
