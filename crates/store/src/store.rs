//! `Store`: opening and closing, commits through the group-commit writer (reads are in
//! `queries.rs`), the ledger API and background checkpoints.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sitrep_ledger::{Hash, Record, Signer, Verifier};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::{StoreError, redact_url};
use crate::health::{Outcome, Tracker};
use crate::keys::{self, LogKeys};
use crate::ledger::{self, LedgerReport};
use crate::model::{Change, Committed, KeyEpoch, RawPayload, StoredCheckpoint, Write};
use crate::rows::{self, to_i64};
use crate::startup::{self, LedgerVerification, Verification};
use crate::writer::{EncodedEvent, Msg, Prepared, Writer, begin_snapshot, head_size};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL), the single-node default.
    Sqlite,
    /// PostgreSQL, shared by several replicas.
    Postgres,
}

impl Backend {
    /// The backend a connection URL names.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl {
                url: redact_url(url),
            })
        }
    }
}

/// How to open a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://...` (see [`sqlite_url`]) or `postgres://...`.
    pub url: String,
    /// The ledger's checkpoint signing key.
    pub signer: Signer,
    /// The checkpoint origin line, e.g. `sitrep.example.com/ledger`.
    pub origin: String,
    /// How often the background task signs a checkpoint when the tree grew.
    pub checkpoint_every: Duration,
    /// Most changes applied in one group-commit transaction.
    pub max_batch: usize,
    /// Connection pool size.
    pub max_connections: u32,
    /// Above this many signed entries `open` re-hashes them in the background.
    pub verify_in_background_above: u64,
    /// Longest wait for a pooled connection before the operation fails (a database
    /// that is down answers fast instead of hanging its callers).
    pub acquire_timeout: Duration,
    /// Longest wait for [`Store::commit`]; the group commit itself is abandoned after
    /// five times this.
    pub commit_timeout: Duration,
}

impl StoreOptions {
    /// Options with the defaults: a checkpoint every 5 s, batches of up to 1024
    /// changes, 8 connections, 2 s to get a connection or a commit.
    pub fn new(url: impl Into<String>, signer: Signer, origin: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            signer,
            origin: origin.into(),
            checkpoint_every: Duration::from_secs(5),
            max_batch: 1024,
            max_connections: 8,
            verify_in_background_above: 1_000_000,
            acquire_timeout: Duration::from_secs(2),
            commit_timeout: Duration::from_secs(2),
        }
    }
}

/// The SQLite database's file name inside the data dir.
pub const SQLITE_FILE: &str = "sitrep.db";

/// The SQLite URL of the database file `<data_dir>/sitrep.db`, created if missing
/// (the directory must exist). Relative directories are made absolute.
#[must_use]
pub fn sqlite_url(data_dir: &Path) -> String {
    let dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let file = dir.join(SQLITE_FILE);
    let mut url = String::from("sqlite://");
    // Percent-encode everything but unreserved characters and '/', so '?', '#', '%'
    // and spaces in a path survive URL parsing (sqlx decodes the path again).
    for b in file.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    url
}

/// The lease a key rotation holds while it records itself.
const KEY_ROTATION_LEASE: &str = "ledger-key-rotation";

