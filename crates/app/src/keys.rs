//! The ledger signing key: created on first start (mode 0600), loaded afterwards; a
//! rotation's next key waits beside it (`<key>.next`) until the log has moved to it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
    match load(path)? {
        Some(signer) => Ok(signer),
        None => create(path, origin),
    }
}

/// The key at `path`, or `None` when there is no file.
fn load(path: &Path) -> Result<Option<Signer>, AppError> {
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
                .map(Some)
                .map_err(|e| AppError::Key(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AppError::io(path, e)),
    }
}

fn create(path: &Path, origin: &str) -> Result<Signer, AppError> {
    let signer = Signer::generate(origin, &mut rand::rngs::OsRng)
        .map_err(|e| AppError::Key(format!("cannot make a key named {origin:?}: {e}")))?;
    write_key(path, &signer, false)?;
    Ok(signer)
}

/// Writes a signing key, mode 0600 (also when it replaces a file), synced; without
/// `replace` an existing file is an error of kind `AlreadyExists`.
pub fn write_key(path: &Path, signer: &Signer, replace: bool) -> Result<(), AppError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| AppError::io(path, e))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(format!("{}\n", signer.to_key_string()).as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| AppError::io(path, e))
}

/// Where a rotation keeps the next key until the log has moved to it.
pub fn next_key_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    path.with_file_name(name)
}

/// Makes the key that will succeed the one at `path` (named `name`, like it) and keeps
/// it at [`next_key_path`], replacing an earlier unfinished one.
pub fn prepare_next(path: &Path, name: &str) -> Result<Signer, AppError> {
    let next = Signer::generate(name, &mut rand::rngs::OsRng)
        .map_err(|e| AppError::Key(format!("cannot make a key: {e}")))?;
    write_key(&next_key_path(path), &next, true)?;
    Ok(next)
}

/// The waiting next key, if there is one.
pub fn pending_next(path: &Path) -> Result<Option<Signer>, AppError> {
    load(&next_key_path(path))
}

/// Puts the next key in place of the current one (the old key is gone: the log no
/// longer needs it, and a retired key that still exists can still be stolen).
pub fn install_next(path: &Path) -> Result<(), AppError> {
    let next = next_key_path(path);
    std::fs::rename(&next, path).map_err(|e| AppError::io(path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is synced.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| AppError::io(dir, e))?;
    }
    Ok(())
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
