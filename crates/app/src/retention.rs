//! Evidence retention and legal holds.
//!
//! `[evidence] retention` says how long after an incident resolves its captured output
//! is kept. A sweep deletes the bytes (in the data dir and the shared bucket) and seals
//! an `evidence.expired` event naming what went; the ledger records stay, so every
//! record still proves what its blob hashed to, and an evidence pack says which blobs
//! retention removed. A legal hold (`evidence.held`, `evidence.released`) keeps an
//! incident's bytes whatever its age. Output is content-addressed, so one blob can
//! belong to several incidents: it is deleted only when every incident that captured it
//! is expired (or expiring in this sweep) and none is held.
//!
//! Raw alert payloads expire too (`[server.receivers] raw_keep`, `raw_keep_rejected`):
//! nothing refers to one, so they are simply deleted, with no ledger event and no
//! ledger record touched.

use std::collections::BTreeSet;

use serde::Serialize;
use sitrep_evidence::BlobError;
use sitrep_ledger::Hash;
use sitrep_store::{Change, EvidenceHold, StoreError, Write};

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::stamp::now_ms;

/// Most incidents one sweep expires; the next sweep takes the rest.
const BATCH: u32 = 200;
/// Raw payloads deleted per statement, so one sweep never holds a long write lock.
const RAW_BATCH: u32 = 500;
/// File in the data dir: the latest expiry whose local copies this replica deleted.
pub const RETENTION_MARK_FILE: &str = "retention.mark";

/// What a sweep did (or, dry, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionReport {
    /// Whether anything was deleted.
    pub dry_run: bool,
    /// Incidents whose evidence expired, with the blobs deleted for each.
    pub incidents: Vec<ExpiredIncident>,
    /// Blobs kept because another incident still needs them or holds them.
    pub shared_kept: usize,
    /// This data dir's copies of blobs expired earlier (by any replica) now deleted.
    pub local_copies_deleted: usize,
}

/// One incident's expiry.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiredIncident {
    /// Incident id.
    pub id: String,
    /// Its number.
    pub number: i64,
    /// Blobs deleted (hex SHA-256).
    pub blobs: Vec<String>,
}

/// What a raw payload sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RawSweep {
    /// Accepted payloads older than `raw_keep`.
    pub accepted: u64,
    /// Rejected payloads older than `raw_keep_rejected`.
    pub rejected: u64,
}

