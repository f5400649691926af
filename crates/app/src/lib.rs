//! sitrep's use cases over the store: incidents, step runs, post-mortems and evidence.
//!
//! The CLI and the server are thin layers over [`App`]; everything worth testing without
//! a terminal or a socket is here. Pure rules live in their own modules
//! ([`lifecycle`], [`severity`], [`postmortem`]) and do no I/O.

mod app;
pub mod approvals;
pub mod blobs;
pub mod config;
pub mod datadir;
mod error;
pub mod events;
mod export;
pub mod identity;
pub mod ingest;
pub mod interrupted;
mod keys;
mod library;
pub mod lifecycle;
pub mod paging;
pub mod payloads;
mod plan;
pub mod postmortem;
pub mod retention;
mod runs;
mod sandbox;
pub mod severity;
pub mod tokens;

pub use app::{
    App, IncidentView, KeyRotation, NewIncident, SERVING_LEASE, default_data_dir, now_ms,
    rotate_ledger_key,
};
pub use approvals::Approval;
pub use config::Config;
pub use error::AppError;
pub use export::LedgerStatus;
pub use identity::Principal;
pub use ingest::{IngestReport, Ingestor};
pub use keys::{KEY_FILE, write_key};
pub use library::Library;
pub use runs::{Plan, RunReport, RunRequest};
pub use sitrep_executor::{Mode, NullSink, RunSink};
pub use sitrep_store as store;
pub use tokens::{AccessRole, CreatedToken};
