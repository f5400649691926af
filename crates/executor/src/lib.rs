//! Runs runbook steps safely: binds parameters through the environment, gates on risk,
//! runs in a process group with a timeout, and streams capped, redacted output to a sink.
//!
//! The pieces are independent so the CLI and the store can compose them:
//! [`bind`] → [`authorize`] (the gate, which freezes the plan into a [`Permit`]) →
//! [`run`] (or [`run_batch`] for read steps), with [`Expect`] judging the outcome and
//! [`Redactor`] keeping secrets out of everything reported. A value is data: one
//! quoted word, checked before binding, never an option; and only a permit runs.
//! [`query`] runs query steps (PromQL, LogQL, SQL) against datasources, values bound as
//! data there too.

mod batch;
mod bind;
mod expect;
mod gate;
mod plan;
pub mod query;
mod redact;
mod run;
pub mod sandbox;
mod scan;
mod values;

pub use batch::run_batch;
pub use bind::{
    BindError, Binding, BoundScript, Check, Placeholder, PlaceholderKind, Refusal, angle_env_name,
    bind, shell_quote,
};
pub use expect::{Expect, ExpectError, Verdict};
pub use gate::{Decision, GateRequest, Mode, Permit, Policy, authorize, gate};
pub use plan::plan_id;
pub use redact::{Redactor, StreamRedactor};
pub use run::{Captured, NullSink, Outcome, RunConfig, RunError, RunSink, RunSpec, Stream, run};
pub use sandbox::{Sandbox, SandboxError, Support};
pub use scan::scan_placeholders;
pub use sitrep_risk::Level;
pub use values::{Found, Trust, Values};
