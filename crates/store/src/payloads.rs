//! Raw alert payloads' upkeep: their total size, eviction of the oldest under a byte
//! cap, and deletion by age (docs/alerts.md, "Raw payloads").
//!
//! These bypass the group-commit writer, like jobs and leases: nothing refers to a raw
//! payload (no alert, event or ledger record names one), so deleting one is a single
//! statement that needs no ledger event, and the ledger is never touched here.

use crate::error::StoreError;
use crate::rows::placeholders;
use crate::store::Store;

/// `outcome` of a payload answered 4xx.
pub(crate) const REJECTED: &str = "rejected";
/// `outcome` of a payload that parsed (and of every row older than the column).
pub(crate) const ACCEPTED: &str = "accepted";

/// Rows looked at per eviction query: enough to free many MiB in one round trip.
const EVICT_PAGE: i64 = 256;

/// The stored `outcome` text.
pub(crate) fn outcome(rejected: bool) -> &'static str {
    if rejected { REJECTED } else { ACCEPTED }
}

/// What raw payloads hold, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawPayloadStats {
    /// Accepted payloads stored.
    pub accepted: u64,
    /// Rejected payloads stored.
    pub rejected: u64,
    /// Their bodies' total size in bytes.
    pub bytes: u64,
}

impl Store {
    /// How many raw payloads are stored, and their bytes.
    pub async fn raw_payload_stats(&self) -> Result<RawPayloadStats, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT outcome, COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) \
             FROM raw_payloads GROUP BY outcome",
        )
        .fetch_all(self.pool())
        .await?;
        let mut stats = RawPayloadStats::default();
        for (outcome, count, bytes) in rows {
            let count = u64::try_from(count).unwrap_or(0);
            if outcome == REJECTED {
                stats.rejected += count;
            } else {
                stats.accepted += count;
            }
            stats.bytes += u64::try_from(bytes).unwrap_or(0);
        }
        Ok(stats)
    }

    /// Deletes the oldest raw payloads until at least `bytes` are freed: rejected ones
    /// first, then (unless `rejected_only`) accepted ones. Returns the bytes freed,
    /// which is less than asked only when nothing eligible is left.
    pub async fn evict_raw_payloads(
        &self,
        bytes: u64,
        rejected_only: bool,
    ) -> Result<u64, StoreError> {
        let mut freed = 0;
        let outcomes: &[&str] = if rejected_only {
            &[REJECTED]
        } else {
            &[REJECTED, ACCEPTED]
        };
        for outcome in outcomes {
            while freed < bytes {
                let (n, page_freed) = self.evict_page(outcome, bytes - freed).await?;
                freed += page_freed;
                if n == 0 {
                    break;
                }
            }
        }
        Ok(freed)
    }

    /// Deletes the oldest payloads of one outcome, up to one page, stopping once
    /// `wanted` bytes are freed. Returns the rows deleted and the bytes freed.
    async fn evict_page(&self, outcome: &str, wanted: u64) -> Result<(usize, u64), StoreError> {
        let oldest: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, size FROM raw_payloads WHERE outcome = $1 \
             ORDER BY received_ms, id LIMIT $2",
        )
        .bind(outcome)
        .bind(EVICT_PAGE)
        .fetch_all(self.pool())
        .await?;
        let mut ids = Vec::new();
        let mut freed = 0u64;
        for (id, size) in oldest {
            if freed >= wanted {
                break;
            }
            freed += u64::try_from(size).unwrap_or(0);
            ids.push(id);
        }
        if ids.is_empty() {
            return Ok((0, 0));
        }
        let sql = format!(
            "DELETE FROM raw_payloads WHERE id IN ({})",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(id.as_str());
        }
        q.execute(self.pool()).await?;
        Ok((ids.len(), freed))
    }

    /// Deletes up to `limit` raw payloads of one outcome received before `before_ms`,
    /// oldest first; returns how many went (call again while it returns `limit`).
    pub async fn delete_raw_payloads_before(
        &self,
        rejected: bool,
        before_ms: i64,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM raw_payloads WHERE id IN (SELECT id FROM raw_payloads \
             WHERE outcome = $1 AND received_ms < $2 ORDER BY received_ms, id LIMIT $3)",
        )
        .bind(outcome(rejected))
        .bind(before_ms)
        .bind(i64::from(limit))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
