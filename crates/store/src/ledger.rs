//! The ledger over the database: roots and proofs from stored hashes, signed
//! checkpoints, the startup check and the full verification.
//!
//! The Merkle logic is all `sitrep_ledger`'s. Its readers are synchronous, so every
//! computation here first fetches the stored hashes the matching `*_indexes` function
//! lists, then runs the ledger function over a map of them.

use sitrep_ledger::{
    Checkpoint, Hash, Record, Signer, consistency_proof_indexes, empty_root,
    inclusion_proof_indexes, leaf_hash, node_hash, prove_consistency, prove_inclusion,
    stored_hash_count, tree_hash, tree_hash_indexes, verify_consistency,
};
use sqlx::AnyConnection;
use sqlx::AnyPool;

use crate::error::{HOW_TO_INVESTIGATE, StoreError};
use crate::keys::LogKeys;
use crate::model::StoredCheckpoint;
use crate::rows::{CHECKPOINT_COLS, checkpoint, now_ms, to_i64, to_u64};
use crate::writer::{MapReader, fetch_hashes, head_size};

/// Rows per page when streaming the whole ledger.
const PAGE: i64 = 2048;

/// The root of the first `size` leaves, from stored hashes.
pub(crate) async fn root_at(conn: &mut AnyConnection, size: u64) -> Result<Hash, StoreError> {
    let reader = MapReader(fetch_hashes(conn, &tree_hash_indexes(size)?).await?);
    Ok(tree_hash(size, &reader)?)
}

