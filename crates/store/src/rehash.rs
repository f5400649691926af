//! The startup re-hash's inner loop: entries and stored hashes in chunks, hashed into
//! the tree and compared hash by hash; and its fast path on SQLite, where rusqlite
//! walks both tables by primary key on one thread while another hashes (sqlx's `Any`
//! driver costs about a microsecond a row, more than hashing it: docs/benchmarks.md).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Rows};
use sitrep_ledger::{Hash, leaf_hash, stored_hash_count};
use sqlx::sqlite::SqliteConnectOptions;

use crate::error::{HOW_TO_INVESTIGATE, StoreError};
use crate::ledger::Peaks;
use crate::rows::to_i64;

/// Entries per chunk on the native path: big enough that the hand-over between the
/// threads is rare, small enough that a few in flight stay a few MB.
const CHUNK: u64 = 16_384;

/// Chunks the reader may run ahead of the hasher.
const IN_FLIGHT: usize = 4;

/// A run of consecutive entries with the stored hashes they added.
#[derive(Default)]
pub(crate) struct Chunk {
    /// Every record's bytes, back to back.
    pub(crate) records: Vec<u8>,
    /// The end of each record in `records`.
    pub(crate) ends: Vec<usize>,
    /// The stored hashes the entries added, in index order.
    pub(crate) hashes: Vec<Hash>,
}

impl Chunk {
    pub(crate) fn push_record(&mut self, record: &[u8]) {
        self.records.extend_from_slice(record);
        self.ends.push(self.records.len());
    }
}

/// Pushes the chunk's entries into `peaks` and compares every hash that produces with
/// the stored one; returns the first that differs, as a sentence naming the entry.
/// The caller has checked that `chunk.hashes` holds exactly the hashes the entries add.
pub(crate) fn hash_chunk(peaks: &mut Peaks, chunk: &Chunk) -> Option<String> {
    let mut stored = chunk.hashes.iter();
    let (mut start, mut produced, mut first_bad) = (0, Vec::with_capacity(64), None);
    for &end in &chunk.ends {
        let n = peaks.size;
        produced.clear();
        peaks.push(leaf_hash(&chunk.records[start..end]), &mut produced);
        start = end;
        for (k, want) in produced.iter().enumerate() {
            let got = stored.next().copied().unwrap_or_default();
            if first_bad.is_none() && got != *want {
                let index = stored_hash_count(n) + k as u64;
                first_bad = Some(mismatch(n, index, got, *want));
            }
        }
    }
    first_bad
}

/// The sentence for a stored hash that is not what the entries give.
fn mismatch(entry: u64, index: u64, got: Hash, want: Hash) -> String {
    if index == sitrep_ledger::stored_hash_index(0, entry) {
        format!(
            "entry {entry}: its stored leaf hash {got} is not the hash of its record \
             ({want}); the entry or the hash was altered after it was signed"
        )
    } else {
        format!("stored hash {index} (added with entry {entry}) is {got}, the entries give {want}")
    }
}

/// A refusal for rows that are missing or malformed (no root to compare yet).
pub(crate) fn damaged(size: u64, detail: String) -> StoreError {
    StoreError::LedgerDiverged {
        size,
        expected_root: "-".into(),
        actual_root: "-".into(),
        detail,
        how_to_investigate: HOW_TO_INVESTIGATE,
    }
}

/// The database file a `sqlite:` URL names, when it is a file on disk. An in-memory
/// database has none, and another connection would not see it: its re-hash takes
/// the driver's path.
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    if url.contains("mode=memory") {
        return None;
    }
    let opts = SqliteConnectOptions::from_str(url).ok()?;
    let file = opts.get_filename();
    std::fs::metadata(file)
        .ok()?
        .is_file()
        .then(|| file.to_path_buf())
}

/// Sets the flag when dropped: a re-hash whose caller went away (shutdown, an
/// abandoned open) stops at its next chunk instead of running to the end.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Re-hashes entries `0..size` of the SQLite file: two threads read (entries, stored
/// hashes; each its own connection), this one (a blocking task) hashes. Returns the
/// root the entries give and the first stored hash that differs; `progress` gets the
/// entries done after each chunk.
pub(crate) async fn rehash_file(
    file: PathBuf,
    size: u64,
    progress: impl Fn(u64) + Send + 'static,
) -> Result<(Hash, Option<String>), StoreError> {
    rehash_in_chunks(file, size, CHUNK, progress).await
}

