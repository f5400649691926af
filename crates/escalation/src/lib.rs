//! On-call rotations, escalation policies and severity cadences, and the pure engine that
//! turns `config + incident state + now` into the pages and reminders due.
//!
//! ```text
//!   TOML text ──► Config::from_toml ──► Config ──► lint(&Config) -> findings
//!                                          │
//!   IncidentState + now ─────────────► due(&Config, &IncidentState, now) -> Due
//!                                          └──► simulate(..) -> who is paged when
//! ```
//!
//! The crate is pure: no clock (every instant is an argument), no files, no network, and
//! time zones come from the tz database compiled into the binary. Delivery, durable jobs
//! and the sweeper live in I/O crates above it; they call [`due`], deliver what it
//! returns, record the ids as sent and sleep until [`Due::next_wakeup`].
//!
//! Semantics and the config format: `docs/escalation.md`.

#![warn(missing_docs)]

mod config;
pub mod draft;
mod engine;
mod lint;
mod manual;
mod rotation;
pub mod targets;

pub use config::{
    Channel, Config, ConfigError, Contact, ContactMethod, Handoff, Level, MAX_REPEAT, Override,
    Person, Policy, Rotation, Service, SeverityScheme, SeveritySettings, Target, Zone,
    default_severities,
};
pub use engine::{
    Due, EscalationError, Firing, IncidentState, Page, PageId, Reminder, ReminderKind, due,
    simulate,
};
pub use jiff::{SignedDuration, Timestamp};
pub use lint::{Finding, FindingLevel, LINT_HORIZON, lint, outbound_targets};
pub use manual::{Handover, ManualError, escalate_now, page_person};
