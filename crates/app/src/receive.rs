//! Receiving one alert delivery, the whole use case in one call: redact and parse the
//! raw body, store it durably with everything its ingestion changes in one commit, and
//! say what happened, so a receiver only maps the outcome to its answer and starts
//! auto-triage of the incidents it opened.
//!
//! When ingestion fails, nothing of it was committed; the payload is then stored alone,
//! marked rejected (kept `raw_keep_rejected`, evicted first): the sender is answered
//! 503 and retries, and the retry's copy is the accepted one (docs/alerts.md).

use sitrep_alerts::Source;
use sitrep_store::RawPayload;

use crate::error::AppError;
use crate::ingest::{IngestReport, Ingestor};

/// What became of one delivery. Only `Accepted` may be answered 2xx: everything else
/// was either not stored or not interpreted.
#[derive(Debug)]
pub enum Received {
    /// Stored and ingested; `report.opened` lists the incidents it declared.
    Accepted(IngestReport),
    /// Not valid for its receiver; kept (briefly) under `payload_id` when there was room.
    Malformed {
        payload_id: Option<String>,
        error: AppError,
    },
    /// The body could not be stored: nothing was accepted, the sender should retry.
    Unstored(AppError),
    /// Stored under `payload_id` (as rejected) but not ingested; a retry is ingested
    /// again (ingestion is idempotent).
    NotIngested { payload_id: String, error: AppError },
}

impl Ingestor {
    /// Receives one delivery of `source` with raw `body` (see [`Received`]).
    pub async fn receive(&self, source: Source, body: &[u8]) -> Received {
        let prepared = match self.prepare_raw(source, body).await {
            Ok(prepared) => prepared,
            Err(e) => return Received::Unstored(e),
        };
        let (batch, raw) = match (prepared.batch, prepared.raw) {
            (Ok(batch), Some(raw)) => (batch, raw),
            (Err(error), raw) => return self.keep_rejected(raw, error).await,
            // An accepted payload always fits (the cap evicts older ones instead).
            (Ok(_), None) => {
                return Received::Unstored(AppError::Internal(
                    "an accepted payload was refused room".into(),
                ));
            }
        };
        match self
            .ingest_delivery(source, &raw.id, &batch, Some(&raw))
            .await
        {
            Ok(report) => Received::Accepted(report),
            Err(error) => {
                let mut raw = raw;
                raw.rejected = true;
                self.keep_rejected(Some(raw), error).await
            }
        }
    }

    /// Stores a payload that was not ingested, alone, and says so. A store that fails
    /// again means the payload is not kept at all (`Unstored`, with the first error).
    async fn keep_rejected(&self, raw: Option<RawPayload>, error: AppError) -> Received {
        let mut payload_id = None;
        if let Some(raw) = raw {
            // Idempotent by id: after a commit that timed out but went through, the
            // accepted row stays as it is.
            if let Err(e) = self.app().store().put_raw_payload(&raw).await {
                tracing::warn!(error = %e, "a payload that was not ingested cannot be kept");
                return Received::Unstored(error);
            }
            payload_id = Some(raw.id);
        }
        match (error, payload_id) {
            (error @ AppError::Invalid { .. }, payload_id) => {
                Received::Malformed { payload_id, error }
            }
            (error, Some(payload_id)) => Received::NotIngested { payload_id, error },
            (error, None) => Received::Unstored(error),
        }
    }
}