/// [`rehash_file`] with chunks of `chunk` entries (tests use small ones).
async fn rehash_in_chunks(
    file: PathBuf,
    size: u64,
    chunk: u64,
    progress: impl Fn(u64) + Send + 'static,
) -> Result<(Hash, Option<String>), StoreError> {
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let stopped = stop.0.clone();
    let task = tokio::task::spawn_blocking(move || {
        let (entry_tx, entry_rx) = mpsc::sync_channel(IN_FLIGHT);
        let (hash_tx, hash_rx) = mpsc::sync_channel(IN_FLIGHT);
        let f = file.as_path();
        std::thread::scope(move |s| {
            // The readers own the senders and this closure the receivers: an early
            // return hangs up on the readers, which then stop.
            s.spawn(move || walk(f, &ENTRIES, (size, chunk), &entry_tx, read_entries));
            s.spawn(move || walk(f, &HASHES, (size, chunk), &hash_tx, read_hashes));
            let (mut peaks, mut first_bad) = (Peaks::empty(), None);
            for entries in entry_rx {
                if stopped.load(Ordering::Relaxed) {
                    return Err(StoreError::Closed);
                }
                let mut chunk = entries?;
                chunk.hashes = hash_rx
                    .recv()
                    .map_err(|_| read_error("the hash reader stopped early"))??;
                let found = hash_chunk(&mut peaks, &chunk);
                first_bad = first_bad.or(found);
                progress(peaks.size);
            }
            // The readers send every chunk or an error, so fewer entries means one
            // stopped on a fault it could not report.
            if peaks.size != size {
                return Err(read_error(&format!("stopped at entry {}", peaks.size)));
            }
            Ok((peaks.root(), first_bad))
        })
    });
    let outcome = task
        .await
        .map_err(|e| read_error(&format!("the hashing task failed: {e}")))?;
    drop(stop);
    outcome
}

/// One table's walk: its statements and how many rows entries have.
struct Table {
    /// All rows in storage (rowid) order: the cheapest walk, and the insertion order.
    by_rowid: &'static str,
    /// Rows `?1..?2` in primary-key order, walking the key's index.
    by_key: &'static str,
    /// The number of rows the first `n` entries have.
    rows: fn(u64) -> u64,
}

const ENTRIES: Table = Table {
    by_rowid: "SELECT leaf_index, record FROM ledger_entries ORDER BY rowid",
    by_key: "SELECT leaf_index, record FROM ledger_entries \
             WHERE leaf_index >= ?1 AND leaf_index < ?2 ORDER BY leaf_index",
    rows: |n| n,
};

const HASHES: Table = Table {
    by_rowid: "SELECT hash_index, hash FROM ledger_hashes ORDER BY rowid",
    by_key: "SELECT hash_index, hash FROM ledger_hashes \
             WHERE hash_index >= ?1 AND hash_index < ?2 ORDER BY hash_index",
    rows: stored_hash_count,
};

/// A row in the wrong place: on the rowid walk a reason to walk by key instead, on
/// the key walk a missing row.
enum Fault {
    OutOfPlace(StoreError),
    Other(StoreError),
}

impl From<StoreError> for Fault {
    fn from(e: StoreError) -> Fault {
        Fault::Other(e)
    }
}

type Sent<T> = Result<T, StoreError>;
type ReadFn<T> = fn(&mut Rows, u64, u64) -> Result<T, Fault>;

