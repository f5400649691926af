//! The startup ledger check: the whole signed ledger re-hashed against its latest
//! checkpoint, at open or, above a size, in the background with signing held until it
//! passes (docs/store.md, "The startup check").

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sitrep_ledger::{Hash, stored_hash_count};
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::StoreError;
use crate::keys::LogKeys;
use crate::ledger::{self, Peaks, diverged};
use crate::rehash::{self, Chunk};
use crate::rows::{to_i64, to_u64};
use crate::store::{Backend, StoreOptions};
use crate::writer::begin_snapshot;

/// Entries per query. Big: per-row cost is mostly the driver's, per-query cost is a
/// round trip (and on PostgreSQL a plan), so few large pages are fastest.
const BATCH: u64 = 32_768;

/// Where the re-hash of the signed ledger stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LedgerVerification {
    /// Every entry the latest checkpoint covers re-hashed to its signed root and its
    /// stored hashes (or there is no checkpoint yet).
    Verified,
    /// The background re-hash is running: `checked` of `size` entries so far. No
    /// checkpoint is signed until it passes. `last_error` is a database error that made
    /// it start over, if any.
    Verifying {
        /// Entries re-hashed so far.
        checked: u64,
        /// Entries the latest checkpoint covers.
        size: u64,
        /// The last failed attempt's error (not a divergence: it is retried).
        last_error: Option<String>,
    },
    /// The background re-hash found a divergence; the message is the refusal `open`
    /// would have given. Nothing is signed again by this store.
    Failed {
        /// The refusal, naming the first bad entry.
        refusal: String,
    },
}

/// The shared state behind [`LedgerVerification`] and the signing gate.
pub(crate) struct Verification {
    state: Mutex<State>,
    checked: AtomicU64,
    size: u64,
}

enum State {
    Verified,
    Verifying(Option<String>),
    /// Kept as the error itself (its fields are plain data) so signing returns the
    /// same typed refusal `open` gives.
    Failed(StoreError),
}

impl Verification {
    fn new(state: State, size: u64) -> Arc<Verification> {
        Arc::new(Verification {
            state: Mutex::new(state),
            checked: AtomicU64::new(0),
            size,
        })
    }

