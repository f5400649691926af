//! What the store's background parts last did (the writer, the checkpoint signer), for
//! `/readyz` and `/metrics`, and which errors are faults of the environment (disk full,
//! database unreachable) rather than of one change.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::AnyPool;

use crate::Backend;
use crate::error::StoreError;
use crate::rows::now_ms;
use crate::writer::begin_write;

/// Bytes the write probe commits. An empty transaction is no proof: on a full disk
/// SQLite still commits small writes into WAL space it already has, while real
/// deliveries fail; a write of a large delivery's size needs the space they need.
const PROBE_BYTES: usize = 256 * 1024;

/// Commits a raw payload of [`PROBE_BYTES`] (marked rejected, so the byte cap would
/// evict it first) and deletes it again: a real write through the same tables and
/// files a delivery uses, leaving nothing behind and nothing in the ledger.
pub(crate) async fn write_probe(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let id = format!("sitrep-write-probe-{}", crate::new_id());
    let mut tx = begin_write(pool, backend).await?;
    sqlx::query(
        "INSERT INTO raw_payloads (id, source, received_ms, body, outcome, size) \
         VALUES ($1, 'write-probe', $2, $3, $4, $5)",
    )
    .bind(id.as_str())
    .bind(now_ms())
    .bind(vec![0x5a_u8; PROBE_BYTES])
    .bind(crate::payloads::outcome(true))
    .bind(i64::try_from(PROBE_BYTES).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("DELETE FROM raw_payloads WHERE id = $1")
        .bind(id.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

/// The last outcome of one subsystem and how often it failed since the store opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `None` when its last attempt succeeded (or none was made yet), else why not.
    pub error: Option<String>,
    /// When the last attempt ended (Unix milliseconds; 0 before the first).
    pub at_ms: u64,
    /// Failed attempts since the store opened.
    pub failures: u64,
}

impl Outcome {
    /// Whether the last attempt succeeded (or none was made yet).
    #[must_use]
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// A subsystem's outcome, shared between the task doing the work and the probes.
#[derive(Debug, Default)]
pub struct Tracker {
    last: Mutex<(Option<String>, u64)>,
    failures: AtomicU64,
}

impl Tracker {
    /// Records a success.
    pub fn ok(&self) {
        self.set(None);
    }

    /// Records a failure and why.
    pub fn failed(&self, why: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.set(Some(why));
    }

    fn set(&self, error: Option<String>) {
        let now = u64::try_from(now_ms()).unwrap_or(0);
        match self.last.lock() {
            Ok(mut slot) => *slot = (error, now),
            Err(poisoned) => *poisoned.into_inner() = (error, now),
        }
    }

    /// The last outcome and the failure count.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        let (error, at_ms) = match self.last.lock() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        Outcome {
            error,
            at_ms,
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// SQLite primary result codes that mean the disk or the file, not the statement:
/// IOERR, CORRUPT is not one (it is data), FULL, CANTOPEN, READONLY, NOLCK... kept to the
/// ones a full or read-only disk and a lost file produce.
const SQLITE_FAULTS: [u32; 5] = [
    8,  // SQLITE_READONLY
    10, // SQLITE_IOERR
    13, // SQLITE_FULL
    14, // SQLITE_CANTOPEN
    5,  // SQLITE_BUSY: another process holds the lock past busy_timeout
];

/// PostgreSQL SQLSTATE classes of the server's resources and connection, not of one
/// statement: 08 connection, 53 insufficient resources (disk full, out of memory),
/// 57 operator intervention (shutdown), 58 system error (I/O).
const PG_FAULT_CLASSES: [&str; 4] = ["08", "53", "57", "58"];

impl StoreError {
    /// True when the environment failed (disk full or read-only, database unreachable or
    /// shutting down, a timeout), so every change would fail alike until it is fixed:
    /// the answer is 503 and the subsystem is not ready. False for errors that belong to
    /// one change (a conflict, a constraint) or to the data.
    #[must_use]
    pub fn is_fault(&self) -> bool {
        match self {
            StoreError::CommitFailed { .. }
            | StoreError::TimedOut { .. }
            | StoreError::Connect { .. }
            | StoreError::Closed => true,
            StoreError::Database(e) => sqlx_fault(e),
            _ => false,
        }
    }
}

fn sqlx_fault(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if let Ok(n) = code.parse::<u32>() {
                return SQLITE_FAULTS.contains(&(n & 0xff));
            }
            PG_FAULT_CLASSES.iter().any(|c| code.starts_with(c))
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_keeps_the_last_outcome_and_counts_failures() {
        let t = Tracker::default();
        assert!(t.outcome().ok());
        t.failed("disk full".into());
        t.failed("disk full".into());
        let o = t.outcome();
        assert_eq!((o.error.as_deref(), o.failures), (Some("disk full"), 2));
        t.ok();
        let o = t.outcome();
        assert!(o.ok() && o.failures == 2 && o.at_ms > 0);
    }

    #[test]
    fn faults_are_told_from_change_errors() {
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_fault());
        assert!(StoreError::CommitFailed { reason: "x".into() }.is_fault());
        assert!(
            !StoreError::Conflict {
                what: "incident",
                id: "1".into()
            }
            .is_fault()
        );
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_fault());
    }
}
