//! `Store`'s read queries: silences, raw payloads, incidents, the timeline, alerts,
//! runs, approvals, evidence holds and retention, checklists and action items.

use crate::error::StoreError;
use crate::model::{
    ActionItem, Alert, ApprovalRow, ChecklistItem, Event, EvidenceHold, Incident, IncidentFilter,
    RawPayload, StepRun,
};
use crate::rows::{self, to_i64, to_u64};
use crate::store::Store;

/// Values per `IN (...)` list. Far below SQLite's parameter limit (32,766), and small
/// because sqlx binds SQLite parameters by name, which costs the square of the
/// parameters per statement (docs/benchmarks.md, "store").
const IN_CHUNK: usize = 256;

/// The length an `IN (...)` list of `n` values is padded to: a power of two, so a query
/// has at most 9 texts and each stays in the connection's statement cache instead of
/// evicting the writer's statements (there are about 100 places).
fn in_len(n: usize) -> usize {
    n.next_power_of_two().min(IN_CHUNK)
}

/// `values` then its last value repeated up to [`in_len`] (a repeat in `IN` matches
/// nothing more).
fn padded(values: &[String]) -> impl Iterator<Item = &String> {
    let pad = in_len(values.len()) - values.len();
    values
        .iter()
        .chain(values.last().into_iter().cycle().take(pad))
}

