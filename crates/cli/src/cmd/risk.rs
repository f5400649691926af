//! `sitrep risk 'COMMAND'`: classify a shell command and say why.

use crate::{CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct RiskArgs {
    /// The shell text to classify.
    pub command: String,
}

pub fn run(args: RiskArgs, _ctx: &Ctx) -> Result<(), CliError> {
    Err(CliError::input(anyhow::anyhow!("not built yet: {}", args.command)))
}
