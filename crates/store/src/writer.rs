//! The group-commit writer: one task per `Store` owns every append to the ledger.
//!
//! Committers send a prepared change over a bounded channel and wait on a oneshot.
//! The writer takes everything waiting (up to `max_batch`), applies the writes and
//! appends the events in one transaction, and answers only after COMMIT returned, so
//! an acknowledged change is durable. While one batch commits (and fsyncs), the next
//! one fills up: throughput grows with the number of committers at one fsync a batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sitrep_ledger::{
    Hash, HashReader, LogStore, StorageError, append_indexes, stored_hash_count, tree_hash_indexes,
};
use sqlx::AnyConnection;
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::Backend;
use crate::apply::apply_writes;
use crate::error::StoreError;
use crate::health::Tracker;
use crate::model::{Committed, Write};
use crate::rows::{now_ms, placeholders, to_i64, to_u64, value_rows};

/// One event, encoded before it reaches the writer (callers encode in parallel).
pub(crate) struct EncodedEvent {
    /// The entry, unless `record` is set.
    pub bytes: Vec<u8>,
    /// An incident record the writer links and encodes (`chain::prepare`).
    pub record: Option<sitrep_ledger::Record>,
    pub incident: Option<String>,
    pub event_type: String,
    pub time_ms: i64,
    pub actor: String,
}

/// A change whose records are validated and encoded.
pub(crate) struct Prepared {
    pub writes: Vec<Write>,
    pub events: Vec<EncodedEvent>,
}

pub(crate) type Reply = oneshot::Sender<Result<Committed, StoreError>>;

pub(crate) enum Msg {
    Commit(Prepared, Reply),
    /// Apply everything sent before, then stop and acknowledge.
    Close(oneshot::Sender<()>),
}

/// How often a group commit is redone after another process moved the ledger head
/// before giving up (each redo means someone else made progress).
const MAX_HEAD_RETRIES: u32 = 1000;

/// Rows per multi-row INSERT. Not larger: sqlx binds SQLite parameters by name
/// (`$N`), and SQLite finds a parameter's name by walking the statement's parameter
/// list, so binding costs grow with the square of the parameters per statement (at
/// 128 six-column rows it was a quarter of the writer's CPU).
const ENTRY_ROWS: usize = 32;
const HASH_ROWS: usize = 64;
/// Indexes per `IN (...)` read.
const READ_CHUNK: usize = 64;

/// Splits `len` rows into statements of `max` rows and one remainder. The full-size
/// statement is prepared once per connection and cached; the remainder's text varies
/// with the batch, so it is prepared without caching (see `persistent(false)` below)
/// rather than evicting the full-size statements from the cache.
pub(crate) fn chunk_sizes(len: usize, max: usize) -> Vec<usize> {
    let mut out = vec![max; len / max];
    if len % max != 0 {
        out.push(len % max);
    }
    out
}

pub(crate) struct Writer {
    pub pool: AnyPool,
    pub backend: Backend,
    pub rx: mpsc::Receiver<Msg>,
    pub max_batch: usize,
    /// The tree size after our last commit; `None` after an error or before the first
    /// commit, meaning "read it from the head row".
    pub size: Option<u64>,
    /// The stored hashes of the complete subtrees (`tree_hash_indexes`) of the tree of
    /// the given size, kept from our last commit. `append` reads only these, so while
    /// no other process appends, a group commit needs no hash reads at all.
    pub peaks: Option<(u64, HashMap<u64, Hash>)>,
    /// Each incident's last leaf, valid exactly when `peaks` is.
    pub heads: crate::chain::Heads,
    /// The last outcome, for `/readyz`: failed while the database as a whole fails.
    pub health: Arc<Tracker>,
    /// Longest one group commit may take before it is abandoned (its transaction
    /// rolled back with its connection), so a stalled database cannot stall the
    /// writer for good.
    pub timeout: Duration,
}