/// A new id: a UUIDv7 (time-ordered) as text.
#[must_use]
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Persistence for sitrep on SQLite or PostgreSQL. Cheap to clone; all clones share
/// one pool and one group-commit writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    core: Arc<Core>,
    tx: mpsc::Sender<Msg>,
    /// The writer's last outcome.
    writer: Arc<Tracker>,
    commit_timeout: Duration,
    closed: AtomicBool,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What the background checkpoint task shares with the store (not the writer's
/// channel, so dropping every `Store` still ends the writer).
struct Core {
    pool: AnyPool,
    backend: Backend,
    keys: LogKeys,
    /// Serialises checkpoint signing within this process.
    checkpointing: tokio::sync::Mutex<()>,
    /// The background checkpoint task's last outcome (why it failed, cleared when it
    /// succeeds).
    signer: Tracker,
    /// The startup re-hash: no checkpoint is signed until it passed.
    verification: Arc<Verification>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.core.backend)
            .field("origin", &self.inner.core.keys.origin)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects, runs the embedded migrations, checks the ledger against its latest
    /// checkpoints (refusing to open on a regression or divergence), and starts the
    /// group-commit writer and the checkpoint task. Needs a tokio runtime.
    pub async fn open(opts: StoreOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&opts.url)?;
        let connect_err = |source| StoreError::Connect {
            url: redact_url(&opts.url),
            source,
        };
        let mut pool_opts = AnyPoolOptions::new()
            .max_connections(opts.max_connections.max(2))
            .acquire_timeout(opts.acquire_timeout)
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    // A connection whose transaction failed is never reused: when
                    // SQLite rolled back by itself (disk full at COMMIT) the queued
                    // ROLLBACK fails and sqlx still counts the transaction open, and
                    // every later BEGIN on it would fail ("non-zero transaction
                    // depth") long after the fault cleared. Flush the rollback (the
                    // ping), then keep the connection only when it is clean.
                    if conn.is_in_transaction() {
                        conn.ping().await?;
                    }
                    Ok(!conn.is_in_transaction())
                })
            });
        if backend == Backend::Sqlite {
            // No ping before each acquire: a SQLite connection is a file handle in
            // this process and cannot go stale the way a network one can, and the
            // ping is one more hand-off to the connection's thread on every read
            // and every group commit (after_release above still drops a dirty one).
            pool_opts = pool_opts.test_before_acquire(false);
            pool_opts = pool_opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // Per connection. synchronous=FULL fsyncs the WAL at every commit:
                    // an acknowledged event survives kill -9 and power loss.
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = pool_opts.connect(&opts.url).await.map_err(connect_err)?;
        if backend == Backend::Sqlite {
            // WAL lets readers run beside the writer; it is a property of the file,
            // so setting it once is enough.
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL")
                .fetch_one(&pool)
                .await?;
            if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
                return Err(StoreError::Corrupt(format!(
                    "SQLite refused WAL mode (journal mode is {mode})"
                )));
            }
        }
        sqlx::migrate!("./migrations").run(&pool).await?;
        let (every, max_batch) = (opts.checkpoint_every, opts.max_batch.max(1));
        let commit_timeout = opts.commit_timeout.max(Duration::from_millis(10));
        let (keys, verification, deferred) = startup::open_check(&pool, backend, opts).await?;
        let core = Arc::new(Core {
            pool: pool.clone(),
            backend,
            keys,
            checkpointing: tokio::sync::Mutex::new(()),
            signer: Tracker::default(),
            verification: verification.clone(),
        });
        let (tx, rx) = mpsc::channel(max_batch.saturating_mul(2));
        let health = Arc::new(Tracker::default());
        let writer = Writer {
            pool,
            backend,
            rx,
            max_batch,
            size: None,
            peaks: None,
            heads: Default::default(),
            health: health.clone(),
            timeout: commit_timeout.saturating_mul(5),
        };
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(writer.run())];
        tasks.extend(deferred.map(|d| startup::spawn(&core.pool, d, verification, every, &rx)));
        tasks.push(tokio::spawn(checkpoint_loop(core.clone(), every, rx)));
        Ok(Store {
            inner: Arc::new(Inner {
                core,
                tx,
                writer: health,
                commit_timeout,
                closed: AtomicBool::new(false),
                shutdown,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    /// The database this store runs on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.inner.core.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.core.pool
    }

    /// Applies everything committed before, stops the background tasks, signs a final
    /// checkpoint if the tree grew, and closes the pool. Later commits fail with
    /// [`StoreError::Closed`]. A failing final checkpoint is not fatal: the next
    /// `open` re-hashes every entry after the latest checkpoint.
    pub async fn close(&self) {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let (ack, done) = oneshot::channel();
        if self.inner.tx.send(Msg::Close(ack)).await.is_ok() {
            let _ = done.await;
        }
        let _ = self.inner.shutdown.send(true);
        let tasks = match self.inner.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for t in tasks {
            let _ = t.await;
        }
        let _ = self.checkpoint_if_grown().await;
        self.pool().close().await;
    }

    /// Commits a change: its writes and its events (as ledger leaves) atomically,
    /// through the group-commit writer. Returns once the transaction is committed, or
    /// [`StoreError::TimedOut`] after the commit timeout (the change may still commit).
    pub async fn commit(&self, change: Change) -> Result<Committed, StoreError> {
        let after = self.inner.commit_timeout;
        tokio::time::timeout(after, self.commit_untimed(change))
            .await
            .unwrap_or(Err(StoreError::TimedOut {
                what: "commit",
                after,
            }))
    }

    async fn commit_untimed(&self, change: Change) -> Result<Committed, StoreError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        let mut events = Vec::with_capacity(change.events.len());
        for r in &change.events {
            let (bytes, record) = crate::chain::prepare(r)?;
            events.push(EncodedEvent {
                bytes,
                record,
                incident: r.incident.clone(),
                event_type: r.event_type.clone(),
                time_ms: i64::try_from(r.time_ms).map_err(|_| {
                    StoreError::BadRecord(sitrep_ledger::RecordError::InvalidField {
                        field: "time_ms",
                        reason: "must fit a signed 64-bit integer",
                    })
                })?,
                actor: r.actor.clone(),
            });
        }
        let prepared = Prepared {
            writes: change.writes,
            events,
        };
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Msg::Commit(prepared, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Keeps a raw webhook payload (idempotent by id). Written directly, not through
    /// the ledger: the events derived from it are.
    pub async fn put_raw_payload(&self, p: &RawPayload) -> Result<(), StoreError> {
        // Through the group commit: many deliveries at once share one transaction and
        // one fsync instead of contending for SQLite's write lock one by one.
        self.commit(Change {
            writes: vec![crate::model::Write::PutRawPayload(p.clone())],
            events: Vec::new(),
        })
        .await?;
        Ok(())
    }

    /// The number of ledger entries.
    pub async fn tree_size(&self) -> Result<u64, StoreError> {
        let mut conn = self.pool().acquire().await?;
        head_size(&mut conn).await
    }

    /// The RFC 6962 root of the first `size` entries.
    pub async fn root(&self, size: u64) -> Result<Hash, StoreError> {
        let mut conn = self.pool().acquire().await?;
        ledger::check_size(&mut conn, size).await?;
        ledger::root_at(&mut conn, size).await
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        ledger::check_size(&mut conn, size).await?;
        ledger::inclusion(&mut conn, index, size).await
    }

    /// The consistency proof between the trees of `old` and `new` entries.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        ledger::check_size(&mut conn, new).await?;
        ledger::consistency(&mut conn, old, new).await
    }

    /// Signs a checkpoint of the current tree, or returns the latest one when the tree
    /// has not grown since.
    pub async fn checkpoint_now(&self) -> Result<StoredCheckpoint, StoreError> {
        let core = &self.inner.core;
        core.verification.check_may_sign()?;
        let _one = core.checkpointing.lock().await;
        ledger::checkpoint_now(&core.pool, &core.keys).await
    }

    async fn checkpoint_if_grown(&self) -> Result<(), StoreError> {
        let latest = self.latest_checkpoint().await?.map_or(0, |c| c.size);
        if self.tree_size().await? > latest {
            self.checkpoint_now().await?;
        }
        Ok(())
    }

    /// Every key this log has been signed with, oldest first: what an auditor pins to
    /// verify checkpoints and evidence packs from any time.
    pub async fn key_history(&self) -> Result<Vec<KeyEpoch>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        keys::key_history(&mut conn, self.inner.core.keys.verifier()).await
    }

    /// The first half of a key rotation: seals a `ledger.key_rotated` record naming
    /// `next` as this key's successor, after which this store signs nothing more. Open a
    /// store with `next` and call [`Store::cosign_transition`] with this key to finish.
    pub async fn record_key_rotation(
        &self,
        next: &Verifier,
        actor: &str,
        actor_id: &str,
        time_ms: u64,
    ) -> Result<u64, StoreError> {
        let core = &self.inner.core;
        core.keys.check_successor(next)?;
        // One rotation at a time across processes: two that both retired the same key
        // would break the chain of keys and leave a log nobody can open. The record is
        // fenced by the lease; a rotation that finished since this store opened is
        // found under it by the checkpoint below, which refuses a retired key.
        let holder = new_id();
        let lease = self
            .acquire_lease(KEY_ROTATION_LEASE, &holder, rows::now_ms(), 120_000)
            .await?
            .ok_or_else(|| {
                StoreError::KeyRotation("another key rotation of this log is running".into())
            })?;
        let result = async {
            // Everything before the rotation is signed by the old key alone.
            self.checkpoint_now().await?;
            // Held until retired, so the background task cannot sign past the record.
            let _one = core.checkpointing.lock().await;
            let record =
                Record::key_rotation(core.keys.verifier(), next, time_ms, actor).by_id(actor_id);
            let committed = self
                .commit(Change {
                    writes: vec![Write::Fence {
                        lease: KEY_ROTATION_LEASE.to_owned(),
                        holder: holder.clone(),
                        epoch: lease.epoch,
                    }],
                    events: vec![record],
                })
                .await?;
            core.keys.retire();
            Ok::<_, StoreError>(committed)
        }
        .await;
        let _ = self
            .release_lease(KEY_ROTATION_LEASE, &holder, lease.epoch)
            .await;
        let committed = result?;
        committed
            .indexes
            .first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("a committed event got no index".into()))
    }

    /// The second half of a key rotation, on a store opened with the new key: signs the
    /// current tree with both keys, so whoever trusts the old key can follow the log to
    /// the new one. Safe to repeat.
    pub async fn cosign_transition(
        &self,
        previous: &Signer,
    ) -> Result<StoredCheckpoint, StoreError> {
        let core = &self.inner.core;
        core.verification.check_may_sign()?;
        let _one = core.checkpointing.lock().await;
        ledger::cosign_now(&core.pool, &core.keys, previous).await
    }

    /// Where the startup re-hash of the signed ledger stands; nothing is signed before.
    #[must_use]
    pub fn ledger_verification(&self) -> LedgerVerification {
        self.inner.core.verification.status()
    }

    /// Why the background checkpoint task last failed (a lost connection, or a ledger
    /// that no longer matches its latest checkpoint), or `None` when its last attempt
    /// succeeded. For readiness checks: while this is set, new events are committed but
    /// not signed.
    #[must_use]
    pub fn checkpoint_error(&self) -> Option<String> {
        self.inner.core.signer.outcome().error
    }

    /// The checkpoint signer's last outcome and failure count.
    #[must_use]
    pub fn signer_outcome(&self) -> Outcome {
        self.inner.core.signer.outcome()
    }

    /// Signs a checkpoint now if the tree grew, as the background task does at its next
    /// tick, and records the outcome: a probe uses it so readiness comes back as soon
    /// as signing works again instead of up to `checkpoint_every` later.
    pub async fn probe_signer(&self) -> Result<(), StoreError> {
        let core = &self.inner.core;
        let result = checkpoint_if_grown(core).await;
        match &result {
            Ok(()) => core.signer.ok(),
            Err(e) => core.signer.failed(e.to_string()),
        }
        result
    }

    /// The group-commit writer's last outcome: failed while the database as a whole
    /// fails (disk full, unreachable, timed out), ok again after its next commit.
    #[must_use]
    pub fn writer_outcome(&self) -> Outcome {
        self.inner.writer.outcome()
    }

    /// Finds out whether writes work again without waiting for traffic: commits a
    /// write the size of a large alert delivery and deletes it again
    /// ([`crate::health::write_probe`]), within the commit timeout. Updates
    /// [`Store::writer_outcome`].
    pub async fn probe_writer(&self) -> Result<(), StoreError> {
        let after = self.inner.commit_timeout;
        let probe = crate::health::write_probe(self.pool(), self.backend());
        let result =
            tokio::time::timeout(after, probe)
                .await
                .unwrap_or(Err(StoreError::TimedOut {
                    what: "write probe",
                    after,
                }));
        match &result {
            Ok(()) => self.inner.writer.ok(),
            Err(e) if e.is_fault() => self.inner.writer.failed(e.to_string()),
            Err(_) => {}
        }
        result
    }

    /// The first stored checkpoint whose tree contains leaf `index` (for a rotation
    /// record: its transition checkpoint).
    pub async fn checkpoint_covering(
        &self,
        index: u64,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let sql = format!(
            "SELECT {} FROM checkpoints WHERE size > $1 ORDER BY size LIMIT 1",
            rows::CHECKPOINT_COLS
        );
        sqlx::query(&sql)
            .bind(to_i64(index)?)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::checkpoint)
            .transpose()
    }

    /// The latest stored checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        Ok(ledger::latest_checkpoints(&mut conn, 1).await?.pop())
    }

    /// Recomputes every leaf and stored hash from the entries, checks every entry's
    /// index columns against its record, and every checkpoint's signature, root and
    /// consistency with the previous one. Reads the whole ledger; the report names the
    /// first divergence.
    pub async fn verify_ledger(&self) -> Result<LedgerReport, StoreError> {
        let mut snapshot = begin_snapshot(self.pool(), self.backend()).await?;
        let report = ledger::verify(&mut snapshot, &self.inner.core.keys).await?;
        snapshot.commit().await?;
        Ok(report)
    }
}

