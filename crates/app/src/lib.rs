//! sitrep's use cases over the store: incidents, step runs, post-mortems and evidence.
//!
//! The CLI and the server are thin layers over [`App`]; everything worth testing without
//! a terminal or a socket is here. Pure rules live in their own modules
//! ([`lifecycle`], [`severity`], [`postmortem`]) and do no I/O.

pub mod acklink;
pub mod alert_records;
pub mod alert_silence;
mod app;
pub mod approvals;
pub mod blobs;
mod checklist;
pub mod config;
pub mod datadir;
pub mod datasources;
mod deliver;
mod error;
pub mod events;
mod export;
pub mod followups;
pub mod identity;
pub mod ingest;
pub mod interrupted;
mod keys;
mod library;
pub mod lifecycle;
pub mod limits;
pub mod listing;
pub mod oncall;
pub mod pager;
pub mod paging;
pub mod payloads;
mod plan;
pub mod postmortem;
pub mod postmortem_edits;
pub mod proofs;
mod queries;
pub mod receive;
pub mod replay;
pub mod retention;
mod rotation;
mod runs;
mod sandbox;
pub mod severity;
pub mod silence_sync;
mod stamp;
mod status;
pub mod thresholds;
pub mod tokens;
pub mod tuning;
mod unattended;
pub mod workers;

pub use app::{App, IncidentView, NewIncident, SERVING_LEASE, default_data_dir};
pub use approvals::Approval;
pub use config::Config;
pub use error::{AppError, ErrorKind};
pub use export::LedgerStatus;
pub use identity::Principal;
pub use ingest::{IngestReport, Ingestor};
pub use keys::{KEY_FILE, write_key};
pub use library::{Library, MAX_RUNBOOK_BYTES, read_runbook, runbook_files};
pub use queries::{QueryReport, QueryRequest};
pub use rotation::{KeyRotation, rotate_ledger_key};
pub use runs::{Plan, PlanState, RunReport, RunRequest};
pub use sitrep_executor::{Decision, Level, Mode, NullSink, Outcome, RunSink, Stream};
pub use sitrep_store as store;
pub use stamp::now_ms;

/// What the faces need of the evidence crate: the blob errors they map, and the offline
/// pack verifier (`sitrep verify`, the browser test).
pub mod evidence {
    pub use sitrep_evidence::BlobError;
    pub use sitrep_evidence::pack::{Limits, verify_pack};
}

/// The notifier the server's paging loop drives (owning it in `App` is issue 15's work).
pub use sitrep_notify as notify;
pub use tokens::{AccessRole, CreatedToken};
pub use unattended::{QueuedTriage, TRIAGE_JOB, UnattendedStats};