/// Sends `table`'s rows for entries `0..size` in chunks, in order, or the error that
/// stopped it; stops quietly when the hasher hung up. Rows are read in storage order
/// (the writer inserts them in index order); if one is out of place there, the walk
/// starts over on the primary key, where a row out of place is a missing one.
fn walk<T>(
    file: &Path,
    table: &Table,
    (size, chunk): (u64, u64),
    tx: &mpsc::SyncSender<Sent<T>>,
    read: ReadFn<T>,
) {
    let mut sent = 0;
    let outcome = open(file).and_then(|conn| {
        let mut by_rowid = conn.prepare(table.by_rowid).map_err(sqlite)?;
        let rows = by_rowid.query([]).map_err(sqlite)?;
        match send_chunks(rows, (size, chunk), tx, read, &mut sent) {
            Err(Fault::OutOfPlace(_)) => {}
            Err(Fault::Other(e)) => return Err(e),
            Ok(()) => return Ok(()),
        }
        // The rows of the chunks sent already were in place; go on from there.
        let mut by_key = conn.prepare(table.by_key).map_err(sqlite)?;
        let range = [to_i64((table.rows)(sent))?, to_i64((table.rows)(size))?];
        let rows = by_key.query(range).map_err(sqlite)?;
        match send_chunks(rows, (size, chunk), tx, read, &mut sent) {
            Ok(()) => Ok(()),
            Err(Fault::OutOfPlace(e) | Fault::Other(e)) => Err(e),
        }
    });
    if let Err(e) = outcome {
        let _ = tx.send(Err(e));
    }
}

/// Sends chunks of entries `*sent..size` read from `rows`, counting them in `sent`.
fn send_chunks<T>(
    mut rows: Rows,
    (size, chunk): (u64, u64),
    tx: &mpsc::SyncSender<Sent<T>>,
    read: ReadFn<T>,
    sent: &mut u64,
) -> Result<(), Fault> {
    while *sent < size {
        let end = (*sent + chunk).min(size);
        let rows_read = read(&mut rows, *sent, end)?;
        if tx.send(Ok(rows_read)).is_err() {
            return Ok(());
        }
        *sent = end;
    }
    Ok(())
}

fn open(file: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags).map_err(sqlite)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite)?;
    Ok(conn)
}

/// The records of entries `from..end`.
fn read_entries(rows: &mut Rows, from: u64, end: u64) -> Result<Chunk, Fault> {
    let len = usize::try_from(end - from).unwrap_or(0);
    let mut chunk = Chunk {
        records: Vec::with_capacity(len * 128),
        ends: Vec::with_capacity(len),
        hashes: Vec::new(),
    };
    for n in from..end {
        let row = next_row(rows, "entry", n, end)?;
        chunk.push_record(bytes(row.get_ref(1).map_err(sqlite)?, "entry", n, end)?);
    }
    Ok(chunk)
}

/// The stored hashes entries `from..end` added.
fn read_hashes(rows: &mut Rows, from: u64, end: u64) -> Result<Vec<Hash>, Fault> {
    let (first, last) = (stored_hash_count(from), stored_hash_count(end));
    let mut hashes = Vec::with_capacity(usize::try_from(last - first).unwrap_or(0));
    for i in first..last {
        let row = next_row(rows, "stored hash", i, end)?;
        let hash = bytes(row.get_ref(1).map_err(sqlite)?, "stored hash", i, end)?;
        let hash = Hash::from_slice(hash).map_err(|_| {
            let len = hash.len();
            damaged(end, format!("stored hash {i} is {len} bytes long, not 32"))
        })?;
        hashes.push(hash);
    }
    Ok(hashes)
}

/// The next row of a walk, which must be number `want`.
fn next_row<'a, 's>(
    rows: &'a mut Rows<'s>,
    what: &str,
    want: u64,
    size: u64,
) -> Result<&'a rusqlite::Row<'s>, Fault> {
    let Some(row) = rows.next().map_err(sqlite)? else {
        let detail = format!("{what} {want} is missing");
        return Err(Fault::OutOfPlace(damaged(size, detail)));
    };
    let index: i64 = row.get(0).map_err(sqlite)?;
    if u64::try_from(index).ok() != Some(want) {
        let detail = format!("{what} {want} is missing (the next stored one is {index})");
        return Err(Fault::OutOfPlace(damaged(size, detail)));
    }
    Ok(row)
}

/// A column's bytes (blob, or text if it was rewritten as text); NULL is damage.
fn bytes<'a>(value: ValueRef<'a>, what: &str, n: u64, size: u64) -> Result<&'a [u8], StoreError> {
    match value {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b),
        _ => Err(damaged(size, format!("{what} {n} holds no bytes"))),
    }
}

fn sqlite(e: rusqlite::Error) -> StoreError {
    read_error(&e.to_string())
}

fn read_error(reason: &str) -> StoreError {
    StoreError::LedgerRead(format!("re-hashing the SQLite ledger: {reason}"))
}

#[cfg(test)]
mod tests;
