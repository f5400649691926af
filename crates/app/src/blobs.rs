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
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sitrep_ledger::{Hash, Record};
use sitrep_store::{Change, NewJob, Write};

use crate::app::App;
use crate::config::EvidenceConfig;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::stamp::now_ms;

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

/// Uploads still waiting for the shared bucket, per replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadBacklog {
    /// The replica that holds the bytes (its `replica.id`).
    pub replica: String,
    /// Whether it is the replica asking.
    pub this_replica: bool,
    /// Blobs waiting.
    pub blobs: usize,
    /// Incidents they belong to.
    pub incidents: usize,
    /// When the oldest failed upload was queued, Unix ms.
    pub oldest_ms: i64,
    /// The latest error of a retry, if any.
    pub last_error: Option<String>,
}

/// An `evidence.lost` record: output bytes that never reached the shared bucket and are
/// gone from the replica that captured them. The record of what they hashed to stays.
fn lost_record(
    incident: &str,
    sha256: &str,
    replica: &str,
    reason: &str,
    actor: &Principal,
) -> Record {
    events::record(
        events::EVIDENCE_LOST,
        incident,
        now_ms(),
        actor,
        [
            ("sha256", sha256.to_owned()),
            ("replica", replica.to_owned()),
            ("reason", reason.to_owned()),
        ],
    )
}

impl App {
    /// This replica's id (`replica.id` in its data dir): names its upload jobs.
    #[must_use]
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// Failed uploads still waiting, per replica: a replica that is gone for good
    /// (its data dir lost) leaves a backlog nobody will ever upload.
    pub async fn upload_backlog(&self) -> Result<Vec<UploadBacklog>, AppError> {
        let jobs = self
            .inner
            .store
            .open_jobs(&format!("{UPLOAD_JOB}:"))
            .await?;
        let mut by_replica: BTreeMap<String, (UploadBacklog, BTreeSet<String>)> = BTreeMap::new();
        for job in jobs {
            let replica = job.kind[UPLOAD_JOB.len() + 1..].to_owned();
            let (b, incidents) = by_replica.entry(replica.clone()).or_insert_with(|| {
                (
                    UploadBacklog {
                        this_replica: replica == self.inner.replica,
                        replica,
                        blobs: 0,
                        incidents: 0,
                        oldest_ms: job.created_ms,
                        last_error: None,
                    },
                    BTreeSet::new(),
                )
            });
            b.blobs += 1;
            b.oldest_ms = b.oldest_ms.min(job.created_ms);
            if job.last_error.is_some() {
                b.last_error.clone_from(&job.last_error);
            }
            incidents.extend(job.incident_id);
        }
        Ok(by_replica
            .into_values()
            .map(|(mut b, incidents)| {
                b.incidents = incidents.len();
                b
            })
            .collect())
    }

    /// Gives up the backlog of a replica that is gone for good: each blob it never
    /// uploaded and that no one else has gets an `evidence.lost` event on its incident,
    /// in the same transaction that cancels its job (bytes this replica also holds become
    /// its own upload; expired evidence needs nothing). Returns how many were lost.
    /// Never this replica's own backlog.
    pub async fn abandon_uploads(
        &self,
        replica: &str,
        actor: &Principal,
    ) -> Result<usize, AppError> {
        if replica == self.inner.replica {
            return Err(AppError::invalid(
                "replica",
                "that is this replica: it uploads its own backlog when the bucket answers",
            ));
        }
        let kind = format!("{UPLOAD_JOB}:{replica}");
        let jobs: Vec<_> = self
            .inner
            .store
            .open_jobs(&kind)
            .await?
            .into_iter()
            .filter(|j| j.kind == kind)
            .collect();
        if jobs.is_empty() {
            return Err(AppError::invalid(
                "replica",
                format!("no uploads wait for replica {replica:?}"),
            ));
        }
        let reason = format!("replica {replica} was abandoned before it uploaded them");
        let mut lost = 0;
        for job in &jobs {
            let sha = job
                .payload
                .get("sha256")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let mut writes = vec![Write::CancelJob { id: job.id.clone() }];
            let mut events = Vec::new();
            // Bytes of no incident, or of one whose evidence expired, are owed to no one.
            let owed = match &job.incident_id {
                Some(inc) if !self.inner.store.evidence_expired(inc).await? => Some(inc),
                _ => None,
            };
            if let Some(inc) = owed {
                let found = match Hash::from_hex(sha) {
                    // The same bytes were captured here too: this replica shares them.
                    Ok(h) if self.inner.blobs.contains(&h) => {
                        writes.push(self.upload_job(
                            &h,
                            inc,
                            "taken over from an abandoned replica",
                        ));
                        true
                    }
                    Ok(h) => match self.blob(&h).await {
                        // Someone shared the same bytes: nothing is lost.
                        Ok(_) => true,
                        Err(AppError::Blob(BlobError::NotFound(_))) => false,
                        // A bucket that does not answer cannot say what it lacks.
                        Err(e) => return Err(e),
                    },
                    // A job that names no blob: all that can be said is that it is lost.
                    Err(_) => false,
                };
                if !found {
                    events.push(lost_record(inc, sha, replica, &reason, actor));
                    lost += 1;
                }
            }
            self.inner.store.commit(Change { writes, events }).await?;
        }
        Ok(lost)
    }

    fn upload_kind(&self) -> String {
        format!("{UPLOAD_JOB}:{}", self.inner.replica)
    }

    /// The last outcome of writing a blob to the data dir, and how often it failed.
    #[must_use]
    pub fn blob_outcome(&self) -> sitrep_store::Outcome {
        self.inner.blob_health.outcome()
    }

    /// Keeps captured bytes: on local disk, then in the bucket. When the upload fails,
    /// the returned write (a durable retry job) must be committed with the event that
    /// names the blob.
    pub(crate) async fn keep_blob(
        &self,
        bytes: &[u8],
        incident_id: &str,
    ) -> Result<(StoredBlob, Option<Write>), AppError> {
        let blob = match self.inner.blobs.put(bytes) {
            Ok(blob) => {
                self.inner.blob_health.ok();
                blob
            }
            Err(e) => {
                self.inner.blob_health.failed(e.to_string());
                return Err(e.into());
            }
        };
        let Some(remote) = &self.inner.remote else {
            return Ok((blob, None));
        };
        match remote.upload(bytes).await {
            Ok(_) => Ok((blob, None)),
            Err(e) => {
                let job = self.upload_job(&blob.sha256, incident_id, &e.to_string());
                Ok((blob, Some(job)))
            }
        }
    }

    /// A durable job for this replica to upload a blob it holds.
    fn upload_job(&self, sha256: &Hash, incident_id: &str, why: &str) -> Write {
        let hex = sha256.to_hex();
        Write::EnqueueJob(NewJob {
            kind: self.upload_kind(),
            dedupe_key: format!("{}:{hex}", self.upload_kind()),
            incident_id: Some(incident_id.to_owned()),
            payload: serde_json::json!({ "sha256": hex, "first_error": why }),
            due_ms: now_ms() + 5_000,
        })
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
                    // Never shared and now gone here too: say so on the record.
                    if let Some(inc) = &job.incident_id {
                        let lost = lost_record(
                            inc,
                            &hash.to_hex(),
                            &self.inner.replica,
                            "the bytes were gone from the replica's data dir before they \
                             reached the shared bucket",
                            &Principal::sitrep("system"),
                        );
                        store
                            .commit(Change {
                                writes: Vec::new(),
                                events: vec![lost],
                            })
                            .await?;
                    }
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
