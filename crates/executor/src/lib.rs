//! Runs runbook steps safely: binds parameters through the environment, gates on risk,
//! runs in a process group with a timeout, and streams capped, redacted output to a sink.
//!
//! The pieces are independent so the CLI and the store can compose them:
//! [`bind`] → [`gate`] → [`run`] (or [`run_batch`] for read steps), with [`Expect`]
//! judging the outcome and [`Redactor`] keeping secrets out of everything reported.

mod batch;
mod bind;
mod expect;
mod gate;
mod redact;
mod run;
pub mod sandbox;

pub use batch::run_batch;
pub use bind::{
    BindError, Binding, BoundScript, Placeholder, PlaceholderKind, Values, angle_env_name, bind,
    scan_placeholders, shell_quote,
};
pub use expect::{Expect, ExpectError, Verdict};
pub use gate::{Decision, GateRequest, Mode, Policy, gate};
pub use redact::{Redactor, StreamRedactor};
pub use run::{Captured, NullSink, Outcome, RunConfig, RunError, RunSink, RunSpec, Stream, run};
pub use sandbox::{Sandbox, SandboxError, Support};
pub use sitrep_risk::Level;
