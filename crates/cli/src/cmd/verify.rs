//! `sitrep verify PACK --key VERIFIER-KEY`: check an evidence pack fully offline.

use crate::{CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The evidence pack to verify.
    pub pack: std::path::PathBuf,
}

pub fn run(args: VerifyArgs, _ctx: &Ctx) -> Result<(), CliError> {
    Err(CliError::input(anyhow::anyhow!("not built yet: {}", args.pack.display())))
}