    fn set(&self, state: State) {
        match self.state.lock() {
            Ok(mut s) => *s = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        match self.state.lock() {
            Ok(s) => f(&s),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    pub(crate) fn status(&self) -> LedgerVerification {
        self.with(|s| match s {
            State::Verified => LedgerVerification::Verified,
            State::Verifying(last_error) => LedgerVerification::Verifying {
                checked: self.checked.load(Ordering::Relaxed),
                size: self.size,
                last_error: last_error.clone(),
            },
            State::Failed(e) => LedgerVerification::Failed {
                refusal: e.to_string(),
            },
        })
    }

    /// True once verified, false while the re-hash runs; the divergence it found.
    pub(crate) fn may_sign_yet(&self) -> Result<bool, StoreError> {
        match self.check_may_sign() {
            Ok(()) => Ok(true),
            Err(StoreError::LedgerUnverified { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ok once verified; `LedgerUnverified` while the re-hash runs; the divergence it
    /// found after that. Every signing path asks first: a checkpoint over entries not
    /// yet re-hashed would vouch for bytes nobody checked.
    pub(crate) fn check_may_sign(&self) -> Result<(), StoreError> {
        self.with(|s| match s {
            State::Verified => Ok(()),
            State::Verifying(_) => Err(StoreError::LedgerUnverified {
                checked: self.checked.load(Ordering::Relaxed),
                size: self.size,
            }),
            State::Failed(e) => Err(copy_refusal(e)),
        })
    }
}

/// A second copy of a ledger refusal (`StoreError` is not `Clone`: it may hold a
/// driver error, which a refusal never does).
fn copy_refusal(e: &StoreError) -> StoreError {
    match e {
        StoreError::LedgerDiverged {
            size,
            expected_root,
            actual_root,
            detail,
            how_to_investigate,
        } => StoreError::LedgerDiverged {
            size: *size,
            expected_root: expected_root.clone(),
            actual_root: actual_root.clone(),
            detail: detail.clone(),
            how_to_investigate,
        },
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// What `open` left for the background: the latest checkpoint's size and signed root.
pub(crate) struct Deferred {
    source: Source,
    size: u64,
    signed: Hash,
}

/// Loads the keys and runs the check `Store::open` runs, in one snapshot.
pub(crate) async fn open_check(
    pool: &AnyPool,
    backend: Backend,
    opts: StoreOptions,
) -> Result<(LogKeys, Arc<Verification>, Option<Deferred>), StoreError> {
    let background_above = opts.verify_in_background_above;
    let source = Source::new(backend, &opts.url);
    let mut snapshot = begin_snapshot(pool, backend).await?;
    let keys = LogKeys::load(&mut snapshot, opts.signer, opts.origin).await?;
    // A key that a rotation retired never signs again, even before the transition
    // checkpoint exists (a rotation that stopped half-way).
    keys.check_may_sign()?;
    let (verification, deferred) =
        check_at_open(&mut snapshot, source, &keys, background_above).await?;
    snapshot.commit().await?;
    Ok((keys, verification, deferred))
}

/// The check itself: the latest checkpoints, the whole
/// signed prefix re-hashed (unless it has more than `background_above` entries: then
/// it is returned for [`spawn`]), and the unsigned tail.
async fn check_at_open(
    conn: &mut AnyConnection,
    source: Source,
    keys: &LogKeys,
    background_above: u64,
) -> Result<(Arc<Verification>, Option<Deferred>), StoreError> {
    let (size, signed_at) = ledger::check_checkpoints(conn, keys).await?;
    let Some((prefix, signed)) = signed_at else {
        ledger::check_tail(conn, 0, size).await?;
        return Ok((Verification::new(State::Verified, 0), None));
    };
    if prefix > background_above {
        ledger::check_tail(conn, prefix, size).await?;
        let verification = Verification::new(State::Verifying(None), prefix);
        let deferred = Deferred {
            source,
            size: prefix,
            signed,
        };
        return Ok((verification, Some(deferred)));
    }
    // The prefix first, so a damaged early entry is the one named.
    let verification = Verification::new(State::Verified, prefix);
    rehash_signed(conn, &source, prefix, signed, &verification).await?;
    ledger::check_tail(conn, prefix, size).await?;
    Ok((verification, None))
}

/// Runs the deferred re-hash until it passes or finds a divergence, starting over
/// after `retry` on a database error; stops at shutdown. Reads outside a snapshot:
/// the signed prefix never changes, and a long read transaction would hold back
/// SQLite's WAL checkpoints while it runs.
pub(crate) fn spawn(
    pool: &AnyPool,
    deferred: Deferred,
    verification: Arc<Verification>,
    retry: Duration,
    shutdown: &watch::Receiver<bool>,
) -> JoinHandle<()> {
    let (pool, mut shutdown) = (pool.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            let attempt = async {
                let mut conn = pool.acquire().await?;
                rehash_signed(
                    &mut conn,
                    &deferred.source,
                    deferred.size,
                    deferred.signed,
                    &verification,
                )
                .await
            };
            let outcome = tokio::select! {
                outcome = attempt => outcome,
                _ = shutdown.changed() => return,
            };
            match outcome {
                Ok(()) => return verification.set(State::Verified),
                Err(e @ StoreError::LedgerDiverged { .. }) => {
                    return verification.set(State::Failed(e));
                }
                Err(e) => verification.set(State::Verifying(Some(e.to_string()))),
            }
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// Where the re-hash reads from: the SQLite file natively when there is one, else
/// the driver's connection (PostgreSQL, an in-memory SQLite).
#[derive(Clone)]
pub(crate) struct Source {
    backend: Backend,
    file: Option<PathBuf>,
}

impl Source {
    pub(crate) fn new(backend: Backend, url: &str) -> Source {
        let file = match backend {
            Backend::Sqlite => rehash::sqlite_file(url),
            Backend::Postgres => None,
        };
        Source { backend, file }
    }
}

/// Re-hashes entries `0..size` from their stored bytes: every leaf and interior hash
/// is compared with the stored one as it is produced (O(log n) memory), and the root
/// with `signed`. The first mismatch is named; the pass still runs to the end for the
/// root the entries give. `verification` counts entries done.
pub(crate) async fn rehash_signed(
    conn: &mut AnyConnection,
    source: &Source,
    size: u64,
    signed: Hash,
    verification: &Arc<Verification>,
) -> Result<(), StoreError> {
    verification.checked.store(0, Ordering::Relaxed);
    let (computed, first_bad) = match &source.file {
        Some(file) => {
            let v = verification.clone();
            let progress = move |n| v.checked.store(n, Ordering::Relaxed);
            rehash::rehash_file(file.clone(), size, progress).await?
        }
        None => rehash_driver(conn, source.backend, size, &verification.checked).await?,
    };
    match first_bad {
        None if computed == signed => Ok(()),
        detail => {
            let detail = detail.unwrap_or_else(|| {
                format!("the entries do not give the root signed at size {size}")
            });
            Err(diverged(size, signed, computed, detail))
        }
    }
}

/// The re-hash through the driver, in batches the database concatenates.
async fn rehash_driver(
    conn: &mut AnyConnection,
    backend: Backend,
    size: u64,
    checked: &AtomicU64,
) -> Result<(Hash, Option<String>), StoreError> {
    let (mut peaks, mut first_bad) = (Peaks::empty(), None);
    while peaks.size < size {
        let end = (peaks.size + BATCH).min(size);
        let chunk = read_batch(conn, backend, peaks.size, end).await?;
        let found = rehash::hash_chunk(&mut peaks, &chunk);
        first_bad = first_bad.or(found);
        checked.store(peaks.size, Ordering::Relaxed);
    }
    Ok((peaks.root(), first_bad))
}

/// Entries `from..end` and the stored hashes they added, refusing a missing row.
async fn read_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    from: u64,
    end: u64,
) -> Result<Chunk, StoreError> {
    let (base, hash_end) = (stored_hash_count(from), stored_hash_count(end));
    let (records, n_records) = aggregate(conn, backend, ENTRIES_SQL, from, end).await?;
    let (hashes, n_hashes) = aggregate(conn, backend, HASHES_SQL, base, hash_end).await?;
    // Primary keys: a count that matches the range means no row is missing.
    let whole = hashes.len() as u64 == 64 * (hash_end - base);
    let split: Vec<&str> = records.split(',').collect();
    if n_records != end - from
        || n_hashes != hash_end - base
        || !whole
        || split.len() as u64 != end - from
    {
        return Err(diverged_counts(
            from,
            end,
            n_records,
            n_hashes,
            hash_end - base,
        ));
    }
    let mut chunk = Chunk::default();
    let mut record = Vec::new();
    for (n, hex_record) in (from..).zip(split) {
        record.resize(hex_record.len() / 2, 0);
        hex::decode_to_slice(hex_record, &mut record).map_err(|e| bad_hex(n, &e))?;
        chunk.push_record(&record);
    }
    for (i, hex_hash) in (base..).zip(hashes.as_bytes().chunks_exact(64)) {
        let mut hash = Hash::default();
        hex::decode_to_slice(hex_hash, &mut hash.0).map_err(|e| bad_hex(i, &e))?;
        chunk.hashes.push(hash);
    }
    Ok(chunk)
}

/// The database's own hex rendering of what it stored, never expected to fail.
fn bad_hex(index: u64, e: &hex::FromHexError) -> StoreError {
    StoreError::Corrupt(format!(
        "re-hashing row {index}: the database's hex is bad: {e}"
    ))
}

fn diverged_counts(from: u64, end: u64, entries: u64, hashes: u64, want: u64) -> StoreError {
    let detail = format!(
        "entries {from}..{end}: {entries} entries and {hashes} stored hashes (of 32 bytes) \
         found, {} and {want} expected",
        end - from
    );
    rehash::damaged(end, detail)
}

/// Record bytes of entries `$1..$2`, hex, comma-separated, in order.
const ENTRIES_SQL: [&str; 2] = [
    "SELECT group_concat(hex(record), ',' ORDER BY leaf_index), COUNT(*) FROM ledger_entries \
     WHERE leaf_index >= $1 AND leaf_index < $2",
    "SELECT string_agg(encode(record, 'hex'), ',' ORDER BY leaf_index), COUNT(*) \
     FROM ledger_entries WHERE leaf_index >= $1 AND leaf_index < $2",
];

/// Stored hashes `$1..$2`, hex, concatenated in order.
const HASHES_SQL: [&str; 2] = [
    "SELECT group_concat(hex(hash), '' ORDER BY hash_index), COUNT(*) FROM ledger_hashes \
     WHERE hash_index >= $1 AND hash_index < $2",
    "SELECT string_agg(encode(hash, 'hex'), '' ORDER BY hash_index), COUNT(*) \
     FROM ledger_hashes WHERE hash_index >= $1 AND hash_index < $2",
];

/// One row for a whole batch: through sqlx's `Any` driver each row costs about a
/// microsecond, more than hashing it, so the database concatenates the batch (as hex,
/// which both databases render in C) and Rust splits it. Returns the text and the
/// row count.
async fn aggregate(
    conn: &mut AnyConnection,
    backend: Backend,
    sql: [&str; 2],
    from: u64,
    end: u64,
) -> Result<(String, u64), StoreError> {
    let sql = match backend {
        Backend::Sqlite => sql[0],
        Backend::Postgres => sql[1],
    };
    let (text, count): (Option<String>, i64) = sqlx::query_as(sql)
        .bind(to_i64(from)?)
        .bind(to_i64(end)?)
        .fetch_one(conn)
        .await?;
    Ok((text.unwrap_or_default(), to_u64(count, "row count")?))
}