pub(crate) async fn inclusion(
    conn: &mut AnyConnection,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, StoreError> {
    let reader = MapReader(fetch_hashes(conn, &inclusion_proof_indexes(size, index)?).await?);
    Ok(prove_inclusion(size, index, &reader)?)
}

pub(crate) async fn consistency(
    conn: &mut AnyConnection,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, StoreError> {
    let reader = MapReader(fetch_hashes(conn, &consistency_proof_indexes(old, new)?).await?);
    Ok(prove_consistency(old, new, &reader)?)
}

/// Fails unless `size` is within the stored tree.
pub(crate) async fn check_size(conn: &mut AnyConnection, size: u64) -> Result<u64, StoreError> {
    let tree_size = head_size(conn).await?;
    if size > tree_size {
        return Err(StoreError::SizeOutOfRange { size, tree_size });
    }
    Ok(tree_size)
}

pub(crate) async fn latest_checkpoints(
    conn: &mut AnyConnection,
    n: i64,
) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let sql = format!("SELECT {CHECKPOINT_COLS} FROM checkpoints ORDER BY size DESC LIMIT $1");
    sqlx::query(&sql)
        .bind(n)
        .fetch_all(conn)
        .await?
        .iter()
        .map(checkpoint)
        .collect()
}

/// Signs the current tree unless the latest checkpoint already covers it.
pub(crate) async fn checkpoint_now(
    pool: &AnyPool,
    keys: &LogKeys,
) -> Result<StoredCheckpoint, StoreError> {
    sign_now(pool, keys, None).await
}

/// Signs the current tree with this store's key and `previous`, the key it replaced:
/// the transition checkpoint of a rotation, which whoever trusts either key can follow.
/// Replaces a checkpoint of the same size and root signed by one of them alone.
pub(crate) async fn cosign_now(
    pool: &AnyPool,
    keys: &LogKeys,
    previous: &Signer,
) -> Result<StoredCheckpoint, StoreError> {
    keys.check_predecessor(&previous.verifier())?;
    sign_now(pool, keys, Some(previous)).await
}

async fn sign_now(
    pool: &AnyPool,
    keys: &LogKeys,
    previous: Option<&Signer>,
) -> Result<StoredCheckpoint, StoreError> {
    keys.check_may_sign()?;
    let mut conn = pool.acquire().await?;
    let size = head_size(&mut conn).await?;
    // After the head: a rotation committed with the entries below `size` is seen.
    keys.check_not_rotated(&mut conn, size).await?;
    let latest = latest_checkpoints(&mut conn, 1).await?.pop();
    if let Some(latest) = &latest {
        if latest.size > size {
            return Err(StoreError::LedgerRegressed {
                checkpoint_size: latest.size,
                tree_size: size,
            });
        }
        // Opening it also refuses when a key this store does not know signed it (a
        // rotation since this store opened).
        let signed = keys.open(latest)?;
        if latest.size == size && previous.is_none() {
            return Ok(latest.clone());
        }
        // Never sign a tree whose prefix no longer hashes to what was signed before.
        let actual = root_at(&mut conn, latest.size).await?;
        if actual != signed {
            return Err(diverged(
                latest.size,
                signed,
                actual,
                format!("checkpoint at size {} no longer matches", latest.size),
            ));
        }
    }
    let root = root_at(&mut conn, size).await?;
    let mut signers = vec![&keys.signer];
    signers.extend(previous);
    let note = Checkpoint::new(keys.origin.clone(), size, root).sign(&signers)?;
    // Several processes may sign the same size at once; the first row wins and every
    // one of them returns it. A transition checkpoint replaces a same-root row signed
    // by one key: it carries that signature too.
    let conflict = if previous.is_some() {
        "ON CONFLICT (size) DO UPDATE SET signed_note = excluded.signed_note \
         WHERE checkpoints.root = excluded.root"
    } else {
        "ON CONFLICT (size) DO NOTHING"
    };
    sqlx::query(&format!(
        "INSERT INTO checkpoints (size, root, signed_note, created_ms) VALUES ($1, $2, $3, $4) \
         {conflict}"
    ))
    .bind(to_i64(size)?)
    .bind(root.to_hex())
    .bind(note.as_str())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    let sql = format!("SELECT {CHECKPOINT_COLS} FROM checkpoints WHERE size = $1");
    let row = sqlx::query(&sql)
        .bind(to_i64(size)?)
        .fetch_one(&mut *conn)
        .await?;
    let stored = checkpoint(&row)?;
    if previous.is_some() && stored.signed_note != note {
        return Err(StoreError::KeyRotation(format!(
            "the checkpoint at size {size} could not be replaced by the one both keys sign"
        )));
    }
    Ok(stored)
}

pub(crate) fn diverged(size: u64, expected: Hash, actual: Hash, detail: String) -> StoreError {
    StoreError::LedgerDiverged {
        size,
        expected_root: expected.to_hex(),
        actual_root: actual.to_hex(),
        detail,
        how_to_investigate: HOW_TO_INVESTIGATE,
    }
}

/// The compact range of a growing tree: the hashes of its complete subtrees, left to
/// right. Appending a leaf yields exactly the stored hashes `sitrep_ledger::append`
/// stores for it, so the stored sequence can be recomputed from the entries alone in
/// O(log n) memory.
pub(crate) struct Peaks {
    pub(crate) size: u64,
    hashes: Vec<Hash>,
}

impl Peaks {
    pub(crate) fn empty() -> Peaks {
        Peaks {
            size: 0,
            hashes: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, leaf: Hash, out: &mut Vec<Hash>) {
        let mut h = leaf;
        out.push(h);
        for _ in 0..self.size.trailing_ones() {
            let Some(left) = self.hashes.pop() else { break };
            h = node_hash(&left, &h);
            out.push(h);
        }
        self.hashes.push(h);
        self.size += 1;
    }

    pub(crate) fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(&last) = iter.next() else {
            return empty_root();
        };
        iter.fold(last, |right, left| node_hash(left, &right))
    }
}

/// Head, entries and stored hashes agree in count; returns the tree size.
async fn check_counts(
    conn: &mut AnyConnection,
    latest: Option<&StoredCheckpoint>,
) -> Result<u64, StoreError> {
    let head = head_size(conn).await?;
    let (entries, max): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(leaf_index), -1) FROM ledger_entries")
            .fetch_one(&mut *conn)
            .await?;
    let (hashes, max_hash): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(hash_index), -1) FROM ledger_hashes")
            .fetch_one(&mut *conn)
            .await?;
    let entries = to_u64(entries, "entry count")?;
    let want_hashes = to_i64(stored_hash_count(head))?;
    let consistent = entries == head
        && max + 1 == to_i64(head)?
        && hashes == want_hashes
        && max_hash + 1 == want_hashes;
    if consistent {
        return Ok(head);
    }
    let held = entries.min(head);
    if let Some(c) = latest
        && held < c.size
    {
        return Err(StoreError::LedgerRegressed {
            checkpoint_size: c.size,
            tree_size: held,
        });
    }
    Err(StoreError::LedgerDiverged {
        size: head,
        expected_root: "-".into(),
        actual_root: "-".into(),
        detail: format!(
            "the ledger head says {head} entries, the entries table holds {entries} (last index \
             {max}) and {hashes} stored hashes (last index {max_hash}; {want_hashes} expected)"
        ),
        how_to_investigate: HOW_TO_INVESTIGATE,
    })
}

