//! Evidence bytes: the data dir's blob store, mirrored to a shared S3-compatible bucket
//! when `[evidence] remote` is set, so every replica can show, page and export what any
//! replica captured.
//!
//! Writing: the bytes go to the local store first (nothing is acknowledged before they
//! are on disk), then up to the bucket. An upload that fails loses nothing: it becomes a
//! durable job, committed with the evidence event, that this replica's server retries
//! (only the replica that holds the bytes can upload them, so the job's kind names it).
//! Reading: local first; else the bucket, verified against the hash, then kept locally.

use sitrep_evidence::remote::{RemoteBlobs, RemoteConfig};
use sitrep_evidence::{BlobError, StoredBlob};
use sitrep_ledger::Hash;
use sitrep_store::{NewJob, Write};

use crate::app::{App, now_ms};
use crate::config::EvidenceConfig;
use crate::error::AppError;

/// Job kind prefix of a pending upload; the replica id follows.
pub const UPLOAD_JOB: &str = "blob.upload";
/// File in the data dir naming this replica (random, made on first open).
pub const REPLICA_FILE: &str = "replica.id";
/// How long a claimed upload stays with its worker.
const UPLOAD_LOCK_MS: i64 = 60_000;

/// The remote store a configuration names, if any.
pub(crate) fn remote(cfg: &EvidenceConfig) -> Result<Option<RemoteBlobs>, AppError> {
    let Some(url) = &cfg.remote else {
        return Ok(None);
    };
    let credentials = match (&cfg.access_key_id, &cfg.secret_access_key) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        (None, None) => None,
        _ => {
            return Err(AppError::invalid(
                "evidence",
                "set both access_key_id and secret_access_key, or neither (then \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are used)",
            ));
        }
    };
    RemoteBlobs::s3(&RemoteConfig {
        url: url.clone(),
        endpoint: cfg.endpoint.clone(),
        region: cfg.region.clone(),
        allow_http: cfg.allow_http,
        credentials,
    })
    .map(Some)
    .map_err(|e| AppError::invalid("evidence.remote", e.to_string()))
}

impl App {
    fn upload_kind(&self) -> String {
        format!("{UPLOAD_JOB}:{}", self.inner.replica)
    }

    /// Keeps captured bytes: on local disk, then in the bucket. When the upload fails,
    /// the returned write (a durable retry job) must be committed with the event that
    /// names the blob.
    pub(crate) async fn keep_blob(
        &self,
        bytes: &[u8],
        incident_id: &str,
    ) -> Result<(StoredBlob, Option<Write>), AppError> {
        let blob = self.inner.blobs.put(bytes)?;
        let Some(remote) = &self.inner.remote else {
            return Ok((blob, None));
        };
        match remote.upload(bytes).await {
            Ok(_) => Ok((blob, None)),
            Err(e) => {
                let hex = blob.sha256.to_hex();
                Ok((
                    blob,
                    Some(Write::EnqueueJob(NewJob {
                        kind: self.upload_kind(),
                        dedupe_key: format!("{}:{hex}", self.upload_kind()),
                        incident_id: Some(incident_id.to_owned()),
                        payload: serde_json::json!({
                            "sha256": hex,
                            "first_error": e.to_string(),
                        }),
                        due_ms: now_ms() + 5_000,
                    })),
                ))
            }
        }
    }

    /// A blob's bytes: from the data dir, else from the bucket (verified against the
    /// hash, then kept locally). `NotFound` when neither has it (never captured here and
    /// not shared, or deleted by retention).
    pub async fn blob(&self, sha256: &Hash) -> Result<Vec<u8>, AppError> {
        let blobs = self.inner.blobs.clone();
        let h = *sha256;
        let local = tokio::task::spawn_blocking(move || blobs.get(&h))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        match (local, &self.inner.remote) {
            (Ok(bytes), _) => Ok(bytes),
            (Err(BlobError::NotFound(_)), Some(remote)) => {
                let bytes = remote.download(sha256).await?;
                // Kept so the next read (and an evidence export) is local.
                self.inner.blobs.put(&bytes)?;
                Ok(bytes)
            }
            (Err(e), _) => Err(e.into()),
        }
    }

    /// Makes sure the blobs are in the data dir (fetching from the bucket what is
    /// missing), e.g. before an evidence pack is written. Blobs that neither store has
    /// are left out, as retention would leave them.
    pub(crate) async fn fetch_missing(&self, hashes: &[Hash]) -> Result<(), AppError> {
        if self.inner.remote.is_none() {
            return Ok(());
        }
        for h in hashes {
            if self.inner.blobs.contains(h) {
                continue;
            }
            match self.blob(h).await {
                Ok(_) | Err(AppError::Blob(BlobError::NotFound(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Retries this replica's failed uploads; returns how many went up. A job whose
    /// bytes are gone from the data dir, or whose incident retention expired, is done:
    /// there is nothing to share.
    pub async fn upload_pending(&self, worker: &str, limit: u32) -> Result<usize, AppError> {
        let Some(remote) = &self.inner.remote else {
            return Ok(0);
        };
        let kind = self.upload_kind();
        let store = &self.inner.store;
        let jobs = store
            .claim_jobs(worker, &[kind.as_str()], now_ms(), limit, UPLOAD_LOCK_MS)
            .await?;
        let mut uploaded = 0;
        for job in jobs {
            let hash = job
                .payload
                .get("sha256")
                .and_then(|v| v.as_str())
                .and_then(|s| Hash::from_hex(s).ok());
            let Some(hash) = hash else {
                store
                    .fail_job(&job.id, worker, "no sha256 in the job")
                    .await?;
                continue;
            };
            // Retention got there first (a bucket down for longer than the retention
            // time): uploading now would bring deleted evidence back.
            if let Some(inc) = &job.incident_id {
                if store.evidence_expired(inc).await? {
                    store.complete_job(&job.id, worker).await?;
                    continue;
                }
            }
            let bytes = match self.inner.blobs.get(&hash) {
                Ok(b) => b,
                Err(BlobError::NotFound(_)) => {
                    store.complete_job(&job.id, worker).await?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match remote.upload(&bytes).await {
                Ok(_) => {
                    store.complete_job(&job.id, worker).await?;
                    uploaded += 1;
                }
                Err(e) => {
                    // Backoff: 5 s doubling per attempt, at most 10 minutes.
                    let shift = u32::try_from(job.attempts.clamp(0, 7)).unwrap_or(7);
                    let delay = (5_000_i64 << shift).min(600_000);
                    store
                        .retry_job(&job.id, worker, now_ms() + delay, &e.to_string())
                        .await?;
                }
            }
        }
        Ok(uploaded)
    }
}