impl Writer {
    pub(crate) async fn run(mut self) {
        let mut batch: Vec<(Prepared, Reply)> = Vec::with_capacity(self.max_batch);
        while let Some(msg) = self.rx.recv().await {
            let mut close = None;
            match msg {
                Msg::Commit(p, reply) => batch.push((p, reply)),
                Msg::Close(ack) => close = Some(ack),
            }
            while close.is_none() && batch.len() < self.max_batch {
                match self.rx.try_recv() {
                    Ok(Msg::Commit(p, reply)) => batch.push((p, reply)),
                    Ok(Msg::Close(ack)) => close = Some(ack),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.apply(&mut batch).await;
            }
            if let Some(ack) = close {
                // Dropping the receiver on return fails every later send (Closed);
                // changes queued behind the Close message are dropped unapplied,
                // their committers see Closed.
                let _ = ack.send(());
                return;
            }
        }
    }

    async fn apply(&mut self, batch: &mut Vec<(Prepared, Reply)>) {
        let changes: Vec<&Prepared> = batch.iter().map(|(p, _)| p).collect();
        let outcome = self.commit_group(&changes).await;
        match &outcome {
            Ok(_) => self.health.ok(),
            Err(e) if e.is_fault() => self.health.failed(e.to_string()),
            Err(_) => {}
        }
        match outcome {
            Ok(results) => {
                for ((_, reply), result) in batch.drain(..).zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some((_, reply)) = batch.pop() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(e) if e.is_change_specific() => {
                // One change is bad (a version conflict, a fence, a constraint): the
                // transaction rolled back, so apply each alone and only the bad one
                // gets the error.
                for (p, reply) in batch.drain(..) {
                    let result = self
                        .commit_group(&[&p])
                        .await
                        .and_then(|mut v| v.pop().ok_or(StoreError::Closed));
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                // The database itself failed (connection lost, disk full, I/O at
                // COMMIT). The outcome of a failed COMMIT is unknown, so nothing is
                // retried here: every committer gets the error and nothing is
                // acknowledged. The failed transaction's connection is discarded by
                // the pool (`after_release` in store.rs), so the next batch starts on
                // a clean one and works as soon as the fault clears.
                let reason = e.to_string();
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::CommitFailed {
                        reason: reason.clone(),
                    }));
                }
            }
        }
    }

    /// Applies `changes` in one transaction and returns what each got.
    async fn commit_group(&mut self, changes: &[&Prepared]) -> Result<Vec<Committed>, StoreError> {
        let timeout = self.timeout;
        let result = tokio::time::timeout(timeout, self.try_commit_group(changes))
            .await
            .unwrap_or(Err(StoreError::TimedOut {
                what: "group commit",
                after: timeout,
            }));
        if result.is_err() {
            self.size = None;
            self.peaks = None;
            self.heads.clear();
        }
        result
    }

    async fn try_commit_group(
        &mut self,
        changes: &[&Prepared],
    ) -> Result<Vec<Committed>, StoreError> {
        let count: u64 = changes.iter().map(|c| c.events.len() as u64).sum();
        for _ in 0..MAX_HEAD_RETRIES {
            let mut tx = begin_write(&self.pool, self.backend).await?;
            let old = match self.size {
                Some(size) => size,
                None => head_size(&mut tx).await?,
            };
            let new = old
                .checked_add(count)
                .ok_or_else(|| StoreError::Corrupt("tree size overflow".into()))?;
            // First statement: move the head. It takes the head's row lock (PostgreSQL)
            // or the write lock (SQLite), so everything below runs with the ledger to
            // ourselves, also against other processes sharing the database. A miss
            // means another process appended since we last looked: reload and redo.
            let moved = sqlx::query("UPDATE ledger_head SET size = $1 WHERE id = 1 AND size = $2")
                .bind(to_i64(new)?)
                .bind(to_i64(old)?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved != 1 {
                drop(tx);
                self.size = None;
                tokio::task::yield_now().await;
                continue;
            }
            let now = now_ms();
            for change in changes {
                apply_writes(&mut tx, &change.writes, now).await?;
            }
            // The head moved from `old` under our lock, so peaks we kept for `old`
            // are current; otherwise (first batch, another process appended) read them.
            let peaks = match self.peaks.take() {
                Some((size, peaks)) if size == old => peaks,
                _ => {
                    self.heads.clear();
                    fetch_hashes(&mut tx, &tree_hash_indexes(old)?).await?
                }
            };
            let events: Vec<&EncodedEvent> = changes.iter().flat_map(|c| &c.events).collect();
            let (entries, heads) = crate::chain::link(&mut tx, old, &events, &self.heads).await?;
            let peaks = if events.is_empty() {
                peaks
            } else {
                append_events(&mut tx, old, &events, &entries, &peaks).await?
            };
            tx.commit().await?;
            self.size = Some(new);
            self.peaks = Some((new, peaks));
            self.heads.extend(heads);
            let mut next = old;
            return Ok(changes
                .iter()
                .map(|c| {
                    let start = next;
                    next += c.events.len() as u64;
                    Committed {
                        indexes: (start..next).collect(),
                        tree_size: new,
                    }
                })
                .collect());
        }
        Err(StoreError::CommitFailed {
            reason: format!(
                "the ledger head kept moving under {MAX_HEAD_RETRIES} attempts (other writers)"
            ),
        })
    }
}

/// A write transaction. SQLite's is IMMEDIATE: it takes the write lock up front, so a
/// transaction that reads before it writes never fails on upgrading its lock (busy).
pub(crate) async fn begin_write(
    pool: &AnyPool,
    backend: Backend,
) -> Result<Transaction<'static, Any>, StoreError> {
    Ok(match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    })
}

