//! `sitrep key generate`: create a checkpoint signing key (mode 0600) and print its
//! verifier key, the one thing a verifier pins.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
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

    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        // Never replace a key by accident: checkpoints signed with it could no longer
        // be matched to a key anyone holds.
        options.create_new(true);
    }
    let mut file = match options.open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::input(anyhow::anyhow!(
                "{} already exists; pass --force to replace it",
                path.display()
            )));
        }
        Err(e) => {
            return Err(CliError::internal(
                anyhow::Error::new(e).context(format!("cannot create {}", path.display())),
            ));
        }
    };
    let mut write = || -> std::io::Result<()> {
        // `mode` applies only on creation; a forced overwrite tightens an old file too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(format!("{}\n", signer.to_key_string()).as_bytes())?;
        file.sync_all()
    };
    write()
        .with_context(|| format!("cannot write {}", path.display()))
        .map_err(CliError::Internal)?;

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