/// Steps 1-5 of the check `Store::open` runs (docs/store.md): counts, the latest two
/// checkpoints and the stored hashes under them. Returns the tree size and the latest
/// checkpoint's size and signed root.
pub(crate) async fn check_checkpoints(
    conn: &mut AnyConnection,
    keys: &LogKeys,
) -> Result<(u64, Option<(u64, Hash)>), StoreError> {
    let checkpoints = latest_checkpoints(conn, 2).await?;
    let latest = checkpoints.first();
    let size = check_counts(conn, latest).await?;
    let mut signed_at = None;
    if let Some(latest) = latest {
        let signed = keys.open(latest)?;
        if size < latest.size {
            return Err(StoreError::LedgerRegressed {
                checkpoint_size: latest.size,
                tree_size: size,
            });
        }
        let actual = root_at(conn, latest.size).await?;
        if actual != signed {
            return Err(diverged(
                latest.size,
                signed,
                actual,
                format!(
                    "the stored hashes do not give the root signed at size {}",
                    latest.size
                ),
            ));
        }
        if let Some(previous) = checkpoints.get(1) {
            let old_root = keys.open(previous)?;
            if previous.size > 0 {
                let proof = consistency(conn, previous.size, latest.size).await?;
                if let Err(e) =
                    verify_consistency(previous.size, latest.size, &proof, &old_root, &signed)
                {
                    let actual = root_at(conn, previous.size).await?;
                    return Err(diverged(
                        previous.size,
                        old_root,
                        actual,
                        format!(
                            "checkpoint {} is not consistent with checkpoint {}: {e}",
                            previous.size, latest.size
                        ),
                    ));
                }
            }
        }
        signed_at = Some((latest.size, signed));
    }
    Ok((size, signed_at))
}

/// Step 6: entries `prefix..size`, after the latest checkpoint, were never signed:
/// re-hash them all against the stored hashes.
pub(crate) async fn check_tail(
    conn: &mut AnyConnection,
    prefix: u64,
    size: u64,
) -> Result<(), StoreError> {
    let peaks = Peaks::stored(conn, prefix).await?;
    let mut scan = Scan::new(peaks, size, None);
    scan.run(conn).await?;
    if let Some(d) = scan.report.first_divergence {
        let expected = tail_root(conn, prefix, size).await?;
        let actual = root_at(conn, size).await?;
        return Err(diverged(size, expected, actual, d.detail));
    }
    Ok(())
}

/// The root at `size` recomputed from the entries after `from` (over the stored
/// subtrees of the first `from`): the "expected" side of a divergence in the tail.
async fn tail_root(conn: &mut AnyConnection, from: u64, size: u64) -> Result<Hash, StoreError> {
    let mut peaks = Peaks::stored(conn, from).await?;
    let mut scratch = Vec::new();
    while peaks.size < size {
        let entries = entry_page(conn, peaks.size, size).await?;
        if entries.is_empty() {
            break;
        }
        for e in &entries {
            scratch.clear();
            peaks.push(leaf_hash(&e.record), &mut scratch);
        }
    }
    Ok(peaks.root())
}

impl Peaks {
    /// The complete subtrees of the first `size` leaves, from stored hashes.
    async fn stored(conn: &mut AnyConnection, size: u64) -> Result<Peaks, StoreError> {
        let indexes = tree_hash_indexes(size)?;
        let map = fetch_hashes(conn, &indexes).await?;
        let hashes = indexes
            .iter()
            .map(|i| {
                map.get(i)
                    .copied()
                    .ok_or_else(|| StoreError::Corrupt(format!("stored hash {i} is missing")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Peaks { size, hashes })
    }
}

/// One stored ledger entry with its index columns.
struct EntryRow {
    index: u64,
    incident: Option<String>,
    event_type: String,
    time_ms: i64,
    actor: String,
    record: Vec<u8>,
}

async fn entry_page(
    conn: &mut AnyConnection,
    from: u64,
    end: u64,
) -> Result<Vec<EntryRow>, StoreError> {
    type Row = (i64, Option<String>, String, i64, String, Vec<u8>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT leaf_index, incident_id, event_type, time_ms, actor, record FROM ledger_entries \
         WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index LIMIT $3",
    )
    .bind(to_i64(from)?)
    .bind(to_i64(end)?)
    .bind(PAGE)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(i, incident, event_type, time_ms, actor, record)| {
            Ok(EntryRow {
                index: to_u64(i, "leaf index")?,
                incident,
                event_type,
                time_ms,
                actor,
                record,
            })
        })
        .collect()
}

/// Stored hashes `from..end` in order, stopping at the first missing one.
async fn hash_page(conn: &mut AnyConnection, from: u64, end: u64) -> Result<Vec<Hash>, StoreError> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT hash_index, hash FROM ledger_hashes WHERE hash_index >= $1 AND hash_index < $2 \
         ORDER BY hash_index",
    )
    .bind(to_i64(from)?)
    .bind(to_i64(end)?)
    .fetch_all(conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (expect, (i, bytes)) in (from..).zip(rows) {
        if to_u64(i, "stored hash index")? != expect {
            break;
        }
        // A hash of the wrong length is damage like any other; compare it as zeros.
        out.push(Hash::from_slice(&bytes).unwrap_or_default());
    }
    Ok(out)
}

/// The outcome of [`crate::Store::verify_ledger`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerReport {
    /// The tree size that was verified (the head when verification started).
    pub tree_size: u64,
    /// Entries re-hashed.
    pub entries_checked: u64,
    /// Stored hashes compared with their recomputation.
    pub hashes_checked: u64,
    /// Checkpoints whose signature, root and consistency were checked.
    pub checkpoints_checked: u64,
    /// The first thing that did not verify, if any.
    pub first_divergence: Option<Divergence>,
}

