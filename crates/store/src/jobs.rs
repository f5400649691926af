//! Durable jobs (claimed at least once), leases with fencing epochs, API tokens and
//! browser sessions.
//!
//! These bypass the group-commit writer: they are not ledger events, and each is one
//! statement (or one short transaction) that is atomic on its own.

use crate::error::StoreError;
use crate::model::{ApiToken, Job, Lease, SessionRow};
use crate::rows::{self, JOB_COLS, LEASE_COLS, SESSION_COLS, TOKEN_COLS, now_ms, placeholders};
use crate::store::{Backend, Store};
use crate::writer::begin_write;

/// The unique index on `lower(name)` of `api_tokens` (migration 0009).
const TOKEN_NAME_INDEX: &str = "api_tokens_name_lower";

impl Store {
    /// Claims up to `limit` due jobs of `kinds` (all kinds when empty) for `worker`:
    /// pending ones, and running ones whose lock expired (their worker died). Each
    /// claimed job is `running`, locked until `now_ms + lock_ms`, its attempts
    /// counted. Returned in due order.
    ///
    /// PostgreSQL skips rows another claimer holds (`FOR UPDATE SKIP LOCKED`), so
    /// workers on several replicas never claim the same job at once; SQLite runs the
    /// single UPDATE in an IMMEDIATE transaction.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        now_ms: i64,
        limit: u32,
        lock_ms: i64,
    ) -> Result<Vec<Job>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let kind_filter = if kinds.is_empty() {
            String::new()
        } else {
            format!(" AND kind IN ({})", placeholders(5, kinds.len()))
        };
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', locked_by = $1, locked_until_ms = $2, \
             attempts = attempts + 1, updated_ms = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE due_ms <= $3 \
             AND (state = 'pending' OR (state = 'running' AND locked_until_ms <= $3)){kind_filter} \
             ORDER BY due_ms, id LIMIT $4{lock}) \
             RETURNING {JOB_COLS}"
        );
        let mut q = sqlx::query(&sql)
            .bind(worker)
            .bind(now_ms.saturating_add(lock_ms))
            .bind(now_ms)
            .bind(i64::from(limit));
        for k in kinds {
            q = q.bind(*k);
        }
        let mut tx = begin_write(self.pool(), self.backend()).await?;
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut jobs = rows.iter().map(rows::job).collect::<Result<Vec<_>, _>>()?;
        // RETURNING has no order of its own.
        jobs.sort_by(|a, b| (a.due_ms, &a.id).cmp(&(b.due_ms, &b.id)));
        Ok(jobs)
    }

    /// Marks a job done. Only its current locker may: a worker whose lock expired and
    /// whose job was claimed again gets [`StoreError::Conflict`].
    pub async fn complete_job(&self, id: &str, worker: &str) -> Result<(), StoreError> {
        self.finish_job(id, worker, "done", None, None).await
    }

    /// Marks many jobs done in one transaction (one fsync instead of one per job); only
    /// those `worker` still holds are marked. Returns how many were.
    pub async fn complete_jobs(&self, ids: &[String], worker: &str) -> Result<u64, StoreError> {
        let mut done = 0;
        let mut tx = begin_write(self.pool(), self.backend()).await?;
        for chunk in ids.chunks(200) {
            let sql = format!(
                "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until_ms = NULL, \
                 updated_ms = $1 WHERE locked_by = $2 AND state = 'running' AND id IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(now_ms()).bind(worker);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            done += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Puts a job back to pending, due at `next_due_ms`, remembering the error.
    pub async fn retry_job(
        &self,
        id: &str,
        worker: &str,
        next_due_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.finish_job(id, worker, "pending", Some(next_due_ms), Some(error))
            .await
    }

    /// Marks a job failed for good.
    pub async fn fail_job(&self, id: &str, worker: &str, error: &str) -> Result<(), StoreError> {
        self.finish_job(id, worker, "failed", None, Some(error))
            .await
    }

    async fn finish_job(
        &self,
        id: &str,
        worker: &str,
        state: &str,
        due_ms: Option<i64>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE jobs SET state = $1, due_ms = COALESCE($2, due_ms), \
             last_error = COALESCE($3, last_error), locked_by = NULL, locked_until_ms = NULL, \
             updated_ms = $4 WHERE id = $5 AND locked_by = $6 AND state = 'running'",
        )
        .bind(state)
        .bind(due_ms)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict {
                what: "job (not locked by this worker)",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    /// An incident's jobs, oldest first.
    pub async fn jobs_for(&self, incident_id: &str) -> Result<Vec<Job>, StoreError> {
        let sql =
            format!("SELECT {JOB_COLS} FROM jobs WHERE incident_id = $1 ORDER BY created_ms, id");
        sqlx::query(&sql)
            .bind(incident_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::job)
            .collect()
    }

    /// A job by its de-duplication key.
    pub async fn job_by_key(&self, dedupe_key: &str) -> Result<Option<Job>, StoreError> {
        let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE dedupe_key = $1");
        sqlx::query(&sql)
            .bind(dedupe_key)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::job)
            .transpose()
    }

    /// How many jobs wait to be claimed (state `pending`, due or not).
    /// Jobs not finished yet (pending, or running) whose kind starts with `prefix`,
    /// oldest first.
    pub async fn open_jobs(&self, prefix: &str) -> Result<Vec<Job>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs WHERE state IN ('pending', 'running') \
             AND kind LIKE $1 ESCAPE '\\' ORDER BY created_ms, id"
        );
        sqlx::query(&sql)
            .bind(like_prefix(prefix))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::job)
            .collect()
    }

    /// Leases whose name starts with `prefix` and that have not expired at `now_ms`.
    pub async fn live_leases(&self, prefix: &str, now_ms: i64) -> Result<Vec<Lease>, StoreError> {
        let sql = format!(
            "SELECT {LEASE_COLS} FROM leases WHERE name LIKE $1 ESCAPE '\\' \
             AND expires_ms > $2 ORDER BY name"
        );
        sqlx::query(&sql)
            .bind(like_prefix(prefix))
            .bind(now_ms)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::lease)
            .collect()
    }

    pub async fn pending_jobs(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = 'pending'")
            .fetch_one(self.pool())
            .await?;
        rows::to_u64(n, "job count")
    }

    /// Takes or renews the lease `name` for `ttl_ms`. A free or expired lease goes to
    /// `holder` with the epoch bumped (so writes fenced with an older epoch fail); a
    /// lease `holder` still holds is renewed at the same epoch; a lease held by someone
    /// else gives `None`. One atomic upsert on both databases.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<Lease>, StoreError> {
        let sql = format!(
            "INSERT INTO leases (name, holder, epoch, expires_ms) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_ms > $4 \
             THEN leases.epoch ELSE leases.epoch + 1 END, \
             expires_ms = excluded.expires_ms \
             WHERE leases.holder = excluded.holder OR leases.expires_ms <= $4 \
             RETURNING {LEASE_COLS}"
        );
        sqlx::query(&sql)
            .bind(name)
            .bind(holder)
            .bind(now_ms.saturating_add(ttl_ms))
            .bind(now_ms)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::lease)
            .transpose()
    }

    /// The lease `name` as stored (also when expired or released).
    pub async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let sql = format!("SELECT {LEASE_COLS} FROM leases WHERE name = $1");
        sqlx::query(&sql)
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::lease)
            .transpose()
    }

    /// Gives the lease up so another holder need not wait for it to expire. The row
    /// stays (holder empty, expired) so the epoch keeps growing. Fails with
    /// [`StoreError::Fenced`] when `holder` no longer holds it at `epoch`.
    pub async fn release_lease(
        &self,
        name: &str,
        holder: &str,
        epoch: i64,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE leases SET holder = '', expires_ms = 0 \
             WHERE name = $1 AND holder = $2 AND epoch = $3",
        )
        .bind(name)
        .bind(holder)
        .bind(epoch)
        .execute(self.pool())
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Fenced {
                lease: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Inserts or replaces a token by id. A name another token has, ignoring ASCII case
    /// (`lower(name)` in the database), is `Conflict { what: "token name" }`; a secret
    /// in use is `Conflict { what: "token secret" }`.
    pub async fn put_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_ms, revoked_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             role = excluded.role, secret_sha256 = excluded.secret_sha256, \
             created_ms = excluded.created_ms, revoked_ms = excluded.revoked_ms",
        )
        .bind(t.id.as_str())
        .bind(t.name.as_str())
        .bind(t.role.as_str())
        .bind(t.secret_sha256.as_str())
        .bind(t.created_ms)
        .bind(t.revoked_ms)
        .execute(self.pool())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
                // SQLite names the index only in its message, PostgreSQL as the constraint.
                if db.constraint() == Some(TOKEN_NAME_INDEX)
                    || db.message().contains(TOKEN_NAME_INDEX)
                {
                    StoreError::Conflict {
                        what: "token name",
                        id: t.name.clone(),
                    }
                } else {
                    StoreError::Conflict {
                        what: "token secret",
                        id: t.id.clone(),
                    }
                }
            }
            _ => StoreError::Database(e),
        })?;
        Ok(())
    }

    /// The unrevoked token whose secret hashes to `hex` (lower-case SHA-256). Revoked
    /// tokens are never returned here, so an authenticator cannot forget to check.
    pub async fn token_by_secret_sha256(&self, hex: &str) -> Result<Option<ApiToken>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLS} FROM api_tokens WHERE secret_sha256 = $1 AND revoked_ms IS NULL"
        );
        sqlx::query(&sql)
            .bind(hex)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::token)
            .transpose()
    }

    /// Every token, revoked ones included, oldest first.
    pub async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens ORDER BY created_ms, id");
        sqlx::query(&sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::token)
            .collect()
    }

    /// Revokes a token; false when it does not exist or was already revoked.
    pub async fn revoke_token(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE api_tokens SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL",
        )
        .bind(now_ms)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Keeps a new session; at most `max` stay live per token (`token_sha256`, the
    /// principal), so beyond it that token's oldest go first, never another token's
    /// (and expired ones, whose time is before `now_ms`, go now).
    pub async fn put_session(
        &self,
        s: &SessionRow,
        max: u32,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_sha256 = $1")
            .bind(s.token_sha256.as_str())
            .fetch_one(self.pool())
            .await?;
        let over = live - i64::from(max) + 1;
        if over > 0 {
            sqlx::query(
                "DELETE FROM sessions WHERE id_sha256 IN \
                 (SELECT id_sha256 FROM sessions WHERE token_sha256 = $1 \
                  ORDER BY created_ms, id_sha256 LIMIT $2)",
            )
            .bind(s.token_sha256.as_str())
            .bind(over)
            .execute(self.pool())
            .await?;
        }
        sqlx::query(
            "INSERT INTO sessions (id_sha256, name, role, token_sha256, csrf, created_ms, \
             expires_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id_sha256.as_str())
        .bind(s.name.as_str())
        .bind(s.role.as_str())
        .bind(s.token_sha256.as_str())
        .bind(s.csrf.as_str())
        .bind(s.created_ms)
        .bind(s.expires_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session whose cookie hashes to `id_sha256`, if it expires after `now_ms`.
    pub async fn session(
        &self,
        id_sha256: &str,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        let sql =
            format!("SELECT {SESSION_COLS} FROM sessions WHERE id_sha256 = $1 AND expires_ms > $2");
        sqlx::query(&sql)
            .bind(id_sha256)
            .bind(now_ms)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rows::session)
            .transpose()
    }

    /// Ends a session; false when there was none.
    pub async fn delete_session(&self, id_sha256: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE id_sha256 = $1")
            .bind(id_sha256)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes sessions that expired by `now_ms`; returns how many.
    pub async fn sweep_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    /// Sessions that expire after `now_ms`.
    pub async fn live_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires_ms > $1")
            .bind(now_ms)
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The per-contact rate limit: when `contact` had `burst` or more sends in the
    /// `window_ms` before `now_ms`, the time the oldest of them leaves the window;
    /// otherwise records a send now (and forgets the contact's sends older than the
    /// window) and returns `None`. One transaction, so replicas sharing the database
    /// share the window (on SQLite, writers are serialised; on PostgreSQL two replicas
    /// racing may each let one more through).
    pub async fn take_send(
        &self,
        contact: &str,
        burst: u32,
        window_ms: i64,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let since = now_ms.saturating_sub(window_ms);
        let mut tx = begin_write(self.pool(), self.backend()).await?;
        if self.backend() == Backend::Postgres {
            // Read committed lets two replicas both count the window before either inserts;
            // a lock per contact, held to commit, makes count-then-insert one step. (SQLite's
            // BEGIN IMMEDIATE already serialises every writer.)
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text")
                .bind(format!("sitrep.contact_sends:{contact}"))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM contact_sends WHERE contact = $1 AND sent_ms <= $2")
            .bind(contact)
            .bind(since)
            .execute(&mut *tx)
            .await?;
        let (n, first): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MIN(sent_ms) FROM contact_sends WHERE contact = $1")
                .bind(contact)
                .fetch_one(&mut *tx)
                .await?;
        if n >= i64::from(burst) {
            tx.commit().await?;
            return Ok(Some(first.unwrap_or(now_ms).saturating_add(window_ms)));
        }
        sqlx::query("INSERT INTO contact_sends (contact, sent_ms) VALUES ($1, $2)")
            .bind(contact)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(None)
    }
}

/// A LIKE pattern (with `ESCAPE '\\'`) matching what starts with `prefix`.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
