//! The group-commit writer: one task per `Store` owns every append to the ledger.
//!
//! Committers send a prepared change over a bounded channel and wait on a oneshot.
//! The writer takes everything waiting (up to `max_batch`), applies the writes and
//! appends the events in one transaction, and answers only after COMMIT returned, so
//! an acknowledged change is durable. While one batch commits (and fsyncs), the next
//! one fills up: throughput grows with the number of committers at one fsync a batch.

use std::collections::HashMap;

use sitrep_ledger::{
    Hash, HashReader, LogStore, StorageError, append_indexes, stored_hash_count, tree_hash_indexes,
};
use sqlx::AnyConnection;
use sqlx::error::ErrorKind;
use sqlx::{Any, AnyPool, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::Backend;
use crate::error::StoreError;
use crate::model::{Committed, Write};
use crate::rows::{now_ms, placeholders, to_i64, to_json, to_u64, value_rows};

/// One event, encoded before it reaches the writer (callers encode in parallel).
pub(crate) struct EncodedEvent {
    pub bytes: Vec<u8>,
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
        match self.commit_group(&changes).await {
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
                // The database itself failed (connection lost, I/O at COMMIT). The
                // outcome of a failed COMMIT is unknown, so nothing is retried here:
                // every committer gets the error and nothing is acknowledged.
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
        let result = self.try_commit_group(changes).await;
        if result.is_err() {
            self.size = None;
            self.peaks = None;
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
                for write in &change.writes {
                    apply_write(&mut tx, write, now).await?;
                }
            }
            // The head moved from `old` under our lock, so peaks we kept for `old`
            // are current; otherwise (first batch, another process appended) read them.
            let peaks = match self.peaks.take() {
                Some((size, peaks)) if size == old => peaks,
                _ => fetch_hashes(&mut tx, &tree_hash_indexes(old)?).await?,
            };
            let events: Vec<&EncodedEvent> = changes.iter().flat_map(|c| &c.events).collect();
            let peaks = if events.is_empty() {
                peaks
            } else {
                append_events(&mut tx, old, &events, &peaks).await?
            };
            tx.commit().await?;
            self.size = Some(new);
            self.peaks = Some((new, peaks));
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
    let entries: Vec<&[u8]> = events.iter().map(|e| e.bytes.as_slice()).collect();
    sitrep_ledger::append(&mut capture, &entries)?;
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
    for n in chunk_sizes(events.len(), ENTRY_ROWS) {
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let sql = format!(
            "INSERT INTO ledger_entries (leaf_index, incident_id, event_type, time_ms, actor, \
             record) VALUES {}",
            value_rows(chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql).persistent(n == ENTRY_ROWS);
        for e in chunk {
            q = q
                .bind(to_i64(index)?)
                .bind(e.incident.as_deref())
                .bind(e.event_type.as_str())
                .bind(e.time_ms)
                .bind(e.actor.as_str())
                .bind(e.bytes.as_slice());
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

async fn apply_write(tx: &mut AnyConnection, write: &Write, now: i64) -> Result<(), StoreError> {
    match write {
        Write::InsertIncident(i) => {
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
        Write::UpdateIncident {
            incident: i,
            expected_version,
        } => {
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
        Write::UpsertAlert(a) => {
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
        Write::PutRun(r) => {
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
        Write::EndRun {
            id,
            status,
            ended_ms,
        } => crate::runs::end_run(tx, id, status, *ended_ms).await,
        Write::PutChecklistItem(c) => {
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
        Write::PutActionItem(a) => {
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
        Write::EnqueueJob(j) => {
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
        Write::PutSilence {
            id,
            body,
            created_ms,
        } => {
            sqlx::query("INSERT INTO silences (id, body, created_ms) VALUES ($1, $2, $3)")
                .bind(id.as_str())
                .bind(body.as_str())
                .bind(*created_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    constraint(
                        e,
                        StoreError::Conflict {
                            what: "silence",
                            id: id.clone(),
                        },
                        StoreError::Conflict {
                            what: "silence",
                            id: id.clone(),
                        },
                    )
                })?;
            Ok(())
        }
        Write::InsertApproval(a) => {
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
        Write::UpdateApproval {
            id,
            body,
            expected_version,
        } => {
            let r = sqlx::query(
                "UPDATE approvals SET body = $1, version = version + 1 \
                 WHERE id = $2 AND version = $3 AND used_run IS NULL",
            )
            .bind(body.as_str())
            .bind(id.as_str())
            .bind(*expected_version)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                return Err(conflict("approval", id));
            }
            Ok(())
        }
        Write::UseApproval { id, run } => {
            let r = sqlx::query(
                "UPDATE approvals SET used_run = $1, version = version + 1 \
                 WHERE id = $2 AND used_run IS NULL",
            )
            .bind(run.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                return Err(conflict("approval", id));
            }
            Ok(())
        }
        Write::PutHold(h) => {
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
        Write::DeleteHold { incident_id } => {
            let sql = "DELETE FROM evidence_holds WHERE incident_id = $1";
            delete_one(tx, sql, incident_id, "evidence hold").await
        }
        Write::MarkExpired {
            incident_id,
            expired_ms,
            blobs_deleted,
        } => {
            sqlx::query(
                "INSERT INTO evidence_expiry (incident_id, expired_ms, blobs_deleted) \
                 VALUES ($1, $2, $3)",
            )
            .bind(incident_id.as_str())
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
        Write::DeleteSilence { id } => {
            delete_one(tx, "DELETE FROM silences WHERE id = $1", id, "silence").await
        }
        Write::PutRawPayload(p) => {
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
        Write::CancelJobs { incident_id, kind } => {
            sqlx::query(
                "UPDATE jobs SET state = 'cancelled', updated_ms = $1 \
                 WHERE incident_id = $2 AND kind = $3 AND state = 'pending'",
            )
            .bind(now)
            .bind(incident_id.as_str())
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?;
            Ok(())
        }
        Write::CancelJob { id } => {
            sqlx::query(
                "UPDATE jobs SET state = 'cancelled', locked_by = NULL, locked_until_ms = NULL, \
                 updated_ms = $1 WHERE id = $2 AND state IN ('pending', 'running')",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            Ok(())
        }
        Write::Fence {
            lease,
            holder,
            epoch,
        } => {
            // A no-op UPDATE rather than a SELECT: on PostgreSQL it locks the lease row
            // until COMMIT, so a new holder cannot take the lease (and bump the epoch)
            // between this check and the commit of the fenced writes.
            let r = sqlx::query(
                "UPDATE leases SET epoch = epoch WHERE name = $1 AND holder = $2 AND epoch = $3",
            )
            .bind(lease.as_str())
            .bind(holder.as_str())
            .bind(*epoch)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Fenced {
                    lease: lease.clone(),
                });
            }
            Ok(())
        }
    }
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
