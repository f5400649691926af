//! Persistence for sitrep on SQLite and PostgreSQL: incidents, their timeline (which
//! is the ledger), alerts, runs, checklists, action items, the ledger's stored hashes
//! and signed checkpoints, durable jobs, leases with fencing epochs, and API tokens.
//!
//! One set of SQL statements and migrations serves both databases through sqlx's
//! `Any` driver (see docs/store.md for the schema and the decisions). Every change
//! goes through a single group-commit writer per [`Store`]: its writes and its events
//! (as ledger leaves, hashed by `sitrep_ledger`) commit in one transaction, and
//! [`Store::commit`] returns only after COMMIT did.
//!
//! ```no_run
//! # async fn demo(signer: sitrep_ledger::Signer) -> Result<(), sitrep_store::StoreError> {
//! use sitrep_store::{Change, Store, StoreOptions, sqlite_url};
//! let url = sqlite_url(std::path::Path::new("/var/lib/sitrep"));
//! let store = Store::open(StoreOptions::new(url, signer, "sitrep.example.com/ledger")).await?;
//! let mut change = Change::default();
//! change.events.push(sitrep_ledger::Record::new("note.added", 1_700_000_000_000, "alice"));
//! let committed = store.commit(change).await?;
//! let proof = store.inclusion_proof(committed.indexes[0], committed.tree_size).await?;
//! # let _ = proof;
//! store.close().await;
//! # Ok(()) }
//! ```

mod apply;
mod chain;
mod error;
mod health;
mod jobs;
mod keys;
mod ledger;
mod model;
mod payloads;
mod queries;
mod rehash;
mod rows;
mod runs;
mod startup;
mod store;
mod writer;

pub use error::{HOW_TO_INVESTIGATE, StoreError, redact_url};
pub use health::{Outcome, Tracker};
pub use ledger::{Divergence, LedgerReport};
pub use model::*;
pub use payloads::RawPayloadStats;
pub use startup::LedgerVerification;
pub use store::{Backend, SQLITE_FILE, Store, StoreOptions, new_id, sqlite_url};
