//! What the ledger proves, as use cases: the keys that signed it, a checkpoint now, and
//! inclusion and consistency proofs with the checks a caller's input needs.

use sitrep_ledger::{Hash, TlogProof};
use sitrep_store::{Event, KeyEpoch, StepRun, StoredCheckpoint};

use crate::app::App;
use crate::error::AppError;

/// Most records one [`App::sealed`] call returns.
pub const MAX_SEALED_PAGE: u64 = 10_000;

/// Event `index`'s inclusion proof up to a signed checkpoint.
#[derive(Debug, Clone)]
pub struct Inclusion {
    pub index: u64,
    pub event: Option<Event>,
    pub proof: Vec<Hash>,
    pub checkpoint: StoredCheckpoint,
}

impl Inclusion {
    /// The proof as a C2SP tlog-proof file.
    #[must_use]
    pub fn tlog_proof(&self) -> TlogProof {
        TlogProof {
            extra: None,
            index: self.index,
            proof: self.proof.clone(),
            checkpoint: self.checkpoint.signed_note.clone(),
        }
    }
}

/// A consistency proof between two tree sizes, with both roots.
#[derive(Debug, Clone)]
pub struct Consistency {
    pub old: u64,
    pub new: u64,
    pub proof: Vec<Hash>,
    pub old_root: Hash,
    pub new_root: Hash,
}

impl App {
    /// Re-hashes the whole ledger against its stored hashes and signed checkpoints.
    pub async fn verify_ledger(&self) -> Result<sitrep_store::LedgerReport, AppError> {
        Ok(self.store().verify_ledger().await?)
    }

    /// Every key that signed the log, oldest first: the verifier keys an auditor pins.
    pub async fn key_history(&self) -> Result<Vec<KeyEpoch>, AppError> {
        Ok(self.store().key_history().await?)
    }

    /// Signs a checkpoint of the current tree (the latest when nothing changed).
    pub async fn checkpoint_now(&self) -> Result<StoredCheckpoint, AppError> {
        Ok(self.store().checkpoint_now().await?)
    }

    /// The sealed records `start..end` (end exclusive) as the ledger holds them, at most
    /// [`MAX_SEALED_PAGE`] at once (a longer range is cut).
    pub async fn sealed(&self, start: u64, end: u64) -> Result<Vec<Event>, AppError> {
        let end = end.min(start.saturating_add(MAX_SEALED_PAGE));
        Ok(self.store().events(start, end).await?)
    }

    /// Proves event `index` is in the log, up to the latest checkpoint (one is signed now
    /// when the latest does not cover the event yet).
    pub async fn inclusion(&self, index: u64) -> Result<Inclusion, AppError> {
        let store = self.store();
        let size = store.tree_size().await?;
        if index >= size {
            return Err(AppError::NotFound {
                what: "event",
                id: format!("#{index} (the ledger has {size} events)"),
            });
        }
        let checkpoint = match store.latest_checkpoint().await? {
            Some(cp) if cp.size > index => cp,
            _ => store.checkpoint_now().await?,
        };
        Ok(Inclusion {
            index,
            proof: store.inclusion_proof(index, checkpoint.size).await?,
            event: store.events(index, index + 1).await?.into_iter().next(),
            checkpoint,
        })
    }

    /// Proves the tree at `new` (default: a checkpoint signed now) extends the tree at
    /// `old`.
    pub async fn consistency(&self, old: u64, new: Option<u64>) -> Result<Consistency, AppError> {
        let store = self.store();
        let new = match new {
            Some(n) => n,
            None => store.checkpoint_now().await?.size,
        };
        let size = store.tree_size().await?;
        if new > size {
            return Err(AppError::invalid(
                "new",
                format!("beyond the tree size {size}"),
            ));
        }
        if old > new {
            return Err(AppError::invalid("old", "must not exceed new"));
        }
        Ok(Consistency {
            old,
            new,
            proof: store.consistency_proof(old, new).await?,
            old_root: store.root(old).await?,
            new_root: store.root(new).await?,
        })
    }

    /// Run `run` of incident `incident` (number or id); not found when the run belongs to
    /// another incident.
    pub async fn run_of(&self, incident: &str, run: &str) -> Result<StepRun, AppError> {
        let incident = self.incident(incident).await?;
        self.store()
            .run(run)
            .await?
            .filter(|r| r.incident_id == incident.id)
            .ok_or_else(|| AppError::NotFound {
                what: "run",
                id: format!("{run} in this incident"),
            })
    }
}