/// Signs a checkpoint every `every` while the tree grows, until shutdown. Errors are
/// kept for [`Store::checkpoint_error`] and retried at the next tick: a missed
/// checkpoint only means a longer tail for the next startup check to re-hash.
async fn checkpoint_loop(core: Arc<Core>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let every = every.max(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = shutdown.changed() => {
                // Shutdown requested, or every Store handle is gone.
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
        }
        match checkpoint_if_grown(&core).await {
            Ok(()) => core.signer.ok(),
            Err(e) => core.signer.failed(e.to_string()),
        }
    }
}

async fn checkpoint_if_grown(core: &Core) -> Result<(), StoreError> {
    let mut conn = core.pool.acquire().await?;
    let size = head_size(&mut conn).await?;
    let latest = ledger::latest_checkpoints(&mut conn, 1)
        .await?
        .pop()
        .map_or(0, |c| c.size);
    drop(conn);
    // While the background re-hash runs signing waits for it: that is no failure.
    if size > latest && core.verification.may_sign_yet()? {
        let _one = core.checkpointing.lock().await;
        ledger::checkpoint_now(&core.pool, &core.keys).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The durability settings the crash test cannot observe (kill -9 keeps the OS
    /// cache): every pooled SQLite connection runs WAL with synchronous=FULL.
    #[tokio::test]
    async fn sqlite_connections_are_durable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // A data directory whose name needs escaping in a URL.
        let dir = tmp.path().join("data dir?#%");
        std::fs::create_dir(&dir).expect("mkdir");
        let signer = Signer::from_seed("t", &[1; 32]).expect("signer");
        let store = Store::open(StoreOptions::new(sqlite_url(&dir), signer, "t/log"))
            .await
            .expect("open");
        for _ in 0..3 {
            let mut conn = store.pool().acquire().await.expect("conn");
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await
                .expect("pragma");
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await
                .expect("pragma");
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut *conn)
                .await
                .expect("pragma");
            // 2 is FULL.
            assert_eq!((sync, journal.as_str(), fk), (2, "wal", 1));
        }
        assert!(dir.join("sitrep.db").exists());
        store.close().await;
    }

    #[test]
    fn sqlite_urls_survive_odd_paths() {
        let url = sqlite_url(Path::new("/tmp/a dir/w?x#y%z"));
        assert_eq!(
            url,
            "sqlite:///tmp/a%20dir/w%3Fx%23y%25z/sitrep.db?mode=rwc"
        );
        assert!(sqlite_url(Path::new("rel")).starts_with("sqlite:///"));
    }

    #[test]
    fn backends_come_from_the_url_scheme() {
        assert_eq!(Backend::from_url("sqlite:///x").ok(), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        let err = Backend::from_url("mysql://u:pw@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("u:***@h") && !err.contains("pw"), "{err}");
    }
}