/// A read-only transaction that sees one snapshot throughout, for checks that read
/// the head, the entries, the hashes and the checkpoints in several statements while
/// other replicas keep appending (on SQLite a deferred transaction keeps its first
/// read's snapshot).
pub(crate) async fn begin_snapshot(
    pool: &AnyPool,
    backend: Backend,
) -> Result<Transaction<'static, Any>, StoreError> {
    Ok(match backend {
        Backend::Sqlite => pool.begin().await?,
        Backend::Postgres => {
            pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?
        }
    })
}

pub(crate) async fn head_size(conn: &mut AnyConnection) -> Result<u64, StoreError> {
    let size: i64 = sqlx::query_scalar("SELECT size FROM ledger_head WHERE id = 1")
        .fetch_one(conn)
        .await?;
    to_u64(size, "ledger head size")
}

/// Stored hashes by index, read in chunks.
pub(crate) async fn fetch_hashes(
    conn: &mut AnyConnection,
    indexes: &[u64],
) -> Result<HashMap<u64, Hash>, StoreError> {
    let mut out = HashMap::with_capacity(indexes.len());
    for chunk in indexes.chunks(READ_CHUNK) {
        // Pad the list to a power of two with its last index (a repeat in IN is
        // harmless) so few distinct statements exist.
        let width = chunk.len().next_power_of_two();
        let sql = format!(
            "SELECT hash_index, hash FROM ledger_hashes WHERE hash_index IN ({})",
            placeholders(1, width)
        );
        let mut q = sqlx::query_as::<_, (i64, Vec<u8>)>(&sql);
        let last = chunk.last().copied().unwrap_or(0);
        for &i in chunk
            .iter()
            .chain(std::iter::repeat_n(&last, width - chunk.len()))
        {
            q = q.bind(to_i64(i)?);
        }
        for (index, bytes) in q.fetch_all(&mut *conn).await? {
            let index = to_u64(index, "stored hash index")?;
            let hash = Hash::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("stored hash {index}: {e}")))?;
            out.insert(index, hash);
        }
    }
    Ok(out)
}

/// A [`HashReader`] over hashes fetched beforehand: the ledger's functions are
/// synchronous, the database is not, so the store fetches exactly the indexes the
/// `*_indexes` functions list and serves them from memory.
pub(crate) struct MapReader(pub HashMap<u64, Hash>);

impl HashReader for MapReader {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        indexes
            .iter()
            .map(|i| {
                self.0.get(i).copied().ok_or_else(|| {
                    StorageError::new(format!("stored hash {i} is missing from the database"))
                })
            })
            .collect()
    }
}

/// The [`LogStore`] `sitrep_ledger::append` runs against inside a group commit: reads
/// come from the prefetched hashes, and `append` captures the hashes to insert.
struct Capture {
    size: u64,
    reader: MapReader,
    hashes: Option<Vec<Hash>>,
}

