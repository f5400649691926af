//! Persistence for sitrep on SQLite and PostgreSQL (being built; see ARCHITECTURE.md).

mod model;

pub use model::*;
