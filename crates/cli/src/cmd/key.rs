//! `sitrep key generate`: create a checkpoint signing key and print its verifier key.

use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum KeyCmd {
    /// Write a new Ed25519 signing key (mode 0600) and print the verifier key.
    Generate { name: String },
}

pub fn run(cmd: KeyCmd, _ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        KeyCmd::Generate { name } => Err(CliError::input(anyhow::anyhow!("not built yet: {name}"))),
    }
}