impl Store {
    /// Every stored silence as `(id, JSON body)`, oldest first.
    pub async fn silences(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, body FROM silences ORDER BY created_ms, id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((rows::get(r, "id")?, rows::get(r, "body")?)))
            .collect()
    }

    /// A raw payload by id.
    pub async fn raw_payload(&self, id: &str) -> Result<Option<RawPayload>, StoreError> {
        let row: Option<(String, String, i64, Vec<u8>, String)> = sqlx::query_as(
            "SELECT id, source, received_ms, body, outcome FROM raw_payloads WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(
            row.map(|(id, source, received_ms, body, outcome)| RawPayload {
                id,
                source,
                received_ms,
                body,
                rejected: outcome == crate::payloads::REJECTED,
            }),
        )
    }

    /// An incident by id, or by number when the argument is all digits.
    pub async fn incident(&self, id_or_number: &str) -> Result<Option<Incident>, StoreError> {
        let by_number =
            !id_or_number.is_empty() && id_or_number.bytes().all(|b| b.is_ascii_digit());
        let row = if by_number {
            let Ok(number) = id_or_number.parse::<i64>() else {
                return Ok(None);
            };
            let sql = format!(
                "SELECT {} FROM incidents WHERE number = $1",
                rows::INCIDENT_COLS
            );
            sqlx::query(&sql)
                .bind(number)
                .fetch_optional(self.pool())
                .await?
        } else {
            let sql = format!(
                "SELECT {} FROM incidents WHERE id = $1",
                rows::INCIDENT_COLS
            );
            sqlx::query(&sql)
                .bind(id_or_number)
                .fetch_optional(self.pool())
                .await?
        };
        row.as_ref().map(rows::incident).transpose()
    }

    /// Incidents matching `f`, newest first.
    pub async fn incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let mut sql = format!("SELECT {} FROM incidents WHERE 1 = 1", rows::INCIDENT_COLS);
        let mut n = 1;
        if !f.statuses.is_empty() {
            sql.push_str(&format!(
                " AND status IN ({})",
                rows::placeholders(n, f.statuses.len())
            ));
            n += f.statuses.len();
        }
        if f.severity.is_some() {
            sql.push_str(&format!(" AND severity = ${n}"));
            n += 1;
        }
        if f.service.is_some() {
            sql.push_str(&format!(" AND service = ${n}"));
            n += 1;
        }
        sql.push_str(&format!(
            " ORDER BY created_ms DESC, number DESC LIMIT ${n}"
        ));
        let mut q = sqlx::query(&sql);
        for s in &f.statuses {
            q = q.bind(s.as_str());
        }
        if let Some(s) = &f.severity {
            q = q.bind(s.as_str());
        }
        if let Some(s) = &f.service {
            q = q.bind(s.as_str());
        }
        let limit = if f.limit == 0 {
            100
        } else {
            i64::from(f.limit)
        };
        q = q.bind(limit);
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::incident)
            .collect()
    }

    /// The unresolved incident opened for an alert group, if any.
    pub async fn open_incident_for_group(
        &self,
        group_key: &str,
    ) -> Result<Option<Incident>, StoreError> {
        let sql = format!(
            "SELECT {} FROM incidents WHERE group_key = $1 AND status <> 'resolved'",
            rows::INCIDENT_COLS
        );
        sqlx::query(&sql)
            .bind(group_key)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::incident)
            .transpose()
    }

    /// An incident's timeline: the ledger entries naming it, in ledger order, after
    /// leaf index `after` if given (for live tails).
    pub async fn timeline(
        &self,
        incident_id: &str,
        after: Option<u64>,
    ) -> Result<Vec<Event>, StoreError> {
        let after = match after {
            Some(a) => to_i64(a)?,
            None => -1,
        };
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT leaf_index, record FROM ledger_entries WHERE incident_id = $1 \
             AND leaf_index > $2 ORDER BY leaf_index",
        )
        .bind(incident_id)
        .bind(after)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(decode_event).collect()
    }

    /// Ledger entries `start..end` (end exclusive) as events.
    pub async fn events(&self, start: u64, end: u64) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT leaf_index, record FROM ledger_entries WHERE leaf_index >= $1 \
             AND leaf_index < $2 ORDER BY leaf_index",
        )
        .bind(to_i64(start)?)
        .bind(to_i64(end)?)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(decode_event).collect()
    }

    /// The alert with this fingerprint.
    pub async fn alert(&self, fingerprint: &str) -> Result<Option<Alert>, StoreError> {
        let sql = format!(
            "SELECT {} FROM alerts WHERE fingerprint = $1",
            rows::ALERT_COLS
        );
        sqlx::query(&sql)
            .bind(fingerprint)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::alert)
            .transpose()
    }

    /// The stored alerts among `fingerprints`, in no particular order: one query per
    /// `IN_CHUNK` fingerprints (a delivery holds at most a few thousand alerts, so this
    /// is one round trip for a normal delivery instead of one per alert).
    pub async fn alerts_by_fingerprint(
        &self,
        fingerprints: &[String],
    ) -> Result<Vec<Alert>, StoreError> {
        let mut out = Vec::with_capacity(fingerprints.len());
        for chunk in fingerprints.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {} FROM alerts WHERE fingerprint IN ({})",
                rows::ALERT_COLS,
                rows::placeholders(1, in_len(chunk.len()))
            );
            let mut q = sqlx::query(&sql);
            for fp in padded(chunk) {
                q = q.bind(fp.as_str());
            }
            for row in q.fetch_all(self.pool()).await? {
                out.push(rows::alert(&row)?);
            }
        }
        Ok(out)
    }

    /// The unresolved incidents opened for any of `group_keys` (at most one per group),
    /// one query per `IN_CHUNK` keys.
    pub async fn open_incidents_for_groups(
        &self,
        group_keys: &[String],
    ) -> Result<Vec<Incident>, StoreError> {
        let mut out = Vec::new();
        for chunk in group_keys.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {} FROM incidents WHERE group_key IN ({}) AND status <> 'resolved'",
                rows::INCIDENT_COLS,
                rows::placeholders(1, in_len(chunk.len()))
            );
            let mut q = sqlx::query(&sql);
            for key in padded(chunk) {
                q = q.bind(key.as_str());
            }
            for row in q.fetch_all(self.pool()).await? {
                out.push(rows::incident(&row)?);
            }
        }
        Ok(out)
    }

    /// The alerts attached to an incident, oldest first.
    pub async fn alerts_for(&self, incident_id: &str) -> Result<Vec<Alert>, StoreError> {
        let sql = format!(
            "SELECT {} FROM alerts WHERE incident_id = $1 ORDER BY starts_ms, fingerprint",
            rows::ALERT_COLS
        );
        sqlx::query(&sql)
            .bind(incident_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::alert)
            .collect()
    }

    /// A step run by id.
    pub async fn run(&self, id: &str) -> Result<Option<StepRun>, StoreError> {
        let sql = format!("SELECT {} FROM step_runs WHERE id = $1", rows::RUN_COLS);
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::run)
            .transpose()
    }

    /// An incident's step runs, in start order.
    pub async fn runs_for(&self, incident_id: &str) -> Result<Vec<StepRun>, StoreError> {
        let sql = format!(
            "SELECT {} FROM step_runs WHERE incident_id = $1 ORDER BY started_ms, id",
            rows::RUN_COLS
        );
        sqlx::query(&sql)
            .bind(incident_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::run)
            .collect()
    }

    /// An approval by id.
    pub async fn approval(&self, id: &str) -> Result<Option<ApprovalRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM approvals WHERE id = $1",
            rows::APPROVAL_COLS
        );
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::approval)
            .transpose()
    }

    /// An incident's approvals that are unused and expire after `now_ms`, oldest first.
    pub async fn open_approvals(
        &self,
        incident_id: &str,
        now_ms: i64,
    ) -> Result<Vec<ApprovalRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM approvals WHERE incident_id = $1 AND used_run IS NULL \
             AND expires_ms > $2 ORDER BY requested_ms, id",
            rows::APPROVAL_COLS
        );
        sqlx::query(&sql)
            .bind(incident_id)
            .bind(now_ms)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::approval)
            .collect()
    }

    /// The legal hold on an incident's evidence, if any.
    pub async fn hold(&self, incident_id: &str) -> Result<Option<EvidenceHold>, StoreError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT incident_id, reason, held_by, held_ms FROM evidence_holds \
             WHERE incident_id = $1",
        )
        .bind(incident_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(
            row.map(|(incident_id, reason, held_by, held_ms)| EvidenceHold {
                incident_id,
                reason,
                held_by,
                held_ms,
            }),
        )
    }

    /// Resolved before `cutoff_ms`, not held, evidence not yet expired: the incidents
    /// retention may act on, oldest first, at most `limit`.
    pub async fn retention_due(
        &self,
        cutoff_ms: i64,
        limit: u32,
    ) -> Result<Vec<Incident>, StoreError> {
        let sql = format!(
            "SELECT {} FROM incidents WHERE status = 'resolved' AND resolved_ms < $1 \
             AND id NOT IN (SELECT incident_id FROM evidence_holds) \
             AND id NOT IN (SELECT incident_id FROM evidence_expiry) \
             ORDER BY resolved_ms, id LIMIT $2",
            rows::INCIDENT_COLS
        );
        sqlx::query(&sql)
            .bind(cutoff_ms)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::incident)
            .collect()
    }

    /// The incidents whose runs captured the blob `sha256_hex` (stdout or stderr).
    pub async fn incidents_using_blob(&self, sha256_hex: &str) -> Result<Vec<String>, StoreError> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT incident_id FROM step_runs \
             WHERE stdout_sha256 = $1 OR stderr_sha256 = $1",
        )
        .bind(sha256_hex)
        .fetch_all(self.pool())
        .await?;
        Ok(ids.into_iter().map(|(i,)| i).collect())
    }

    /// Incidents whose evidence retention deleted after `since_ms`, as
    /// `(incident id, expired_ms)`, oldest first (for replicas cleaning their copies).
    pub async fn expired_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT incident_id, expired_ms FROM evidence_expiry WHERE expired_ms > $1 \
             ORDER BY expired_ms, incident_id",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?)
    }

    /// Whether retention already deleted this incident's evidence bytes.
    pub async fn evidence_expired(&self, incident_id: &str) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM evidence_expiry WHERE incident_id = $1")
                .bind(incident_id)
                .fetch_one(self.pool())
                .await?;
        Ok(n > 0)
    }

    /// An incident's checklist, in the order items were first added.
    pub async fn checklist(&self, incident_id: &str) -> Result<Vec<ChecklistItem>, StoreError> {
        let sql = format!(
            "SELECT {} FROM checklist_items WHERE incident_id = $1 ORDER BY position",
            rows::CHECKLIST_COLS
        );
        sqlx::query(&sql)
            .bind(incident_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::checklist_item)
            .collect()
    }

    /// An incident's action items, oldest first.
    pub async fn action_items(&self, incident_id: &str) -> Result<Vec<ActionItem>, StoreError> {
        let sql = format!(
            "SELECT {} FROM action_items WHERE incident_id = $1 ORDER BY created_ms, id",
            rows::ACTION_COLS
        );
        sqlx::query(&sql)
            .bind(incident_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::action_item)
            .collect()
    }
}

fn decode_event((index, bytes): (i64, Vec<u8>)) -> Result<Event, StoreError> {
    let index = to_u64(index, "leaf index")?;
    let record = sitrep_ledger::Record::decode(&bytes)
        .map_err(|e| StoreError::Corrupt(format!("ledger entry {index}: {e}")))?;
    Ok(Event { index, record })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lists_are_padded_to_few_lengths_with_the_last_value() {
        let lens: std::collections::BTreeSet<usize> = (1..=IN_CHUNK).map(in_len).collect();
        assert_eq!(lens.len(), 9);
        let v: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let p: Vec<&str> = padded(&v).map(String::as_str).collect();
        assert_eq!(p, ["a", "b", "c", "c"]);
        assert_eq!(padded(&v[..1]).count(), 1);
    }
}
