//! The ledger signing key: created on first start (mode 0600), loaded afterwards.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use sitrep_ledger::Signer;

use crate::error::AppError;

/// File name of the key inside the data dir.
pub const KEY_FILE: &str = "ledger.key";

/// File name of the acknowledge-link secret inside the data dir.
pub const ACK_KEY_FILE: &str = "ack.key";

/// Loads the 32-byte secret at `path` (hex), creating it (mode 0600) when missing.
pub fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, AppError> {
    use rand::RngCore as _;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            hex::decode(text.trim()).map_err(|e| AppError::Key(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
            match &mut file {
                Ok(f) => f
                    .write_all(format!("{}\n", hex::encode(&key)).as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| AppError::io(path, e))?,
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return load_or_create_secret(path);
                }
                Err(_) => {}
            }
            file.map_err(|e| AppError::io(path, e))?;
            Ok(key)
        }
        Err(e) => Err(AppError::io(path, e)),
    }
}

/// Loads the key at `path`, or creates one named after `origin` if there is none.
///
/// A key readable by others is refused rather than used: whoever can read it can sign
/// checkpoints that look like ours.
pub fn load_or_create(path: &Path, origin: &str) -> Result<Signer, AppError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let meta = std::fs::metadata(path).map_err(|e| AppError::io(path, e))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(AppError::Key(format!(
                    "{} is readable by group or others (mode {:o}); run `chmod 600 {}`",
                    path.display(),
                    meta.permissions().mode() & 0o777,
                    path.display()
                )));
            }
            Signer::parse(text.trim())
                .map_err(|e| AppError::Key(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path, origin),
        Err(e) => Err(AppError::io(path, e)),
    }
}

fn create(path: &Path, origin: &str) -> Result<Signer, AppError> {
    let signer = Signer::generate(origin, &mut rand::rngs::OsRng)
        .map_err(|e| AppError::Key(format!("cannot make a key named {origin:?}: {e}")))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AppError::io(path, e))?;
    file.write_all(format!("{}\n", signer.to_key_string()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| AppError::io(path, e))?;
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let a = load_or_create(&path, "example.org/log").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = load_or_create(&path, "example.org/log").unwrap();
        assert_eq!(a.verifier().key_id(), b.verifier().key_id());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&path, "example.org/log").unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
}