impl LedgerReport {
    /// True when everything verified.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.first_divergence.is_none()
    }
}

/// Where the stored ledger first disagrees with itself or its checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// What diverged: `entry`, `stored-hash`, `checkpoint` or `head`.
    pub kind: &'static str,
    /// The entry index, stored-hash index or checkpoint size.
    pub index: u64,
    /// A sentence naming what differs.
    pub detail: String,
}

/// Verifies the whole ledger from its entries; see [`crate::Store::verify_ledger`].
pub(crate) async fn verify(
    conn: &mut AnyConnection,
    keys: &LogKeys,
) -> Result<LedgerReport, StoreError> {
    let size = head_size(conn).await?;
    let mut scan = Scan::new(Peaks::empty(), size, Some(keys));
    scan.run(conn).await?;
    if scan.report.ok() {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_hashes")
            .fetch_one(&mut *conn)
            .await?;
        let want = stored_hash_count(size);
        if to_u64(total, "hash count")? != want {
            scan.fail(
                "head",
                size,
                format!("{total} stored hashes for {size} entries, {want} expected"),
            );
        }
    }
    Ok(scan.report)
}

/// A pass over entries `peaks.size..end`: re-hash each, compare with the stored
/// hashes, check each entry's index columns, and (with keys) every checkpoint.
struct Scan<'k> {
    peaks: Peaks,
    end: u64,
    keys: Option<&'k LogKeys>,
    checkpoints: CheckpointPages,
    previous: Option<(u64, Hash)>,
    report: LedgerReport,
}

impl<'k> Scan<'k> {
    fn new(peaks: Peaks, end: u64, keys: Option<&'k LogKeys>) -> Self {
        Scan {
            peaks,
            end,
            keys,
            checkpoints: CheckpointPages::default(),
            previous: None,
            report: LedgerReport {
                tree_size: end,
                entries_checked: 0,
                hashes_checked: 0,
                checkpoints_checked: 0,
                first_divergence: None,
            },
        }
    }

    fn fail(&mut self, kind: &'static str, index: u64, detail: String) {
        self.report.first_divergence = Some(Divergence {
            kind,
            index,
            detail,
        });
    }

    /// Runs until the end or the first divergence (recorded in the report).
    async fn run(&mut self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        let mut produced = Vec::new();
        loop {
            if !self.checkpoints_at(conn).await? || self.peaks.size >= self.end {
                return Ok(());
            }
            let first = self.peaks.size;
            let entries = entry_page(conn, first, self.end).await?;
            let Some(last) = entries.last().map(|e| e.index + 1) else {
                self.fail("entry", first, format!("entry {first} is missing"));
                return Ok(());
            };
            let base = stored_hash_count(first);
            let stored = hash_page(conn, base, stored_hash_count(last.min(self.end))).await?;
            let mut cursor = 0usize;
            for (i, e) in entries.iter().enumerate() {
                let n = self.peaks.size;
                if i > 0 && !self.checkpoints_at(conn).await? {
                    return Ok(());
                }
                if e.index != n {
                    self.fail("entry", n, format!("entry {n} is missing"));
                    return Ok(());
                }
                produced.clear();
                self.peaks.push(leaf_hash(&e.record), &mut produced);
                for want in &produced {
                    let index = base + cursor as u64;
                    match stored.get(cursor) {
                        Some(got) if got == want => self.report.hashes_checked += 1,
                        Some(got) => {
                            let detail = if index == stored_hash_index_of_leaf(n) {
                                format!(
                                    "entry {n}: its stored leaf hash {got} is not the hash of \
                                     its record ({want}); the entry or the hash was altered"
                                )
                            } else {
                                format!(
                                    "stored hash {index} (added with entry {n}) is {got}, the \
                                     entries give {want}"
                                )
                            };
                            self.fail("stored-hash", index, detail);
                            return Ok(());
                        }
                        None => {
                            self.fail(
                                "stored-hash",
                                index,
                                format!("stored hash {index} (added with entry {n}) is missing"),
                            );
                            return Ok(());
                        }
                    }
                    cursor += 1;
                }
                // After the hashes: when the bytes were altered, "its hash differs" is
                // the finding; index columns that disagree with intact bytes are next.
                if let Err(detail) = check_entry(e) {
                    self.fail("entry", n, detail);
                    return Ok(());
                }
                self.report.entries_checked += 1;
            }
        }
    }

