//! One module per command group; each exposes its clap arguments and a `run` function.

pub mod appctx;
pub mod approval;
pub mod checklist;
pub mod demo;
pub mod escalation;
pub mod incident;
pub mod key;
pub mod ledger;
pub mod paging;
pub mod query;
pub mod risk;
pub mod run;
pub mod runbook;
pub mod serve;
pub mod silence;
pub mod token;
pub mod verify;
