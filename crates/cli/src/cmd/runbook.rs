//! `sitrep runbook show|list|lint`: the runbook engine on the command line.

use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum RunbookCmd {
    /// Show one runbook's model.
    Show { file: std::path::PathBuf },
}

pub fn run(cmd: RunbookCmd, _ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        RunbookCmd::Show { file } => Err(CliError::input(anyhow::anyhow!("not built yet: {}", file.display()))),
    }
}
