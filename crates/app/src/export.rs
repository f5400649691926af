//! Ledger status, proofs, the post-mortem and evidence packs of an incident.

use std::io::Write;

use serde::Serialize;
use sitrep_evidence::pack::{
    PackEntry, PackSummary, PackTransition, export_record, write_pack_entries,
};
use sitrep_ledger::{Hash, TlogProof, Verifier, open_note};
use sitrep_store::{Change, Event, StoredCheckpoint};

use crate::app::App;
use crate::error::AppError;
use crate::identity::Principal;
use crate::stamp::now_ms;

/// The ledger's size and latest checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerStatus {
    /// Leaves in the log.
    pub tree_size: u64,
    /// The latest signed checkpoint, if any.
    pub checkpoint: Option<StoredCheckpoint>,
    /// The key checkpoints are signed with, to pin when verifying.
    pub verifier_key: String,
}

impl App {
    /// The ledger's size and latest checkpoint.
    pub async fn ledger_status(&self) -> Result<LedgerStatus, AppError> {
        let s = self.store();
        Ok(LedgerStatus {
            tree_size: s.tree_size().await?,
            checkpoint: s.latest_checkpoint().await?,
            verifier_key: self.verifier().to_string(),
        })
    }

    /// The post-mortem of an incident, as Markdown.
    pub async fn postmortem(&self, id: &str) -> Result<String, AppError> {
        let incident = self.incident(id).await?;
        let store = self.store();
        let timeline =
            crate::replay::own_events(&incident.id, store.timeline(&incident.id, None).await?);
        let replayed = crate::replay::replay(&timeline);
        let checklist = store.checklist(&incident.id).await?;
        Ok(crate::postmortem::render(
            incident.number,
            &replayed,
            &checklist,
            &timeline,
            crate::stamp::now_ms(),
        ))
    }

    /// [`App::export_evidence_as`] by sitrep itself (`sitrep:system`).
    pub async fn export_evidence(
        &self,
        id: &str,
        out: impl Write,
    ) -> Result<PackSummary, AppError> {
        self.export_evidence_as(id, &Principal::sitrep("system"), out)
            .await
    }

    /// Writes a complete evidence pack of the incident: seals an `evidence.exported`
    /// record by `actor` naming the incident's head record and count, then packs every
    /// event up to it with inclusion proofs to a checkpoint signed now (which covers it)
    /// and the output blobs the events name.
    pub async fn export_evidence_as(
        &self,
        id: &str,
        actor: &Principal,
        out: impl Write,
    ) -> Result<PackSummary, AppError> {
        let incident = self.incident(id).await?;
        let store = self.store();
        let export = self.seal_export(&incident.id, actor).await?;
        let checkpoint = store.checkpoint_now().await?;
        let mut events = store.timeline(&incident.id, None).await?;
        events.retain(|e| e.index <= export);
        // Output captured on another replica is fetched from the shared bucket first.
        let wanted: Vec<Hash> = events
            .iter()
            .filter_map(|e| e.record.evidence.as_ref().map(|ev| ev.sha256))
            .collect();
        self.fetch_missing(&wanted).await?;
        let mut entries = Vec::with_capacity(events.len());
        for e in events.into_iter().filter(|e| e.index < checkpoint.size) {
            let proof: Vec<Hash> = store.inclusion_proof(e.index, checkpoint.size).await?;
            entries.push(PackEntry {
                index: e.index,
                entry: e.record.encode()?,
                proof,
            });
        }
        let transitions = self.key_transitions(checkpoint.size).await?;
        Ok(write_pack_entries(
            out,
            &checkpoint.signed_note,
            entries,
            transitions,
            self.blobs(),
        )?)
    }

    /// Seals the export record and returns its leaf index. Its payload names the head
    /// and count read just before; should another event of the incident commit in
    /// between (the writer's link then names that one), it seals again, so the pack's
    /// last record always agrees with its chain.
    async fn seal_export(&self, incident: &str, actor: &Principal) -> Result<u64, AppError> {
        const ATTEMPTS: usize = 5;
        let store = self.store();
        for _ in 0..ATTEMPTS {
            let events = store.timeline(incident, None).await?;
            let Some(head) = events.last().map(|e| e.index) else {
                return Err(AppError::Invalid {
                    field: "incident".into(),
                    message: format!("incident {incident} has no events to export"),
                });
            };
            let record = export_record(
                incident,
                head,
                events.len() as u64,
                u64::try_from(now_ms()).unwrap_or(0),
                &actor.name,
            )
            .by_id(actor.id.as_str());
            let committed = store
                .commit(Change {
                    writes: vec![],
                    events: vec![record],
                })
                .await?;
            let Some(&index) = committed.indexes.first() else {
                continue;
            };
            let sealed: Option<Event> = store.events(index, index + 1).await?.pop();
            if sealed
                .and_then(|e| e.record.prev)
                .is_some_and(|l| l.index == head)
            {
                return Ok(index);
            }
        }
        Err(AppError::Busy {
            id: incident.to_owned(),
        })
    }

    /// The log's key rotations below `size`, each with its transition checkpoint (the
    /// first covering it, which both keys sign) and the proofs that tie it to a
    /// checkpoint of `size`: what lets a key pinned before a rotation verify a pack.
    async fn key_transitions(&self, size: u64) -> Result<Vec<PackTransition>, AppError> {
        let store = self.store();
        let mut out = Vec::new();
        for epoch in store.key_history().await? {
            let Some(index) = epoch.since_index.filter(|i| *i < size) else {
                continue;
            };
            let Some(transition) = store.checkpoint_covering(index).await? else {
                continue;
            };
            let Some(event) = store.events(index, index + 1).await?.pop() else {
                continue;
            };
            // A transition both keys did not sign (a replica kept signing through the
            // rotation, which `ledger verify` reports) cannot carry trust: leave it out
            // rather than refuse the export; the pack still verifies with the new key.
            let Ok((from, to)) = event.record.rotation_keys() else {
                continue;
            };
            let signed_by = |k: Verifier| open_note(&transition.signed_note, &[k]).is_ok();
            if !(signed_by(from) && signed_by(to)) {
                continue;
            }
            let proof = store.inclusion_proof(index, transition.size).await?;
            let consistency = if transition.size == size {
                Vec::new()
            } else {
                store.consistency_proof(transition.size, size).await?
            };
            out.push(PackTransition {
                index,
                record: event.record.encode()?,
                inclusion: TlogProof {
                    extra: None,
                    index,
                    proof,
                    checkpoint: transition.signed_note,
                },
                consistency,
            });
        }
        Ok(out)
    }
}