impl App {
    /// Deletes raw alert payloads received more than `raw_keep` (accepted) or
    /// `raw_keep_rejected` (rejected) before `now_ms`. Idempotent, so every replica may
    /// run it; ledger records are never touched.
    pub async fn sweep_raw_payloads(&self, now_ms: i64) -> Result<RawSweep, AppError> {
        let cfg = &self.config().server.receivers;
        let before = |keep: std::time::Duration| {
            now_ms.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX))
        };
        let mut sweep = RawSweep::default();
        for (rejected, keep) in [(false, cfg.raw_keep), (true, cfg.raw_keep_rejected)] {
            let cutoff = before(keep);
            loop {
                let n = self
                    .inner
                    .store
                    .delete_raw_payloads_before(rejected, cutoff, RAW_BATCH)
                    .await?;
                *if rejected {
                    &mut sweep.rejected
                } else {
                    &mut sweep.accepted
                } += n;
                if n < u64::from(RAW_BATCH) {
                    break;
                }
            }
        }
        Ok(sweep)
    }

    /// Puts a legal hold on an incident's evidence.
    pub async fn hold_evidence(
        &self,
        incident: &str,
        reason: &str,
        actor: &Principal,
    ) -> Result<EvidenceHold, AppError> {
        actor.check()?;
        if reason.trim().is_empty() {
            return Err(AppError::invalid("reason", "say why the evidence is held"));
        }
        let inc = self.incident(incident).await?;
        if self.inner.store.evidence_expired(&inc.id).await? {
            return Err(AppError::invalid(
                "incident",
                format!(
                    "incident {} is past retention: its evidence bytes were already deleted",
                    inc.number
                ),
            ));
        }
        let hold = EvidenceHold {
            incident_id: inc.id.clone(),
            reason: events::cut(&self.redact(reason), 4096),
            held_by: actor.name.clone(),
            held_ms: now_ms(),
        };
        let rec = events::record(
            events::EVIDENCE_HELD,
            &inc.id,
            hold.held_ms,
            actor,
            [("reason", hold.reason.clone())],
        );
        self.inner
            .store
            .commit(Change {
                writes: vec![Write::PutHold(hold.clone())],
                events: vec![rec],
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => AppError::invalid(
                    "incident",
                    format!("incident {}'s evidence is already held", inc.number),
                ),
                e => e.into(),
            })?;
        Ok(hold)
    }

    /// Releases a legal hold; retention applies again from the next sweep.
    pub async fn release_evidence(
        &self,
        incident: &str,
        actor: &Principal,
    ) -> Result<(), AppError> {
        actor.check()?;
        let inc = self.incident(incident).await?;
        let rec = events::record(
            events::EVIDENCE_RELEASED,
            &inc.id,
            now_ms(),
            actor,
            [("incident_number", inc.number.to_string())],
        );
        self.inner
            .store
            .commit(Change {
                writes: vec![Write::DeleteHold {
                    incident_id: inc.id.clone(),
                }],
                events: vec![rec],
            })
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => AppError::invalid(
                    "incident",
                    format!("incident {}'s evidence is not held", inc.number),
                ),
                e => e.into(),
            })?;
        Ok(())
    }

    /// The legal hold on an incident's evidence, if any.
    pub async fn evidence_hold(&self, incident: &str) -> Result<Option<EvidenceHold>, AppError> {
        let inc = self.incident(incident).await?;
        Ok(self.inner.store.hold(&inc.id).await?)
    }

    /// Deletes the evidence bytes of incidents resolved more than `keep_ms` before
    /// `now_ms` (not held, not expired yet), and seals one `evidence.expired` event per
    /// incident. Bytes go first, then the record: after a crash in between, the next
    /// sweep finds the incident again, deletes nothing more and writes the record.
    pub async fn apply_retention(
        &self,
        now_ms: i64,
        keep_ms: i64,
        dry_run: bool,
        actor: &Principal,
    ) -> Result<RetentionReport, AppError> {
        actor.check()?;
        let cutoff = now_ms.saturating_sub(keep_ms);
        let due = self.inner.store.retention_due(cutoff, BATCH).await?;
        let expiring: BTreeSet<&str> = due.iter().map(|i| i.id.as_str()).collect();
        let mut report = RetentionReport {
            dry_run,
            ..RetentionReport::default()
        };
        for inc in &due {
            let mut deleted = Vec::new();
            for hex in self.output_hashes(&inc.id).await? {
                if !self.blob_unneeded(&hex, &expiring).await? {
                    report.shared_kept += 1;
                    continue;
                }
                if !dry_run {
                    let Ok(h) = Hash::from_hex(&hex) else {
                        continue;
                    };
                    self.delete_blob(&h).await?;
                }
                deleted.push(hex);
            }
            if !dry_run {
                let rec = events::record(
                    events::EVIDENCE_EXPIRED,
                    &inc.id,
                    now_ms,
                    actor,
                    [
                        ("blobs_deleted", deleted.len().to_string()),
                        ("sha256", deleted.join(" ")),
                        ("kept_ms", keep_ms.to_string()),
                    ],
                );
                self.inner
                    .store
                    .commit(Change {
                        writes: vec![Write::MarkExpired {
                            incident_id: inc.id.clone(),
                            expired_ms: now_ms,
                            blobs_deleted: i64::try_from(deleted.len()).unwrap_or(i64::MAX),
                        }],
                        events: vec![rec],
                    })
                    .await?;
            }
            report.incidents.push(ExpiredIncident {
                id: inc.id.clone(),
                number: inc.number,
                blobs: deleted,
            });
        }
        if !dry_run {
            report.local_copies_deleted = self.drop_expired_copies().await?;
        }
        Ok(report)
    }

    /// Deletes this data dir's copies of blobs that retention expired since this
    /// replica last looked (another replica may have run the sweep; this one may have
    /// fetched those blobs from the bucket meanwhile). Remembers where it got to in
    /// the data dir.
    pub async fn drop_expired_copies(&self) -> Result<usize, AppError> {
        let mark_file = self.data_dir().join(RETENTION_MARK_FILE);
        let mark: i64 = std::fs::read_to_string(&mark_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(i64::MIN);
        let expired = self.inner.store.expired_since(mark).await?;
        let none: BTreeSet<&str> = BTreeSet::new();
        let mut deleted = 0;
        let mut last = mark;
        for (id, at) in expired {
            for hex in self.output_hashes(&id).await? {
                let Ok(h) = Hash::from_hex(&hex) else {
                    continue;
                };
                if self.inner.blobs.contains(&h)
                    && self.blob_unneeded(&hex, &none).await?
                    && self.delete_local(&h)?
                {
                    deleted += 1;
                }
            }
            last = last.max(at);
        }
        if last > mark {
            std::fs::write(&mark_file, format!("{last}\n"))
                .map_err(|e| AppError::io(&mark_file, e))?;
        }
        Ok(deleted)
    }

    /// True when no incident still needs the blob: every incident that captured it is
    /// expired or expiring now, and none of them is held.
    async fn blob_unneeded(&self, hex: &str, expiring: &BTreeSet<&str>) -> Result<bool, AppError> {
        for id in self.inner.store.incidents_using_blob(hex).await? {
            if self.inner.store.hold(&id).await?.is_some() {
                return Ok(false);
            }
            if !expiring.contains(id.as_str()) && !self.inner.store.evidence_expired(&id).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The output blobs (hex SHA-256) an incident's runs captured.
    async fn output_hashes(&self, incident_id: &str) -> Result<BTreeSet<String>, AppError> {
        let mut hashes = BTreeSet::new();
        for r in self.inner.store.runs_for(incident_id).await? {
            hashes.extend(r.stdout_sha256);
            hashes.extend(r.stderr_sha256);
        }
        Ok(hashes)
    }

    /// Deletes this data dir's copy of a blob; false when there was none.
    fn delete_local(&self, h: &Hash) -> Result<bool, AppError> {
        match self.inner.blobs.delete(h) {
            Ok(()) => Ok(true),
            Err(BlobError::NotFound(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a blob here and in the shared bucket; already gone is fine.
    async fn delete_blob(&self, h: &Hash) -> Result<(), AppError> {
        self.delete_local(h)?;
        if let Some(remote) = &self.inner.remote {
            remote.delete(h).await?;
        }
        Ok(())
    }
}
