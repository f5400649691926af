//! `sitrep key generate`: create a checkpoint signing key (mode 0600) and print its
//! verifier key, the one thing a verifier pins.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;
use sitrep_ledger::Signer;

use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum KeyCmd {
    /// Write a new Ed25519 signing key (mode 0600) and print the verifier key.
    Generate {
        /// The key's name; by convention the log's origin, e.g. `sitrep.example.com/ledger`.
        name: String,
        /// Where to write the signing key [default: ./sitrep-signing.key].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Overwrite an existing key file (the old key is lost).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Serialize)]
struct Generated<'a> {
    path: String,
    name: &'a str,
    key_id: String,
    verifier_key: String,
}

pub fn run(cmd: KeyCmd, ctx: &Ctx) -> Result<(), CliError> {
    let KeyCmd::Generate {
        name,
        output,
        force,
    } = cmd;
    let path = output.unwrap_or_else(|| PathBuf::from("sitrep-signing.key"));
    let signer = Signer::generate(&name, &mut rand::rngs::OsRng)
        .with_context(|| format!("invalid key name {name:?}"))
        .map_err(CliError::Input)?;

    // Never replace a key by accident: checkpoints signed with it could no longer be
    // matched to a key anyone holds.
    match sitrep_app::write_key(&path, &signer, force) {
        Ok(()) => {}
        Err(sitrep_app::AppError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            return Err(CliError::input(anyhow::anyhow!(
                "{} already exists; pass --force to replace it",
                path.display()
            )));
        }
        Err(e) => return Err(CliError::internal(anyhow::Error::new(e))),
    }

    let verifier = signer.verifier().to_string();
    if ctx.json {
        return ctx.print_json(&Generated {
            path: path.display().to_string(),
            name: &name,
            key_id: format!("{:08x}", signer.key_id()),
            verifier_key: verifier,
        });
    }
    emit(&format!(
        "wrote signing key {} (mode 0600); keep it secret\nverifier key (give this to whoever verifies):\n{verifier}\n",
        path.display()
    ))
}