impl HashReader for Capture {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        self.reader.read_hashes(indexes)
    }
}

impl LogStore for Capture {
    fn tree_size(&self) -> Result<u64, StorageError> {
        Ok(self.size)
    }

    fn read_entries(&self, _start: u64, _end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        // `append` never reads entries; refusing keeps that assumption checked.
        Err(StorageError::new(
            "the group-commit adapter serves no entries",
        ))
    }

    fn append(&mut self, _entries: &[&[u8]], hashes: &[Hash]) -> Result<(), StorageError> {
        self.hashes = Some(hashes.to_vec());
        Ok(())
    }
}

/// Computes the stored hashes `events` add at tree size `old` (reading only `peaks`,
/// the complete subtrees of that tree), inserts entries and hashes, and returns the
/// peaks of the grown tree.
async fn append_events(
    tx: &mut AnyConnection,
    old: u64,
    events: &[&EncodedEvent],
    entries: &[std::borrow::Cow<'_, [u8]>],
    peaks: &HashMap<u64, Hash>,
) -> Result<HashMap<u64, Hash>, StoreError> {
    // `append` reads exactly `append_indexes`, all of them peaks of the old tree.
    let reader = MapReader(
        append_indexes(old, events.len() as u64)?
            .into_iter()
            .filter_map(|i| peaks.get(&i).map(|h| (i, *h)))
            .collect(),
    );
    let mut capture = Capture {
        size: old,
        reader,
        hashes: None,
    };
    let refs: Vec<&[u8]> = entries.iter().map(AsRef::as_ref).collect();
    sitrep_ledger::append(&mut capture, &refs)?;
    let hashes = capture
        .hashes
        .ok_or_else(|| StoreError::Corrupt("append produced no hashes".into()))?;
    let base = stored_hash_count(old);
    let new = old + events.len() as u64;
    let mut new_peaks = HashMap::new();
    for i in tree_hash_indexes(new)? {
        let hash = match i.checked_sub(base) {
            Some(k) => usize::try_from(k).ok().and_then(|k| hashes.get(k)).copied(),
            None => peaks.get(&i).copied(),
        };
        let hash = hash.ok_or_else(|| {
            StoreError::Corrupt(format!("peak {i} of tree size {new} is unknown"))
        })?;
        new_peaks.insert(i, hash);
    }

    let mut index = old;
    let mut rest = events;
    let mut rest_bytes = refs.as_slice();
    for n in chunk_sizes(events.len(), ENTRY_ROWS) {
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let (chunk_bytes, tail) = rest_bytes.split_at(n);
        rest_bytes = tail;
        let sql = format!(
            "INSERT INTO ledger_entries (leaf_index, incident_id, event_type, time_ms, actor, \
             record) VALUES {}",
            value_rows(chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql).persistent(n == ENTRY_ROWS);
        for (e, bytes) in chunk.iter().zip(chunk_bytes) {
            q = q
                .bind(to_i64(index)?)
                .bind(e.incident.as_deref())
                .bind(e.event_type.as_str())
                .bind(e.time_ms)
                .bind(e.actor.as_str())
                .bind(*bytes);
            index += 1;
        }
        q.execute(&mut *tx).await?;
    }
    let mut hash_index = stored_hash_count(old);
    let mut rest = hashes.as_slice();
    for n in chunk_sizes(hashes.len(), HASH_ROWS) {
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let sql = format!(
            "INSERT INTO ledger_hashes (hash_index, hash) VALUES {}",
            value_rows(chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql).persistent(n == HASH_ROWS);
        for h in chunk {
            q = q.bind(to_i64(hash_index)?).bind(h.as_bytes().as_slice());
            hash_index += 1;
        }
        q.execute(&mut *tx).await?;
    }
    Ok(new_peaks)
}

#[cfg(test)]
mod tests {
    use super::chunk_sizes;

    #[test]
    fn chunks_cover_every_row() {
        for len in 0..200 {
            let c = chunk_sizes(len, 32);
            assert_eq!(c.iter().sum::<usize>(), len);
            assert!(c.iter().all(|&n| n > 0 && n <= 32));
            assert!(c.iter().rev().skip(1).all(|&n| n == 32));
        }
    }
}
