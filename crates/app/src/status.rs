//! What the faces read about the app's own state: the ledger's size and latest
//! checkpoint, the writer's and signer's last outcomes, single runs and retention marks.
//! The server's probes, metrics, live feed and pages call these instead of the store.

use sitrep_store::{LedgerVerification, Outcome, StepRun, StoredCheckpoint};

use crate::app::App;
use crate::error::AppError;

impl App {
    /// Leaves in the log now.
    pub async fn ledger_size(&self) -> Result<u64, AppError> {
        Ok(self.inner.store.tree_size().await?)
    }

    /// The latest signed checkpoint, if any.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, AppError> {
        Ok(self.inner.store.latest_checkpoint().await?)
    }

    /// The writer's last commit outcome and its failures since start (no database read).
    #[must_use]
    pub fn writer_outcome(&self) -> Outcome {
        self.inner.store.writer_outcome()
    }

    /// A real write transaction that stores nothing: whether writes work now.
    pub async fn probe_writer(&self) -> Result<(), AppError> {
        Ok(self.inner.store.probe_writer().await?)
    }

    /// The checkpoint signer's last outcome and its failures since start.
    #[must_use]
    pub fn signer_outcome(&self) -> Outcome {
        self.inner.store.signer_outcome()
    }

    /// Why checkpoints cannot be signed now, if they cannot.
    #[must_use]
    pub fn checkpoint_error(&self) -> Option<String> {
        self.inner.store.checkpoint_error()
    }

    /// Tries to sign a checkpoint now if the tree grew (the outcome is recorded).
    pub async fn probe_signer(&self) -> Result<(), AppError> {
        Ok(self.inner.store.probe_signer().await?)
    }

    /// Where the startup re-hash of the whole ledger stands.
    #[must_use]
    pub fn ledger_verification(&self) -> LedgerVerification {
        self.inner.store.ledger_verification()
    }

    /// A run by its id alone, whichever incident it belongs to (the UI's run page).
    pub async fn run(&self, id: &str) -> Result<StepRun, AppError> {
        self.inner
            .store
            .run(id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "run",
                id: id.to_owned(),
            })
    }

    /// The runs of an incident (id), oldest first.
    pub async fn runs_for(&self, incident_id: &str) -> Result<Vec<StepRun>, AppError> {
        Ok(self.inner.store.runs_for(incident_id).await?)
    }

    /// Whether retention deleted the output bytes of an incident (id).
    pub async fn evidence_expired(&self, incident_id: &str) -> Result<bool, AppError> {
        Ok(self.inner.store.evidence_expired(incident_id).await?)
    }
}
