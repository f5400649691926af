//! Receiving one alert delivery, the whole use case in one call: store the raw body
//! durably (redacted), parse it, ingest it, and say what happened, so a receiver only
//! maps the outcome to its answer and starts auto-triage of the incidents it opened.

use sitrep_alerts::Source;

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
    /// Stored under `payload_id` but not ingested; a retry is ingested again
    /// (ingestion is idempotent).
    NotIngested { payload_id: String, error: AppError },
}

impl Ingestor {
    /// Receives one delivery of `source` with raw `body` (see [`Received`]).
    pub async fn receive(&self, source: Source, body: &[u8]) -> Received {
        let stored = match self.store_raw(source, body).await {
            Ok(stored) => stored,
            Err(e) => return Received::Unstored(e),
        };
        let batch = match stored.batch {
            Ok(batch) => batch,
            Err(error) => {
                return Received::Malformed {
                    payload_id: stored.id,
                    error,
                };
            }
        };
        // An accepted payload is always stored (the cap evicts older ones instead).
        let payload_id = stored.id.unwrap_or_default();
        match self.ingest_batch(source, &payload_id, &batch).await {
            Ok(report) => Received::Accepted(report),
            Err(error @ AppError::Invalid { .. }) => Received::Malformed {
                payload_id: Some(payload_id),
                error,
            },
            Err(error) => Received::NotIngested { payload_id, error },
        }
    }
}