    /// Checks every checkpoint at the current size. False after a divergence.
    async fn checkpoints_at(&mut self, conn: &mut AnyConnection) -> Result<bool, StoreError> {
        let Some(keys) = self.keys else {
            return Ok(true);
        };
        let here = self.peaks.size;
        while let Some(c) = self.checkpoints.peek(conn).await? {
            let signed = match keys.open(&c) {
                Ok(root) => root,
                Err(e) => {
                    self.fail("checkpoint", c.size, e.to_string());
                    return Ok(false);
                }
            };
            if c.size > self.end {
                self.fail(
                    "checkpoint",
                    c.size,
                    format!(
                        "checkpoint at size {} is beyond the stored tree of {}: entries were \
                         deleted",
                        c.size, self.end
                    ),
                );
                return Ok(false);
            }
            if c.size > here {
                return Ok(true);
            }
            let computed = self.peaks.root();
            if computed != signed {
                self.fail(
                    "checkpoint",
                    c.size,
                    format!(
                        "checkpoint at size {} signs root {signed}, the entries give {computed}",
                        c.size
                    ),
                );
                return Ok(false);
            }
            if let Some((old, old_root)) = self.previous
                && old > 0
                && old < c.size
            {
                let proof = consistency(conn, old, c.size).await?;
                if let Err(e) = verify_consistency(old, c.size, &proof, &old_root, &signed) {
                    self.fail(
                        "checkpoint",
                        c.size,
                        format!("checkpoint {} is not consistent with {old}: {e}", c.size),
                    );
                    return Ok(false);
                }
            }
            self.previous = Some((c.size, signed));
            self.report.checkpoints_checked += 1;
            self.checkpoints.advance();
        }
        Ok(true)
    }
}

fn stored_hash_index_of_leaf(n: u64) -> u64 {
    sitrep_ledger::stored_hash_index(0, n)
}

/// An entry decodes as a canonical record and its index columns agree with it.
fn check_entry(e: &EntryRow) -> Result<(), String> {
    let record = Record::decode(&e.record)
        .map_err(|err| format!("entry {} is not a canonical record: {err}", e.index))?;
    let columns = (&e.incident, &e.event_type, e.time_ms, &e.actor);
    let time = i64::try_from(record.time_ms).unwrap_or(i64::MAX);
    if columns != (&record.incident, &record.event_type, time, &record.actor) {
        return Err(format!(
            "entry {}: index columns (incident {:?}, type {}, time {}, actor {}) differ from \
             its record (incident {:?}, type {}, time {}, actor {})",
            e.index,
            e.incident,
            e.event_type,
            e.time_ms,
            e.actor,
            record.incident,
            record.event_type,
            record.time_ms,
            record.actor
        ));
    }
    Ok(())
}

/// Checkpoints in size order, a page at a time.
#[derive(Default)]
struct CheckpointPages {
    page: std::collections::VecDeque<StoredCheckpoint>,
    /// The largest size fetched so far.
    last: Option<u64>,
    done: bool,
}

impl CheckpointPages {
    async fn peek(
        &mut self,
        conn: &mut AnyConnection,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        if self.page.is_empty() && !self.done {
            let after = match self.last {
                Some(s) => to_i64(s)?,
                None => -1,
            };
            let sql = format!(
                "SELECT {CHECKPOINT_COLS} FROM checkpoints WHERE size > $1 ORDER BY size LIMIT $2"
            );
            let rows = sqlx::query(&sql)
                .bind(after)
                .bind(PAGE)
                .fetch_all(conn)
                .await?;
            if rows.is_empty() {
                self.done = true;
            }
            for row in &rows {
                let c = checkpoint(row)?;
                self.last = Some(c.size);
                self.page.push_back(c);
            }
        }
        Ok(self.page.front().cloned())
    }

    fn advance(&mut self) {
        self.page.pop_front();
    }
}
