//! One module per command group; each exposes its clap arguments and a `run` function.

pub mod escalation;
pub mod key;
pub mod risk;
pub mod runbook;
pub mod verify;
